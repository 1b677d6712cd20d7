package e2e

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Upstream's flags on existing commands (issue 10), end to end with the
// real binaries against the sandbox: each runs and does what it does
// upstream.

// TestFlagsDeployReleasesEnv: deploy --wait -f, builds/releases -l,
// releases promote --force --wait, rollback --wait, env set --replace --id.
func TestFlagsDeployReleasesEnv(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	dir := t.TempDir()
	bldWrite(t, dir, map[string]string{"Dockerfile": "FROM scratch\n", "Dockerfile.prod": "FROM prod\n", "convox.yml": "services:\n  web:\n    build: .\n"})
	r := e.runIn(dir, "deploy", "-a", "demo", "--wait", "-f", "Dockerfile.prod")
	m := regexp.MustCompile(`\nPromoting (R[A-Z0-9]+)\.\.\. \nOK\n$`).FindStringSubmatch(r.Out)
	if r.Code != 0 || m == nil {
		t.Fatalf("deploy --wait -f: %s", r)
	}
	deployed := m[1]
	contains(t, "apps info", e.mustRun("apps", "info", "demo").Out, deployed)
	fails(t, e.runIn(dir, "build", "-a", "demo", "-f", "Dockerfile.nope"), 2, "Dockerfile Dockerfile.nope not found")

	var list []struct {
		ID string `json:"id"`
	}
	for _, argv := range [][]string{{"builds", "-l", "1"}, {"releases", "-l", "1"}} {
		r = e.mustRun(append(argv, "-a", "demo", "--output", "json")...)
		if err := json.Unmarshal([]byte(r.Out), &list); err != nil || len(list) != 1 {
			t.Errorf("%v: %v\n%s", argv, err, r.Out)
		}
	}
	if list[0].ID != deployed {
		t.Errorf("releases -l 1 lists %s, want %s", list[0].ID, deployed)
	}

	r = e.mustRun("releases", "promote", "RDEMOSEEDAA", "-a", "demo", "--force", "--wait")
	if r.Out != "Promoting RDEMOSEEDAA... \nOK\n" {
		t.Errorf("releases promote --force --wait: %q", r.Out)
	}
	r = e.mustRun("releases", "rollback", deployed, "-a", "demo", "--wait")
	matches(t, "rollback --wait", r.Out, `^Rolling back to `+deployed+`\.\.\. OK, R[A-Z0-9]+\nPromoting R[A-Z0-9]+\.\.\. \nOK\n$`)

	r = e.mustRun("env", "set", "--replace", "ONLY=1", "--id", "-a", "demo")
	matches(t, "env set --replace --id", r.Out, `^R[A-Z0-9]+\n$`)
	contains(t, "env set --id stderr", r.Err, "Setting ONLY... OK\n", "Release: "+strings.TrimSpace(r.Out)+"\n")
	env := e.mustRun("env", "-a", "demo").Out
	if !strings.Contains(env, "ONLY=1\n") || strings.Contains(env, "FOO=") {
		t.Errorf("env after env set --replace:\n%s", env)
	}
}

// TestFlagsProcesses: run --detach --env --entrypoint, ps --service
// --release --all, exec --entrypoint.
func TestFlagsProcesses(t *testing.T) {
	t.Parallel()
	e, _ := streamEnv(t)
	r := e.mustRun("run", "-d", "web", "sleep", "600", "-a", "demo")
	m := regexp.MustCompile(`^Running detached process\.\.\. OK, (web-[a-z0-9]+)\n$`).FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("run -d: %s", r)
	}
	pid := m[1]
	r = e.mustRun("ps", "-a", "demo", "--service", "web", "--all")
	if !strings.Contains(r.Out, pid) || !strings.Contains(r.Out, "sleep 600") || strings.Contains(r.Out, "worker") {
		t.Errorf("ps --service web --all:\n%s", r.Out)
	}
	r = e.mustRun("ps", "-a", "demo", "-s", "worker")
	if strings.Contains(r.Out, pid) || !strings.Contains(r.Out, "worker") {
		t.Errorf("ps -s worker:\n%s", r.Out)
	}
	if r = e.mustRun("ps", "-a", "demo", "--release", "RNOSUCH"); strings.Count(r.Out, "\n") != 1 {
		t.Errorf("ps --release RNOSUCH lists processes:\n%s", r.Out)
	}

	// The detached process is there to exec into, with or without the
	// image's entrypoint.
	contains(t, "exec --entrypoint true", e.mustRun("exec", pid, "printenv", "--entrypoint", "true", "-a", "demo").Out,
		"CONVOX_ENTRYPOINT=/app/bin/entrypoint\n")
	if r := e.mustRun("exec", pid, "printenv", "-a", "demo"); strings.Contains(r.Out, "CONVOX_ENTRYPOINT") {
		t.Errorf("exec without --entrypoint ran it:\n%s", r.Out)
	}
	if r := e.mustRun("exec", pid, "--entrypoint", "echo", "from-entrypoint", "-a", "demo"); r.Out != "from-entrypoint\n" {
		t.Errorf("exec --entrypoint echo: %q", r.Out)
	}
	r = e.mustRun("run", "web", "printenv", "--env", "EXTRA=1,MORE=two", "--entrypoint", "true", "-a", "demo")
	contains(t, "run --env --entrypoint", r.Out, "EXTRA=1\n", "MORE=two\n", "CONVOX_ENTRYPOINT=/app/bin/entrypoint\n")
}

// TestFlagsLogsFollowByDefault: logs follows without -f, as upstream, and
// --no-follow ends after the lines there are, all of them by default.
func TestFlagsLogsFollowByDefault(t *testing.T) {
	t.Parallel()
	e, _ := streamEnv(t)
	r := e.mustRun("logs", "--no-follow", "-a", "demo")
	contains(t, "logs --no-follow", r.Out, "listening on :3000", "release RDEMOSEEDAA promoted")
	if r := e.mustRun("logs", "--no-follow", "--since", "2m", "-a", "demo"); strings.Contains(r.Out, "promoted") {
		t.Errorf("logs --since 2m shows the hour-old line:\n%s", r.Out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.cmd(ctx, "logs", "-a", "demo")
	var out, errb lockedBuffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "followed lines without -f", 15*time.Second, func() bool { return strings.Contains(out.String(), "(follow 1)") })
	_ = c.Process.Signal(os.Interrupt)
	if err := c.Wait(); err != nil {
		t.Fatalf("Ctrl-C: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
}

// TestFlagsSeveralRacksVersionHelp: deploy-approval list -r all and -r a,b,
// version's upstream lines, and help's aligned command column.
func TestFlagsSeveralRacksVersionHelp(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	adm := newEnv(t)
	adm.sb = sb
	adm.login("prod", admin)
	adm.login("staging", admin)
	tok := strings.TrimSpace(adm.mustRun("api-token", "create", "--name", "ci", "--role", "cicd", "--output", "token",
		"--mfa-code", totpCodes.next(t, sb, admin)).Out)
	ci := newEnv(t)
	ci.sb = sb
	ci.set("RACK_GATEWAY_API_TOKEN", tok)
	ci.set("RACK_GATEWAY_URL", sb.URL)
	ci.set("RACK_GATEWAY_RACK", "prod")
	r := ci.mustRun("deploy-approval", "request", "-a", "demo", "--message", "m", "--git-commit", natSHA)
	id := regexp.MustCompile(`[0-9a-f-]{36}`).FindString(r.Out)
	// Both racks are the same gateway here, so each lists the request.
	for _, racks := range []string{"all", "staging,prod"} {
		r = adm.mustRun("deploy-approval", "list", "-r", racks)
		if !strings.HasPrefix(r.Out, "RACK ") || !regexp.MustCompile(`(?m)^prod +`+id+`  pending`).MatchString(r.Out) ||
			!regexp.MustCompile(`(?m)^staging +`+id+`  pending`).MatchString(r.Out) {
			t.Errorf("deploy-approval list -r %s:\n%s", racks, r.Out)
		}
	}
	r = adm.mustRun("deploy-approval", "show", id, "-r", "all")
	contains(t, "show -r all", r.Out, "Rack:     ", "ID:       "+id+"\n")

	r = adm.mustRun("version")
	matches(t, "version", r.Out, `^client: .+\ngateway: sandbox-0\.1\.0 \(sandbox\)\nserver: 3\.21\.3\nagent: .+\n$`)

	help := adm.mustRun("help").Out
	col := -1
	for _, l := range strings.Split(help, "\n") {
		name, _, ok := strings.Cut(strings.TrimSpace(l), "  ")
		if !ok || !strings.HasPrefix(l, "  ") || strings.HasPrefix(strings.TrimSpace(l), "-") {
			continue
		}
		if i := strings.Index(l, name) + len(name); col < 0 {
			col = len(l) - len(strings.TrimLeft(l[i:], " "))
		} else if at := len(l) - len(strings.TrimLeft(l[i:], " ")); at != col {
			t.Errorf("help: %q's text starts at column %d, the others at %d", name, at, col)
		}
	}
	if !strings.Contains(help, "  deploy-approval approve  ") {
		t.Errorf("help: no aligned deploy-approval approve line:\n%s", help)
	}
}
