//go:build unix

package service

import "syscall"

// detachedAttr puts the agent in its own session, so it outlives this
// terminal and never receives its Ctrl-C.
func detachedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
