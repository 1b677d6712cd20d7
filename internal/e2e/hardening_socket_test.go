package e2e

import (
	"strings"
	"testing"
)

// The agent's socket under hostile or unlucky clients (issue 12): read
// limits, timeouts, refusals that arrive, handshakes cut off, exact
// argument bytes and version skew.

// A command line over the invocation limit fails with a message that
// names the limit, not with a broken pipe.
func TestCommandLineTooLong(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	args := []string{"env", "set"}
	for i := 0; i < 12; i++ {
		// Each argument stays under Linux's 128 KiB per-argument limit.
		args = append(args, "K"+strings.Repeat("x", 100<<10)+"=v")
	}
	r := e.run(args...)
	if r.Code != 2 {
		t.Fatalf("exit %d, want 2: %s", r.Code, r.Err[:min(len(r.Err), 300)])
	}
	contains(t, "stderr", r.Err, "Error: the command line is too long", "over the agent's limit of 1 MiB")
	if strings.Contains(r.Err, "broken pipe") {
		t.Errorf("stderr: %s", r.Err)
	}
}
