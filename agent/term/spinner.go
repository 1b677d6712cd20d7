package term

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/agent/crash"
)

// Spinner is one live status line on a terminal stream: a turning glyph
// and a text, redrawn in place ("\r", then erase to the end of the line)
// on every tick, so a long wait shows that it is alive and how long it has
// gone on. It is only for streams that are terminals; on a pipe the
// redraws would be noise in a log, so callers print their single line
// there instead (StderrSpinner returns nil, and a nil *Spinner does
// nothing).
//
// Show and Hide may alternate: a caller that polls shows the spinner while
// it waits and hides it before it prints anything else, so no other line
// is ever drawn over.
type Spinner struct {
	w     io.Writer
	text  func(elapsed time.Duration) string
	o     SpinnerOptions
	start time.Time

	mu    sync.Mutex // guards the fields below and every write to w
	frame int
	stop  chan struct{} // nil while hidden
	done  chan struct{}
}

// Ticker is what the spinner redraws on.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// SpinnerOptions tune a spinner; the zero value is a plain one.
type SpinnerOptions struct {
	// Color draws the glyph in colour.
	Color bool
	// Width is the terminal's width in columns (0: unknown). The line is
	// cut to fit: a line that wraps cannot be redrawn in place.
	Width int
	// Interval is the time between redraws (0: 100 ms).
	Interval time.Duration
	// NewTicker makes the redraw ticker (nil: time.NewTicker). Tests pass
	// one they tick by hand.
	NewTicker func(d time.Duration) Ticker
	// Now is the clock the elapsed time is read from (nil: time.Now).
	Now func() time.Time
}

// spinnerFrames are the glyph's positions.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

const (
	eraseLine = "\r\x1b[K"
	colorOn   = "\x1b[36m"
	colorOff  = "\x1b[0m"
)

// NewSpinner returns a hidden spinner that draws text(elapsed) on w,
// elapsed counted from now.
func NewSpinner(w io.Writer, text func(elapsed time.Duration) string, o SpinnerOptions) *Spinner {
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.NewTicker == nil {
		o.NewTicker = func(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Spinner{w: w, text: text, o: o, start: o.Now()}
}

// StderrSpinner is a spinner on the command's stderr w (t's stderr, as
// the command writes to it), or nil when that stderr is not a terminal or
// the terminal is "dumb" (no cursor movement). getenv reads the caller's
// environment: NO_COLOR, set and not empty, turns the colour off
// (no-color.org).
func StderrSpinner(t Terminal, w io.Writer, getenv func(string) string, text func(elapsed time.Duration) string) *Spinner {
	if t == nil || !t.TTY().Stderr || getenv("TERM") == "dumb" {
		return nil
	}
	return NewSpinner(w, text, SpinnerOptions{Color: getenv("NO_COLOR") == "", Width: t.Size().Cols})
}

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Show draws the line now and on every tick until Hide or Stop. Showing a
// shown spinner does nothing.
func (s *Spinner) Show() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.stop != nil {
		s.mu.Unlock()
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	s.stop, s.done = stop, done
	s.drawLocked()
	s.mu.Unlock()
	tick := s.o.NewTicker(s.o.Interval)
	crash.Go("spinner", func() {
		defer close(done)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C():
				s.mu.Lock()
				// A Hide that got the lock first has erased the line:
				// drawing now would bring it back.
				if s.stop == stop {
					s.drawLocked()
				}
				s.mu.Unlock()
			}
		}
	})
}

// Redraw draws the line now, between ticks, when it is shown: for a text
// that just changed (an upload's bar moved).
func (s *Spinner) Redraw() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.drawLocked()
	}
}

// Hide stops the redraws and erases the line, leaving the cursor at its
// start for whatever is printed next. Hiding a hidden spinner does
// nothing.
func (s *Spinner) Hide() {
	if s == nil {
		return
	}
	s.mu.Lock()
	stop, done := s.stop, s.done
	if stop == nil {
		s.mu.Unlock()
		return
	}
	s.stop, s.done = nil, nil
	close(stop)
	_, _ = io.WriteString(s.w, eraseLine)
	s.mu.Unlock()
	<-done
}

// Stop hides the spinner for good and, when final is not empty, prints it
// as an ordinary line in its place: what a transcript keeps of the wait.
func (s *Spinner) Stop(final string) {
	if s == nil {
		return
	}
	s.Hide()
	if final != "" {
		s.mu.Lock()
		_, _ = io.WriteString(s.w, final+"\n")
		s.mu.Unlock()
	}
}

// Elapsed is how long the spinner has existed.
func (s *Spinner) Elapsed() time.Duration {
	if s == nil {
		return 0
	}
	return s.o.Now().Sub(s.start)
}

func (s *Spinner) drawLocked() {
	glyph := spinnerFrames[s.frame%len(spinnerFrames)]
	s.frame++
	text := s.text(s.o.Now().Sub(s.start))
	if s.o.Width > 0 {
		// The glyph and its blank take two columns; one more is left
		// free, as a cursor in the last column wraps on some terminals.
		text = cut(text, s.o.Width-3)
	}
	if s.o.Color {
		glyph = colorOn + glyph + colorOff
	}
	_, _ = io.WriteString(s.w, eraseLine+glyph+" "+text)
}

// cut shortens s to at most n runes (none of the texts are wide
// characters), ending it with "…" when anything was cut.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Wait renders a duration for a live line, to the second: "7s", "1m05s",
// "1h02m". Negative durations are "0s".
func Wait(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int(d / time.Second)
	switch {
	case secs < 60:
		return fmt.Sprintf("%ds", secs)
	case secs < 3600:
		return fmt.Sprintf("%dm%02ds", secs/60, secs%60)
	default:
		return fmt.Sprintf("%dh%02dm", secs/3600, secs%3600/60)
	}
}

// Plain removes the spinner's redraws from a transcript: what is left is
// the text of each frame, one per line. For tests and logs.
func Plain(transcript string) string {
	var b strings.Builder
	for _, part := range strings.Split(transcript, eraseLine) {
		part = strings.ReplaceAll(strings.ReplaceAll(part, colorOn, ""), colorOff, "")
		if part != "" {
			b.WriteString(part)
			if !strings.HasSuffix(part, "\n") {
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}
