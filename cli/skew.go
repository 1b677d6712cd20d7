package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/buildinfo"
	"github.com/rack-gateway/rack-gateway/ipc"
	websocket "github.com/rack-gateway/rack-gateway/ipc/ws"
)

// Version skew (docs/local-api.md, "Versions and capabilities"): the CLI
// and the agent are installed and upgraded apart, and the agent keeps
// running across an upgrade. The CLI sends its version in the handshake
// and the agent answers with its own, its capabilities and how many
// commands it runs. An agent older than the CLI is restarted when it runs
// nothing, else the user is told how; an agent newer than the CLI tells
// the user itself, on the command's stderr, so even old CLIs hear it.

// agentInfo is what the agent said about itself in the handshake.
type agentInfo struct {
	// Version is "" for an agent older than the handshake.
	Version string
	// Capability is ipc.Capability of the agent; 1 for one older than the
	// handshake, which did not send it on the upgrade.
	Capability int
	caps       map[string]bool
	// Running is the number of commands the agent runs, -1 when it does
	// not say.
	Running int
	// taken: the agent took the invocation from the upgrade request
	// (ipc.HeaderInvocation) and runs it; nothing more is to be sent.
	taken bool
}

func parseAgentInfo(h textproto.MIMEHeader) *agentInfo {
	a := &agentInfo{Version: h.Get(ipc.HeaderVersion), Capability: 1, caps: map[string]bool{}, Running: -1}
	if n, err := strconv.Atoi(h.Get(ipc.HeaderCapability)); err == nil {
		a.Capability = n
	}
	for _, c := range strings.Split(h.Get(ipc.HeaderCapabilities), ",") {
		if c = strings.TrimSpace(c); c != "" {
			a.caps[c] = true
		}
	}
	if n, err := strconv.Atoi(h.Get(ipc.HeaderRunning)); err == nil && a.caps[ipc.CapRunning] {
		a.Running = n
	}
	return a
}

func (a *agentInfo) has(c string) bool { return a != nil && a.caps[c] }

// older reports whether the agent is older than this CLI: by release
// version when both have one, else by capability (development builds).
func (a *agentInfo) older() bool {
	if cmp, ok := buildinfo.Compare(a.Version, buildinfo.Version); ok {
		return cmp < 0
	}
	return a.Capability < ipc.Capability
}

// name is the agent's version for messages.
func (a *agentInfo) name() string {
	if a.Version == "" {
		return "a version without the version handshake"
	}
	return a.Version
}

// explain adds the skew to an "unknown command" from an older agent: the
// command may well exist, in this CLI's version.
func (a *agentInfo) explain(err error) error {
	var e *ipc.Error
	if a == nil || !errors.As(err, &e) || e.Code != ipc.CodeUsage || !strings.HasPrefix(e.Message, "unknown command") || !a.older() {
		return err
	}
	return e.WithHint("The agent (%s) is older than this CLI (%s) and may not know this command: run 'rack-gateway agent restart', then try again.",
		a.name(), buildinfo.Version)
}

// meetSkew restarts an agent older than this CLI when it runs no command,
// and says how to otherwise. It returns the connection to use (a new one
// after a restart). It never fails the command because of the skew alone.
func meetSkew(ctx context.Context, sock string, conn *websocket.Conn, a *agentInfo, args []string, errw io.Writer) (*websocket.Conn, *agentInfo, error) {
	if !a.older() {
		return conn, a, nil
	}
	w := commandWords(args, 2)
	if len(w) == 2 && w[0] == "agent" && w[1] == "stop" {
		return conn, a, nil // it is going away anyway
	}
	if a.Running != 0 || (len(w) > 0 && w[0] == "agent") {
		// Busy (or it cannot say), or the command is about the agent
		// itself: 'agent status' should show the old one.
		fmt.Fprintf(errw, "rack-gateway: the agent (%s) is older than this CLI (%s); run 'rack-gateway agent restart' once no command is running.\n",
			a.name(), buildinfo.Version)
		return conn, a, nil
	}
	old := a.name()
	stopErr := stopOver(conn)
	conn.Close()
	conn, a, err := connect(ctx, sock, errw)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case stopErr != nil:
		fmt.Fprintf(errw, "rack-gateway: the agent (%s) is older than this CLI (%s) and could not be restarted (%v); run 'rack-gateway agent restart'.\n",
			old, buildinfo.Version, stopErr)
	case a.older():
		fmt.Fprintf(errw, "rack-gateway: restarted the agent, but it is still %s, older than this CLI (%s); install the matching rack-gateway-agent.\n",
			a.name(), buildinfo.Version)
	default:
		fmt.Fprintf(errw, "rack-gateway: restarted the agent: it was %s, older than this CLI (%s).\n", old, buildinfo.Version)
	}
	return conn, a, nil
}

// stopWait bounds the stop of an older agent.
const stopWait = 10 * time.Second

// stopOver runs 'agent stop' on conn, a fresh /v1/run connection: the
// agent stopped is the one that answered the handshake, never a
// successor another CLI may have started meanwhile.
func stopOver(conn *websocket.Conn) error {
	cwd, _ := os.Getwd()
	inv := &ipc.Invocation{Argv: []string{"agent", "stop"}, Cwd: cwd, Env: map[string]string{}, PID: os.Getpid(), Version: buildinfo.Version}
	_ = conn.SetWriteDeadline(time.Now().Add(stopWait))
	if err := conn.WriteJSON(inv); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		for {
			typ, data, err := conn.ReadMessage()
			if err != nil {
				done <- err
				return
			}
			var c ipc.Control
			if typ != websocket.TextMessage || json.Unmarshal(data, &c) != nil || c.Type != ipc.MsgExit {
				continue // its output is not for the user
			}
			if c.Exit != nil && c.Exit.Error != nil {
				done <- c.Exit.Error
				return
			}
			done <- nil
			return
		}
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(stopWait):
		return fmt.Errorf("no answer within %s", stopWait)
	}
}
