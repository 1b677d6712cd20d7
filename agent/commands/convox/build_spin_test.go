package convox_test

import (
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// On a terminal, packaging and the upload spin on stderr (the upload with
// its bar up to 100%), each erased before its step line; stdout carries
// the same step lines as without a terminal.
func TestBuildSpinsOnATerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := sourceDir(t)
	term := &kittest.Term{TTYs: ipc.TTYState{Stderr: true}}
	r := e.RunWith(term, "build", dir, "-a", app, "--description", "spin")
	if r.Error != nil {
		t.Fatalf("build: %s", r)
	}
	wantOut(t, r, "Packaging source... OK\nUploading source... OK\nStarting build... OK\n")
	for _, want := range []string{"\r\x1b[K\x1b[36m⠋\x1b[0m Packaging source... 0s", " Uploading source... [", "100%"} {
		if !strings.Contains(r.Err, want) {
			t.Errorf("stderr lacks %q:\n%q", want, r.Err)
		}
	}
	// Both spinners end erased: the last thing on stderr is an erase.
	if !strings.HasSuffix(r.Err, "\r\x1b[K") {
		t.Errorf("stderr does not end erased:\n%q", r.Err)
	}
}
