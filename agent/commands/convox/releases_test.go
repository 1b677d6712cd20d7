package convox_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// newRelease writes a release with env set (not promoted) and returns it.
func newRelease(t *testing.T, e *kittest.Env, kv string) string {
	t.Helper()
	return releaseOf(t, e.MustRun("env", "set", kv, "-a", app))
}

// appRelease is the release the app runs.
func appRelease(t *testing.T, e *kittest.Env) string {
	t.Helper()
	var a struct{ Release string }
	decode(t, e.Run("apps", "info", app, "--output", "json"), &a)
	return a.Release
}

// rackDo sends one request straight to the sandbox's rack, for a state
// the commands under test do not make themselves; it fails unless 2xx.
func rackDo(t *testing.T, e *kittest.Env, method, path string, form url.Values) []byte {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	e.Sandbox.Rack().ServeHTTP(w, req)
	if w.Code/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
	return w.Body.Bytes()
}

// updating makes the app report "updating" to its next read, as a rack
// does while it applies a change (here: a parameter).
func updating(t *testing.T, e *kittest.Env) {
	t.Helper()
	rackDo(t, e, http.MethodPut, "/apps/"+app, url.Values{"parameters": {"Flag=" + t.Name()}})
}

// releases marks the active one; -l/--limit bounds the list and may stand
// anywhere.
func TestReleases(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := newRelease(t, e, "A=1")
	r := e.MustRun("releases", "-a", app)
	wantOut(t, r, "ID", "STATUS", id, convoxfake.SeedReleaseID+"  active")
	var rs []struct{ Id string }
	decode(t, e.Run("releases", "--limit", "1", "-a", app, "--output", "json"), &rs)
	if len(rs) != 1 || rs[0].Id != id {
		t.Fatalf("releases --limit 1: %+v", rs)
	}
	decode(t, e.Run("releases", "-a", app, "--output", "json"), &rs)
	if len(rs) != 2 {
		t.Fatalf("releases: %+v", rs)
	}
	// -l is upstream's shorthand.
	decode(t, e.Run("releases", "-l", "1", "-a", app, "--output", "json"), &rs)
	if len(rs) != 1 || rs[0].Id != id {
		t.Fatalf("releases -l 1: %+v", rs)
	}
	if r := e.MustRun("releases", "-l", "1", "-a", app); strings.Contains(r.Out, convoxfake.SeedReleaseID) {
		t.Fatalf("releases -l 1 lists the seed release:\n%s", r.Out)
	}
	wantErr(t, e.Run("releases", "--limit", "many", "-a", app), ipc.CodeUsage, `invalid argument "many" for "-l, --limit" flag`)
}

func TestReleasesInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantOut(t, e.Run("releases", "info", convoxfake.SeedReleaseID, "-a", app),
		"Id           "+convoxfake.SeedReleaseID, "Build        "+convoxfake.SeedBuildID, "initial release", "FOO=bar")
	var rel struct{ Id, Build string }
	decode(t, e.Run("releases", "info", "-a", app, "--output", "json", convoxfake.SeedReleaseID), &rel)
	if rel.Id != convoxfake.SeedReleaseID || rel.Build != convoxfake.SeedBuildID {
		t.Fatalf("releases info --output json: %+v", rel)
	}
	wantErr(t, e.Run("releases", "info", "RNOSUCH", "-a", app), ipc.CodeNotFound, "RNOSUCH")
}

// promote without an id promotes the latest release; rollback copies an
// old one forward and promotes the copy. As upstream, "Promoting R... "
// ends its line and the OK follows on its own once the app runs it.
func TestReleasesPromoteAndRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := newRelease(t, e, "A=1")
	if r := e.MustRun("releases", "promote", "-a", app); r.Out != "Promoting "+id+"... \nOK\n" {
		t.Fatalf("releases promote:\n%q", r.Out)
	}
	if got := appRelease(t, e); got != id {
		t.Fatalf("after promote the app runs %s, want %s", got, id)
	}
	r := e.Run("releases", "rollback", convoxfake.SeedReleaseID, "-a", app)
	wantOut(t, r, "Rolling back to "+convoxfake.SeedReleaseID+"... OK, R")
	back := appRelease(t, e)
	if want := "Rolling back to " + convoxfake.SeedReleaseID + "... OK, " + back + "\nPromoting " + back + "... \nOK\n"; r.Out != want {
		t.Fatalf("rollback:\n%q\nwant\n%q", r.Out, want)
	}
	if back == id || back == convoxfake.SeedReleaseID {
		t.Fatalf("rollback: the app runs %s\n%s", back, r)
	}
	if env := rackEnv(t, e); env["A"] != "" || env["FOO"] != "bar" {
		t.Fatalf("the rolled-back env: %v", env)
	}
	wantErr(t, e.Run("releases", "rollback", "-a", app), ipc.CodeUsage, "requires a release id")
}

// --force promotes at once, without first waiting for an app that is not
// running; without it upstream's "Waiting for app to be ready" comes first.
// --wait is accepted on promote and rollback (both always wait).
func TestReleasesPromoteForceAndWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := newRelease(t, e, "A=1")
	updating(t, e)
	if r := e.MustRun("releases", "promote", id, "-a", app, "--wait"); r.Out != "Waiting for app to be ready... OK\nPromoting "+id+"... \nOK\n" {
		t.Fatalf("promote of an updating app:\n%q", r.Out)
	}
	id2 := newRelease(t, e, "A=2")
	updating(t, e)
	if r := e.MustRun("releases", "promote", id2, "--force", "-a", app); r.Out != "Promoting "+id2+"... \nOK\n" {
		t.Fatalf("promote --force:\n%q", r.Out)
	}
	if got := appRelease(t, e); got != id2 {
		t.Fatalf("after promote --force the app runs %s, want %s", got, id2)
	}
	r := e.MustRun("releases", "rollback", id, "--wait", "-a", app)
	wantOut(t, r, "Rolling back to "+id+"... OK, R", "... \nOK\n")
}

func TestBuilds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantOut(t, e.Run("builds", "-a", app), "ID", "ELAPSED", convoxfake.SeedBuildID, "complete", "initial build")
	var bs []struct{ Id, Status string }
	decode(t, e.Run("builds", "--output", "json", "--limit", "1", "-a", app), &bs)
	if len(bs) != 1 || bs[0].Id != convoxfake.SeedBuildID {
		t.Fatalf("builds --output json: %+v", bs)
	}
	// -l is upstream's shorthand: the newest build only.
	newBuild, _ := buildOf(t, e.MustRun("build", sourceDir(t), "-a", app))
	decode(t, e.Run("builds", "-l", "1", "--output", "json", "-a", app), &bs)
	if len(bs) != 1 || bs[0].Id != newBuild {
		t.Fatalf("builds -l 1: %+v, want %s", bs, newBuild)
	}
	wantOut(t, e.Run("builds", "info", convoxfake.SeedBuildID, "-a", app),
		"Id           "+convoxfake.SeedBuildID, "Status       complete", "Release      "+convoxfake.SeedReleaseID, "Elapsed      2m0s")
	var b struct{ Id, Release string }
	decode(t, e.Run("builds", "info", convoxfake.SeedBuildID, "--output", "json", "-a", app), &b)
	if b.Release != convoxfake.SeedReleaseID {
		t.Fatalf("builds info --output json: %+v", b)
	}
}

// builds logs streams the build's output over a websocket.
func TestBuildsLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantOut(t, e.Run("builds", "logs", convoxfake.SeedBuildID, "-a", app), "Building: .\n", "Step 1/3 : FROM sandbox/base:latest\n")
	if r := e.Run("builds", "logs", "BNOSUCH", "-a", app); r.Error == nil {
		t.Fatalf("an unknown build: %s", r)
	}
}
