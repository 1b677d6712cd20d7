package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runStdin runs rack-gateway with stdin fed from data (no terminal).
func (e *env) runStdin(data []byte, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.cmd(ctx, args...)
	c.Stdin = bytes.NewReader(data)
	return e.runCmd(c)
}

// Every app-management command end to end through the agent, with the
// MFA each route needs: the writes without a window fail fast with no
// terminal, --mfa-code opens one, reads never ask.
func TestAppsManage(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)

	fails(t, e.run("apps", "create", "fresh"), 4, "Step-up")
	r := e.mustRun("apps", "create", "fresh", "--lock", "--mfa-code", totpCodes.next(t, sb, admin))
	if r.Out != "Creating fresh... OK\n" {
		t.Errorf("apps create: %s", r)
	}
	contains(t, "apps info", e.mustRun("apps", "info", "fresh").Out, "Status      running", "Locked      true")
	// The window is open now.
	if r := e.mustRun("apps", "unlock", "fresh"); r.Out != "Unlocking fresh... OK\n" {
		t.Errorf("apps unlock: %s", r)
	}
	if r := e.mustRun("apps", "lock", "-a", "fresh"); r.Out != "Locking fresh... OK\n" {
		t.Errorf("apps lock: %s", r)
	}

	if r := e.mustRun("apps", "params", "demo"); r.Out != "BuildCpu     256\nBuildLabels  \nBuildMem     1024\n" {
		t.Errorf("apps params: %q", r.Out)
	}
	var params map[string]string
	if err := json.Unmarshal([]byte(e.mustRun("apps", "params", "-a", "demo", "--output", "json").Out), &params); err != nil || params["BuildCpu"] != "256" {
		t.Errorf("apps params --output json: %v %v", err, params)
	}
	if r := e.mustRun("apps", "params", "set", "BuildCpu=512", "-a", "demo"); r.Out != "Updating parameters... \nOK\n" {
		t.Errorf("apps params set: %q", r.Out)
	}
	contains(t, "apps params after set", e.mustRun("apps", "params", "demo").Out, "BuildCpu     512\n")
	fails(t, e.run("apps", "params", "set", "BuildCpu", "-a", "demo"), 2, "Error: Key=Value expected: BuildCpu")

	r = e.mustRun("ps", "info", "web-4f7c2a", "-a", "demo")
	matches(t, "ps info", r.Out, `^Id        web-4f7c2a\nApp       demo\nCommand   \nInstance  i-0a1b2c3d4e5f60718\nRelease   RDEMOSEEDAA\nService   web\nStarted   1 hour ago\nStatus    running\n$`)
	var p map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("ps", "info", "worker-9b3e1d", "-a", "demo", "--output", "json").Out), &p); err != nil || p["name"] != "worker" {
		t.Errorf("ps info --output json: %v %v", err, p)
	}
	fails(t, e.run("ps", "info", "web-nosuch", "-a", "demo"), 1, "Error: no such process: web-nosuch\n")
}

// An export written to stdout is the tarball alone (its step line on
// stderr) and passes the agent's relay byte for byte; with -f it lands in
// the caller's directory. Importing it, from stdin or a file, makes a new
// build and release; the first import needs a step-up, which a terminal
// prompt meets, after which the whole body is sent again.
func TestBuildsExportImport(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)

	r := e.mustRun("builds", "export", "BDEMOSEEDAA", "-a", "demo")
	if !strings.HasPrefix(r.Out, "\x1f\x8b") || r.Err != "Exporting build... OK\n" {
		t.Fatalf("export to stdout: %d bytes, stderr %q", len(r.Out), r.Err)
	}
	piped := r.Out
	dir := t.TempDir()
	r = e.runIn(dir, "builds", "export", "BDEMOSEEDAA", "-a", "demo", "-f", "demo.tgz")
	if r.Code != 0 || r.Out != "Exporting build... OK\n" {
		t.Fatalf("export -f: %s", r)
	}
	file := filepath.Join(dir, "demo.tgz")
	data, err := os.ReadFile(file)
	if err != nil || string(data) != piped {
		t.Fatalf("exported file: %v (%d bytes, stdout had %d)", err, len(data), len(piped))
	}
	fails(t, e.run("builds", "export", "BNOPE", "-a", "demo"), 1, "Error: no such build: BNOPE\n")

	// The import is a write: a terminal prompts once, then the upload is
	// sent again whole.
	p := e.startPTY("import", "builds", "import", "-f", file, "-a", "demo")
	p.waitText("Enter TOTP code:", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	p.waitText("Importing build... OK, R", 10*time.Second)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	if out := p.Output(); strings.Count(out, "Enter TOTP code:") != 1 || strings.Count(out, "Importing build... OK") != 1 {
		t.Errorf("import under MFA:\n%s", out)
	}

	r = e.runStdin(data, "builds", "import", "-a", "demo", "--id")
	if r.Code != 0 || !strings.HasPrefix(r.Out, "R") || strings.Count(r.Out, "\n") != 1 || !strings.HasPrefix(r.Err, "Importing build... OK, R") {
		t.Fatalf("import --id from stdin: %s", r)
	}
	rel := strings.TrimSpace(r.Out)
	contains(t, "releases", e.mustRun("releases", "-a", "demo").Out, rel)
	fails(t, e.runStdin([]byte("not a tarball"), "builds", "import", "-a", "demo"), 2, "Error: stdin is not a build export (not gzip data)")
}
