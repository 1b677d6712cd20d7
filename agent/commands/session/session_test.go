package session_test

import (
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/commands/session"
	"github.com/rack-gateway/rack-gateway/ipc"
)

const admin = "admin@example.com"

func TestRackAndRacks(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, true, session.Register)
	r := e.MustRun("rack")
	if !strings.Contains(r.Out, kittest.Rack) || !strings.Contains(r.Out, e.URL) {
		t.Errorf("rack: %s", r)
	}
	r = e.MustRun("racks")
	if !strings.Contains(r.Out, "* "+kittest.Rack) {
		t.Errorf("racks: %s", r)
	}
	if r := e.Run("switch", "nope"); r.Code() != ipc.ExitError || !strings.Contains(r.Error.Message, "rack nope not found") {
		t.Errorf("switch to an unknown rack: %s", r)
	}
}

// test-auth mfa is a preflight: no terminal needed, no code sent.
func TestTestAuthMFAIsAPreflight(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, true, session.Register)
	r := e.MustRun("test-auth", "mfa")
	for _, want := range []string{"Authenticated as admin@example.com", "Role: admin", "MFA enrolled: Yes", "Step-up window: Active"} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("test-auth mfa lacks %q: %s", want, r)
		}
	}
	if n := e.Sandbox.RequestCount("POST", "/api/v1/auth/mfa/verify"); n != 0 {
		t.Errorf("%d verifications", n)
	}
	// test-auth totp verifies, with the code the terminal gives.
	term := &kittest.Term{Answers: []string{e.Sandbox.BackupCodes(admin)[0]}}
	if r := e.RunWith(term, "test-auth", "totp"); r.Error != nil || len(r.Prompts) != 1 {
		t.Fatalf("test-auth totp: %s (prompts %q)", r, r.Prompts)
	}
	if n := e.Sandbox.RequestCount("POST", "/api/v1/auth/mfa/verify"); n != 1 {
		t.Errorf("%d verifications, want 1", n)
	}
}

func TestLogoutRevokesAndForgets(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, true, session.Register)
	e.MustRun("logout")
	if r := e.Run("test-auth"); r.Code() != ipc.ExitAuth {
		t.Errorf("test-auth after logout: %s", r)
	}
}

// login's flags are typed options: --auth-file and --no-open are bound per
// invocation; a bad URL is a usage error before anything is sent.
func TestLoginUsage(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, "", false, session.Register)
	if r := e.Run("login", "x", "ftp://gw.example.com", "--no-open"); r.Code() != ipc.ExitUsage {
		t.Errorf("bad scheme: %s", r)
	}
	if r := e.Run("login", "newrack"); r.Code() != ipc.ExitUsage || !strings.Contains(r.Error.Message, "gateway URL required") {
		t.Errorf("no URL: %s", r)
	}
}
