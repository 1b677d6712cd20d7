package cli

import (
	"io"
	"os"

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/platform/editor"
)

// editAction performs an edit_file action for the agent in this terminal.
func (r *relayer) editAction(a ipc.Action) ipc.ActionResult {
	var in io.Reader = r.s.In
	if r.s.InFile != nil {
		in = r.s.InFile // a real file lets the editor own the terminal
	}
	out, errw := io.Writer(r.s.Out), io.Writer(r.s.Err)
	if r.s.OutFile != nil {
		out = r.s.OutFile
	}
	if r.s.ErrFile != nil {
		errw = r.s.ErrFile
	}
	content, err := editor.Edit(a.Content, os.Getenv, in, out, errw)
	if err != nil {
		return ipc.ActionResult{ID: a.ID, Error: err.Error()}
	}
	return ipc.ActionResult{ID: a.ID, Content: content}
}
