package convox_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/convox"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func TestApps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.MustRun("apps")
	wantOut(t, r, "APP", "STATUS", "RELEASE", app, convoxfake.SeedReleaseID)
	if r.Rack != kittest.Rack {
		t.Errorf("rack %q, want %q", r.Rack, kittest.Rack)
	}
	var apps []struct{ Name, Status string }
	decode(t, e.Run("apps", "--output", "json"), &apps)
	if len(apps) != 1 || apps[0].Name != app || apps[0].Status != "running" {
		t.Fatalf("apps --output json: %+v", apps)
	}
}

func TestAppsInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantOut(t, e.MustRun("apps", "info", app), "Name        "+app, "Status      running", "Release     "+convoxfake.SeedReleaseID)
	// Without an argument -a names the app; flags may come first.
	var a struct{ Name, Release string }
	decode(t, e.Run("apps", "info", "--output", "json", "-a", app), &a)
	if a.Name != app || a.Release != convoxfake.SeedReleaseID {
		t.Fatalf("apps info --output json: %+v", a)
	}
	wantErr(t, e.Run("apps", "info", "nosuch"), ipc.CodeNotFound, "nosuch")
}

// Deleting needs the gateway's destructive-action policy; with it, the
// command waits until the rack no longer knows the app.
func TestAppsDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.Run("apps", "delete", app); r.Error == nil || !strings.Contains(r.Error.Message, "Destructive") {
		t.Fatalf("delete without the policy: %s", r)
	}
	e.Sandbox.SetAllowDestructiveActions(true)
	wantOut(t, e.Run("apps", "delete", app), "Deleting "+app+"... OK")
	if e.Sandbox.Rack().HasApp(app) {
		t.Fatal("the app is still there")
	}
	wantErr(t, e.Run("apps", "delete"), ipc.CodeUsage, "apps delete requires an app name")
}

func TestPs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Upstream's columns, no CPU or MEM, and its relative times: the seed
	// processes started an hour ago.
	wantOut(t, e.Run("ps", "-a", app), ""+
		"ID             SERVICE  STATUS   RELEASE      STARTED     COMMAND\n"+
		convoxfake.SeedWebPID+"     web      running  "+convoxfake.SeedReleaseID+"  1 hour ago\n"+
		convoxfake.SeedWorkerPID+"  worker   running  "+convoxfake.SeedReleaseID+"  1 hour ago\n")
	if r := e.MustRun("ps", "-a", app); strings.Contains(r.Out, "CPU") || strings.Contains(r.Out, "%") {
		t.Errorf("ps shows CPU or MEM:\n%s", r.Out)
	}
	var ps []struct{ Id, Name string }
	decode(t, e.Run("ps", "--output", "json", "--app", app), &ps)
	if len(ps) != 2 {
		t.Fatalf("ps --output json: %+v", ps)
	}
}

// ps -s/--service and --release have the rack list only those processes;
// upstream's --all is accepted and lists them all, as without it.
func TestPsFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := func(argv ...string) []string {
		t.Helper()
		var ps []struct{ Id string }
		decode(t, e.Run(append(argv, "-a", app, "--output", "json")...), &ps)
		var out []string
		for _, p := range ps {
			out = append(out, p.Id)
		}
		return out
	}
	if got := ids("ps", "--service", "worker"); len(got) != 1 || got[0] != convoxfake.SeedWorkerPID {
		t.Errorf("ps --service worker: %v", got)
	}
	if got := ids("ps", "-s", "web"); len(got) != 1 || got[0] != convoxfake.SeedWebPID {
		t.Errorf("ps -s web: %v", got)
	}
	if got := ids("ps", "--release", convoxfake.SeedReleaseID, "-s", "web"); len(got) != 1 {
		t.Errorf("ps --release seed -s web: %v", got)
	}
	if got := ids("ps", "--release", "RNOSUCH"); len(got) != 0 {
		t.Errorf("ps --release RNOSUCH: %v", got)
	}
	if got := ids("ps", "--all"); len(got) != 2 {
		t.Errorf("ps --all: %v", got)
	}
	r := e.MustRun("ps", "-a", app, "-s", "worker")
	if strings.Contains(r.Out, convoxfake.SeedWebPID) || !strings.Contains(r.Out, convoxfake.SeedWorkerPID) {
		t.Errorf("ps -s worker:\n%s", r.Out)
	}
}

// ps stop takes -a after the pid; the rack then replaces the process.
func TestPsStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantOut(t, e.Run("ps", "stop", convoxfake.SeedWebPID, "-a", app), "Stopping "+convoxfake.SeedWebPID+"... OK")
	if r := e.MustRun("ps", "-a", app); strings.Contains(r.Out, convoxfake.SeedWebPID) {
		t.Fatalf("the stopped process is still listed:\n%s", r.Out)
	}
	wantErr(t, e.Run("ps", "stop", "web-nosuch", "-a", app), ipc.CodeNotFound, "web-nosuch")
}

func TestRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.Run("restart", "-a", app)
	wantOut(t, r, "Restarting web... OK\nRestarting worker... OK\n")
}

// The app comes from -a, then $CONVOX_APP, then .convox/app in the
// caller's directory or a parent, then the directory's name; the caller's
// directory and environment count, never the agent's.
func TestAppResolution(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := t.TempDir()
	named := filepath.Join(root, app)
	nested := filepath.Join(root, "checkout", "sub")
	for _, d := range []string{named, filepath.Join(root, "checkout", ".convox"), nested} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "checkout", ".convox", "app"), []byte(app+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, cwd, convoxApp string
		argv                 []string
		want                 string // an app named in the error, "" for success on demo
	}{
		{name: "directory name", cwd: named},
		{name: ".convox/app in a parent", cwd: nested},
		{name: "$CONVOX_APP", cwd: root, convoxApp: app},
		{name: "-a over $CONVOX_APP", cwd: named, convoxApp: "nosuch", argv: []string{"-a", app}},
		{name: "$CONVOX_APP over the directory", cwd: named, convoxApp: "other", want: "other"},
		{name: "-a over the directory", cwd: named, argv: []string{"--app", "another"}, want: "another"},
	} {
		e.Cwd, e.Vars = c.cwd, map[string]string{}
		if c.convoxApp != "" {
			e.Vars["CONVOX_APP"] = c.convoxApp
		}
		r := e.Run(append([]string{"ps"}, c.argv...)...)
		switch {
		case c.want == "" && (r.Error != nil || !strings.Contains(r.Out, convoxfake.SeedWebPID)):
			t.Errorf("%s: %s", c.name, r)
		case c.want != "" && (r.Error == nil || !strings.Contains(r.Error.Message, c.want)):
			t.Errorf("%s: %s, want an error about %s", c.name, r, c.want)
		}
	}
	// Without a directory the app must be named.
	e.Cwd, e.Vars = "", map[string]string{}
	wantErr(t, e.Run("ps"), ipc.CodeUsage, "no app given and no working directory")
}

// scale without sizes lists; with them it changes only the sizes given
// and waits for the app; sizes are checked before anything is sent.
func TestScale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantOut(t, e.Run("scale", "-a", app), "SERVICE  DESIRED  RUNNING  CPU  MEMORY\nweb      1        1        256  512\nworker   1        1        128  256\n")
	wantOut(t, e.Run("scale", "web", "--count", "3", "-a", app), "Scaling web... OK\n")
	var ss []struct {
		Name               string
		Count, Cpu, Memory int
	}
	decode(t, e.Run("scale", "web", "-a", app, "--output", "json"), &ss)
	if len(ss) != 1 || ss[0].Count != 3 || ss[0].Cpu != 256 || ss[0].Memory != 512 {
		t.Fatalf("after --count 3: %+v", ss)
	}
	// --count 0 is a size too, not "leave it".
	wantOut(t, e.Run("scale", "--memory", "1024", "--count", "0", "web", "-a", app), "Scaling web... OK\n")
	decode(t, e.Run("scale", "web", "-a", app, "--output", "json"), &ss)
	if ss[0].Count != 0 || ss[0].Memory != 1024 || ss[0].Cpu != 256 {
		t.Fatalf("after --count 0 --memory 1024: %+v", ss)
	}
	wantErr(t, e.Run("scale", "--count", "2", "-a", app), ipc.CodeUsage, "service name required")
	wantErr(t, e.Run("scale", "web", "--cpu=-1", "-a", app), ipc.CodeUsage, "--cpu must not be negative")
	wantErr(t, e.Run("scale", "web", "--count", "x", "-a", app), ipc.CodeUsage, `invalid argument "x" for "--count" flag`)
	wantErr(t, e.Run("scale", "nosuch", "-a", app), ipc.CodeNotFound, `service "nosuch" not found in app demo`)
}

func TestRackInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantOut(t, e.Run("rack", "info"), "Name      "+convoxfake.Name+"\n", "Provider  local\n", "Version   "+convoxfake.Version+"\n")
	var s struct{ Name, Version string }
	decode(t, e.Run("rack", "info", "--output", "json"), &s)
	if s.Name != convoxfake.Name || s.Version != convoxfake.Version {
		t.Fatalf("rack info --output json: %+v", s)
	}
}

func TestInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The rack reports no allocatable sizes, so its cpu and memory are
	// shown as the fractions they are (upstream never divides by the
	// capacity): 0.12 and 0.34.
	wantOut(t, e.Run("instances"), ""+
		"ID                   STATUS   STARTED     PS  CPU     MEM     PUBLIC  PRIVATE\n"+
		"i-0a1b2c3d4e5f60718  running  3 days ago  1   12.00%  34.00%          10.0.1.11\n")
	var is []struct{ Id string }
	decode(t, e.Run("instances", "--output", "json"), &is)
	if len(is) != 2 {
		t.Fatalf("instances --output json: %+v", is)
	}
}

// Relative times read as upstream's ("1 hour ago", never "About an hour
// ago"), counts rounded down.
func TestRelTime(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "now"}, {1500 * time.Millisecond, "1 second ago"}, {59 * time.Second, "59 seconds ago"},
		{90 * time.Second, "1 minute ago"}, {2 * time.Minute, "2 minutes ago"}, {time.Hour, "1 hour ago"},
		{119 * time.Minute, "1 hour ago"}, {2 * time.Hour, "2 hours ago"}, {23 * time.Hour, "23 hours ago"},
		{day, "1 day ago"}, {72 * time.Hour, "3 days ago"}, {7 * day, "1 week ago"}, {20 * day, "2 weeks ago"},
		{30 * day, "1 month ago"}, {90 * day, "3 months ago"}, {400 * day, "1 year ago"}, {600 * day, "2 years ago"},
		{1500 * day, "4 years ago"}, {20000 * day, "a long while ago"}, {-3 * time.Minute, "3 minutes from now"},
	} {
		if got := convox.RelTime(c.d); got != c.want {
			t.Errorf("%v: %q, want %q", c.d, got, c.want)
		}
	}
}
