package convox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// hookTerm is a terminal for what kittest.Term cannot do: play the editor
// for env edit, and watch stdout as it arrives (to press Ctrl-C once a
// followed stream has shown a line). The rest is kittest.Term's.
type hookTerm struct {
	*kittest.Term
	// edit gets the file env edit opens and returns it as saved.
	edit func(content string) string
	// onOut sees stdout so far after every write.
	onOut func(sofar string)

	mu       sync.Mutex
	out, err bytes.Buffer
	opened   string // what the editor was given
}

// Stdout implements term.Terminal.
func (t *hookTerm) Stdout() io.Writer { return hookWriter{t, &t.out, true} }

// Stderr implements term.Terminal.
func (t *hookTerm) Stderr() io.Writer { return hookWriter{t, &t.err, false} }

// Do plays the editor.
func (t *hookTerm) Do(_ context.Context, a ipc.Action) (ipc.ActionResult, error) {
	if a.Kind != ipc.ActionEditFile || t.edit == nil {
		return ipc.ActionResult{}, errors.New("hookTerm: no such action")
	}
	t.mu.Lock()
	t.opened = string(a.Content)
	t.mu.Unlock()
	return ipc.ActionResult{Content: []byte(t.edit(string(a.Content)))}, nil
}

func (t *hookTerm) stdout() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.out.String()
}

type hookWriter struct {
	t   *hookTerm
	b   *bytes.Buffer
	out bool
}

func (w hookWriter) Write(p []byte) (int, error) {
	w.t.mu.Lock()
	n, err := w.b.Write(p)
	sofar := w.b.String()
	w.t.mu.Unlock()
	if w.out && w.t.onOut != nil {
		w.t.onOut(sofar)
	}
	return n, err
}

// runOn runs argv on t with ctx, as kittest.Env.RunWith does with its own
// terminal and timeout.
func runOn(ctx context.Context, e *kittest.Env, t *hookTerm, argv ...string) (kit.Result, *ipc.Error) {
	e.T.Helper()
	env := map[string]string{"GATEWAY_CLI_CONFIG_DIR": e.ConfigDir}
	for k, v := range e.Vars {
		env[k] = v
	}
	inv := &ipc.Invocation{Argv: argv, Cwd: e.Cwd, Env: env, PID: 1, Version: "test", TTY: t.TTYs, CanPrompt: t.CanPrompt()}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := kit.Run(ctx, &kit.Env{Core: e.Core, Mode: kit.ModeExec, Registry: e.Registry}, inv, t)
	if err != nil {
		return res, ipc.AsError(err)
	}
	return res, nil
}
