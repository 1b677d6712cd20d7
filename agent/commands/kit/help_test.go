package kit

import (
	"bytes"
	"strings"
	"testing"
)

// A command's own flags come before the global ones, in one column.
func TestHelpOwnFlagsFirstAligned(t *testing.T) {
	t.Parallel()
	fs := GlobalFlagSet()
	fs.SortFlags = false
	fs.BoolP("help", "h", false, "Show help for this command")
	fs.StringP("app", "a", "", "App name")
	fs.Bool("promote", false, "Promote the new release")
	var b bytes.Buffer
	NewRegistry().WriteHelp(&b, &Command{Name: "x", Usage: "x", Short: "X"}, fs)
	out := b.String()
	own, global := strings.Index(out, "\nFlags:\n"), strings.Index(out, "\nGlobal Flags:\n")
	if own < 0 || global < own || strings.Index(out, "--app") > global || strings.Index(out, "--rack") < global ||
		strings.Index(out, "--help") < global {
		t.Fatalf("order:\n%s", out)
	}
	col := -1
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "  -") {
			continue
		}
		name := strings.Fields(l)[0]
		i := strings.Index(l, "   ")
		for i < len(l) && l[i] == ' ' {
			i++
		}
		if col < 0 {
			col = i
		} else if i != col {
			t.Errorf("%s: text at column %d, want %d:\n%s", name, i, col, out)
		}
	}
}

// The command list's texts start in one column, however long the names:
// "deploy-approval approve" does not run into its text.
func TestHelpCommandListAligned(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	for _, n := range []string{"apps", "deploy-approval approve", "deploy-approval request", "env set"} {
		r.Add(&Command{Name: n, Usage: n, Short: "Text of " + n})
	}
	check := func(what, out string) {
		t.Helper()
		col := -1
		for _, l := range strings.Split(out, "\n") {
			i := strings.Index(l, "Text of ")
			if i < 0 {
				continue
			}
			name := strings.TrimSpace(l[:i])
			if l[i-2:i] != "  " {
				t.Errorf("%s: %q has fewer than two blanks before its text", what, l)
			}
			if col < 0 {
				col = i
			} else if i != col {
				t.Errorf("%s: %q: text at column %d, want %d:\n%s", what, name, i, col, out)
			}
		}
		if col < 0 {
			t.Fatalf("%s: no command lines:\n%s", what, out)
		}
	}
	var b bytes.Buffer
	r.WriteHelp(&b, RootCommand, GlobalFlagSet())
	check("root help", b.String())
	check("group help", r.groupCommand("deploy-approval").Long)
}
