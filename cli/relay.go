package cli

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	websocket "github.com/rack-gateway/rack-gateway/ipc/ws"
	"github.com/rack-gateway/rack-gateway/platform/browser"
	"github.com/rack-gateway/rack-gateway/platform/tty"
)

// relay runs one command in the agent and mirrors it on this terminal.
func relay(ctx context.Context, args []string, s Streams) (int, error) {
	sock, err := transport.SocketPath()
	if err != nil {
		return 0, ipc.Errorf(ipc.CodeAgentUnavailable, "%v", err)
	}
	if words := commandWords(args, 2); len(words) == 2 && words[0] == "agent" && words[1] == "stop" {
		// Starting an agent only to stop it would be silly.
		if c, err := transport.Dial(ctx, sock); err != nil && transport.IsNotRunning(err) {
			_, _ = io.WriteString(s.Out, "No agent is running\n")
			return 0, nil
		} else if err == nil {
			c.Close()
		}
	}
	// Catch Ctrl-C before the command can start in the agent: one pressed
	// right after the invocation is sent must cancel the command there,
	// not kill this process and leave the agent running it. Signals wait
	// in the channel until the invocation is on its way. The invocation
	// goes on the upgrade request (ipc.HeaderInvocation), so "sent" is the
	// handshake itself; connect waits for the catching to be in place.
	sigs := catchSignals()
	defer sigs.stop()
	hello := &runHello{sigs: sigs}
	// An agent that takes it reads argv_b64 (ipc.CapArgvBytes).
	hello.invocation, _ = ipc.EncodeInvocationHeader(invocation(args, s, true).AppendJSON(nil))
	conn, agent, err := connectRun(ctx, sock, s.Err, hello)
	if err != nil {
		return 0, err
	}
	if !agent.taken {
		if conn, agent, err = meetSkew(ctx, sock, conn, agent, args, s.Err); err != nil {
			return 0, err
		}
	}
	defer conn.Close()
	r := &relayer{conn: conn, s: s}
	if !agent.taken {
		if err := r.sendInvocation(args, agent.has(ipc.CapArgvBytes)); err != nil {
			return 0, err
		}
	}
	stopWatching := r.watchSignals(sigs.waitAll())
	defer stopWatching()
	status, err := r.loop()
	return status, agent.explain(err)
}

// sendInvocation sends the invocation as the first message, to an agent
// that did not take it from the upgrade request. exact says whether the
// agent reads argv_b64 (ipc.CapArgvBytes).
func (r *relayer) sendInvocation(args []string, exact bool) error {
	if !exact {
		// This agent would get such arguments changed (JSON strings
		// cannot carry them): refuse them as a newer agent would.
		if e := ipc.CheckText(args); e != nil {
			return e
		}
	}
	inv := invocation(args, r.s, exact).AppendJSON(nil)
	if len(inv) > ipc.MaxInvocation {
		// The agent would refuse it; sending it first would only cost
		// a megabyte of copying.
		return ipc.InvocationTooLong(len(inv))
	}
	if err := r.send(websocket.TextMessage, inv); err != nil {
		return lostAgent(err)
	}
	return nil
}

func lostAgent(err error) *ipc.Error {
	return ipc.Errorf(ipc.CodeAgentUnavailable, "lost the connection to the agent: %v", err).
		WithHint("The command may not have finished; check with 'rack-gateway agent status'.")
}

type relayer struct {
	conn *websocket.Conn
	s    Streams
	wmu  sync.Mutex

	stdinOnce sync.Once
	abandoned atomic.Bool
	// terminated: a signal other than Ctrl-C ended the relay.
	terminated atomic.Bool

	pmu     sync.Mutex
	prompts map[string]context.CancelFunc
	asking  sync.WaitGroup

	// unraw restores the terminal after the agent asked for raw mode.
	unraw func()
}

func (r *relayer) send(typ int, b []byte) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_ = r.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return r.conn.WriteMessage(typ, b)
}

func (r *relayer) control(c *ipc.Control) error {
	return r.send(websocket.TextMessage, ipc.MarshalControl(c))
}

// loop handles agent messages until the exit message.
func (r *relayer) loop() (int, error) {
	// Whatever ends the relay, withdraw open prompts and wait for them to
	// give the terminal its echo back.
	defer func() {
		r.setRaw(false) // never leave the terminal raw, however the run ended
		r.pmu.Lock()
		for _, cancel := range r.prompts {
			cancel()
		}
		r.pmu.Unlock()
		r.asking.Wait()
	}()
	for {
		typ, data, err := r.conn.ReadMessage()
		if err != nil {
			if r.terminated.Load() {
				return 0, ipc.Interrupted("terminated by a signal; the command was cancelled")
			}
			if r.abandoned.Load() {
				return 0, ipc.Interrupted("interrupted")
			}
			return 0, lostAgent(err)
		}
		if typ == websocket.BinaryMessage {
			if len(data) == 0 {
				continue
			}
			switch ipc.Channel(data[0]) {
			case ipc.ChanStdout:
				_, _ = r.s.Out.Write(data[1:])
			case ipc.ChanStderr:
				_, _ = r.s.Err.Write(data[1:])
			}
			continue
		}
		if status, ok := ipc.ParsePlainExit(data); ok {
			r.closePolitely()
			return status, nil
		}
		var c ipc.Control
		if err := json.Unmarshal(data, &c); err != nil {
			continue
		}
		switch c.Type {
		case ipc.MsgExit:
			if c.Exit == nil {
				return ipc.ExitError, nil
			}
			r.closePolitely()
			if c.Exit.Error != nil {
				return 0, c.Exit.Error
			}
			return c.Exit.Status, nil
		case ipc.MsgStdinWanted:
			r.stdinOnce.Do(func() { go r.pumpStdin() })
		case ipc.MsgRaw:
			r.setRaw(c.Raw != nil && *c.Raw)
		case ipc.MsgPrompt:
			if c.Prompt != nil {
				ctx, cancel := context.WithCancel(context.Background())
				r.pmu.Lock()
				if r.prompts == nil {
					r.prompts = map[string]context.CancelFunc{}
				}
				r.prompts[c.Prompt.ID] = cancel
				r.pmu.Unlock()
				r.asking.Add(1)
				go func(p ipc.Prompt) {
					defer r.asking.Done()
					r.answer(ctx, p)
				}(*c.Prompt)
			}
		case ipc.MsgPromptDone:
			if c.Answer != nil {
				r.pmu.Lock()
				if cancel := r.prompts[c.Answer.ID]; cancel != nil {
					cancel()
				}
				r.pmu.Unlock()
			}
		case ipc.MsgAction:
			if c.Action != nil {
				go r.act(*c.Action)
			}
		}
	}
}

// setRaw switches stdin's terminal to raw mode and back, for an
// interactive remote session. Only the loop goroutine calls it. Without a
// terminal on stdin there is nothing to switch.
func (r *relayer) setRaw(on bool) {
	switch {
	case on && r.unraw == nil && r.s.InFile != nil && tty.IsTerminal(r.s.InFile):
		if restore, err := makeRaw(r.s.InFile); err == nil {
			r.unraw = restore
		}
	case !on && r.unraw != nil:
		r.unraw()
		r.unraw = nil
	}
}

func (r *relayer) closePolitely() {
	r.wmu.Lock()
	_ = r.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	r.wmu.Unlock()
}

// pumpStdin relays stdin once the command asks for it; EOF is an empty
// stdin frame.
func (r *relayer) pumpStdin() {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.s.In.Read(buf)
		if n > 0 {
			frame := append([]byte{byte(ipc.ChanStdin)}, buf[:n]...)
			if r.send(websocket.BinaryMessage, frame) != nil {
				return
			}
		}
		if err != nil {
			_ = r.send(websocket.BinaryMessage, []byte{byte(ipc.ChanStdin)})
			return
		}
	}
}

func (r *relayer) answer(ctx context.Context, p ipc.Prompt) {
	defer func() {
		r.pmu.Lock()
		delete(r.prompts, p.ID)
		r.pmu.Unlock()
	}()
	a := ipc.Answer{ID: p.ID}
	v, err := tty.Ask(ctx, r.s.Err, p.Text, p.Secret)
	if ctx.Err() != nil {
		return // withdrawn: nobody is waiting for the answer
	}
	if err != nil {
		a.Error = "no answer: " + err.Error()
	} else {
		a.Value = v
	}
	_ = r.control(&ipc.Control{Type: ipc.MsgAnswer, Answer: &a})
}

func (r *relayer) act(a ipc.Action) {
	res := ipc.ActionResult{ID: a.ID}
	switch a.Kind {
	case ipc.ActionOpenURL:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := browser.Open(ctx, a.URL); err != nil {
			res.Error = err.Error()
		}
		cancel()
	case ipc.ActionEditFile:
		res = r.editAction(a)
	default:
		res.Error = "this rack-gateway CLI cannot do " + a.Kind + "; upgrade it"
	}
	msg := ipc.MarshalControl(&ipc.Control{Type: ipc.MsgActionResult, ActionResult: &res})
	if len(msg) > ipc.MaxMessage {
		// The agent would drop the connection on it: say why instead.
		res = ipc.ActionResult{ID: a.ID, Error: "the result is " + ipc.FormatBytes(len(msg)) +
			" encoded, over the " + ipc.FormatBytes(ipc.MaxMessage) + " a message to the agent may carry"}
		msg = ipc.MarshalControl(&ipc.Control{Type: ipc.MsgActionResult, ActionResult: &res})
	}
	_ = r.send(websocket.TextMessage, msg)
}

// caughtSignals are Ctrl-C, window resizes and the signals that end a
// process, caught for one command. Catching costs a round trip to the
// runtime's signal thread for each signal (the first starts that thread),
// a few hundred microseconds in all, so it runs on another goroutine,
// beside the invocation's encoding and the handshake: Ctrl-C first, the
// one that must be caught before the invocation is sent (wait), then the
// others, which matter only once the relay runs (waitAll): a resize is
// ignored by default, and a terminating signal needs catching only to
// give a raw terminal back.
type caughtSignals struct {
	ch         chan os.Signal
	ready, all chan struct{}
}

// catchSignals starts catching Ctrl-C, window resizes and terminations.
func catchSignals() *caughtSignals {
	c := &caughtSignals{ch: make(chan os.Signal, 4), ready: make(chan struct{}), all: make(chan struct{})}
	go func() {
		signal.Notify(c.ch, os.Interrupt)
		close(c.ready)
		notifyTerminate(c.ch)
		notifyResize(c.ch)
		close(c.all)
	}()
	return c
}

// wait returns the channel once Ctrl-C is caught.
func (c *caughtSignals) wait() chan os.Signal {
	if c == nil {
		return nil
	}
	<-c.ready
	return c.ch
}

// waitAll returns the channel once every signal is caught.
func (c *caughtSignals) waitAll() chan os.Signal {
	<-c.all
	return c.ch
}

// pause lets the signals go (their default: Ctrl-C ends this process);
// resume catches them again.
func (c *caughtSignals) pause() {
	if c != nil {
		<-c.all
		signal.Stop(c.ch)
	}
}

func (c *caughtSignals) resume() {
	if c != nil {
		signal.Notify(c.ch, os.Interrupt)
		notifyTerminate(c.ch)
		notifyResize(c.ch)
	}
}

// stop lets the signals go for good, once the command is over. It does
// not wait: letting go takes as long as catching, and the process is
// about to exit.
func (c *caughtSignals) stop() {
	go func() {
		<-c.all
		signal.Stop(c.ch)
	}()
}

// guard closes nc if Ctrl-C or a terminating signal comes during the
// handshake: the invocation is on its way, so the command may already run
// in the agent, and a closed connection cancels it there. The returned
// function stops guarding and reports whether a signal came. A resize
// seen meanwhile is passed on, so the relay sends the new size.
func (c *caughtSignals) guard(nc net.Conn) func() bool {
	if c == nil {
		return func() bool { return false }
	}
	ch := c.wait()
	done, ended := make(chan struct{}), make(chan bool, 1)
	go func() {
		resized := false
		defer func() {
			if resized {
				select {
				case ch <- resizeSignal:
				default:
				}
			}
		}()
		for {
			select {
			case <-done:
				ended <- false
				return
			case sig := <-ch:
				if isResize(sig) {
					resized = true
					continue
				}
				_ = nc.Close()
				ended <- true
				return
			}
		}
	}()
	return func() bool { close(done); return <-ended }
}

// watchSignals relays caught signals to the agent until the returned
// function is called.
func (r *relayer) watchSignals(sigs chan os.Signal) func() {
	done := make(chan struct{})
	go func() {
		interrupts := 0
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				if isResize(sig) {
					if f := firstTTY(r.s); f != nil {
						if c, rows, ok := tty.Size(f); ok {
							_ = r.control(&ipc.Control{Type: ipc.MsgResize, Size: &ipc.WinSize{Cols: c, Rows: rows}})
						}
					}
					continue
				}
				if isTerminate(sig) {
					// Leave, but through the loop's end: it withdraws open
					// prompts and gives the terminal its echo (and cooked
					// mode) back before the process exits.
					r.terminated.Store(true)
					r.abandoned.Store(true)
					_ = r.conn.Close()
					continue
				}
				interrupts++
				if interrupts > 1 {
					// Asked twice: stop waiting for the agent. Closing the
					// connection cancels the command there too.
					r.abandoned.Store(true)
					_ = r.conn.Close()
					continue
				}
				_ = r.control(&ipc.Control{Type: ipc.MsgInterrupt})
			}
		}
	}()
	return func() { close(done) }
}
