package convox_test

import (
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/convox"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

const admin = "admin@example.com"

func TestAppsLists(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, true, convox.Register)
	r := e.MustRun("apps")
	if !strings.Contains(r.Out, "demo") || r.Rack != kittest.Rack {
		t.Fatalf("apps: %s (rack %q)", r, r.Rack)
	}
}

// A write with no window asks the server first, then prompts once on the
// terminal, and the step line resumes after the prompt.
func TestEnvSetPromptsWhenTheServerAsks(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, false, convox.Register)
	term := &kittest.Term{Answers: []string{e.Sandbox.BackupCodes(admin)[0]}}
	r := e.RunWith(term, "env", "set", "FOO=bar", "-a", "demo")
	if r.Error != nil || len(r.Prompts) != 1 || r.MFA != "prompted" {
		t.Fatalf("env set: %s (prompts %q, mfa %q)", r, r.Prompts, r.MFA)
	}
	if !strings.Contains(r.Out, "Setting FOO... OK") {
		t.Errorf("stdout: %q", r.Out)
	}
	// Without a terminal and no window, the exit is the step-up one.
	e2 := kittest.New(t, admin, false, convox.Register)
	if r := e2.Run("env", "set", "FOO=bar", "-a", "demo"); r.Error == nil || r.Error.Code != ipc.CodeStepUpRequired {
		t.Fatalf("no terminal: %s", r)
	}
}
