//go:build windows

package cli

import (
	"os"
	"sync"

	"golang.org/x/term"
)

// makeRaw puts the console behind f in raw mode (which on Windows also
// turns on virtual-terminal input, so keys arrive as the escape sequences
// a remote shell expects) and returns the idempotent restore function.
func makeRaw(f *os.File) (func(), error) {
	fd := int(f.Fd())
	saved, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { _ = term.Restore(fd, saved) }) }, nil
}
