package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// convoxEnv is a user logged in to "prod" on a private sandbox, so the
// test may change the rack freely.
func convoxEnv(t *testing.T, email string) (*env, *sandbox) {
	t.Helper()
	sb := newSandbox(t)
	return convoxUser(t, sb, email), sb
}

// convoxUser logs email in to sb in an environment of its own.
func convoxUser(t *testing.T, sb *sandbox, email string) *env {
	t.Helper()
	e := newEnv(t)
	e.sb = sb
	e.login("prod", email)
	return e
}

// runIn runs rack-gateway with the caller's working directory set to dir.
func (e *env) runIn(dir string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.cmd(ctx, args...)
	c.Dir = dir
	return e.runCmd(c)
}

// fails requires a failure with the given exit status and message.
func fails(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want exit %d: %s", code, r)
	}
	contains(t, "stderr", r.Err, want...)
}

func matches(t *testing.T, what, s, pattern string) {
	t.Helper()
	if !regexp.MustCompile(pattern).MatchString(s) {
		t.Errorf("%s does not match %q:\n%s", what, pattern, s)
	}
}

func TestConvoxListings(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)

	r := e.mustRun("apps")
	matches(t, "apps", r.Out, `(?m)^APP\s+STATUS\s+RELEASE\n`)
	matches(t, "apps", r.Out, `(?m)^demo\s+running\s+RDEMOSEEDAA$`)

	var apps []map[string]any
	r = e.mustRun("apps", "--output", "json")
	if err := json.Unmarshal([]byte(r.Out), &apps); err != nil || len(apps) == 0 || apps[0]["name"] != "demo" {
		t.Errorf("apps --output json: %v\n%s", err, r)
	}

	r = e.mustRun("apps", "info", "demo")
	matches(t, "apps info", r.Out, `(?m)^Name\s{2,}demo\n`)
	contains(t, "apps info", r.Out, "Status      running", "Generation  2", "Locked      false", "Release     RDEMOSEEDAA")

	r = e.mustRun("ps", "-a", "demo")
	matches(t, "ps", r.Out, `(?m)^ID\s+SERVICE\s+STATUS\s+RELEASE\s+STARTED\s+COMMAND\n`)
	matches(t, "ps", r.Out, `(?m)^web-4f7c2a\s+web\s+running\s+RDEMOSEEDAA\s+1 hour ago$`)
	for _, line := range strings.Split(r.Out, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("trailing blanks in %q", line)
		}
	}
	var ps []map[string]any
	r = e.mustRun("ps", "-a", "demo", "--output", "json")
	if err := json.Unmarshal([]byte(r.Out), &ps); err != nil || len(ps) != 2 {
		t.Errorf("ps --output json: %v\n%s", err, r)
	}

	r = e.mustRun("releases", "-a", "demo")
	matches(t, "releases", r.Out, `(?m)^ID\s+STATUS\s+BUILD\s+CREATED\s+DESCRIPTION\n`)
	matches(t, "releases", r.Out, `(?m)^RDEMOSEEDAA\s+active\s+BDEMOSEEDAA\s`)
	r = e.mustRun("releases", "-a", "demo", "--output", "json")
	contains(t, "releases json", r.Out, `"id": "RDEMOSEEDAA"`)

	r = e.mustRun("releases", "info", "RDEMOSEEDAA", "-a", "demo")
	matches(t, "releases info", r.Out, `(?m)^Id\s+RDEMOSEEDAA\n`)
	contains(t, "releases info", r.Out, "Build        BDEMOSEEDAA", "FOO=bar", "SECRET_KEY_BASE=********************")
	if strings.Contains(r.Out, "sandbox-secret-key-base") {
		t.Errorf("releases info showed a secret:\n%s", r.Out)
	}

	r = e.mustRun("builds", "-a", "demo")
	matches(t, "builds", r.Out, `(?m)^ID\s+STATUS\s+RELEASE\s+STARTED\s+ELAPSED\s+DESCRIPTION\n`)
	matches(t, "builds", r.Out, `(?m)^BDEMOSEEDAA\s+complete\s+RDEMOSEEDAA\s`)
	r = e.mustRun("builds", "info", "BDEMOSEEDAA", "-a", "demo")
	contains(t, "builds info", r.Out, "Id           BDEMOSEEDAA", "Status       complete")
	r = e.mustRun("builds", "-a", "demo", "--output", "json")
	contains(t, "builds json", r.Out, `"id": "BDEMOSEEDAA"`)

	r = e.mustRun("rack", "info")
	contains(t, "rack info", r.Out, "Name      sandbox", "Version   3.21.3")
	r = e.mustRun("instances")
	matches(t, "instances", r.Out, `(?m)^ID\s+STATUS\s+STARTED\s+PS\s+CPU\s+MEM\s+PUBLIC\s+PRIVATE\n`)
	contains(t, "instances", r.Out, "i-0a1b2c3d4e5f60718", "i-0a1b2c3d4e5f60719")
	matches(t, "instances", r.Out, `(?m)^i-0a1b2c3d4e5f60718\s+running\s+3 days ago\s+1\s+12\.00%\s+34\.00%\s+10\.0\.1\.11$`)
	r = e.mustRun("instances", "--output", "json")
	contains(t, "instances json", r.Out, `"id": "i-0a1b2c3d4e5f60718"`)

	r = e.mustRun("env", "-a", "demo")
	contains(t, "env", r.Out, "FOO=bar\n", "SECRET_KEY_BASE=********************\n", "DATABASE_URL=********************\n")
	r = e.mustRun("env", "-a", "demo", "--output", "json")
	contains(t, "env json", r.Out, `"FOO": "bar"`)
	if r := e.mustRun("env", "get", "FOO", "-a", "demo"); r.Out != "bar\n" {
		t.Errorf("env get FOO: %s", r)
	}
	if r := e.mustRun("env", "get", "SECRET_KEY_BASE", "-a", "demo"); r.Out != "********************\n" {
		t.Errorf("env get SECRET_KEY_BASE masked: %s", r)
	}
	if r := e.mustRun("env", "get", "SECRET_KEY_BASE", "--unmask", "-a", "demo"); r.Out != "sandbox-secret-key-base\n" {
		t.Errorf("env get --unmask: %s", r)
	}
	if r := e.mustRun("env", "get", "NOPE", "-a", "demo"); r.Out != "\n" {
		t.Errorf("env get NOPE: %q, want an empty line", r.Out)
	}
	fails(t, e.run("apps", "--output", "yaml"), 2, `unknown output format "yaml"`)
}

func TestConvoxAppResolution(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	// .convox/app in a parent directory names the app.
	dir := filepath.Join(e.root, "proj")
	sub := filepath.Join(dir, "src", "deep")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".convox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".convox", "app"), []byte("demo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.runIn(sub, "ps"); r.Code != 0 || !strings.Contains(r.Out, "web-4f7c2a") {
		t.Errorf("ps under a .convox/app directory: %s", r)
	}
	// -a wins over the file.
	fails(t, e.runIn(sub, "ps", "-a", "ghost"), 1, "Error: no such app: ghost")
	// Without any hint the directory name is the app, and the error says
	// which app was tried.
	plain := filepath.Join(e.root, "no-such-app-here")
	if err := os.MkdirAll(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	fails(t, e.runIn(plain, "ps"), 1, "Error: no such app: no-such-app-here")
	fails(t, e.run("releases"), 1, "Error: no such app: "+filepath.Base(e.root))
	// The root directory names no app: a usage error, nothing sent.
	fails(t, e.runIn("/", "ps"), 2, "Error: no app given and / names none; use -a <app>")
	// $CONVOX_APP comes before the directory.
	e.set("CONVOX_APP", "demo")
	if r := e.runIn(plain, "builds"); r.Code != 0 || !strings.Contains(r.Out, "BDEMOSEEDAA") {
		t.Errorf("builds with CONVOX_APP: %s", r)
	}
}

func TestConvoxEnvEditAndPromote(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)

	r := e.mustRun("env", "set", "FOO=baz", "NEW_ONE=1", "-a", "demo", "--promote")
	contains(t, "env set stderr", r.Out, "Setting FOO, NEW_ONE... OK\n", "Promoting R")
	matches(t, "env set stdout", r.Out, `(?m)^Release: R[A-Z0-9]+$`)
	id := releaseID(t, r.Out)
	contains(t, "env set promote", r.Out, "Promoting "+id+"... \nOK\n")
	if a := e.mustRun("apps", "info", "demo"); !strings.Contains(a.Out, "Release     "+id) {
		t.Errorf("the app is not on %s:\n%s", id, a.Out)
	}
	r = e.mustRun("env", "-a", "demo")
	contains(t, "env after set", r.Out, "FOO=baz\n", "NEW_ONE=1\n")
	// The masked secret was posted back as a mask: the value is kept.
	if r := e.mustRun("env", "get", "SECRET_KEY_BASE", "--unmask", "-a", "demo"); r.Out != "sandbox-secret-key-base\n" {
		t.Errorf("secret changed by env set: %s", r)
	}

	r = e.mustRun("env", "unset", "NEW_ONE", "-a", "demo")
	contains(t, "env unset", r.Out, "Unsetting NEW_ONE... OK\n")
	matches(t, "env unset stdout", r.Out, `(?m)^Release: R[A-Z0-9]+$`)
	unset := releaseID(t, r.Out)
	r = e.mustRun("releases", "-a", "demo")
	matches(t, "releases", r.Out, `(?m)^`+unset+`\s+BDEMOSEEDAA`) // not active yet
	matches(t, "releases", r.Out, `(?m)^`+id+`\s+active\s`)

	r = e.mustRun("releases", "promote", "-a", "demo")
	contains(t, "releases promote", r.Out, "Promoting "+unset+"... \nOK\n")
	if r := e.mustRun("env", "-a", "demo"); strings.Contains(r.Out, "NEW_ONE") {
		t.Errorf("NEW_ONE still set:\n%s", r.Out)
	}

	r = e.mustRun("releases", "rollback", "RDEMOSEEDAA", "-a", "demo")
	matches(t, "rollback", r.Out, `Rolling back to RDEMOSEEDAA\.\.\. OK, R[A-Z0-9]+\n`)
	contains(t, "rollback", r.Out, "Promoting R")
	if r := e.mustRun("env", "get", "FOO", "-a", "demo"); r.Out != "bar\n" {
		t.Errorf("rollback did not restore FOO: %s", r)
	}
	r = e.mustRun("releases", "promote", "RDEMOSEEDAA", "-a", "demo")
	contains(t, "promote by id", r.Out, "Promoting RDEMOSEEDAA... \nOK\n")
	fails(t, e.run("releases", "promote", "RNOPE", "-a", "demo"), 1, "Error: no such release: RNOPE")
}

func TestConvoxServicesAndProcesses(t *testing.T) {
	t.Parallel()
	e, sb := convoxEnv(t, admin)

	r := e.mustRun("restart", "-a", "demo")
	if r.Out != "Restarting web... OK\nRestarting worker... OK\n" {
		t.Errorf("restart: %s", r)
	}
	r = e.mustRun("scale", "web", "--count", "2", "--memory", "1024", "-a", "demo")
	contains(t, "scale", r.Out, "Scaling web... OK\n")
	r = e.mustRun("scale", "-a", "demo")
	matches(t, "scale table", r.Out, `(?m)^SERVICE\s+DESIRED\s+RUNNING\s+CPU\s+MEMORY\n`)
	matches(t, "scale table", r.Out, `(?m)^web\s+2\s+2\s+256\s+1024$`)
	fails(t, e.run("scale", "--count", "2", "-a", "demo"), 2, "service name required")
	fails(t, e.run("scale", "nope", "--count", "2", "-a", "demo"), 1, "Error: no such service: nope")

	var ps []struct {
		Id   string `json:"id"`
		Name string `json:"name"`
	}
	r = e.mustRun("ps", "-a", "demo", "--output", "json")
	if err := json.Unmarshal([]byte(r.Out), &ps); err != nil || len(ps) == 0 {
		t.Fatalf("ps json: %v\n%s", err, r)
	}
	pid := ps[0].Id
	r = e.mustRun("ps", "stop", pid, "-a", "demo")
	if r.Out != "Stopping "+pid+"... OK\n" {
		t.Errorf("ps stop: %s", r)
	}
	if r := e.mustRun("ps", "-a", "demo"); strings.Contains(r.Out, pid) {
		t.Errorf("%s still listed:\n%s", pid, r.Out)
	}
	fails(t, e.run("ps", "stop", "web-nope", "-a", "demo"), 1, "Error: no such process: web-nope")

	// Deleting is refused by the default destructive-action policy, in the
	// proxy's own words; once allowed, it deletes and waits.
	fails(t, e.run("apps", "delete", "demo"), 1, "Error: Destructive rack actions are disabled by policy\n")
	e.mustRun("api", "-X", "POST", "/apps", "-f", "name=scratch")
	sb.call(t, "PUT", "/_sandbox/destructive-actions", map[string]any{"allow": true}, nil)
	r = e.mustRun("apps", "delete", "scratch")
	contains(t, "apps delete", r.Out, "Deleting scratch... OK\n")
	if r := e.mustRun("apps"); strings.Contains(r.Out, "scratch") {
		t.Errorf("scratch still listed:\n%s", r.Out)
	}
	fails(t, e.run("apps", "info", "scratch"), 1, "Error: no such app: scratch")
}

func TestConvoxRoles(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	viewer := convoxUser(t, sb, "viewer@example.com")
	deployer := convoxUser(t, sb, "deployer@example.com")

	// Reads every role has.
	for _, e := range []*env{viewer, deployer} {
		e.mustRun("apps")
		e.mustRun("ps", "-a", "demo")
		e.mustRun("builds", "-a", "demo")
		e.mustRun("rack", "info")
	}

	// The viewer: the proxy's refusal texts, shown as they are.
	fails(t, viewer.run("ps", "stop", "web-4f7c2a", "-a", "demo"), 1, "Error: You don't have permission to stop processes.\n")
	fails(t, viewer.run("releases", "-a", "demo"), 1, "Error: permission denied\n")
	fails(t, viewer.run("env", "-a", "demo"), 1, "Error: failed to fetch env: You don't have permission to view environment variables.\n")
	fails(t, viewer.run("env", "set", "FOO=x", "-a", "demo"), 1, "Error: permission denied\n")
	r0 := viewer.run("restart", "-a", "demo")
	fails(t, r0, 1, "Error: You don't have permission to run processes.\n")
	contains(t, "viewer restart stdout", r0.Out, "Restarting web... \n")

	// The deployer may edit plain env but not secrets, nor delete apps.
	fails(t, deployer.run("env", "get", "SECRET_KEY_BASE", "--unmask", "-a", "demo"), 1, "Error: failed to fetch env: You don't have permission to view secrets.\n")
	r := deployer.run("env", "set", "SECRET_KEY_BASE=x", "-a", "demo")
	fails(t, r, 1, "Error: You don't have permission to create releases.\n")
	contains(t, "deployer secret stdout", r.Out, "Setting SECRET_KEY_BASE... \n")
	r = deployer.mustRun("env", "set", "FOO=deployed", "-a", "demo", "--promote")
	contains(t, "deployer env set", r.Out, "Setting FOO... OK\n", "Promoting R")
	fails(t, deployer.run("apps", "delete", "demo"), 1, "Error: permission denied\n")
	deployer.mustRun("scale", "web", "--count", "3", "-a", "demo")
	fails(t, viewer.run("env", "get", "FOO", "-a", "demo"), 1, "Error: failed to fetch env: You don't have permission to view environment variables.\n")
}

func TestConvoxWritesAskForMFA(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)

	// A write with a closed window prompts once in the terminal.
	p := e.startPTY("env-set", "env", "set", "FOO=mfa", "-a", "demo")
	p.waitText("Enter TOTP code:", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	p.waitText("Release: R", 10*time.Second)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	// The agent still believed in the window the test closed, so the
	// server's 401 brought the prompt while "Setting FOO... " was open:
	// the line is ended before the prompt and resumed after it, and the
	// step completes once.
	if out := p.Output(); !strings.Contains(out, "Setting FOO... \r\nStep-up MFA required for this operation.") ||
		!strings.Contains(out, "MFA verified\r\nSetting FOO... OK") || strings.Count(out, "Setting FOO... OK") != 1 ||
		!strings.Contains(out, "Release: R") {
		t.Errorf("env set under MFA:\n%s", out)
	}

	// Reads never need MFA, even with the window closed.
	sb.expireStepUp(t, admin)
	e.mustRun("ps", "-a", "demo")
	e.mustRun("env", "-a", "demo")

	// Without a terminal a write fails fast; --mfa-code satisfies it.
	r := e.run("restart", "-a", "demo")
	if r.Code == 0 {
		t.Fatalf("restart without MFA succeeded: %s", r)
	}
	r = e.mustRun("restart", "-a", "demo", "--mfa-code", totpCodes.next(t, sb, admin))
	contains(t, "restart --mfa-code", r.Out, "Restarting web... OK\nRestarting worker... OK\n")

	// apps delete is "always" on the proxy, which a fresh window meets:
	// one prompt, then the policy's refusal.
	sb.expireStepUp(t, admin)
	q := e.startPTY("delete", "apps", "delete", "demo")
	q.waitText("Enter TOTP code:", 10*time.Second)
	q.typeSecret(totpCodes.next(t, sb, admin))
	q.waitText("Error: Destructive rack actions are disabled by policy", 10*time.Second)
	if code := q.wait(15 * time.Second); code != 1 {
		t.Fatalf("exit %d\n%s", code, q.Output())
	}
	if n := sb.replays(t); n != 0 {
		t.Errorf("%d replayed TOTP steps", n)
	}
}

func TestConvoxBadInput(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	fails(t, e.run("env", "set", "FOO", "-a", "demo"), 2, `Error: invalid argument "FOO": expected KEY=VALUE`, "Usage: rack-gateway env set")
	fails(t, e.run("env", "set", "OK=1", "=v", "-a", "demo"), 2, `Error: invalid argument "=v": expected KEY=VALUE`)
	fails(t, e.run("env", "set", "-a", "demo"), 2, "requires at least one KEY=VALUE")
	fails(t, e.run("env", "unset", "A=B", "-a", "demo"), 2, `invalid argument "A=B"`)
	fails(t, e.run("ps", "-a", "nosuch"), 1, "Error: no such app: nosuch\n")
	fails(t, e.run("env", "-a", "nosuch"), 1, "Error: failed to fetch env: no such app: nosuch\n")
	fails(t, e.run("env", "set", "A=1", "-a", "nosuch"), 1, "Error: no such app: nosuch\n")
	fails(t, e.run("apps", "info", "nosuch"), 1, "Error: no such app: nosuch\n")
	fails(t, e.run("builds", "info", "BNOPE", "-a", "demo"), 1, "Error: no such build: BNOPE\n")
	fails(t, e.run("releases", "info", "RNOPE", "-a", "demo"), 1, "Error: no such release: RNOPE\n")
	fails(t, e.run("ps", "stop"), 2, "requires a process id")
	// A malformed argument is refused before anything is sent.
	if r := e.mustRun("releases", "-a", "demo"); strings.Count(r.Out, "\n") != 2 {
		t.Errorf("a release was created:\n%s", r.Out)
	}
}

// The server is asked before the person: the first write goes without a
// proof, and its 401 brings the prompt, which starts on a line of its own
// even though "Restarting web... " is open. A write made of several
// requests prompts once, and no step line is completed twice.
func TestConvoxPromptStartsOnItsOwnLine(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	e.stopAgent()
	p := e.startPTY("restart", "restart", "-a", "demo")
	p.waitText("Enter TOTP code:", 10*time.Second)
	if out := p.Output(); !strings.Contains(out, "Restarting web... \r\nStep-up MFA required for this operation.\r\n") {
		t.Fatalf("the prompt did not start on its own line:\n%q", out)
	}
	p.typeSecret(totpCodes.next(t, sb, admin))
	p.waitText("Restarting worker... OK", 10*time.Second)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	out := p.Output()
	if strings.Count(out, "Enter TOTP code:") != 1 || strings.Count(out, "Restarting web... OK") != 1 ||
		strings.Count(out, "Restarting worker... OK") != 1 || !strings.Contains(out, "MFA verified\r\nRestarting web... OK\r\n") {
		t.Errorf("want one prompt, then each line completed once:\n%s", out)
	}
	if n := sb.replays(t); n != 0 {
		t.Errorf("%d replayed TOTP steps", n)
	}
}

// releaseID is the id on the "Release: R…" line of a command's stdout.
func releaseID(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Release: (R[A-Z0-9]+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no Release line in:\n%s", out)
	}
	return m[1]
}
