package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// serviceStartWait bounds the service manager's start command; the socket
// wait after it has its own deadline (startWait).
const serviceStartWait = 5 * time.Second

// isServiceCommand reports whether args is one of the commands that manage
// the agent itself. They run in-process (`rack-gateway-agent exec`), never
// in the daemon they are about to replace.
func isServiceCommand(args []string) bool {
	w := commandWords(args, 2)
	if len(w) != 2 || w[0] != "agent" {
		return false
	}
	switch w[1] {
	case "install", "uninstall", "start", "restart":
		return true
	}
	return false
}

// agentService is the agent's installed per-user service, as far as the
// CLI needs to know it: its name for messages, and how to start it.
type agentService struct {
	kind string
	argv [][]string // tried in order until one succeeds
}

// installedService returns the agent's service when it is installed, else
// nil. The CLI never links the service code: the unit or plist file's
// existence is the whole test (a stat or two), and the service manager's
// own command starts it.
func installedService() *agentService {
	file, err := paths.ServiceFile()
	if err != nil || file == "" {
		return nil
	}
	present := func(p string) bool { _, err := os.Stat(p); return p != "" && err == nil }
	switch runtime.GOOS {
	case "darwin":
		if !present(file) {
			return nil
		}
		target := "gui/" + strconv.Itoa(os.Getuid())
		return &agentService{kind: "LaunchAgent", argv: [][]string{
			{"launchctl", "kickstart", target + "/" + paths.ServiceLabel},
			// Not loaded yet (installed in this login session by hand):
			// loading it starts it (RunAtLoad).
			{"launchctl", "bootstrap", target, file},
		}}
	default:
		// Ours, or a package's unit the user enabled.
		link, _ := paths.ServiceEnabledLink()
		if !present(file) && !present(link) {
			return nil
		}
		return &agentService{kind: "systemd user unit", argv: [][]string{
			{"systemctl", "--user", "start", paths.ServiceName + ".service"},
		}}
	}
}

func (s *agentService) start(ctx context.Context) error {
	var errs []string
	for _, argv := range s.argv {
		cctx, cancel := context.WithTimeout(ctx, serviceStartWait)
		out, err := exec.CommandContext(cctx, argv[0], argv[1:]...).CombinedOutput()
		timedOut := cctx.Err() != nil
		cancel()
		if err == nil {
			return nil
		}
		msg := strings.TrimSpace(string(out))
		if timedOut {
			msg = "no answer within " + serviceStartWait.String()
		} else if msg == "" {
			msg = err.Error()
		}
		errs = append(errs, strings.Join(argv, " ")+": "+msg)
	}
	return errors.New(strings.Join(errs, "; "))
}

// launch starts the agent and dials it: through its service when one is
// installed, else by spawning `rack-gateway-agent run`. When the service
// does not bring the agent up, it says so once on errw and spawns it.
func launch(ctx context.Context, sock string, errw io.Writer) (net.Conn, error) {
	if svc := installedService(); svc != nil {
		err := svc.start(ctx)
		if err == nil {
			logPath, _ := paths.AgentLogPath()
			// No process to watch: the service manager owns it.
			var c net.Conn
			if c, err = (&spawned{logPath: logPath}).dial(ctx, sock); err == nil {
				return c, nil
			}
		}
		if ctx.Err() != nil {
			return nil, err
		}
		fmt.Fprintf(errw, "rack-gateway: could not start the agent through its %s (%v); starting it directly.\n", svc.kind, err)
	}
	started, err := startAgent()
	if err != nil {
		return nil, err
	}
	return started.dial(ctx, sock)
}
