package convox_test

import (
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

// releases marks the active one; --limit bounds the list and may stand
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
	wantErr(t, e.Run("releases", "--limit", "many", "-a", app), ipc.CodeUsage, `invalid argument "many" for "--limit" flag`)
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
// old one forward and promotes the copy.
func TestReleasesPromoteAndRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := newRelease(t, e, "A=1")
	wantOut(t, e.Run("releases", "promote", "-a", app), "Promoting "+id+"... OK\n")
	if got := appRelease(t, e); got != id {
		t.Fatalf("after promote the app runs %s, want %s", got, id)
	}
	r := e.Run("releases", "rollback", convoxfake.SeedReleaseID, "-a", app)
	wantOut(t, r, "Rolling back to "+convoxfake.SeedReleaseID+"... OK, R")
	back := appRelease(t, e)
	if back == id || back == convoxfake.SeedReleaseID || !strings.Contains(r.Out, "Promoting "+back+"... OK") {
		t.Fatalf("rollback: the app runs %s\n%s", back, r)
	}
	if env := rackEnv(t, e); env["A"] != "" || env["FOO"] != "bar" {
		t.Fatalf("the rolled-back env: %v", env)
	}
	wantErr(t, e.Run("releases", "rollback", "-a", app), ipc.CodeUsage, "requires a release id")
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
