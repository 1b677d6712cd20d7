// Package tty reads answers from the user's controlling terminal. Both the
// thin CLI (answering the agent's prompts) and `rack-gateway-agent exec` use
// it. Secrets are read from /dev/tty with echo off, never from a pipe on
// stdin, so `cmd | rack-gateway …` still prompts the human.
package tty

import (
	"bufio"
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
// controlling terminal, without echo when secret is true.
func Ask(w io.Writer, text string, secret bool) (string, error) {
	f, err := openTTY()
	if err != nil {
		return "", ErrNoTerminal
	}
	defer f.Close()
	if !strings.HasSuffix(text, " ") {
		text += " "
	}
	fmt.Fprint(w, text)
	if secret && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(w)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Size returns the terminal size of f in cells.
func Size(f *os.File) (cols, rows int, ok bool) {
	c, r, err := term.GetSize(int(f.Fd()))
	return c, r, err == nil
}
