//go:build windows

package service

import "syscall"

// Windows process creation flags not exported by package syscall.
const (
	createNewProcessGroup = 0x00000200
	detachedProcess       = 0x00000008
)

// detachedAttr starts the agent without our console and in its own process
// group, so Ctrl-C in our console does not reach it.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: createNewProcessGroup | detachedProcess, HideWindow: true}
}
