//go:build windows

package cli

import (
	"os"
	"os/exec"
	"syscall"
)

const (
	createNewProcessGroup = 0x00000200
	detachedProcess       = 0x00000008
)

func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: createNewProcessGroup | detachedProcess}
}

// execProcess runs the child with our stdio and exits with its status:
// Windows has no exec(2).
func execProcess(bin string, argv []string) (int, error) {
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState != nil {
		return cmd.ProcessState.ExitCode(), nil
	}
	return 0, err
}

func notifyResize(chan<- os.Signal) {}

func isResize(os.Signal) bool { return false }

// resizeSignal: Windows has none (isResize is always false).
var resizeSignal os.Signal

func notifyTerminate(chan<- os.Signal) {}

func isTerminate(os.Signal) bool { return false }
