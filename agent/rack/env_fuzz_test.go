package rack

import (
	"maps"
	"strings"
	"testing"
)

// FuzzEnv reads any release env as the rack sends it and checks that
// writing it back (what env set and env unset post) loses and changes
// nothing: FormatEnv(ParseEnv(s)) parses to the same variables, and is
// already in the form FormatEnv writes.
func FuzzEnv(f *testing.F) {
	for _, s := range []string{
		"A=1\nB=two=2\n",
		"# comment\n\n  KEY = spaced value \r\nEMPTY=\n",
		"NOEQUALS\n=novalue\nA=1\nA=2",
		"X=" + Mask + "\nY=\"quoted\"",
		"\r\r\nA=\r\r",
		"K\u00a0=v\u2028w",
		"\xff=\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		env := ParseEnv(s)
		for k, v := range env {
			if k == "" || k != strings.TrimSpace(k) || strings.ContainsAny(k, "=\n") || strings.HasPrefix(k, "#") {
				t.Fatalf("parsed key %q", k)
			}
			if strings.Contains(v, "\n") || strings.HasSuffix(v, "\r") {
				t.Fatalf("parsed value %q", v)
			}
		}
		out := FormatEnv(env)
		back := ParseEnv(out)
		if !maps.Equal(env, back) {
			t.Fatalf("ParseEnv(FormatEnv(%q)) = %q, want %q", out, back, env)
		}
		if FormatEnv(back) != out {
			t.Fatalf("FormatEnv is not stable on %q", out)
		}
	})
}
