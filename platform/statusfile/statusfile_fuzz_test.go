package statusfile

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// FuzzStatusFile parses arbitrary file contents as a shell prompt does and
// checks the format's promises: parsing never fails, what parses is written
// back by Format and parses to the same entries, and every written record is
// four single-space-separated fields a shell's read loop splits the same way.
func FuzzStatusFile(f *testing.F) {
	for _, s := range []string{
		Header + "\nprod 1735787045 me@example.com 1\nstaging 0 - 0\n",
		Header + "\nprod 1735787045 me@example.com 1 extra fields\n",
		"# comment\n\n  prod\t12 a@b 0  \r\n",
		"prod -5 a 0\nprod +7 a 1\nprod 99999999999999999999 a 0\n",
		"#prod 1 a 1\nprod 1 a 2\nprod x a 0\n",
		"prod\u00a01 a 0\nprod 1\u2003a 0\n",
		"pr\xffod 1 \xfe 1\n",
		"a 9223372036854775807 - 1",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries := Parse(data)
		out := Format(entries)
		if !bytes.HasPrefix(out, []byte(Header+"\n")) || !bytes.HasSuffix(out, []byte("\n")) {
			t.Fatalf("Format wrote %q", out)
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")[1:]
		if len(lines) != len(entries) {
			t.Fatalf("%d entries parsed from %q written as %d lines:\n%s", len(entries), data, len(lines), out)
		}
		for _, l := range lines {
			f := strings.Split(l, " ")
			if len(f) != 4 || !reflect.DeepEqual(f, strings.Fields(l)) || strings.IndexFunc(l, unicode.IsSpace) != len(f[0]) {
				t.Fatalf("record %q is not four single-space-separated fields", l)
			}
			if f[3] != "0" && f[3] != "1" {
				t.Fatalf("record %q: current is %q", l, f[3])
			}
		}
		again := Parse(out)
		if !sameEntries(entries, again) {
			t.Fatalf("Parse(Format(e)) != e:\n%+v\n%+v", entries, again)
		}
		for _, e := range entries {
			if e.Rack == "" || strings.HasPrefix(e.Rack, "#") || strings.IndexFunc(e.Rack, unicode.IsSpace) >= 0 {
				t.Fatalf("parsed rack %q", e.Rack)
			}
			if !e.Expires.IsZero() && e.Expires.Unix() <= 0 {
				t.Fatalf("parsed expiry %v", e.Expires)
			}
		}
	})
}

func sameEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Rack != y.Rack || x.Email != y.Email || x.Current != y.Current || !x.Expires.Equal(y.Expires) {
			return false
		}
	}
	return true
}
