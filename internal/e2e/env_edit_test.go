package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// edtEditor writes a shell script for $EDITOR. Before running body on the
// file ($f), it records the file's path and the file's and directory's
// modes in <root>/editor-calls, so the test can check how the file was
// handed over and that it is gone afterwards.
func edtEditor(t *testing.T, e *env, name, body string) string {
	t.Helper()
	p := filepath.Join(e.root, name+".sh")
	script := "#!/bin/sh\nf=\"$1\"\n" +
		"printf '%s %s %s\\n' \"$f\" \"$(stat -c %a \"$f\")\" \"$(stat -c %a \"$(dirname \"$f\")\")\" >> " +
		filepath.Join(e.root, "editor-calls") + "\n" + body + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// edtLastCall returns the last edited file's path and its file and
// directory modes, and checks the file and its directory are gone.
func edtLastCall(t *testing.T, e *env) (path, fileMode, dirMode string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "editor-calls"))
	if err != nil {
		t.Fatalf("the editor never ran: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 3 {
		t.Fatalf("editor-calls: %q", lines[len(lines)-1])
	}
	for _, p := range []string{f[0], filepath.Dir(f[0])} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the edit (%v)", p, err)
		}
	}
	return f[0], f[1], f[2]
}

func edtReleaseCount(t *testing.T, e *env) int {
	t.Helper()
	var rs []map[string]any
	r := e.mustRun("releases", "-a", "demo", "--output", "json")
	if err := json.Unmarshal([]byte(r.Out), &rs); err != nil {
		t.Fatalf("releases json: %v\n%s", err, r)
	}
	return len(rs)
}

func TestEnvEditSavesTheEditedEnv(t *testing.T) {
	t.Parallel()
	e, sb := convoxEnv(t, admin)
	e.set("VISUAL", "") // the machine's own editor must not run
	// A command with an argument, as in "code --wait": sh runs the script.
	e.set("EDITOR", "/bin/sh "+edtEditor(t, e, "change", `sed -i -e 's/^FOO=.*/FOO=edited/' "$f" && echo BAR=baz >> "$f"`))

	r := e.mustRun("env", "edit", "-a", "demo", "--promote", "--mfa-code", totpCodes.next(t, sb, admin))
	contains(t, "env edit stderr", r.Out, "Setting BAR, FOO... OK\n", "Promoting R")
	matches(t, "env edit stdout", r.Out, `(?m)^Release: R[A-Z0-9]+$`)
	id := releaseID(t, r.Out)
	contains(t, "env edit promote", r.Out, "Promoting "+id+"... \nOK\n")
	path, fileMode, dirMode := edtLastCall(t, e)
	if fileMode != "600" || dirMode != "700" {
		t.Errorf("%s had mode %s in a directory of mode %s; want 600 and 700", path, fileMode, dirMode)
	}
	r = e.mustRun("env", "-a", "demo")
	contains(t, "env after edit", r.Out, "FOO=edited\n", "BAR=baz\n", "SECRET_KEY_BASE=********************\n")
	// The mask went back as a mask: the secret keeps its value.
	if r := e.mustRun("env", "get", "SECRET_KEY_BASE", "--unmask", "-a", "demo"); r.Out != "sandbox-secret-key-base\n" {
		t.Errorf("secret changed by env edit: %s", r)
	}

	// Changing one value and deleting a line: one release, both reported.
	e.set("EDITOR", edtEditor(t, e, "mixed", `sed -i -e 's/^FOO=.*/FOO=again/' -e '/^BAR=/d' "$f"`))
	r = e.mustRun("env", "edit", "-a", "demo")
	if !strings.Contains(r.Out, "Setting FOO... OK\nUnsetting BAR... OK\nRelease: R") {
		t.Errorf("env edit set+unset: %s", r)
	}
	edtLastCall(t, e)
	r = e.mustRun("releases", "-a", "demo")
	matches(t, "releases", r.Out, `(?m)^`+id+`\s+active\s`) // not promoted without --promote
	e.mustRun("releases", "promote", "-a", "demo")
	r = e.mustRun("env", "-a", "demo")
	contains(t, "env after second edit", r.Out, "FOO=again\n")
	if strings.Contains(r.Out, "BAR=") {
		t.Errorf("BAR still set:\n%s", r.Out)
	}

	// In-process mode runs the same editor the same way.
	e.set("EDITOR", edtEditor(t, e, "local", `sed -i -e 's/^FOO=.*/FOO=local/' "$f"`))
	r = e.mustRun("env", "edit", "-a", "demo", "--no-agent", "--promote")
	contains(t, "env edit --no-agent", r.Out, "Setting FOO... OK\n")
	if _, fm, dm := edtLastCall(t, e); fm != "600" || dm != "700" {
		t.Errorf("--no-agent: modes %s and %s; want 600 and 700", fm, dm)
	}
	if r := e.mustRun("env", "get", "FOO", "-a", "demo"); r.Out != "local\n" {
		t.Errorf("env get FOO after --no-agent edit: %s", r)
	}

	// Through the agent the editor still gets the user's terminal: the
	// script only edits when its stdin and stdout are a terminal.
	e.set("EDITOR", edtEditor(t, e, "tty", `[ -t 0 ] && [ -t 1 ] && sed -i -e 's/^FOO=.*/FOO=tty/' "$f"`))
	p := e.startPTY("env-edit", "env", "edit", "-a", "demo")
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("env edit in a terminal: exit %d\n%s", code, p.Output())
	}
	if !p.has("Setting FOO... OK") {
		t.Errorf("env edit in a terminal:\n%s", p.Output())
	}
	edtLastCall(t, e)

	// Someone else changes the env while the file is open: saving would
	// undo their change, so the edit is refused.
	e.set("EDITOR", edtEditor(t, e, "race", filepath.Join(binDir, "rack-gateway")+
		` env set FOO=meanwhile -a demo >/dev/null 2>&1 && sed -i -e 's/^FOO=.*/FOO=mine/' "$f"`))
	r = e.run("env", "edit", "-a", "demo")
	fails(t, r, 1, "while you were editing; nothing was changed", "Run 'rack-gateway env edit' again")
	if !strings.Contains(r.Err, "Error: the env of demo changed in release R") || strings.Contains(r.Out, "Setting") {
		t.Errorf("concurrent change: %s", r)
	}
	// The latest release is the other command's, with its value.
	e.mustRun("releases", "promote", "-a", "demo")
	if r := e.mustRun("env", "get", "FOO", "-a", "demo"); r.Out != "meanwhile\n" {
		t.Errorf("FOO after the refused edit: %s", r)
	}
}

func TestEnvEditNoChangesAndBadInput(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	e.set("VISUAL", "")
	before := edtReleaseCount(t, e)
	unchanged := func(what string) {
		t.Helper()
		if n := edtReleaseCount(t, e); n != before {
			t.Errorf("%s: %d releases, want %d", what, n, before)
		}
		if r := e.mustRun("env", "get", "FOO", "-a", "demo"); r.Out != "bar\n" {
			t.Errorf("%s: FOO is %q", what, r.Out)
		}
	}

	// An editor that saves without changing anything.
	e.set("EDITOR", edtEditor(t, e, "noop", ":"))
	r := e.mustRun("env", "edit", "-a", "demo")
	if r.Err != "No changes\n" || r.Out != "" {
		t.Errorf("no-op edit: %s", r)
	}
	edtLastCall(t, e)
	unchanged("no-op edit")

	// Editing a comment or a blank line is no change either.
	e.set("EDITOR", edtEditor(t, e, "comment", `printf '\n# a note\n\n' >> "$f"`))
	if r := e.mustRun("env", "edit", "-a", "demo"); r.Err != "No changes\n" {
		t.Errorf("comment-only edit: %s", r)
	}

	// $VISUAL wins over $EDITOR.
	e.set("VISUAL", edtEditor(t, e, "visual", ":"))
	e.set("EDITOR", edtEditor(t, e, "never", "echo BROKEN >> \"$f\""))
	if r := e.mustRun("env", "edit", "-a", "demo"); r.Err != "No changes\n" {
		t.Errorf("VISUAL over EDITOR: %s", r)
	}
	e.set("VISUAL", "")

	// A malformed line: the error names it and nothing is sent.
	e.set("EDITOR", edtEditor(t, e, "bad", `sed -i -e 's/^FOO=.*/FOO=changed/' "$f" && echo 'this is not an assignment' >> "$f"`))
	r = e.run("env", "edit", "-a", "demo")
	fails(t, r, 2, "Error: line ", " of the edited env is not KEY=VALUE\n", "Nothing was changed.")
	matches(t, "bad line error", r.Err, `line \d+ of the edited env`)
	if strings.Contains(r.Out, "this is not") || strings.Contains(r.Out, "Setting") {
		t.Errorf("bad line: %s", r)
	}
	edtLastCall(t, e)
	unchanged("bad line")

	// A key twice is refused too rather than guessed at.
	e.set("EDITOR", edtEditor(t, e, "dup", `echo FOO=one >> "$f"`))
	fails(t, e.run("env", "edit", "-a", "demo"), 2, "sets FOO again (first on line ")
	unchanged("duplicate key")

	// An editor that fails (vim's :cq) aborts the edit.
	e.set("EDITOR", edtEditor(t, e, "abort", `sed -i -e 's/^FOO=.*/FOO=changed/' "$f"; exit 3`))
	fails(t, e.run("env", "edit", "-a", "demo"), 2, "exited with status 3", "Nothing was changed.")
	edtLastCall(t, e)
	unchanged("failed editor")

	// An emptied file is refused, not taken as "unset everything".
	e.set("EDITOR", edtEditor(t, e, "empty", `: > "$f"`))
	fails(t, e.run("env", "edit", "-a", "demo"), 2, "the edited env is empty")
	unchanged("empty file")

	// An editor that does not exist.
	e.set("EDITOR", filepath.Join(e.root, "no-such-editor"))
	fails(t, e.run("env", "edit", "-a", "demo"), 2, "cannot run the editor")
	unchanged("missing editor")
	fails(t, e.run("env", "edit", "extra", "-a", "demo"), 2, "too many arguments")
}
