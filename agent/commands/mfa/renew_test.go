package mfa_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/ipc"
)

var noticeLine = regexp.MustCompile(`(?m)^Step-up window for prod expires in (\d+)s$`)

// mfa renew verifies even while the window is open, and the window it
// opens is announced once in its last minute, by the first command that
// runs then; the config key turns the notice off.
func TestRenewAndItsNotice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.Sandbox.SetStepUpWindow(50 * time.Second)
	codes := e.Sandbox.BackupCodes(admin)

	wantCode(t, e.Run("mfa", "renew"), ipc.CodeStepUpRequired) // nobody to ask
	r := e.RunWith(&kittest.Term{Answers: []string{codes[0]}}, "mfa", "renew")
	if r.Error != nil || len(r.Prompts) != 1 {
		t.Fatalf("renew: %s; prompts %q", r, r.Prompts)
	}
	if !regexp.MustCompile(`^Step-up window for prod renewed: expires in \d+ seconds\n$`).MatchString(r.Out) {
		t.Fatalf("renew said:\n%s", r)
	}
	if noticeLine.MatchString(r.Err) {
		t.Fatalf("renew announced the end of the window it replaced:\n%s", r.Err)
	}

	first := e.MustRun("test-auth")
	m := noticeLine.FindAllStringSubmatch(first.Err, -1)
	if len(m) != 1 || m[0][1] == "0" {
		t.Fatalf("the first command in the window's last minute: want one notice, got stderr:\n%s", first.Err)
	}
	for i := 0; i < 2; i++ {
		if r := e.MustRun("test-auth"); noticeLine.MatchString(r.Err) {
			t.Fatalf("run %d: a second notice for one window:\n%s", i+2, r.Err)
		}
	}

	// A renewal is a new window, announced again; with the key at 0, not.
	e.MustRun("mfa", "renew", "--mfa-code", codes[1])
	if r := e.MustRun("test-auth"); !noticeLine.MatchString(r.Err) {
		t.Fatalf("no notice for the renewed window:\n%s", r.Err)
	}
	p, err := e.Core.Profile(e.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Update(func(c *config.Config) error { off := 0; c.StepUpNoticeSeconds = &off; return nil }); err != nil {
		t.Fatal(err)
	}
	e.MustRun("mfa", "renew", "--mfa-code", codes[2])
	if r := e.MustRun("test-auth"); strings.Contains(r.Err, "expires in") {
		t.Fatalf("a notice with stepup_notice_seconds 0:\n%s", r.Err)
	}
}

// API tokens have no window: renew says so and sends nothing.
func TestRenewRefusesAPITokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.Vars["RACK_GATEWAY_API_TOKEN"] = "rgw_x"
	r := e.Run("mfa", "renew")
	wantCode(t, r, ipc.CodeUsage)
	if !strings.Contains(r.Error.Message, "API tokens have no step-up window") {
		t.Fatalf("%s", r)
	}
}
