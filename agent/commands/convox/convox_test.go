package convox_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/convox"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Every test here runs the commands in-process (kittest) against an
// httptest sandbox, as a logged-in user with a fresh step-up window unless
// it says otherwise.

const (
	admin = "admin@example.com"
	app   = convoxfake.SeedApp
)

func TestMain(m *testing.M) {
	convox.FastPolls()
	os.Exit(m.Run())
}

// newEnv is an admin with an open step-up window.
func newEnv(t *testing.T) *kittest.Env {
	t.Helper()
	return kittest.New(t, admin, true, convox.Register)
}

// wantOut fails unless r succeeded and its stdout holds every part.
func wantOut(t *testing.T, r kittest.Result, parts ...string) {
	t.Helper()
	if r.Error != nil || r.Status != 0 {
		t.Fatalf("failed: %s", r)
	}
	for _, p := range parts {
		if !strings.Contains(r.Out, p) {
			t.Errorf("stdout lacks %q:\n%s", p, r.Out)
		}
	}
}

// wantErr fails unless r failed with code and a message containing msg.
func wantErr(t *testing.T, r kittest.Result, code, msg string) {
	t.Helper()
	if r.Error == nil || r.Error.Code != code || !strings.Contains(r.Error.Message, msg) {
		t.Fatalf("want a %s error with %q, got %s", code, msg, r)
	}
}

// decode parses stdout as JSON into v.
func decode(t *testing.T, r kittest.Result, v any) {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("failed: %s", r)
	}
	if err := json.Unmarshal([]byte(r.Out), v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.Out)
	}
}

// A write with no window asks the server first, then prompts once on the
// terminal, and the step line resumes after the prompt.
func TestEnvSetPromptsWhenTheServerAsks(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, false, convox.Register)
	term := &kittest.Term{Answers: []string{e.Sandbox.BackupCodes(admin)[0]}}
	r := e.RunWith(term, "env", "set", "FOO=bar", "-a", app)
	if r.Error != nil || len(r.Prompts) != 1 || r.MFA != "prompted" {
		t.Fatalf("env set: %s (prompts %q, mfa %q)", r, r.Prompts, r.MFA)
	}
	if !strings.Contains(r.Out, "Setting FOO... OK") {
		t.Errorf("stdout: %q", r.Out)
	}
	// Without a terminal and no window, the exit is the step-up one.
	e2 := kittest.New(t, admin, false, convox.Register)
	if r := e2.Run("env", "set", "FOO=bar", "-a", app); r.Error == nil || r.Error.Code != ipc.CodeStepUpRequired {
		t.Fatalf("no terminal: %s", r)
	}
}

// The options are created per invocation: a flag given to one run of a
// command does not stay set for the next run on the same registry.
func TestOptionsAreFreshPerInvocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	secret, err := e.Sandbox.Rack().Env(app)
	if err != nil {
		t.Fatal(err)
	}
	r := e.MustRun("env", "get", "SECRET_KEY_BASE", "--unmask", "-a", app)
	if got := strings.TrimSpace(r.Out); got != secret["SECRET_KEY_BASE"] {
		t.Fatalf("--unmask: %q, want the secret", got)
	}
	r = e.MustRun("env", "get", "SECRET_KEY_BASE", "-a", app)
	if got := strings.TrimSpace(r.Out); got == secret["SECRET_KEY_BASE"] || got == "" {
		t.Fatalf("second run without --unmask: %q, want a mask", got)
	}
	// --app from one run does not carry over either: CONVOX_APP decides.
	e.MustRun("ps", "-a", app)
	e.Vars["CONVOX_APP"] = "nosuch"
	if r := e.Run("ps"); r.Error == nil || !strings.Contains(r.Error.Message, "nosuch") {
		t.Fatalf("ps after ps -a: %s", r)
	}
}

// An unknown --output format is a usage error that names it, for every
// command with the flag; upper case is accepted.
func TestOutputFormat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, argv := range [][]string{
		{"apps"}, {"apps", "info", app}, {"ps", "-a", app}, {"env", "-a", app}, {"releases", "-a", app},
		{"releases", "info", convoxfake.SeedReleaseID, "-a", app}, {"builds", "-a", app},
		{"builds", "info", convoxfake.SeedBuildID, "-a", app}, {"scale", "-a", app}, {"rack", "info"}, {"instances"},
	} {
		r := e.Run(append(argv, "--output", "yaml")...)
		wantErr(t, r, ipc.CodeUsage, `unknown output format "yaml": use json`)
		if r.Code() != ipc.ExitUsage {
			t.Errorf("%q: exit %d", argv, r.Code())
		}
		var v any
		decode(t, e.Run(append(argv, "--output", "JSON")...), &v)
	}
}
