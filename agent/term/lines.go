package term

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// maxOpenLine bounds what Lines keeps of an unfinished line: a step label
// ("Setting FOO... ") is short, and a runaway line without a newline must not
// grow the agent's memory.
const maxOpenLine = 4 << 10

// Lines wraps a Terminal and remembers the unfinished line last written to
// a stream that is a terminal. A prompt that appeared right after
// "Setting FOO... " would be glued to it; BreakLine ends such a line first
// and returns a function that prints it again, so the step's "OK" still
// lands after its label. Streams that are not terminals are passed through
// untouched: inserting a newline into piped data would change it.
type Lines struct {
	Terminal

	mu   sync.Mutex
	open []byte      // the unfinished line, without its stream's earlier lines
	on   *lineWriter // the stream open was written to (nil: no open line)

	out, err io.Writer
}

// TrackLines wraps t. Commands write through the returned terminal's
// Stdout and Stderr so the open line is known.
func TrackLines(t Terminal) *Lines {
	l := &Lines{Terminal: t}
	tty := t.TTY()
	l.out = l.wrap(t.Stdout(), tty.Stdout)
	l.err = l.wrap(t.Stderr(), tty.Stderr)
	return l
}

func (l *Lines) wrap(w io.Writer, isTTY bool) io.Writer {
	if !isTTY {
		return w
	}
	return &lineWriter{l: l, w: w}
}

// Stdout is the user's stdout.
func (l *Lines) Stdout() io.Writer { return l.out }

// Stderr is the user's stderr.
func (l *Lines) Stderr() io.Writer { return l.err }

// BreakLine ends the open line, if any, so that what follows starts at the
// beginning of a line, and returns the function that resumes it. Calling
// resume when nothing was broken does nothing.
func (l *Lines) BreakLine() (resume func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on == nil || len(l.open) == 0 {
		return func() {}
	}
	lw, frag := l.on, append([]byte(nil), l.open...)
	_, _ = lw.w.Write([]byte("\n"))
	l.on, l.open = nil, nil
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, err := lw.w.Write(frag); err == nil {
			l.on, l.open = lw, frag
		}
	}
}

// EndLine ends the line just written to w for good, so that what follows
// (an error) starts on a new line. On a terminal stream a line a prompt
// already ended gets no blank line; a piped stream always gets its
// newline, as it would without Lines.
func (l *Lines) EndLine(w io.Writer) {
	if lw, ok := w.(*lineWriter); ok && lw.l == l {
		l.mu.Lock()
		open := l.on == lw && len(l.open) > 0
		l.mu.Unlock()
		if open {
			l.BreakLine()
		}
		return
	}
	_, _ = w.Write([]byte("\n"))
}

// SetRaw forwards to the wrapped terminal when it can switch the user's
// terminal to raw mode (the daemon's relay can), so wrapping hides nothing.
func (l *Lines) SetRaw(on bool) error {
	if r, ok := l.Terminal.(interface{ SetRaw(bool) error }); ok {
		return r.SetRaw(on)
	}
	return ErrNoRaw
}

// ErrNoRaw is SetRaw's answer when the wrapped terminal cannot switch the
// user's terminal itself (in-process runs own the terminal directly).
var ErrNoRaw = errors.New("this terminal cannot be switched to raw mode")

type lineWriter struct {
	l *Lines
	w io.Writer
}

// Write passes p through and records what is left unfinished. The lock is
// held across the write so BreakLine never interleaves with half of one.
func (lw *lineWriter) Write(p []byte) (int, error) {
	l := lw.l
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := lw.w.Write(p)
	written := p[:n]
	if len(written) == 0 {
		return n, err
	}
	if i := bytes.LastIndexAny(written, "\n"); i >= 0 {
		l.open = append(l.open[:0], written[i+1:]...)
	} else if l.on == lw {
		l.open = append(l.open, written...)
	} else {
		l.open = append(l.open[:0], written...)
	}
	if len(l.open) > maxOpenLine {
		l.open = l.open[len(l.open)-maxOpenLine:]
	}
	l.on = lw
	if len(l.open) == 0 {
		l.on = nil
	}
	return n, err
}
