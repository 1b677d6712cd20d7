//go:build windows

package tty

import "os"

func openTTY() (*os.File, error) { return os.OpenFile("CONIN$", os.O_RDWR, 0) }

// Name returns "" on Windows: consoles have no device path worth showing.
func Name() string { return "" }
