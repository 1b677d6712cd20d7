package agent

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/platform/browser"
	"github.com/rack-gateway/rack-gateway/platform/editor"
	"github.com/rack-gateway/rack-gateway/platform/tty"
)

// localTerm is the terminal of `rack-gateway-agent exec`: plain stdio in
// this process, prompts on /dev/tty, actions done directly.
type localTerm struct {
	in       io.Reader
	out, err io.Writer
	inv      *ipc.Invocation
	promptMu sync.Mutex
}

func (t *localTerm) Stdin() io.Reader  { return t.in }
func (t *localTerm) Stdout() io.Writer { return t.out }
func (t *localTerm) Stderr() io.Writer { return t.err }
func (t *localTerm) TTY() ipc.TTYState { return t.inv.TTY }
func (t *localTerm) CanPrompt() bool   { return t.inv.CanPrompt }
func (t *localTerm) Size() ipc.WinSize {
	if c, r, ok := tty.Size(os.Stdout); ok {
		return ipc.WinSize{Cols: c, Rows: r}
	}
	return ipc.WinSize{}
}

func (t *localTerm) Prompt(ctx context.Context, p ipc.Prompt) (string, error) {
	if !t.inv.CanPrompt {
		return "", ipc.Errorf(ipc.CodeStepUpRequired, "cannot prompt: no interactive terminal")
	}
	t.promptMu.Lock()
	defer t.promptMu.Unlock()
	v, err := tty.Ask(ctx, t.err, p.Text, p.Secret)
	if ctx.Err() != nil {
		return "", ipc.Interrupted("interrupted")
	}
	if err != nil {
		return "", ipc.Wrap(ipc.CodeInterrupted, err, "no answer: %v", err)
	}
	return v, nil
}

func (t *localTerm) Do(ctx context.Context, a ipc.Action) (ipc.ActionResult, error) {
	switch a.Kind {
	case ipc.ActionOpenURL:
		if err := browser.Open(ctx, a.URL); err != nil {
			return ipc.ActionResult{ID: a.ID, Error: err.Error()}, nil
		}
		return ipc.ActionResult{ID: a.ID}, nil
	case ipc.ActionEditFile:
		// The same code as the CLI's, so both modes pick the editor and
		// guard the temp file alike; this process owns the terminal here.
		b, err := editor.Edit(a.Content, os.Getenv, t.in, t.out, t.err)
		if err != nil {
			return ipc.ActionResult{ID: a.ID, Error: err.Error()}, nil
		}
		return ipc.ActionResult{ID: a.ID, Content: b}, nil
	default:
		return ipc.ActionResult{}, errors.New("unsupported action " + a.Kind)
	}
}
