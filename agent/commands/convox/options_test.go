package convox

import (
	"bytes"
	"testing"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
)

// The optional flags tell "not given" from a zero value, parse as pflag's
// own int and string flags do, and show in help as those do.
func TestOptionalFlags(t *testing.T) {
	t.Parallel()
	var o struct {
		n, m optionalInt
		s, u optionalString
	}
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	fs.Var(&o.n, "n", "a number")
	fs.Var(&o.m, "m", "another")
	fs.VarP(&o.s, "s", "s", "a text")
	fs.Var(&o.u, "u", "another")
	if err := fs.Parse([]string{"--n", "0x10", "-s", ""}); err != nil {
		t.Fatal(err)
	}
	if !o.n.set || o.n.val != 16 || o.m.set || !o.s.set || o.s.val != "" || o.u.set {
		t.Fatalf("parsed: %+v", o)
	}
	if err := fs.Parse([]string{"--m", "x"}); err == nil || err.Error() != `invalid argument "x" for "--m" flag: strconv.ParseInt: parsing "x": invalid syntax` {
		t.Fatalf("bad int: %v", err)
	}
	if o.m.set {
		t.Fatal("a refused value counts as given")
	}
	want := "      --m int      another\n      --n int      a number\n  -s, --s string   a text\n      --u string   another\n"
	if got := fs.FlagUsages(); got != want {
		t.Fatalf("usage:\n%s\nwant:\n%s", got, want)
	}
}

// The shared --output helper: json or nothing, any case; a nil slice is
// printed as an array.
func TestOutputOption(t *testing.T) {
	t.Parallel()
	cmd := &kit.Command{Name: "apps", Usage: "apps"}
	for in, want := range map[kit.Output]bool{"": false, "json": true, "JSON": true, " json ": true} {
		if got, err := (outputOption{in}).json(cmd); err != nil || got != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	if _, err := (outputOption{"yaml"}).json(cmd); err == nil || err.Error() != `unknown output format "yaml": use json` {
		t.Errorf("yaml: %v", err)
	}
	var buf bytes.Buffer
	var none []string
	if err := kit.PrintJSON(&buf, none); err != nil || buf.String() != "[]\n" {
		t.Errorf("nil slice: %q, %v", buf.String(), err)
	}
	buf.Reset()
	if err := kit.PrintJSON(&buf, map[string]int{"a": 1}); err != nil || buf.String() != "{\n  \"a\": 1\n}\n" {
		t.Errorf("map: %q, %v", buf.String(), err)
	}
}
