package cli

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/platform/paths"
)

// spawnPoll is how often the CLI tries the socket of an agent it started.
const spawnPoll = 2 * time.Millisecond

// startWait bounds how long the CLI waits for an agent it started.
const startWait = 2 * time.Second

const agentName = "rack-gateway-agent"

// agentBinary finds rack-gateway-agent next to this executable first (so a
// build directory or package install is self-consistent), then on PATH.
func agentBinary() (string, error) {
	name := agentName
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if self, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		cand := filepath.Join(filepath.Dir(self), name)
		if st, err := os.Stat(cand); err == nil && !st.IsDir() {
			return cand, nil
		}
	}
	if p, err := exec.LookPath(agentName); err == nil {
		return p, nil
	}
	return "", ipc.Errorf(ipc.CodeAgentUnavailable, "cannot find %s next to this program or on PATH", agentName).
		WithHint("Install rack-gateway-agent, or put it next to rack-gateway.")
}

// spawned is an agent process this CLI started.
type spawned struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// startAgent starts `rack-gateway-agent run` detached from this terminal
// (its own session, output to the agent log).
func startAgent() (*spawned, error) {
	bin, err := agentBinary()
	if err != nil {
		return nil, err
	}
	logPath, err := paths.AgentLogPath()
	if err != nil {
		return nil, ipc.Errorf(ipc.CodeAgentUnavailable, "%v", err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, ipc.Errorf(ipc.CodeAgentUnavailable, "open agent log: %v", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, ipc.Errorf(ipc.CodeAgentUnavailable, "%v", err)
	}
	defer devnull.Close()
	cmd := exec.Command(bin, "run")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Dir = "/"
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, ipc.Errorf(ipc.CodeAgentUnavailable, "start %s: %v", bin, err)
	}
	s := &spawned{cmd: cmd, exited: make(chan struct{}), logPath: logPath}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	return s, nil
}

// dial waits for the new agent's socket, giving up early if the agent
// exits (a second agent losing the race exits too, and then the winner
// answers).
func (s *spawned) dial(ctx context.Context, sock string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	// A new agent listens some 10-20 ms after it starts: a short fixed
	// pause finds it within a couple of milliseconds of that, where a
	// doubling backoff overshot by up to its last step (5, 10, 20 ms), and
	// a failed dial is one cheap system call.
	tick := time.NewTicker(spawnPoll)
	defer tick.Stop()
	for {
		c, err := transport.Dial(ctx, sock)
		if err == nil {
			return c, nil
		}
		if !transport.Retryable(err) && ctx.Err() == nil {
			// Not an agent still starting (a permission error, say):
			// waiting would only delay the report, as DialRetry knows.
			return nil, err
		}
		select {
		case <-tick.C:
		case <-s.exited:
			// One last try: another agent may have won the race.
			if c, err := transport.Dial(ctx, sock); err == nil {
				return c, nil
			}
			return nil, ipc.Errorf(ipc.CodeAgentUnavailable, "the agent exited at start: %s", lastLine(s.logPath)).
				WithHint("See %s", s.logPath)
		case <-ctx.Done():
			return nil, ipc.Errorf(ipc.CodeAgentUnavailable, "the agent did not answer within %s", startWait).
				WithHint("See %s", s.logPath)
		}
	}
}

func lastLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return lines[len(lines)-1]
}

// execAgent replaces this process with `rack-gateway-agent exec -- args`
// (on Windows, runs it and returns its exit status).
func execAgent(args []string) (int, error) {
	bin, err := agentBinary()
	if err != nil {
		return 0, err
	}
	argv := append([]string{agentName, "exec", "--"}, args...)
	status, err := execProcess(bin, argv)
	if err != nil {
		return 0, ipc.Errorf(ipc.CodeAgentUnavailable, "run %s: %v", bin, err)
	}
	return status, nil
}
