package service

import (
	"fmt"
	"os"
	"os/exec"
)

// Spawn starts `exe run` detached from this terminal, with its output
// appended to logPath: the agent started on demand, as the CLI does it, for
// `agent start` without a service. It returns the new process's pid; the
// process is released, not waited for.
func Spawn(exe, logPath string) (int, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open agent log: %w", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command(exe, "run")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = detachedAttr()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", exe, err)
	}
	pid := cmd.Process.Pid
	// Not waited for: the agent outlives this process. Once we exit, init
	// (or the session's subreaper) reaps it.
	_ = cmd.Process.Release()
	return pid, nil
}
