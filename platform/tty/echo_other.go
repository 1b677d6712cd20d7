//go:build windows

package tty

import "golang.org/x/sys/windows"

// noEcho turns off console echo, keeping line input, as x/term's
// ReadPassword does, but returns control so a withdrawn prompt can restore
// it at once.
func noEcho(fd int) (func(), error) {
	h := windows.Handle(fd)
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return nil, err
	}
	newMode := (mode &^ windows.ENABLE_ECHO_INPUT) | windows.ENABLE_PROCESSED_INPUT | windows.ENABLE_LINE_INPUT
	if err := windows.SetConsoleMode(h, newMode); err != nil {
		return nil, err
	}
	return func() { _ = windows.SetConsoleMode(h, mode) }, nil
}
