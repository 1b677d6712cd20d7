//go:build !windows

package cli

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// detach puts the agent in its own session so it outlives this terminal
// and never receives its Ctrl-C.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }

// execProcess replaces this process; it only returns on failure.
func execProcess(bin string, argv []string) (int, error) {
	return 0, syscall.Exec(bin, argv, os.Environ())
}

func notifyResize(c chan<- os.Signal) { signal.Notify(c, syscall.SIGWINCH) }

func isResize(s os.Signal) bool { return s == syscall.SIGWINCH }

// resizeSignal is the signal isResize reports.
var resizeSignal os.Signal = syscall.SIGWINCH

// notifyTerminate catches the signals that end a process without Ctrl-C
// (kill, a closed terminal, Ctrl-\), so the terminal is restored first.
func notifyTerminate(c chan<- os.Signal) {
	signal.Notify(c, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
}

func isTerminate(s os.Signal) bool {
	return s == syscall.SIGTERM || s == syscall.SIGHUP || s == syscall.SIGQUIT
}
