package native

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
)

var update = flag.Bool("update", false, "rewrite testdata/surface.golden")

// What users see of each command (its words, usage, texts and flags with
// their shorthands, types, defaults, usage texts and order) is pinned:
// moving a command to typed options must not change any of it.
func TestCommandSurfaceUnchanged(t *testing.T) {
	t.Parallel()
	r := kit.NewRegistry()
	Register(r)
	var b strings.Builder
	for _, n := range r.Names() {
		c := r.Get(n)
		fs := pflag.NewFlagSet(n, pflag.ContinueOnError)
		fs.SortFlags = false // as the registry shows them
		c.DefineFlags(fs)
		fmt.Fprintf(&b, "== %s\nusage: %s\nshort: %s\nlong: %s\nargs: %d..%d (%s)\nflags:\n%s\n",
			n, c.Usage, c.Short, c.Long, c.MinArgs, c.MaxArgs, c.ArgHint, fs.FlagUsages())
	}
	path := filepath.Join("testdata", "surface.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("the commands' surface changed (go test -run Surface -update rewrites it after a deliberate change):\n%s", lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(got, "\n") {
		count[l]++
	}
	var out []string
	for _, l := range strings.Split(want, "\n") {
		if count[l] > 0 {
			count[l]--
			continue
		}
		out = append(out, "- "+l)
	}
	seen := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		seen[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		if seen[l] > 0 {
			seen[l]--
			continue
		}
		out = append(out, "+ "+l)
	}
	return strings.Join(out, "\n")
}
