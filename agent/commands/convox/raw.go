package convox

import (
	"errors"
	"os"

	"golang.org/x/term"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	agentterm "github.com/rack-gateway/rack-gateway/agent/term"
)

// rawTerm is a terminal that can switch the user's terminal to raw
// mode: the daemon's websocket terminal asks the CLI to do it.
type rawTerm interface{ SetRaw(on bool) error }

// rawMode puts the user's terminal in raw mode for an interactive remote
// session, so keys (Ctrl-C included) go to the remote side, and returns
// the restore function. In daemon mode the CLI owns the terminal and is
// asked to switch it (it also restores it when the run ends, however it
// ends); in exec mode this process owns it and switches it itself (SIGINT
// and SIGTERM cancel the command, so the deferred restore still runs).
func rawMode(x *kit.Ctx) func() {
	noop := func() {}
	if !x.Term.TTY().Stdin {
		return noop
	}
	if rt, ok := x.Term.(rawTerm); ok {
		switch err := rt.SetRaw(true); {
		case err == nil:
			return func() { _ = rt.SetRaw(false) }
		case !errors.Is(err, agentterm.ErrNoRaw):
			return noop
		}
	}
	if x.Mode != kit.ModeExec {
		return noop
	}
	fd := int(os.Stdin.Fd())
	saved, err := term.MakeRaw(fd)
	if err != nil {
		return noop
	}
	return func() { _ = term.Restore(fd, saved) }
}
