//go:build unix

package browser

import "syscall"

// detachedAttr puts the opener in its own session, so a Ctrl-C in our
// terminal (sent to the foreground process group) does not kill the browser
// it launched, and a text-mode fallback browser cannot grab our terminal.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
