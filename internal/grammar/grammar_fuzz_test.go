package grammar

import (
	"slices"
	"strings"
	"testing"
)

// tree is a small command tree for the fuzz target: a few groups, commands
// and per-command flags, in the shapes the real registry has.
type tree map[string][]Flag

func (tr tree) Continues(words []string, next string) bool {
	name := strings.Join(append(slices.Clone(words), next), " ")
	for c := range tr {
		if c == name || strings.HasPrefix(c, name+" ") {
			return true
		}
	}
	return false
}

func (tr tree) Flags(words []string) Lookup {
	prefix := strings.Join(words, " ")
	flags := slices.Clone(Globals)
	for c, fs := range tr {
		if prefix == "" || c == prefix || strings.HasPrefix(c, prefix+" ") {
			flags = append(flags, fs...)
		}
	}
	return LookupIn(flags)
}

var fuzzTree = tree{
	"apps":         {{Long: "output", Short: "o", Value: true}},
	"apps info":    {{Long: "app", Short: "a", Value: true}},
	"env":          {{Long: "app", Short: "a", Value: true}},
	"env set":      {{Long: "promote", Short: "p"}, {Long: "replace"}},
	"env get":      {{Long: "unmask"}},
	"logs":         {{Long: "follow", Short: "f"}, {Long: "since", Value: true}},
	"exec":         {{Long: "app", Short: "a", Value: true}},
	"agent status": nil,
	"agent stop":   nil,
}

// splitArgs turns fuzz bytes into an argv: NUL separates words, so any
// word (empty, "-", "--", "--x=y", spaces) can occur.
func splitArgs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// FuzzSplit checks the grammar's promises on any command line: Split finds
// command words in order without losing or inventing an argument, stops at
// "--", and Without gives back exactly the rest; FirstWords and VersionArgs
// keep words of argv only.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"-r\x00prod\x00env\x00-a\x00demo\x00set\x00A=1\x00--promote",
		"apps\x00info\x00--\x00agent",
		"--rack=prod\x00agent\x00--no-open\x00stop",
		"exec\x00web-1\x00-a\x00app\x00--\x00bash\x00-c\x00ls",
		"-\x00apps\x00-o\x00json",
		"--version\x00-r\x00staging\x00apps",
		"--help\x00--version=true\x00--\x00--version",
		"logs\x00-f\x00--since\x00--\x005m",
		"\x00\x00--\x00",
		"env\x00get\x00--unmask\x00FOO\x00-r",
	} {
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, max uint8) {
		argv := splitArgs(s)
		orig := slices.Clone(argv)
		words, at := Split(argv, fuzzTree)
		if len(words) != len(at) {
			t.Fatalf("%d words at %d indexes", len(words), len(at))
		}
		dashes := slices.Index(argv, "--")
		for k, i := range at {
			if i < 0 || i >= len(argv) || argv[i] != words[k] || (k > 0 && i <= at[k-1]) {
				t.Fatalf("word %q at %d of %q", words[k], i, argv)
			}
			if IsFlag(words[k]) || (dashes >= 0 && i > dashes) {
				t.Fatalf("%q at %d taken as a command word in %q", words[k], i, argv)
			}
		}
		if len(words) > 0 && !fuzzTree.Continues(words[:len(words)-1], words[len(words)-1]) {
			t.Fatalf("words %q name no command", words)
		}
		rest := Without(argv, at)
		if len(rest)+len(words) != len(argv) {
			t.Fatalf("Without lost arguments: %q minus %v = %q", argv, at, rest)
		}
		// rest and words interleave back into argv.
		merged := make([]string, 0, len(argv))
		ri, wi := 0, 0
		for i := range argv {
			if wi < len(at) && at[wi] == i {
				merged = append(merged, words[wi])
				wi++
			} else {
				merged = append(merged, rest[ri])
				ri++
			}
		}
		if !slices.Equal(merged, argv) {
			t.Fatalf("words and rest do not rebuild argv: %q vs %q", merged, argv)
		}
		if !slices.Equal(argv, orig) {
			t.Fatalf("Split or Without changed its argv: %q", argv)
		}

		n := int(max % 5)
		fw := FirstWords(argv, n)
		if len(fw) > n {
			t.Fatalf("FirstWords(%d) gave %d words", n, len(fw))
		}
		if !isSubsequence(fw, argv) {
			t.Fatalf("FirstWords %q is not in %q", fw, argv)
		}
		for _, w := range fw {
			if IsFlag(w) {
				t.Fatalf("FirstWords returned the flag %q", w)
			}
		}

		va := VersionArgs(argv)
		if !slices.Equal(argv, orig) {
			t.Fatalf("VersionArgs changed its argv: %q", argv)
		}
		if len(va) > 0 && va[len(va)-1] == "version" && !slices.Equal(va, argv) {
			if !isSubsequence(va[:len(va)-1], argv) {
				t.Fatalf("VersionArgs %q is not made of %q", va, argv)
			}
			// The version command keeps only global flags and their values.
			got, _ := Split(va, fuzzTree)
			if len(got) > 0 {
				t.Fatalf("VersionArgs %q keeps command words %q", va, got)
			}
		} else if !slices.Equal(va, argv) {
			t.Fatalf("VersionArgs changed a line without --version: %q -> %q", argv, va)
		}
	})
}

func isSubsequence(sub, of []string) bool {
	i := 0
	for _, w := range of {
		if i < len(sub) && sub[i] == w {
			i++
		}
	}
	return i == len(sub)
}
