package cli

import (
	"context"
	"encoding/json"
	"io"
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
	conn, agent, err := connect(ctx, sock, s.Err)
	if err != nil {
		return 0, err
	}
	if conn, agent, err = meetSkew(ctx, sock, conn, agent, args, s.Err); err != nil {
		return 0, err
	}
	defer conn.Close()
	r := &relayer{conn: conn, s: s}
	exact := agent.has(ipc.CapArgvBytes)
	if !exact {
		// This agent would get such arguments changed (JSON strings
		// cannot carry them): refuse them as a newer agent would.
		if e := ipc.CheckText(args); e != nil {
			return 0, e
		}
	}
	inv, err := json.Marshal(invocation(args, s, exact))
	if err != nil {
		return 0, ipc.Errorf(ipc.CodeInternal, "encode the invocation: %v", err)
	}
	if len(inv) > ipc.MaxInvocation {
		// The agent would refuse it; sending it first would only cost
		// a megabyte of copying.
		return 0, ipc.InvocationTooLong(len(inv))
	}
	// Catch Ctrl-C before the command starts in the agent: one pressed
	// right after the invocation is sent must cancel the command there,
	// not kill this process and leave the agent running it. Signals wait
	// in the channel until the invocation is on its way.
	sigs := catchSignals()
	if err := r.send(websocket.TextMessage, inv); err != nil {
		signal.Stop(sigs)
		return 0, lostAgent(err)
	}
	stopSignals := r.watchSignals(sigs)
	defer stopSignals()
	status, err := r.loop()
	return status, agent.explain(err)
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

// watchSignals forwards Ctrl-C as an interrupt (a second Ctrl-C leaves at
// once) and window resizes.
// catchSignals starts catching Ctrl-C and window resizes.
func catchSignals() chan os.Signal {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt)
	notifyResize(sigs)
	notifyTerminate(sigs)
	return sigs
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
	return func() { signal.Stop(sigs); close(done) }
}
