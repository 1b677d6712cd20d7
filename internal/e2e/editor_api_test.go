package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// An editor can say which terminal waits on a prompt, and learns when a
// prompt ends unanswered so it can take its notification down
// (docs/local-api.md, "For plugin authors").
func TestPromptNamesItsTerminalAndWithdrawalIsAnEvent(t *testing.T) {
	t.Parallel()
	e, _ := mfaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evs, err := e.client().Events(ctx, "prompt_pending", "prompt_answered", "prompt_withdrawn")
	if err != nil {
		t.Fatal(err)
	}
	p := e.startPTY("withdrawn", stepUpCmd...)
	got := collect(t, evs, []string{"prompt_pending"}, 15*time.Second)
	pending := got[len(got)-1]
	if !strings.HasPrefix(pending.TTY, "/dev/") {
		t.Errorf("prompt_pending tty %q", pending.TTY)
	}
	st, err := e.client().Status(ctx)
	if err != nil || len(st.Prompts) != 1 || st.Prompts[0].TTY != pending.TTY {
		t.Fatalf("status prompts %+v %v", st, err)
	}
	p.waitEchoOff()
	p.interrupt()
	got = collect(t, evs, []string{"prompt_withdrawn"}, 15*time.Second)
	w := got[len(got)-1]
	if w.PromptID != pending.PromptID || w.TTY != pending.TTY || w.Rack != "prod" {
		t.Errorf("prompt_withdrawn %+v, pending %+v", w, pending)
	}
	for _, e := range got {
		if e.Type == "prompt_answered" {
			t.Errorf("an interrupted prompt was reported answered: %+v", e)
		}
	}
	if code := p.wait(10 * time.Second); code == 0 {
		t.Errorf("interrupted command exited 0:\n%s", p.Output())
	}
}
