package e2e

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The table format's own rules, without running any binary.

func TestCompatShellSplit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		`env set A=1 'B=two words' "C=\"q\""`: {"env", "set", "A=1", "B=two words", `C="q"`},
		`exec web -- sh -c 'exit 3'`:          {"exec", "web", "--", "sh", "-c", "exit 3"},
		`a '' b\ c`:                           {"a", "", "b c"},
	} {
		got, err := shellSplit(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("shellSplit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := shellSplit(`a 'open`); err == nil {
		t.Error("an unterminated quote is an error")
	}
}

func TestCompatMatchLines(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"R": "RDEMOSEEDAA"}
	ok := func(want, got []string) map[string]string {
		t.Helper()
		caps, err := matchLines(want, got, vars)
		if err != nil {
			t.Errorf("%q against %q: %v", want, got, err)
		}
		return caps
	}
	bad := func(want, got []string, msg string) {
		t.Helper()
		if _, err := matchLines(want, got, vars); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q against %q: %v, want an error with %q", want, got, err, msg)
		}
	}
	// Exact lines, exactly: a blank too many or too few is a difference.
	ok([]string{"APP   STATUS", "demo  running"}, []string{"APP   STATUS", "demo  running"})
	bad([]string{"APP  STATUS"}, []string{"APP   STATUS"}, "does not match")
	bad([]string{"a"}, []string{"a", "b"}, "unexpected stdout line 2")
	bad([]string{"a", "b"}, []string{"a"}, "ended before")
	ok(nil, nil)
	ok([]string{"<blank>"}, []string{""})
	// ... is any number of lines, also none.
	ok([]string{"a", "...", "z"}, []string{"a", "z"})
	ok([]string{"a", "...", "z"}, []string{"a", "b", "c", "z"})
	ok([]string{"..."}, []string{"x", "y"})
	// Placeholders, captures and loose column gaps in such a row.
	caps := ok([]string{"ID  STATUS", "{{NEW=release}}  {{ago}}", "{{R}}  active"},
		[]string{"ID           STATUS", "RABCDEFGHIJ  now", "RDEMOSEEDAA  active"})
	if caps["NEW"] != "RABCDEFGHIJ" {
		t.Errorf("captured %v", caps)
	}
	bad([]string{"{{release}}"}, []string{"Rshort"}, "does not match")
	// ~ lines are regexps over the whole line, captured values quoted.
	ok([]string{`~ Scaling web\.\.\.\x20`}, []string{"Scaling web... "})
	ok([]string{`~ Promoting {{R}}\.\.\. OK`}, []string{"Promoting RDEMOSEEDAA... OK"})
	bad([]string{`~ web`}, []string{"a web b"}, "does not match")
	if _, err := matchLines([]string{"{{nosuch}}"}, []string{"x"}, vars); err == nil {
		t.Error("an unknown placeholder is an error")
	}
}

func TestCompatParse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "t.txt")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	steps, err := parseCompatFile(write(`# comment
login prod admin@example.com
sandbox PUT /_sandbox/destructive-actions {"allow": true}

skip: a known difference
$ rack-gateway apps delete demo --mfa-code {{totp}}
Deleting demo... OK
! exit 1
stderr: Error: x
stderr~ ^Error
stdin: yes
`), "t.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 {
		t.Fatalf("%d steps: %+v", len(steps), steps)
	}
	r := steps[2]
	if r.word != "$" || r.cmd != "apps delete demo --mfa-code {{totp}}" || r.exit != 1 || r.skip != "a known difference" ||
		len(r.out) != 1 || len(r.stderr) != 2 || !r.stderr[1].re || len(r.stdin) != 1 {
		t.Errorf("row: %+v", r)
	}
	if steps[1].rest != `PUT /_sandbox/destructive-actions {"allow": true}` {
		t.Errorf("sandbox directive: %q", steps[1].rest)
	}
	for _, text := range []string{
		"frobnicate x\n",                       // not a directive
		"$ convox apps\n",                      // a row runs rack-gateway
		"skip: why\n\nlogin prod a@b\n",        // a skip needs its row
		"$ rack-gateway apps\n! exit 1\nAPP\n", // stdout lines come first
	} {
		if _, err := parseCompatFile(write(text), "t.txt"); err == nil {
			t.Errorf("no error for %q", text)
		}
	}
}
