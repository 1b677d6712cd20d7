package term

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/rack-gateway/rack-gateway/ipc"
)

type fakeTerm struct {
	out, err bytes.Buffer
	tty      ipc.TTYState
}

func (f *fakeTerm) Stdin() io.Reader                                   { return bytes.NewReader(nil) }
func (f *fakeTerm) Stdout() io.Writer                                  { return &f.out }
func (f *fakeTerm) Stderr() io.Writer                                  { return &f.err }
func (f *fakeTerm) TTY() ipc.TTYState                                  { return f.tty }
func (f *fakeTerm) Size() ipc.WinSize                                  { return ipc.WinSize{} }
func (f *fakeTerm) CanPrompt() bool                                    { return true }
func (f *fakeTerm) Prompt(context.Context, ipc.Prompt) (string, error) { return "", nil }
func (f *fakeTerm) Do(context.Context, ipc.Action) (ipc.ActionResult, error) {
	return ipc.ActionResult{}, nil
}

func TestBreakLineEndsAndResumesTheOpenLine(t *testing.T) {
	t.Parallel()
	f := &fakeTerm{tty: ipc.TTYState{Stdout: true, Stderr: true}}
	l := TrackLines(f)
	io.WriteString(l.Stdout(), "Packaging source... OK\nSetting ")
	io.WriteString(l.Stdout(), "FOO... ")
	resume := l.BreakLine()
	io.WriteString(l.Stderr(), "Step-up MFA required for this operation.\n")
	resume()
	io.WriteString(l.Stdout(), "OK\n")
	if got, want := f.out.String(), "Packaging source... OK\nSetting FOO... \nSetting FOO... OK\n"; got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
	// Nothing open: nothing to break.
	l.BreakLine()()
	if f.out.String() != "Packaging source... OK\nSetting FOO... \nSetting FOO... OK\n" {
		t.Fatalf("a closed line was broken: %q", f.out.String())
	}
}

func TestPipedStreamsAreUntouched(t *testing.T) {
	t.Parallel()
	f := &fakeTerm{tty: ipc.TTYState{Stderr: true}}
	l := TrackLines(f)
	io.WriteString(l.Stdout(), "Setting FOO... ")
	l.BreakLine()()
	io.WriteString(l.Stdout(), "OK\n")
	if got := f.out.String(); got != "Setting FOO... OK\n" {
		t.Fatalf("piped stdout changed: %q", got)
	}
}

func TestEndLine(t *testing.T) {
	t.Parallel()
	f := &fakeTerm{tty: ipc.TTYState{Stdout: true}}
	l := TrackLines(f)
	io.WriteString(l.Stdout(), "Setting FOO... ")
	l.EndLine(l.Stdout())
	l.EndLine(l.Stdout()) // already ended: no blank line
	l.EndLine(l.Stderr()) // piped: a newline, as without Lines
	if f.out.String() != "Setting FOO... \n" || f.err.String() != "\n" {
		t.Fatalf("stdout %q, stderr %q", f.out.String(), f.err.String())
	}
}

func TestSetRawWithoutSupport(t *testing.T) {
	t.Parallel()
	if err := TrackLines(&fakeTerm{}).SetRaw(true); err == nil {
		t.Fatal("SetRaw on a terminal that cannot do it succeeded")
	}
}
