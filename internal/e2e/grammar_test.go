package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Flags after the service reach the rack: run once ran "--app api echo hi"
// on the app named by .convox/app and dropped --release.
func TestRunFlagsAfterTheService(t *testing.T) {
	t.Parallel()
	e, sb := streamEnv(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".convox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".convox", "app"), []byte("wrong\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A release the rack does not know: the error names it, so both the
	// app and the release were in the request.
	r := e.runIn(dir, "run", "web", "--app", "demo", "--release", "RNOPE", "echo hi")
	if r.Code != 1 || !strings.Contains(r.Err, "no such release: RNOPE") || strings.Contains(r.Err, "wrong") {
		t.Fatalf("run with --app and --release after the service: %s", r)
	}
	before := sb.requests(t)["POST /api/v1/rack-proxy/apps/demo/services/web/processes"]
	r = e.runIn(dir, "run", "web", "echo hi", "--app", "demo", "--release", "RDEMOSEEDAA")
	if r.Code != 0 || r.Out != "hi\n" {
		t.Fatalf("run with flags after the command: %s", r)
	}
	if d := sb.requests(t)["POST /api/v1/rack-proxy/apps/demo/services/web/processes"] - before; d != 1 {
		t.Errorf("%d process starts on demo, want 1", d)
	}
	// Flags between command words, as the upstream CLI takes them.
	r = e.runIn(dir, "env", "-a", "demo", "get", "FOO")
	if r.Code != 0 {
		t.Errorf("env -a demo get FOO: %s", r)
	}
	if r = e.runIn(dir, "-a", "demo", "env"); r.Code != 0 {
		t.Errorf("-a demo env: %s", r)
	}
}
