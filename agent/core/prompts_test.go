package core

import "testing"

// The first to take a prompt out of the registry has answered it: an API
// answer that got there first makes the terminal's Remove report false,
// and the terminal's Remove makes a later API answer ErrNoPrompt.
func TestPromptsFirstTakerWins(t *testing.T) {
	t.Parallel()
	var r Prompts
	api := r.Add(PendingPrompt{Rack: "prod", Text: "code: ", TTY: "/dev/pts/3"})
	if l := r.List(); len(l) != 1 || l[0].TTY != "/dev/pts/3" {
		t.Fatalf("list %+v", l)
	}
	if _, err := r.Answer(api.ID, "123456"); err != nil {
		t.Fatal(err)
	}
	if r.Remove(api.ID) {
		t.Error("Remove after the API answered reported the prompt still pending")
	}
	if v := <-api.Answers(); v != "123456" {
		t.Errorf("answer %q", v)
	}
	term := r.Add(PendingPrompt{Text: "code: "})
	if !r.Remove(term.ID) {
		t.Error("Remove of a pending prompt reported it gone")
	}
	if _, err := r.Answer(term.ID, "1"); err != ErrNoPrompt {
		t.Errorf("API answer after the terminal took it: %v", err)
	}
}
