package convox_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/convox"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// releaseOf returns the id in a "Release: R…" line of stdout.
func releaseOf(t *testing.T, r kittest.Result) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Release: (R\w+)$`).FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("no release id in:\n%s", r)
	}
	return m[1]
}

// rackEnv is the unmasked env of the app's latest release.
func rackEnv(t *testing.T, e *kittest.Env) map[string]string {
	t.Helper()
	env, err := e.Sandbox.Rack().Env(app)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// The list masks secrets; --output json is the same map.
func TestEnv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	secret := rackEnv(t, e)["SECRET_KEY_BASE"]
	r := e.MustRun("env", "-a", app)
	wantOut(t, r, "FOO=bar\n", "SECRET_KEY_BASE=")
	if strings.Contains(r.Out, secret) {
		t.Fatalf("env shows a secret:\n%s", r.Out)
	}
	var env map[string]string
	decode(t, e.Run("env", "--output", "json", "-a", app), &env)
	if env["FOO"] != "bar" || env["SECRET_KEY_BASE"] == secret || env["SECRET_KEY_BASE"] == "" {
		t.Fatalf("env --output json: %v", env)
	}
}

func TestEnvGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.MustRun("env", "get", "FOO", "-a", app); r.Out != "bar\n" {
		t.Fatalf("env get FOO: %q", r.Out)
	}
	secret := rackEnv(t, e)["SECRET_KEY_BASE"]
	// -a and --unmask before the key, as the upstream CLI allows.
	if r := e.MustRun("env", "-a", app, "get", "--unmask", "SECRET_KEY_BASE"); r.Out != secret+"\n" {
		t.Fatalf("env get --unmask: %q", r.Out)
	}
	// A key the app lacks is an empty line and success, as upstream.
	if r := e.MustRun("env", "get", "NOPE", "-a", app); r.Out != "\n" {
		t.Fatalf("env get NOPE: %q, want an empty line", r.Out)
	}
	wantErr(t, e.Run("env", "get", "-a", app), ipc.CodeUsage, "env get requires a variable name")
}

// env set --replace makes the given variables the whole env of the new
// release (the gateway keeps its protected keys whatever is posted);
// without it they are merged into the latest release's.
func TestEnvSetReplace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := rackEnv(t, e)
	r := e.Run("env", "set", "--replace", "ONLY=1", "ALSO=2", "-a", app)
	wantOut(t, r, "Setting ALSO, ONLY... OK\n", "Release: R")
	env := rackEnv(t, e)
	if env["ONLY"] != "1" || env["ALSO"] != "2" || env["FOO"] != "" || env["SECRET_KEY_BASE"] != "" ||
		env["DATABASE_URL"] != before["DATABASE_URL"] || len(env) != 3 {
		t.Fatalf("after env set --replace: %v", env)
	}
	e.MustRun("env", "set", "MORE=3", "-a", app)
	if env := rackEnv(t, e); len(env) != 4 || env["ONLY"] != "1" || env["MORE"] != "3" {
		t.Fatalf("env set after --replace: %v", env)
	}
}

// env set and unset --id leave only the new release's id on stdout; the
// step and Release lines go to stderr.
func TestEnvSetUnsetID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.MustRun("env", "set", "X=1", "--id", "-a", app)
	id := strings.TrimSpace(r.Out)
	if !regexp.MustCompile(`^R\w+\n$`).MatchString(r.Out) || !strings.Contains(r.Err, "Setting X... OK\n") || !strings.Contains(r.Err, "Release: "+id+"\n") {
		t.Fatalf("env set --id: %s", r)
	}
	if env := rackEnv(t, e); env["X"] != "1" {
		t.Fatalf("env set --id did not set X: %v", env)
	}
	r = e.MustRun("env", "unset", "X", "--id", "--promote", "-a", app)
	id = strings.TrimSpace(r.Out)
	if !regexp.MustCompile(`^R\w+\n$`).MatchString(r.Out) || !strings.Contains(r.Err, "Unsetting X... OK\n") || !strings.Contains(r.Err, "Promoting "+id+"... \nOK\n") {
		t.Fatalf("env unset --id --promote: %s", r)
	}
	if got := appRelease(t, e); got != id {
		t.Fatalf("the app runs %s, want %s", got, id)
	}
}

// env set and unset write a new release from the latest one's env, keep
// secrets they did not touch, and promote only when asked.
func TestEnvSetUnset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	secret := rackEnv(t, e)["SECRET_KEY_BASE"]
	r := e.Run("env", "set", "B=2", "A=1", "A=3", "-a", app)
	wantOut(t, r, "Setting A, B... OK\n")
	set := releaseOf(t, r)
	if env := rackEnv(t, e); env["A"] != "3" || env["B"] != "2" || env["SECRET_KEY_BASE"] != secret {
		t.Fatalf("after env set: %v", env)
	}
	var a struct{ Release string }
	decode(t, e.Run("apps", "info", app, "--output", "json"), &a)
	if a.Release == set {
		t.Fatal("env set promoted without --promote")
	}

	r = e.Run("env", "unset", "A", "-p", "-a", app)
	wantOut(t, r, "Unsetting A... OK\n", "Promoting ")
	unset := releaseOf(t, r)
	if env := rackEnv(t, e); env["A"] != "" || env["B"] != "2" {
		t.Fatalf("after env unset: %v", env)
	}
	decode(t, e.Run("apps", "info", app, "--output", "json"), &a)
	if a.Release != unset {
		t.Fatalf("env unset --promote: the app runs %s, want %s", a.Release, unset)
	}

	wantErr(t, e.Run("env", "set", "NOEQUALS", "-a", app), ipc.CodeUsage, `invalid argument "NOEQUALS": expected KEY=VALUE`)
	wantErr(t, e.Run("env", "unset", "A=1", "-a", app), ipc.CodeUsage, `invalid argument "A=1": expected a variable name`)
}

// env edit opens the masked env in the editor and saves one release with
// every change; a secret whose mask was left as it is keeps its value.
func TestEnvEdit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	env := rackEnv(t, e)
	secret := env["SECRET_KEY_BASE"]
	env["OLD"] = "1"
	if _, err := e.Sandbox.Rack().CreateRelease(app, env, "with OLD"); err != nil {
		t.Fatal(err)
	}
	term := &hookTerm{Term: &kittest.Term{}, edit: func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			switch {
			case strings.HasPrefix(l, "FOO="):
				keep = append(keep, "FOO=baz")
			case strings.HasPrefix(l, "OLD="):
			default:
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n") + "NEW=1\n"
	}}
	res, err := runOn(t.Context(), e, term, "env", "edit", "-a", app, "--promote")
	if err != nil {
		t.Fatalf("env edit: %v", err)
	}
	out := term.stdout()
	if !strings.Contains(out, "Setting FOO, NEW... OK\nUnsetting OLD... OK\nRelease: R") || !strings.Contains(out, "Promoting ") {
		t.Fatalf("env edit stdout:\n%s", out)
	}
	if !strings.Contains(term.opened, "# Edit the env of app demo on rack prod") || strings.Contains(term.opened, secret) {
		t.Fatalf("the editor was given:\n%s", term.opened)
	}
	env = rackEnv(t, e)
	if env["FOO"] != "baz" || env["NEW"] != "1" || env["SECRET_KEY_BASE"] != secret {
		t.Fatalf("after env edit: %v", env)
	}
	if _, ok := env["OLD"]; ok {
		t.Fatalf("OLD survived: %v", env)
	}
	if res.Rack != kittest.Rack {
		t.Errorf("rack %q", res.Rack)
	}

	// Saving the file unchanged changes nothing.
	term = &hookTerm{Term: &kittest.Term{}, edit: func(s string) string { return s }}
	if _, err := runOn(t.Context(), e, term, "env", "edit", "-a", app); err != nil || term.stdout() != "" {
		t.Fatalf("unchanged edit: %v, stdout %q", err, term.stdout())
	}
	// A line that is not KEY=VALUE is refused without quoting it.
	term = &hookTerm{Term: &kittest.Term{}, edit: func(s string) string { return s + "oops secret\n" }}
	if _, err := runOn(t.Context(), e, term, "env", "edit", "-a", app); err == nil || err.Code != ipc.CodeUsage || strings.Contains(err.Message, "oops") {
		t.Fatalf("bad line: %v", err)
	}
}

// A refused env read carries upstream's "failed to fetch env: " prefix
// before the gateway's words, and keeps its code (so its exit status).
func TestEnvFetchErrors(t *testing.T) {
	t.Parallel()
	deployer := kittest.New(t, "deployer@example.com", true, convox.Register)
	r := deployer.Run("env", "get", "SECRET_KEY_BASE", "--unmask", "-a", app)
	if r.Error == nil || r.Error.Render() != "Error: failed to fetch env: You don't have permission to view secrets.\n" || r.Code() != 1 {
		t.Fatalf("deployer env get --unmask: exit %d: %s", r.Code(), r)
	}
	viewer := kittest.New(t, "viewer@example.com", true, convox.Register)
	for _, argv := range [][]string{{"env", "-a", app}, {"env", "get", "FOO", "-a", app}} {
		r := viewer.Run(argv...)
		wantErr(t, r, ipc.CodeForbidden, "failed to fetch env: You don't have permission to view environment variables.")
		if r.Out != "" {
			t.Errorf("%q: stdout %q", argv, r.Out)
		}
	}
	wantErr(t, newEnv(t).Run("env", "-a", "nosuch"), ipc.CodeNotFound, "failed to fetch env: no such app: nosuch")
}
