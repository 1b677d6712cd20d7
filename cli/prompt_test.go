package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/platform/statusfile"
)

func TestCountdownRoundsDown(t *testing.T) {
	cases := map[int64]string{0: "", -5: "", 1: "1s", 45: "45s", 59: "59s", 60: "1m", 119: "1m", 450: "7m", 7200: "120m"}
	for secs, want := range cases {
		if got := countdown(secs); got != want {
			t.Errorf("countdown(%d) = %q, want %q", secs, got, want)
		}
	}
}

func TestRemainingUsesWholeSeconds(t *testing.T) {
	exp := time.Unix(1_700_000_000, 0)
	cases := []struct {
		now  time.Time
		want int64
	}{
		{exp.Add(-450 * time.Second), 450},
		// Truncating both sides, as the shell's $EPOCHSECONDS does.
		{exp.Add(-time.Nanosecond), 1},
		{exp.Add(-1500 * time.Millisecond), 2},
		{exp, 0},
		{exp.Add(time.Hour), 0},
	}
	for _, c := range cases {
		if got := remaining(exp, c.now); got != c.want {
			t.Errorf("remaining at %s before expiry = %d, want %d", exp.Sub(c.now), got, c.want)
		}
	}
	if got := remaining(time.Time{}, exp); got != 0 {
		t.Errorf("no window: remaining = %d", got)
	}
}

func TestRenderPrompt(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	open := statusfile.Entry{Rack: "prod", Expires: now.Add(7*time.Minute + 59*time.Second), Email: "a@example.com"}
	short := statusfile.Entry{Rack: "prod", Expires: now.Add(45 * time.Second)}
	closed := statusfile.Entry{Rack: "staging"}
	expired := statusfile.Entry{Rack: "prod", Expires: now.Add(-time.Second), Email: "a@example.com"}
	cases := []struct {
		format string
		e      statusfile.Entry
		want   string
	}{
		{"", open, "prod 🔓 7m"},
		{"", short, "prod 🔓 45s"},
		{"", closed, "staging 🔒"},
		{"", expired, "prod 🔒"},
		{"%r %i %t", open, "prod 🔓 7m"},
		{"%r %i %t", closed, "staging 🔒 "}, // a user format is taken literally
		{"[%r|%t|%s|%e|%i|%%]", open, "[prod|7m|479|a@example.com|🔓|%]"},
		{"[%r|%t|%s|%e|%i]", closed, "[staging||0||🔒]"},
		{"%s", expired, "0"},
		{"%x %", open, "%x %"},   // unknown placeholders and a trailing % stay
		{"é%r→", open, "éprod→"}, // bytes around placeholders pass through
		{"%%r", open, "%r"},
	}
	for _, c := range cases {
		if got := renderPrompt(c.format, c.e, now); got != c.want {
			t.Errorf("renderPrompt(%q, %+v) = %q, want %q", c.format, c.e, got, c.want)
		}
	}
}

func TestPickEntry(t *testing.T) {
	entries := []statusfile.Entry{{Rack: "a"}, {Rack: "b", Current: true}, {Rack: "c"}}
	cases := []struct {
		entries []statusfile.Entry
		rack    string
		want    string
		ok      bool
	}{
		{entries, "", "b", true},
		{entries, "c", "c", true},
		{entries, "nope", "", false},
		{[]statusfile.Entry{{Rack: "a"}, {Rack: "c"}}, "", "a", true},
		{nil, "", "", false},
		{nil, "a", "", false},
	}
	for _, c := range cases {
		got, ok := pickEntry(c.entries, c.rack)
		if ok != c.ok || got.Rack != c.want {
			t.Errorf("pickEntry(%v, %q) = %q, %v; want %q, %v", c.entries, c.rack, got.Rack, ok, c.want, c.ok)
		}
	}
}

func TestIsPromptCommand(t *testing.T) {
	cases := map[string]bool{
		"prompt":                        true,
		"prompt --rack prod":            true,
		"-r prod prompt":                true,
		"--config /x --no-agent prompt": true,
		"racks":                         false,
		"":                              false,
		"agent prompt":                  false,
		"-r prompt racks":               false, // "prompt" is the rack here
		"exec -- prompt":                false,
	}
	for line, want := range cases {
		if got := isPromptCommand(strings.Fields(line)); got != want {
			t.Errorf("isPromptCommand(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestParsePromptArgs(t *testing.T) {
	cases := []struct {
		line string
		want promptOptions
		err  bool
	}{
		{"prompt", promptOptions{}, false},
		{"prompt --format %r --rack prod", promptOptions{format: "%r", rack: "prod"}, false},
		{"prompt --format=%r:%t --rack=prod", promptOptions{format: "%r:%t", rack: "prod"}, false},
		{"-r prod prompt -f %t", promptOptions{format: "%t", rack: "prod"}, false},
		{"--config /x --api-token t --no-agent prompt", promptOptions{}, false},
		{"prompt --rack prompt", promptOptions{rack: "prompt"}, false},
		{"prompt --help", promptOptions{help: true}, false},
		{"prompt -h", promptOptions{help: true}, false},
		{"prompt --format", promptOptions{}, true},
		{"prompt --bogus", promptOptions{}, true},
		{"prompt extra", promptOptions{}, true},
	}
	for _, c := range cases {
		got, err := parsePromptArgs(strings.Fields(c.line))
		if (err != nil) != c.err || (!c.err && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("parsePromptArgs(%q) = %+v, %v; want %+v, error %v", c.line, got, err, c.want, c.err)
		}
	}
}

// promptEnv points the status file at a temporary runtime directory and
// returns the file's path. The watchdog is pushed out of reach: it would
// exit the test binary on a slow machine.
func promptEnv(t *testing.T) string {
	t.Helper()
	old := promptBudget
	promptBudget = time.Hour
	t.Cleanup(func() { promptBudget = old })
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv("TMPDIR", run)
	t.Setenv("RACK_GATEWAY_RACK", "")
	t.Setenv("RACK_GATEWAY_API_TOKEN", "")
	p, err := statusfile.Path()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// mainOutput runs Main with args and returns stdout, stderr and the status.
func mainOutput(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := Main(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func TestPromptThroughMain(t *testing.T) {
	p := promptEnv(t)
	exp := time.Now().Add(7*time.Minute + 30*time.Second)
	if err := statusfile.Write(p, []statusfile.Entry{
		{Rack: "prod", Expires: exp, Email: "a@example.com", Current: true},
		{Rack: "staging"},
	}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args    []string
		rackEnv string
		want    string
	}{
		{[]string{"prompt"}, "", "prod 🔓 7m\n"},
		{[]string{"prompt", "--rack", "staging"}, "", "staging 🔒\n"},
		{[]string{"prompt"}, "staging", "staging 🔒\n"},
		{[]string{"prompt", "-r", "prod"}, "staging", "prod 🔓 7m\n"},
		{[]string{"prompt", "--format", "%e"}, "", "a@example.com\n"},
		{[]string{"prompt", "--format", ""}, "", "prod 🔓 7m\n"},
		// Errors: nothing at all, status 0.
		{[]string{"prompt", "--rack", "nope"}, "", ""},
		{[]string{"prompt"}, "nope", ""},
		{[]string{"prompt", "--format"}, "", ""},
		{[]string{"prompt", "--what"}, "", ""},
	}
	for _, c := range cases {
		t.Setenv("RACK_GATEWAY_RACK", c.rackEnv)
		out, errOut, code := mainOutput(c.args...)
		if out != c.want || errOut != "" || code != 0 {
			t.Errorf("Main(%q) with RACK_GATEWAY_RACK=%q: stdout %q stderr %q status %d; want %q, nothing, 0",
				c.args, c.rackEnv, out, errOut, code, c.want)
		}
	}
}

func TestPromptErrorsPrintNothing(t *testing.T) {
	p := promptEnv(t)
	check := func(what string) {
		t.Helper()
		out, errOut, code := mainOutput("prompt")
		if out != "" || errOut != "" || code != 0 {
			t.Errorf("%s: stdout %q stderr %q status %d; want nothing and 0", what, out, errOut, code)
		}
	}
	check("missing file")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	check("empty file")
	if err := os.WriteFile(p, []byte("# rack-gateway status v1\ngarbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	check("no valid entries")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	check("a directory at the path")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	check("no runtime directory")
}

func TestPromptHelpGoesToStdout(t *testing.T) {
	promptEnv(t)
	out, errOut, code := mainOutput("prompt", "--help")
	if code != 0 || errOut != "" {
		t.Fatalf("status %d stderr %q", code, errOut)
	}
	for _, want := range []string{"Usage: rack-gateway prompt", "%r", "%t", "%s", "%e", "%i", "%%", "--rack", "--format", "RACK_GATEWAY_RACK"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}
