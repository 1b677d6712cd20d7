package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/events"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// wsTerm is a term.Terminal backed by the /v1/run websocket.
type wsTerm struct {
	conn   *websocket.Conn
	inv    *ipc.Invocation
	cancel context.CancelFunc
	core   *core.Core

	wmu sync.Mutex // gorilla allows one concurrent writer
	// obuf is chanWriter's frame, reused under wmu: output relayed from a
	// busy stream is thousands of frames a second, and a fresh buffer for
	// each kept the garbage collector busy (docs/performance.md).
	obuf []byte

	stdinR     *io.PipeReader
	stdinW     *io.PipeWriter
	stdinAsked atomic.Bool

	size atomic.Pointer[ipc.WinSize]

	mu      sync.Mutex
	nextID  int
	prompts map[string]chan ipc.Answer
	actions map[string]chan ipc.ActionResult
	gone    chan struct{} // closed when the client disconnects
}

func newWSTerm(conn *websocket.Conn, inv *ipc.Invocation, cancel context.CancelFunc, c *core.Core) *wsTerm {
	r, w := io.Pipe()
	t := &wsTerm{
		conn: conn, inv: inv, cancel: cancel, core: c, stdinR: r, stdinW: w,
		prompts: map[string]chan ipc.Answer{}, actions: map[string]chan ipc.ActionResult{},
		gone: make(chan struct{}),
	}
	sz := ipc.WinSize{}
	if inv.Size != nil {
		sz = *inv.Size
	}
	t.size.Store(&sz)
	return t
}

// readLoop dispatches client frames until the connection ends. A client
// that goes away cancels the command: nothing runs on for nobody.
func (t *wsTerm) readLoop() {
	defer func() {
		close(t.gone)
		t.cancel()
		t.stdinW.CloseWithError(io.ErrUnexpectedEOF)
	}()
	for {
		typ, data, err := t.conn.ReadMessage()
		if err != nil {
			return
		}
		switch typ {
		case websocket.BinaryMessage:
			if len(data) == 0 || ipc.Channel(data[0]) != ipc.ChanStdin {
				continue
			}
			if len(data) == 1 {
				t.stdinW.Close()
				continue
			}
			if _, err := t.stdinW.Write(data[1:]); err != nil {
				continue // the command stopped reading stdin
			}
		case websocket.TextMessage:
			var c ipc.Control
			if json.Unmarshal(data, &c) != nil {
				continue
			}
			t.control(&c)
		}
	}
}

func (t *wsTerm) control(c *ipc.Control) {
	switch c.Type {
	case ipc.MsgInterrupt:
		t.cancel()
	case ipc.MsgResize:
		if c.Size != nil {
			sz := *c.Size
			t.size.Store(&sz)
		}
	case ipc.MsgAnswer:
		if c.Answer == nil {
			return
		}
		deliver(&t.mu, t.prompts, c.Answer.ID, *c.Answer)
	case ipc.MsgActionResult:
		if c.ActionResult == nil {
			return
		}
		deliver(&t.mu, t.actions, c.ActionResult.ID, *c.ActionResult)
	}
}

// deliver hands a client reply to the waiter registered under id, once;
// a reply nobody waits for (withdrawn, duplicate) is dropped. The channels
// are buffered, so this never blocks the read loop.
func deliver[T any](mu *sync.Mutex, waiters map[string]chan T, id string, v T) {
	mu.Lock()
	ch := waiters[id]
	delete(waiters, id)
	mu.Unlock()
	if ch != nil {
		ch <- v
	}
}

func (t *wsTerm) write(typ int, data []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	return t.writeLocked(typ, data)
}

// writeLocked sends one message; t.wmu is held.
func (t *wsTerm) writeLocked(typ int, data []byte) error {
	_ = t.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return t.conn.WriteMessage(typ, data)
}

// finish sends the exit message and closes the stream politely, waiting
// briefly for the client to see it.
func (t *wsTerm) finish(exit *ipc.Exit) {
	_ = writeControl(t, &ipc.Control{Type: ipc.MsgExit, Exit: exit})
	t.wmu.Lock()
	_ = t.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	t.wmu.Unlock()
	select {
	case <-t.gone:
	case <-time.After(2 * time.Second):
	}
}

type chanWriter struct {
	t  *wsTerm
	ch ipc.Channel
}

const maxFrame = 32 << 10

func (w chanWriter) Write(p []byte) (int, error) {
	t := w.t
	t.wmu.Lock()
	defer t.wmu.Unlock()
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), maxFrame)]
		t.obuf = append(append(t.obuf[:0], byte(w.ch)), chunk...)
		if err := t.writeLocked(websocket.BinaryMessage, t.obuf); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

func (t *wsTerm) Stdout() io.Writer { return chanWriter{t, ipc.ChanStdout} }
func (t *wsTerm) Stderr() io.Writer { return chanWriter{t, ipc.ChanStderr} }

// Stdin asks the client to start relaying its stdin on first read, so a
// command that never reads stdin never consumes the user's input.
func (t *wsTerm) Stdin() io.Reader { return stdinReader{t} }

type stdinReader struct{ t *wsTerm }

func (r stdinReader) Read(p []byte) (int, error) {
	if r.t.stdinAsked.CompareAndSwap(false, true) {
		if err := writeControl(r.t, &ipc.Control{Type: ipc.MsgStdinWanted}); err != nil {
			return 0, err
		}
	}
	return r.t.stdinR.Read(p)
}

func (t *wsTerm) TTY() ipc.TTYState { return t.inv.TTY }
func (t *wsTerm) Size() ipc.WinSize { return *t.size.Load() }
func (t *wsTerm) CanPrompt() bool   { return t.inv.CanPrompt }
func (t *wsTerm) newID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextID++
	return "a" + strconv.Itoa(t.nextID)
}

// Prompt asks the user in the terminal and, at the same time, lists the
// question in the local API so an editor can answer it; the first answer
// wins and the other side is withdrawn.
func (t *wsTerm) Prompt(ctx context.Context, p ipc.Prompt) (string, error) {
	if !t.inv.CanPrompt {
		return "", ipc.Errorf(ipc.CodeStepUpRequired, "cannot prompt: no interactive terminal")
	}
	pending := t.core.Prompts.Add(core.PendingPrompt{
		Rack: p.Rack, Command: p.Command, Text: p.Text, Secret: p.Secret, Reason: p.Reason, PID: t.inv.PID, TTY: t.inv.TTYName,
	})
	p.ID = pending.ID
	ch := make(chan ipc.Answer, 1)
	t.mu.Lock()
	t.prompts[p.ID] = ch
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.prompts, p.ID)
		t.mu.Unlock()
		t.core.Prompts.Remove(p.ID)
	}()
	t.core.Events.Publish(events.Event{Type: events.PromptPending, Rack: p.Rack, PromptID: p.ID, Command: p.Command, PID: t.inv.PID, TTY: t.inv.TTYName})
	answered := func(by string) {
		t.core.Events.Publish(events.Event{Type: events.PromptAnswered, Rack: p.Rack, PromptID: p.ID, PID: t.inv.PID, AnsweredBy: by})
	}
	// Every prompt that ends without an answer says so, so an editor
	// showing it can take it down (docs/local-api.md, "A prompt's life").
	unanswered := func() {
		t.core.Events.Publish(events.Event{Type: events.PromptWithdrawn, Rack: p.Rack, PromptID: p.ID, PID: t.inv.PID, TTY: t.inv.TTYName})
	}
	withdraw := func() {
		_ = writeControl(t, &ipc.Control{Type: ipc.MsgPromptDone, Answer: &ipc.Answer{ID: p.ID}})
	}
	if err := writeControl(t, &ipc.Control{Type: ipc.MsgPrompt, Prompt: &p}); err != nil {
		unanswered()
		return "", ipc.Interrupted("terminal went away")
	}
	select {
	case a := <-ch:
		if !t.core.Prompts.Remove(p.ID) {
			// The API answered in the same instant and was told 200:
			// its answer is the one used, so that a 200 always means
			// "your answer was taken".
			a = ipc.Answer{Value: <-pending.Answers()}
			answered("api")
			return a.Value, nil
		}
		if a.Error != "" {
			unanswered()
			return "", ipc.Interrupted(a.Error)
		}
		answered("terminal")
		return a.Value, nil
	case v := <-pending.Answers():
		withdraw()
		answered("api")
		return v, nil
	case <-ctx.Done():
		// Withdraw the question so the terminal gets its echo back.
		withdraw()
		unanswered()
		return "", ipc.Interrupted("interrupted")
	case <-t.gone:
		unanswered()
		return "", ipc.Interrupted("terminal went away")
	}
}

func (t *wsTerm) Do(ctx context.Context, a ipc.Action) (ipc.ActionResult, error) {
	a.ID = t.newID()
	ch := make(chan ipc.ActionResult, 1)
	t.mu.Lock()
	t.actions[a.ID] = ch
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.actions, a.ID)
		t.mu.Unlock()
	}()
	if err := writeControl(t, &ipc.Control{Type: ipc.MsgAction, Action: &a}); err != nil {
		return ipc.ActionResult{}, errors.New("terminal went away")
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return ipc.ActionResult{}, ctx.Err()
	case <-t.gone:
		return ipc.ActionResult{}, errors.New("terminal went away")
	}
}

// SetRaw asks the client to put its terminal in raw mode (or back) for an
// interactive remote session. The client restores the terminal itself when
// the run ends, whatever happens here.
func (t *wsTerm) SetRaw(on bool) error {
	return writeControl(t, &ipc.Control{Type: ipc.MsgRaw, Raw: &on})
}
