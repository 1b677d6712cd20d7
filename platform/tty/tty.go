// Package tty reads answers from the user's controlling terminal. Both the
// thin CLI (answering the agent's prompts) and `rack-gateway-agent exec` use
// it. Secrets are read from /dev/tty with echo off, never from a pipe on
// stdin, so `cmd | rack-gateway …` still prompts the human.
package tty

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ErrNoTerminal means there is no controlling terminal to ask.
var ErrNoTerminal = errors.New("no interactive terminal")

// Ask prints text on w (the user's stderr) and reads one line from the
// controlling terminal, without echo when secret is true. When ctx ends
// first (Ctrl-C, or the agent withdrew the prompt) it restores the
// terminal's echo and returns ctx's error, so no terminal is left mute.
func Ask(ctx context.Context, w io.Writer, text string, secret bool) (string, error) {
	f, err := openTTY()
	if err != nil {
		return "", ErrNoTerminal
	}
	if !strings.HasSuffix(text, " ") {
		text += " "
	}
	var restore func()
	if secret && term.IsTerminal(int(f.Fd())) {
		if restore, err = noEcho(int(f.Fd())); err != nil {
			f.Close()
			return "", err
		}
	}
	type res struct {
		v   string
		err error
	}
	ch := make(chan res, 1)
	fmt.Fprint(w, text)
	go func() {
		// The read cannot be interrupted portably, so it runs on its own;
		// an abandoned read ends when the process does.
		line, err := bufio.NewReader(f).ReadString('\n')
		if err != nil && line != "" {
			err = nil
		}
		ch <- res{strings.TrimRight(line, "\r\n"), err}
	}()
	select {
	case r := <-ch:
		if restore != nil {
			restore()
			fmt.Fprintln(w)
		}
		f.Close()
		return r.v, r.err
	case <-ctx.Done():
		if restore != nil {
			restore()
		}
		fmt.Fprintln(w)
		return "", ctx.Err()
	}
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Size returns the terminal size of f in cells.
func Size(f *os.File) (cols, rows int, ok bool) {
	c, r, err := term.GetSize(int(f.Fd()))
	return c, r, err == nil
}
