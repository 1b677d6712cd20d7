//go:build !unix && !windows

package browser

import "syscall"

// detachedAttr has nothing to add on platforms without sessions or consoles.
func detachedAttr() *syscall.SysProcAttr { return nil }
