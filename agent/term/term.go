// Package term defines what a command sees of the user's terminal. The
// daemon implements it over the /v1/run websocket; `rack-gateway-agent exec`
// implements it over plain stdio. Commands never touch os.Stdout.
package term

import (
	"context"
	"io"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// Terminal is the user's terminal as seen from a command.
type Terminal interface {
	Stdin() io.Reader
	Stdout() io.Writer
	Stderr() io.Writer
	// TTY says which of the user's streams are terminals.
	TTY() ipc.TTYState
	// Size is the current window size (zero when unknown).
	Size() ipc.WinSize
	// CanPrompt is false when nobody can answer a prompt.
	CanPrompt() bool
	// Prompt asks the user and returns the answer. It fails with an
	// *ipc.Error when the user cannot or did not answer.
	Prompt(ctx context.Context, p ipc.Prompt) (string, error)
	// Do asks the client to perform an action in the user's session.
	Do(ctx context.Context, a ipc.Action) (ipc.ActionResult, error)
}
