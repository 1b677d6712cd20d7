package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/agent/audit"
	"github.com/rack-gateway/rack-gateway/agent/commands"
	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/crash"
	"github.com/rack-gateway/rack-gateway/agent/events"
	"github.com/rack-gateway/rack-gateway/internal/buildinfo"
	"github.com/rack-gateway/rack-gateway/internal/grammar"
	"github.com/rack-gateway/rack-gateway/ipc"
)

var upgrader = websocket.Upgrader{
	ReadBufferSize: 32 << 10,
	// Room for a whole output frame (channel byte + 32 KiB, wsterm.go's
	// maxFrame) and its header, so each goes out in one write: a frame
	// one byte over the buffer went out as two, doubling the wake-ups of
	// the CLI on a busy log stream (docs/performance.md).
	WriteBufferSize: 64 << 10,
	// guard already refused any request with an Origin header.
	CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
}

// handleRun carries one CLI invocation over a websocket: the invocation
// first, then stream frames and control messages until the exit message.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		writeError(w, http.StatusBadRequest, ipc.Errorf(ipc.CodeBadRequest, "%s needs a websocket upgrade", ipc.PathRun))
		return
	}
	early := s.headerInvocation(r)
	h := s.upgradeHeader()
	if early != nil {
		h.Set(ipc.HeaderInvocation, ipc.InvocationTaken)
	}
	conn, err := upgrader.Upgrade(w, r, h)
	if err != nil {
		return // the upgrader has answered
	}
	defer conn.Close()
	if !s.beginRun() {
		refuse(conn, ipc.Errorf(ipc.CodeAgentUnavailable, "the agent is stopping").
			WithHint("Run the command again: it starts a new agent."))
		return
	}
	defer s.runs.Done()

	inv := early
	if inv == nil {
		var ok bool
		if inv, ok = s.readInvocation(conn); !ok {
			return
		}
	} else {
		conn.SetReadLimit(ipc.MaxMessage)
	}
	s.active.Add(1)
	defer s.active.Add(-1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := newWSTerm(conn, inv, cancel, s.Core)
	// Its defers cancel the command should it panic.
	crash.Go("terminal reader", t.readLoop)

	stopAfter := false
	env := &commands.Env{
		Core: s.Core, Mode: commands.ModeDaemon, Socket: s.Socket, Registry: s.Commands,
		Shutdown: func() { stopAfter = true },
	}
	peer, _ := peerOf(r)
	pid := inv.PID
	if peer.PID > 0 {
		pid = peer.PID // the kernel vouches for this one
	}
	// Read the caller's executable now: by the end it may have exited.
	exe := audit.ExeOf(pid)
	start := time.Now()
	cmd := commandWord(inv.Argv)
	// A shell's <TAB> (kit.CompleteCommand) is no command of the user's:
	// it is neither announced nor audited, and the CLI shows none of its
	// stderr, so a one-time warning is kept for the next real command.
	quiet := kit.IsComplete(inv.Argv)
	if !quiet {
		s.Core.Events.Publish(events.Event{Type: events.CommandStarted, Command: cmd, PID: inv.PID})
	}
	if line := s.cliOlder(r, inv); line != "" {
		_, _ = io.WriteString(t.Stderr(), line)
	}
	// A log that failed since the last command is told here, once: the
	// user reads stderr, nobody reads the logs as they are written.
	for _, h := range []*audit.Health{s.LogHealth, s.Audit.Health()} {
		if quiet {
			break
		}
		if w := h.TakeWarning(); w != "" {
			_, _ = io.WriteString(t.Stderr(), w+"\n")
		}
	}
	var res commands.Result
	var runErr error
	if e := ipc.CheckText(inv.Argv); e != nil {
		runErr = e // never run with arguments the gateway would get changed
	} else {
		res, runErr = s.runCommand(ctx, env, inv, t, cmd)
	}
	exit := &ipc.Exit{Status: res.Status}
	if runErr != nil {
		exit.Error = ipc.AsError(runErr)
		exit.Status = ipc.ExitStatus(exit.Error.Code)
	}
	code := exit.Status
	if !quiet {
		s.Core.Events.Publish(events.Event{Type: events.CommandFinished, Command: cmd, PID: inv.PID, Exit: &code, Rack: res.Rack})
	}
	if s.Audit != nil && !quiet {
		mfa := res.MFA
		if mfa == "" {
			mfa = audit.MFANone
		}
		if err := s.Audit.Record(audit.Entry{
			Time: start, PID: pid, Exe: exe, Rack: res.Rack, Command: inv.Argv, MFA: mfa,
			Exit: exit.Status, Error: codeOf(exit.Error), Duration: float64(time.Since(start).Microseconds()) / 1000,
		}); err != nil {
			s.Log.Warn("audit log", "err", err)
		}
	}
	if stopAfter {
		s.stopAccepting()
	}
	took := time.Since(start)
	t.finish(exit)
	// Logged once the client has its exit: a log write is no part of the
	// command, and the audit line above is the record that must come first.
	s.Log.Info("run", "cmd", cmd, "caller_pid", inv.PID, "peer_pid", peer.PID,
		"status", exit.Status, "code", codeOf(exit.Error), "ms", took.Milliseconds())
	if stopAfter {
		s.Stop()
	}
}

// invocationWait bounds how long a client may take to send its invocation
// once the websocket is open.
const invocationWait = 10 * time.Second

// drainLimit bounds what the agent reads of an invocation it refuses as
// too long: enough for any client's single message (ipc/ws sends at most
// 16 MiB), so the client's write completes and it reads the refusal.
const drainLimit = 16 << 20

// readInvocation reads the run's first message. One over
// ipc.MaxInvocation is refused with a typed error the client prints
// ("the command line is too long"), not cut off mid-write.
func (s *Server) readInvocation(conn *websocket.Conn) (*ipc.Invocation, bool) {
	conn.SetReadLimit(drainLimit)
	_ = conn.SetReadDeadline(time.Now().Add(invocationWait))
	_, r, err := conn.NextReader()
	if err != nil {
		s.Log.Warn("no invocation", "err", err)
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(r, ipc.MaxInvocation+1))
	if err != nil {
		s.Log.Warn("bad invocation", "err", err)
		return nil, false
	}
	if len(data) > ipc.MaxInvocation {
		n, _ := io.Copy(io.Discard, r)
		size := len(data) + int(n)
		s.Log.Warn("invocation too long", "bytes", size)
		refuse(conn, ipc.InvocationTooLong(size))
		return nil, false
	}
	var inv ipc.Invocation
	if err := json.Unmarshal(data, &inv); err != nil {
		s.Log.Warn("bad invocation", "err", err)
		refuse(conn, ipc.Errorf(ipc.CodeBadRequest, "the invocation is not valid JSON: %v", err))
		return nil, false
	}
	if err := inv.ArgvBytes(); err != nil {
		refuse(conn, ipc.AsError(err))
		return nil, false
	}
	_ = conn.SetReadDeadline(time.Time{})
	conn.SetReadLimit(ipc.MaxMessage)
	return &inv, true
}

// headerInvocation returns the invocation the CLI sent on the upgrade
// request (ipc.HeaderInvocation), or nil to read it as the first message.
// It is left there for a CLI newer than this agent: that CLI may want to
// restart the agent before anything runs (cli/skew.go), which it decides
// only once it has read the 101. A header that does not decode is left
// too: the CLI then sends the same invocation as the first message, where
// it is refused with the reason as ever.
func (s *Server) headerInvocation(r *http.Request) *ipc.Invocation {
	v := r.Header.Get(ipc.HeaderInvocation)
	if v == "" || s.olderThanCLI(r) {
		return nil
	}
	inv, err := ipc.DecodeInvocationHeader(v)
	if err != nil {
		s.Log.Warn("invocation header", "err", err)
		return nil
	}
	return inv
}

// olderThanCLI mirrors the CLI's test of an agent older than itself: by
// release version when both have one, else by capability.
func (s *Server) olderThanCLI(r *http.Request) bool {
	if cmp, ok := buildinfo.Compare(s.Core.Version, r.Header.Get(ipc.HeaderCLIVersion)); ok {
		return cmp < 0
	}
	c, err := strconv.Atoi(r.Header.Get(ipc.HeaderCLICapability))
	return err != nil || c > ipc.Capability
}

// refuse ends a run that never started with its exit message.
func refuse(conn *websocket.Conn, e *ipc.Error) {
	exit := ipc.MarshalControl(&ipc.Control{Type: ipc.MsgExit, Exit: &ipc.Exit{Status: ipc.ExitStatus(e.Code), Error: e}})
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if conn.WriteMessage(websocket.TextMessage, exit) != nil {
		return
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	// Wait (briefly) for the client's close, so it reads the exit before
	// the connection goes.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

// runCommand runs the command, turning a panic into an internal error for
// the client and an error-level line in the log: one bug in one command
// must not take the agent, and every other session, down with it.
func (s *Server) runCommand(ctx context.Context, env *commands.Env, inv *ipc.Invocation, t *wsTerm, cmd string) (res commands.Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.logPanic("command panic", v, "cmd", cmd)
			res, err = commands.Result{}, panicErr(cmd, v)
		}
	}()
	return commands.Run(ctx, env, inv, t)
}

// commandWord is the command name for the log. Arguments are never logged:
// they can carry secrets (env values, codes).
func commandWord(argv []string) string {
	w := grammar.FirstWords(argv, 1)
	if len(w) == 0 {
		return ""
	}
	if len(w[0]) > 32 {
		return "?"
	}
	return w[0]
}

func codeOf(e *ipc.Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}

// writeControl is shared by the terminal and tests.
func writeControl(t *wsTerm, c *ipc.Control) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return t.write(websocket.TextMessage, b)
}
