package convox

import "testing"

func TestBuildIgnoreRules(t *testing.T) {
	t.Parallel()
	ig := &ignore{}
	for _, l := range []string{"# comment", "", "*.log", "!keep.log", "/secret/", "**/tmp", "docs/**/*.md", "!docs/README.md", "./build"} {
		ig.add(l)
	}
	cases := map[string]bool{
		"debug.log":          true,
		"keep.log":           false,
		"src/debug.log":      false, // "*.log" is anchored at the root, as in Docker
		"secret":             true,
		"secret/key":         true, // a matched directory takes its contents along
		"tmp":                true, // "**" also matches no directory at all
		"a/b/tmp/c":          true,
		"docs/x.md":          true,
		"docs/a/b/x.md":      true,
		"docs/README.md":     false,
		"docs/x.txt":         false,
		"build/out.bin":      true,
		"builder/out.bin":    false,
		"main.go":            false,
		"src/secret/key":     false,
		"src/tmpfile":        false,
		"node_modules/x.log": false,
	}
	for p, want := range cases {
		if got := ig.excluded(p); got != want {
			t.Errorf("excluded(%q) = %v, want %v", p, got, want)
		}
	}
}
