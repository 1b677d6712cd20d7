package native_test

import (
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// On a terminal, request --wait spins on stderr between polls, naming the
// request and the time left; stdout is what it is without one, and a piped
// stderr gets no redraws at all. NO_COLOR leaves the glyph uncoloured.
func TestApprovalWaitSpinsOnATerminal(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		tty      bool
		noColor  bool
		wantSpin bool
	}{
		{"terminal", true, false, true},
		{"NO_COLOR", true, true, true},
		{"piped", false, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHooked(t, admin)
			code := newCodes(h.Env, admin).next(t)
			tok := ciToken(t, h.Env)
			approved := onPoll(h, func(id string) kittest.Result {
				return h.Run("deploy-approval", "approve", id, "--mfa-code", code)
			})
			if c.noColor {
				h.Vars["NO_COLOR"] = "1"
			}
			term := &kittest.Term{TTYs: ipc.TTYState{Stderr: c.tty}}
			r := h.RunWith(term, asToken(tok, "deploy-approval", "request", "-a", "demo", "--message", "m", "--git-commit", sha,
				"--wait", "--poll-interval", "1ms", "--timeout", "0")...)
			if a := took(t, "approve", approved, r); a.Error != nil {
				t.Fatalf("approve: %s", a)
			}
			if r.Error != nil || !strings.Contains(r.Out, "Waiting for approval (status: pending)\n") || strings.Contains(r.Out, "\r") {
				t.Fatalf("request --wait: %s", r)
			}
			spun := strings.Contains(r.Err, "\r\x1b[K") && strings.Contains(r.Err, " Waiting for approval of ") &&
				strings.Contains(r.Err, "; gives up in ")
			if spun != c.wantSpin {
				t.Fatalf("spinner on stderr: %v, want %v:\n%q", spun, c.wantSpin, r.Err)
			}
			if colour := strings.Contains(r.Err, "\x1b[36m"); colour != (c.wantSpin && !c.noColor) {
				t.Errorf("colour %v with NO_COLOR=%v:\n%q", colour, c.noColor, r.Err)
			}
		})
	}
}
