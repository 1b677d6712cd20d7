package term

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// handTicker is a ticker the test ticks: a tick is taken (and drawn)
// before the next one can be sent.
type handTicker struct {
	c       chan time.Time
	stopped chan struct{}
}

func newHandTicker() *handTicker {
	return &handTicker{c: make(chan time.Time), stopped: make(chan struct{})}
}
func (h *handTicker) C() <-chan time.Time { return h.c }
func (h *handTicker) Stop()               { close(h.stopped) }

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Unix(1_700_000_000, 0)} }
func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wrote != nil {
		b.wrote <- struct{}{}
	}
	return b.b.Write(p)
}
func (b *syncBuf) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// syncBuf is a buffer the spinner's goroutine writes to; wrote, when
// set, hears of every write, so a test knows a tick was drawn.
type syncBuf struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func TestSpinnerDrawsOnEveryTickAndErasesOnHide(t *testing.T) {
	t.Parallel()
	out := syncBuf{wrote: make(chan struct{}, 16)}
	clk := newClock()
	ticks := make(chan *handTicker, 2)
	sp := NewSpinner(&out, func(d time.Duration) string { return "Waiting (" + Wait(d) + ")" }, SpinnerOptions{
		NewTicker: func(time.Duration) Ticker { h := newHandTicker(); ticks <- h; return h },
		Now:       clk.now,
	})
	sp.Show()
	sp.Show() // a second Show changes nothing
	h := <-ticks
	<-out.wrote
	clk.add(61 * time.Second)
	h.c <- time.Time{}
	<-out.wrote
	clk.add(time.Second)
	h.c <- time.Time{}
	<-out.wrote
	sp.Hide()
	<-h.stopped
	want := "\r\x1b[K⠋ Waiting (0s)\r\x1b[K⠙ Waiting (1m01s)\r\x1b[K⠹ Waiting (1m02s)\r\x1b[K"
	if got := out.String(); got != want {
		t.Fatalf("transcript\n got %q\nwant %q", got, want)
	}
	if len(ticks) != 0 {
		t.Fatal("the second Show started another ticker")
	}
	// Shown again it goes on turning; Stop leaves the final line.
	sp.Show()
	<-ticks
	sp.Stop("Waited 1m02s")
	sp.Hide() // nothing more
	if got, want := out.String()[len(want):], "\r\x1b[K⠸ Waiting (1m02s)\r\x1b[KWaited 1m02s\n"; got != want {
		t.Fatalf("after Show and Stop\n got %q\nwant %q", got, want)
	}
	if got := Plain(out.String()); got != "⠋ Waiting (0s)\n⠙ Waiting (1m01s)\n⠹ Waiting (1m02s)\n⠸ Waiting (1m02s)\nWaited 1m02s\n" {
		t.Errorf("Plain = %q", got)
	}
}

func TestSpinnerColourAndWidth(t *testing.T) {
	t.Parallel()
	var out syncBuf
	sp := NewSpinner(&out, func(time.Duration) string { return "Uploading source... [=====>    ]" }, SpinnerOptions{
		Color: true, Width: 13,
		NewTicker: func(time.Duration) Ticker { return newHandTicker() },
	})
	sp.Redraw() // hidden: nothing
	sp.Show()
	sp.Redraw()
	sp.Hide()
	if got, want := out.String(), "\r\x1b[K\x1b[36m⠋\x1b[0m Uploading…\r\x1b[K\x1b[36m⠙\x1b[0m Uploading…\r\x1b[K"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A nil spinner (stderr not a terminal) does nothing and says nothing.
func TestNilSpinner(t *testing.T) {
	t.Parallel()
	var sp *Spinner
	sp.Show()
	sp.Hide()
	sp.Stop("x")
	if sp.Elapsed() != 0 {
		t.Fatal("elapsed")
	}
}

type ttyTerm struct {
	tty  ipc.TTYState
	size ipc.WinSize
}

func (f ttyTerm) Stdin() io.Reader                                   { return strings.NewReader("") }
func (f ttyTerm) Stdout() io.Writer                                  { return io.Discard }
func (f ttyTerm) Stderr() io.Writer                                  { return io.Discard }
func (f ttyTerm) TTY() ipc.TTYState                                  { return f.tty }
func (f ttyTerm) Size() ipc.WinSize                                  { return f.size }
func (f ttyTerm) CanPrompt() bool                                    { return false }
func (f ttyTerm) Prompt(context.Context, ipc.Prompt) (string, error) { return "", nil }
func (f ttyTerm) Do(context.Context, ipc.Action) (ipc.ActionResult, error) {
	return ipc.ActionResult{}, nil
}

// StderrSpinner: only on a terminal that moves its cursor; NO_COLOR
// (set, not empty) turns the colour off.
func TestStderrSpinner(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	text := func(time.Duration) string { return "" }
	tty := ttyTerm{tty: ipc.TTYState{Stderr: true}, size: ipc.WinSize{Cols: 80}}
	if StderrSpinner(ttyTerm{tty: ipc.TTYState{Stdout: true, Stdin: true}}, io.Discard, env(), text) != nil {
		t.Error("a spinner on a piped stderr")
	}
	if StderrSpinner(tty, io.Discard, env("TERM", "dumb"), text) != nil {
		t.Error("a spinner on TERM=dumb")
	}
	if sp := StderrSpinner(tty, io.Discard, env("TERM", "xterm"), text); sp == nil || !sp.o.Color || sp.o.Width != 80 {
		t.Errorf("on a terminal: %+v", sp)
	}
	if sp := StderrSpinner(tty, io.Discard, env("NO_COLOR", "1"), text); sp == nil || sp.o.Color {
		t.Errorf("under NO_COLOR: %+v", sp)
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 0: "0s", 59 * time.Second: "59s", 60 * time.Second: "1m00s",
		119*time.Second + 900*time.Millisecond: "1m59s", 3725 * time.Second: "1h02m",
	} {
		if got := Wait(d); got != want {
			t.Errorf("Wait(%s) = %q, want %q", d, got, want)
		}
	}
}
