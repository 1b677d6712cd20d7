package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/buildinfo"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	websocket "github.com/rack-gateway/rack-gateway/ipc/ws"
)

// completeWord is the hidden command the shell completion scripts call on
// every <TAB> (cobra's convention; the agent's kit.CompleteCommand).
const completeWord = "__complete"

// completeBudget bounds a completion from start to finish: a shell waits
// for it on every <TAB>, so whatever goes wrong it gives up silently in
// time, having printed nothing. A variable so tests on slow machines can
// raise it.
var completeBudget = 2 * time.Second

// isCompleteCommand reports whether args ask for completions. The word is
// first by the convention, so nothing else is parsed.
func isCompleteCommand(args []string) bool { return len(args) > 0 && args[0] == completeWord }

// runComplete answers a completion request: from the running agent, or,
// when none runs, from `rack-gateway-agent exec` (the config and the
// command list; nothing remembered, no network). It never starts the
// daemon, never asks anything, never writes to stderr, and always
// exits 0: a failed completion prints nothing.
func runComplete(args []string, s Streams) int {
	var claimed atomic.Bool
	watchdog := time.AfterFunc(completeBudget, func() {
		if claimed.CompareAndSwap(false, true) {
			os.Exit(0)
		}
	})
	out := completions(args)
	if claimed.CompareAndSwap(false, true) {
		watchdog.Stop()
		_, _ = s.Out.Write(out)
	}
	return 0
}

// completions are the candidate lines for args, or nothing.
func completions(args []string) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), completeBudget)
	defer cancel()
	sock, err := transport.SocketPath()
	if err != nil {
		return nil
	}
	nc, err := transport.Dial(ctx, sock)
	if err != nil {
		if transport.IsNotRunning(err) {
			return completeInProcess(ctx, args)
		}
		return nil
	}
	defer nc.Close()
	deadline, _ := ctx.Deadline()
	hello := map[string]string{ipc.HeaderCLIVersion: buildinfo.Version, ipc.HeaderCLICapability: strconv.Itoa(ipc.Capability)}
	conn, resp, err := websocket.HandshakeHeader(nc, ipc.Host, ipc.PathRun, hello, deadline)
	if err != nil {
		return nil
	}
	_ = nc.SetDeadline(deadline)
	// No terminal, no prompt: the agent answers from what it knows.
	inv := invocation(args, Streams{}, parseAgentInfo(resp.Header).has(ipc.CapArgvBytes))
	inv.CanPrompt = false
	msg, err := json.Marshal(inv)
	if err != nil || len(msg) > ipc.MaxInvocation || conn.WriteMessage(websocket.TextMessage, msg) != nil {
		return nil
	}
	var out bytes.Buffer
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			return nil
		}
		if typ == websocket.BinaryMessage {
			if len(data) > 0 && ipc.Channel(data[0]) == ipc.ChanStdout {
				out.Write(data[1:])
			}
			continue
		}
		var c ipc.Control
		if json.Unmarshal(data, &c) == nil && c.Type == ipc.MsgExit {
			if c.Exit == nil || c.Exit.Error != nil || c.Exit.Status != 0 || !wellFormed(out.Bytes()) {
				return nil
			}
			return out.Bytes()
		}
	}
}

// completeInProcess asks `rack-gateway-agent exec`, which knows the
// commands and reads the config, when no agent is running.
func completeInProcess(ctx context.Context, args []string) []byte {
	bin, err := agentBinary()
	if err != nil {
		return nil
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"exec", "--"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, io.Discard
	if cmd.Run() != nil || !wellFormed(out.Bytes()) {
		return nil
	}
	return out.Bytes()
}

// wellFormed reports whether an answer ends with its directive line: an
// older agent that does not know the word answers something else.
func wellFormed(b []byte) bool {
	s := strings.TrimSuffix(string(b), "\n")
	last := s[strings.LastIndex(s, "\n")+1:]
	if !strings.HasPrefix(last, ":") {
		return false
	}
	_, err := strconv.Atoi(last[1:])
	return err == nil
}
