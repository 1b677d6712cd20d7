// Package editor runs the user's editor on a temporary file: the one
// implementation of the edit_file action, shared by the thin CLI and the
// agent's in-process mode so both behave the same.
package editor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// editFileName is the temp file's name: the .env suffix lets editors pick
// a KEY=VALUE syntax mode.
const editFileName = "rack-gateway.env"

// Edit lets the user edit content in their editor and returns the
// result. The content goes to a 0600 file in a fresh 0700 directory (it may hold
// plain env values), the editor runs on the given streams — the user's
// terminal — and the directory is removed whatever happens. The editor is
// $VISUAL, else $EDITOR, else vi; it may carry arguments ("code --wait"),
// split on blanks without any shell quoting. An editor that fails or exits
// non-zero is an error: the user may have meant to abort (vim's :cq).
func Edit(content []byte, getenv func(string) string, in io.Reader, out, errw io.Writer) ([]byte, error) {
	argv := editorCommand(getenv)
	dir, err := os.MkdirTemp("", "rack-gateway-edit-")
	if err != nil {
		return nil, fmt.Errorf("cannot create a temporary file to edit: %v", err)
	}
	defer os.RemoveAll(dir) // MkdirTemp makes it 0700: only this user can list it
	path := filepath.Join(dir, editFileName)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		return nil, fmt.Errorf("cannot write the temporary file: %v", err)
	}
	cmd := exec.Command(argv[0], append(argv[1:], path)...)
	cmd.Stdout, cmd.Stderr = out, errw
	// Only a real file is handed over: for any other reader exec would
	// copy through a pipe (no terminal for the editor) and Wait would
	// block on that copy after the editor exits. Otherwise the editor
	// reads /dev/null.
	if f, ok := in.(*os.File); ok {
		cmd.Stdin = f
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("the editor (%s) exited with status %d", strings.Join(argv, " "), ee.ExitCode())
		}
		return nil, fmt.Errorf("cannot run the editor (%s): %v; set $VISUAL or $EDITOR", strings.Join(argv, " "), err)
	}
	// Editors often save by writing a new file and renaming it over the
	// old one, so read by path rather than through a handle opened before.
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the edited file back: %v", err)
	}
	return b, nil
}

// editorCommand is $VISUAL, then $EDITOR, then vi, split on blanks.
func editorCommand(getenv func(string) string) []string {
	for _, k := range []string{"VISUAL", "EDITOR"} {
		if f := strings.Fields(getenv(k)); len(f) > 0 {
			return f
		}
	}
	return []string{"vi"}
}
