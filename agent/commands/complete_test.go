package commands_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands"
	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func completeEnv(t testing.TB) *kittest.Env {
	t.Helper()
	return kittest.New(t, "admin@example.com", true, allCommands)
}

// allCommands registers what commands.Registry has.
func allCommands(r *kit.Registry) {
	full := commands.Registry()
	for _, n := range full.Names() {
		r.Add(full.Get(n))
	}
}

// complete runs __complete and returns the candidates' values and the
// directive line.
func complete(t *testing.T, e *kittest.Env, words ...string) ([]string, string) {
	t.Helper()
	r := e.Run(append([]string{kit.CompleteCommand}, words...)...)
	if r.Error != nil || r.Err != "" {
		t.Fatalf("__complete %q: %s", words, r)
	}
	lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
	var vals []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		vals = append(vals, v)
	}
	return vals, lines[len(lines)-1]
}

func has(vals []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, v := range vals {
			found = found || v == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestCompleteWordsFlagsAndRacks(t *testing.T) {
	t.Parallel()
	e := completeEnv(t)
	for _, c := range []struct {
		words []string
		want  []string
		not   []string
		dir   string
	}{
		{[]string{""}, []string{"switch", "apps", "deploy-approval", "mfa"}, []string{kit.CompleteCommand, "apps info"}, ":4"},
		{[]string{"sw"}, []string{"switch"}, []string{"apps"}, ":4"},
		{[]string{"switch", ""}, []string{kittest.Rack}, nil, ":4"},
		{[]string{"switch", kittest.Rack, ""}, nil, []string{kittest.Rack}, ":4"},
		{[]string{"login", ""}, []string{kittest.Rack}, nil, ":4"},
		{[]string{"apps", "--rack", ""}, []string{kittest.Rack}, nil, ":4"},
		{[]string{"-r", "p"}, []string{kittest.Rack}, nil, ":4"},
		{[]string{"apps", "--rack=p"}, []string{"--rack=" + kittest.Rack}, nil, ":4"},
		{[]string{"apps", ""}, []string{"info", "create", "delete", "params"}, nil, ":4"},
		{[]string{"mfa", "methods", ""}, []string{"rename", "remove"}, nil, ":4"},
		{[]string{"switch", "--ra"}, []string{"--rack"}, []string{"--app"}, ":4"},
		{[]string{"ps", "stop", "-"}, []string{"--app", "--rack", "--help"}, nil, ":4"},
		{[]string{"api-token", "create", "--output", ""}, []string{"text", "json", "token"}, nil, ":4"},
		{[]string{"apps", "--output", ""}, []string{"json"}, nil, ":4"},
		{[]string{"completion", "z"}, []string{"zsh"}, []string{"bash"}, ":4"},
		{[]string{"build", ""}, nil, nil, ":16"},
		{[]string{"build", "-f", ""}, nil, nil, ":0"},
		{[]string{"exec", "-a", "demo", "web-1", "--", "l"}, nil, nil, ":0"},
	} {
		vals, dir := complete(t, e, c.words...)
		if !has(vals, c.want...) || dir != c.dir {
			t.Errorf("%q: %q %s, want %q and %s", c.words, vals, dir, c.want, c.dir)
		}
		for _, n := range c.not {
			if has(vals, n) {
				t.Errorf("%q offers %q: %q", c.words, n, vals)
			}
		}
	}
}

// App names, process ids and release ids are what the last commands saw
// of the rack; before that, outside the daemon, nothing.
func TestCompleteFromWhatCommandsSaw(t *testing.T) {
	t.Parallel()
	e := completeEnv(t)
	if vals, dir := complete(t, e, "apps", "info", ""); len(vals) != 0 || dir != ":4" {
		t.Fatalf("apps info before any command: %q %s", vals, dir)
	}
	e.MustRun("apps")
	e.MustRun("ps", "-a", convoxfake.SeedApp)
	e.MustRun("releases", "-a", convoxfake.SeedApp)
	if vals, _ := complete(t, e, "apps", "info", "d"); !has(vals, convoxfake.SeedApp) {
		t.Errorf("apps info d: %q", vals)
	}
	if vals, _ := complete(t, e, "-a", ""); !has(vals, convoxfake.SeedApp) {
		t.Errorf("-a: %q", vals)
	}
	if vals, _ := complete(t, e, "ps", "stop", "-a", convoxfake.SeedApp, ""); !has(vals, convoxfake.SeedWebPID) {
		t.Errorf("ps stop: %q", vals)
	}
	if vals, _ := complete(t, e, "releases", "promote", "--app="+convoxfake.SeedApp, "R"); !has(vals, convoxfake.SeedReleaseID) {
		t.Errorf("releases promote: %q", vals)
	}
	// The app from $CONVOX_APP, as the commands resolve it.
	e.Vars["CONVOX_APP"] = convoxfake.SeedApp
	if vals, _ := complete(t, e, "releases", "info", ""); !has(vals, convoxfake.SeedReleaseID) {
		t.Errorf("releases info with CONVOX_APP: %q", vals)
	}
}

// A config that cannot be read: nothing at all, not even a directive.
func TestCompleteSaysNothingOnError(t *testing.T) {
	t.Parallel()
	e := completeEnv(t)
	if err := os.WriteFile(filepath.Join(e.ConfigDir, "config.json"), []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.Run(kit.CompleteCommand, "switch", "")
	if r.Error != nil || r.Out != "" || r.Err != "" {
		t.Fatalf("with a broken config: %s", r)
	}
}

// In the daemon, a name nobody has seen yet is asked of the rack once,
// without MFA or a prompt, and remembered.
func TestCompleteFetchesOnceInTheDaemon(t *testing.T) {
	t.Parallel()
	e := completeEnv(t)
	run := func() string {
		term := &outTerm{Term: &kittest.Term{}}
		inv := &ipc.Invocation{Argv: []string{kit.CompleteCommand, "apps", "delete", ""}, Cwd: e.Cwd,
			Env: map[string]string{"GATEWAY_CLI_CONFIG_DIR": e.ConfigDir}, PID: 1}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := kit.Run(ctx, &kit.Env{Core: e.Core, Mode: kit.ModeDaemon, Registry: e.Registry}, inv, term); err != nil {
			t.Fatal(err)
		}
		return term.out.String()
	}
	before := e.Sandbox.RequestCount("GET", "/api/v1/rack-proxy/apps")
	if out := run(); out != convoxfake.SeedApp+"\n:4\n" {
		t.Fatalf("first completion: %q", out)
	}
	run()
	if n := e.Sandbox.RequestCount("GET", "/api/v1/rack-proxy/apps") - before; n != 1 {
		t.Errorf("%d requests for two completions, want 1", n)
	}
	if _, ok := e.Core.Seen.Get(core.SessionKey(e.ConfigDir, kittest.Rack), core.SeenApps, ""); !ok {
		t.Error("the answer was not remembered")
	}
}

// outTerm is a fake terminal whose stdout the test reads.
type outTerm struct {
	*kittest.Term
	out bytes.Buffer
}

func (t *outTerm) Stdout() io.Writer { return &t.out }

// FuzzComplete: any words give either nothing or candidates ending in a
// directive line, and never a panic or a word on stderr.
func FuzzComplete(f *testing.F) {
	for _, s := range []string{"", "switch\x00", "-r\x00", "--rack=\x00", "-a\x00demo\x00ps\x00stop\x00", "exec\x00--\x00x",
		"help\x00apps\x00", "--\x00", "-\x00", "---x", "-ra", "apps\x00--output=", "login\x00p\x00q\x00"} {
		f.Add(s)
	}
	e := completeEnv(f)
	f.Fuzz(func(t *testing.T, s string) {
		words := strings.Split(s, "\x00")
		e.T = t // the env's helpers report to this run
		r := e.Run(append([]string{kit.CompleteCommand}, words...)...)
		if r.Error != nil || r.Err != "" {
			t.Fatalf("%q: %s", words, r)
		}
		if r.Out == "" {
			return
		}
		lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, ":") || !strings.HasSuffix(r.Out, "\n") {
			t.Fatalf("%q: no directive line:\n%q", words, r.Out)
		}
	})
}
