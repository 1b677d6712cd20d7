package agent

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/audit"
	"github.com/rack-gateway/rack-gateway/agent/commands"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// auditExec writes an exec run's audit line, as the daemon writes one per
// command (docs/architecture.md, "The agent's state"). This process ends
// with the command, so a line that cannot be written is told now, on the
// run's own stderr, rather than on a next command.
func auditExec(stderr io.Writer, start time.Time, argv []string, res commands.Result, status int, e *ipc.Error) {
	path, err := audit.DefaultPath()
	if err != nil {
		fmt.Fprintf(stderr, "warning: the agent could not write its audit log: %v\n", err)
		return
	}
	l := audit.New(path, 0, 0)
	defer l.Close()
	code := ""
	if e != nil {
		code = e.Code
	}
	// With --no-agent the CLI became this process (an exec on Unix), so
	// this pid is the caller's, and this executable is what ran.
	exe, _ := os.Executable()
	_ = l.Record(audit.Entry{
		Time: start, PID: os.Getpid(), Exe: exe, Rack: res.Rack, Command: argv, MFA: res.MFA,
		Exit: status, Error: code, Duration: float64(time.Since(start).Microseconds()) / 1000,
	})
	if w := l.Health().TakeWarning(); w != "" {
		fmt.Fprintln(stderr, w)
	}
}
