package session_test

import (
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/commands/session"
	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// version prints upstream's client:, gateway: and server: lines, worded
// as upstream does, and the agent's version after them.
func TestVersionLines(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, true, session.Register)
	want := "client: test\ngateway: sandbox-0.1.0 (sandbox)\nserver: " + convoxfake.Version + "\nagent: test\n"
	if r := e.MustRun("version"); r.Out != want {
		t.Errorf("version:\n%s\nwant:\n%s", r.Out, want)
	}
	// Logged out, upstream prints "(not logged in)" on both lines and
	// still succeeds.
	e.MustRun("logout")
	want = "client: test\ngateway: (not logged in)\nserver: (not logged in)\nagent: test\n"
	if r := e.MustRun("version"); r.Out != want {
		t.Errorf("version logged out:\n%s\nwant:\n%s", r.Out, want)
	}
}
