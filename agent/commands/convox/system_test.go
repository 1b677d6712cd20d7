package convox_test

import (
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/convox"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/commands/session"
	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// The seeded rack's own processes, in the Convox CLI's rack ps columns;
// --all adds the apps' processes.
func TestRackPs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantExact(t, e.Run("rack", "ps"), ""+
		"ID             APP     SERVICE  STATUS   RELEASE  STARTED     COMMAND\n"+
		"api-5c9d7f     system  api      running  3.21.3   3 days ago\n"+
		"router-2b8e4a  system  router   running  3.21.3   3 days ago\n")
	wantExact(t, e.Run("rack", "ps", "--all"), ""+
		"ID             APP     SERVICE  STATUS   RELEASE      STARTED     COMMAND\n"+
		"api-5c9d7f     system  api      running  3.21.3       3 days ago\n"+
		"router-2b8e4a  system  router   running  3.21.3       3 days ago\n"+
		convoxfake.SeedWebPID+"     demo    web      running  "+convoxfake.SeedReleaseID+"  1 hour ago\n"+
		convoxfake.SeedWorkerPID+"  demo    worker   running  "+convoxfake.SeedReleaseID+"  1 hour ago\n")
	var ps []struct{ Id, App string }
	decode(t, e.Run("rack", "ps", "--output", "json", "--all"), &ps)
	if len(ps) != 4 || ps[0].Id != "api-5c9d7f" || ps[3].App != app {
		t.Fatalf("rack ps --output json: %+v", ps)
	}
}

// rack params is the rack's parameters as sorted key/value lines; params
// set merges what it is given and says so in upstream's step line.
func TestRackParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantExact(t, e.Run("rack", "params"), ""+
		"high_availability  false\n"+
		"node_type          t3.small\n"+
		"rack_name          sandbox\n"+
		"telemetry          false\n")
	wantExact(t, e.Run("rack", "params", "set", "telemetry=true", "syslog=tcp+tls://logs.example:6514"),
		"Updating parameters... OK\n")
	got := e.Sandbox.Rack().System().Parameters
	if got["telemetry"] != "true" || got["syslog"] != "tcp+tls://logs.example:6514" || got["rack_name"] != "sandbox" {
		t.Fatalf("parameters after set: %v", got)
	}
	var params map[string]string
	decode(t, e.Run("rack", "params", "--output", "json"), &params)
	if len(params) != 5 || params["syslog"] != "tcp+tls://logs.example:6514" {
		t.Fatalf("rack params --output json: %v", params)
	}
	// --wait rides the same step line until the rack runs again.
	wantExact(t, e.Run("rack", "params", "set", "high_availability=true", "--wait"), "Updating parameters... OK\n")
	if s := e.Sandbox.Rack().System(); s.Status != "running" || s.Parameters["high_availability"] != "true" {
		t.Fatalf("after --wait: %+v", s)
	}

	wantErr(t, e.Run("rack", "params", "set", "telemetry"), ipc.CodeUsage, "Key=Value expected: telemetry")
	wantErr(t, e.Run("rack", "params", "set"), ipc.CodeUsage, "rack params set requires Key=Value pairs")
	if n := e.Sandbox.RequestCount("PUT", "/api/v1/rack-proxy/system"); n != 2 {
		t.Errorf("%d PUT /system, want 2 (refused arguments send nothing)", n)
	}
}

// Without flags rack scale shows the rack's size as upstream lays it out;
// with --count or --type it changes only what was given.
func TestRackScale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Upstream prints the Autoscale line even when the rack has no such
	// parameter (a v3 rack), value and all.
	wantExact(t, e.Run("rack", "scale"), ""+
		"Autoscale  \n"+
		"Count      2\n"+
		"Status     running\n"+
		"Type       t3.small\n")
	wantExact(t, e.Run("rack", "scale", "--count", "3"), "Scaling rack... OK\n")
	if s := e.Sandbox.Rack().System(); s.Count != 3 || s.Type != "t3.small" {
		t.Fatalf("after --count: %+v", s)
	}
	wantExact(t, e.Run("rack", "scale", "--type", "t3.large"), "Scaling rack... OK\n")
	// The change reads "updating" once, then the rack runs again.
	wantOut(t, e.Run("rack", "scale"), "Count      3\n", "Status     updating\n", "Type       t3.large\n")
	var s struct {
		Count  int
		Status string
		Type   string
	}
	decode(t, e.Run("rack", "scale", "--output", "json"), &s)
	if s.Count != 3 || s.Status != "running" || s.Type != "t3.large" {
		t.Fatalf("rack scale --output json: %+v", s)
	}
	wantErr(t, e.Run("rack", "scale", "--count", "0"), ipc.CodeGateway, "invalid count: 0")
	wantErr(t, e.Run("rack", "scale", "--count", "x"), ipc.CodeUsage, "--count")
}

// rack update names the version; the rack records it and lists it first
// in rack releases.
func TestRackUpdateAndReleases(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantExact(t, e.Run("rack", "releases"), ""+
		"VERSION  UPDATED\n"+
		"3.21.3   2 days ago\n")
	wantExact(t, e.Run("rack", "update", "3.21.4", "--wait"), "Updating to 3.21.4... OK\n")
	if v := e.Sandbox.Rack().System().Version; v != "3.21.4" {
		t.Fatalf("version %q", v)
	}
	r := e.MustRun("rack", "releases")
	lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "3.21.4   ") || lines[2] != "3.21.3   2 days ago" {
		t.Fatalf("rack releases after the update:\n%s", r.Out)
	}
	var rs []struct{ Id string }
	decode(t, e.Run("rack", "releases", "--output", "json"), &rs)
	if len(rs) != 2 || rs[0].Id != "3.21.4" {
		t.Fatalf("rack releases --output json: %+v", rs)
	}
	wantOut(t, e.Run("rack", "info"), "Version   3.21.4")
	wantErr(t, e.Run("rack", "update"), ipc.CodeUsage, "rack update requires the version to update to")
	// Upstream's form: --version names the version (here, not the versions
	// command), also written --version=V.
	wantExact(t, e.Run("rack", "update", "--version", "3.21.5"), "Updating to 3.21.5... OK\n")
	wantExact(t, e.Run("rack", "update", "--version=3.21.6", "3.21.6"), "Updating to 3.21.6... OK\n")
	if v := e.Sandbox.Rack().System().Version; v != "3.21.6" {
		t.Fatalf("version after --version: %q", v)
	}
	wantErr(t, e.Run("rack", "update", "--version", "3.21.7", "3.21.8"), ipc.CodeUsage, "two versions given")
	// Other commands keep the global switch.
	if p, err := e.Registry.Parse([]string{"rack", "ps", "--version"}); err != nil || p.Flags.Lookup("version").Value.Type() != "bool" {
		t.Fatalf("rack ps --version: %v", err)
	}
}

// rack logs --no-follow prints the rack's lines with upstream's
// "<time> <source> <text>" prefix and ends; --filter and --since go to
// the rack.
func TestRackLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.MustRun("rack", "logs", "--no-follow")
	if !strings.Contains(r.Out, " system/k8s rack sandbox running 3.21.3\n") || !strings.Contains(r.Out, " system/k8s instance i-0a1b2c3d4e5f60719 healthy\n") {
		t.Fatalf("rack logs:\n%s", r.Out)
	}
	e.MustRun("rack", "scale", "--count", "4")
	r = e.MustRun("rack", "logs", "--follow=false", "--filter", "rack update")
	if lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n"); len(lines) != 1 || !strings.HasSuffix(lines[0], " system/rack rack update: count=4") {
		t.Fatalf("rack logs --filter:\n%s", r.Out)
	}
	// The seeded lines are under a minute old; --since 1s leaves only
	// what was logged just now.
	if r := e.MustRun("rack", "logs", "--no-follow", "--since", "1s"); strings.Contains(r.Out, "healthy") {
		t.Fatalf("rack logs --since 1s:\n%s", r.Out)
	}
	wantErr(t, e.Run("rack", "logs", "--since", "yesterday"), ipc.CodeUsage, `invalid --since "yesterday"`)
}

// PUT /system is step-up: with no window the server is asked first, then
// the person once; a user without rack:update is refused without a prompt.
func TestRackWritesNeedStepUp(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, false, convox.Register)
	// Reads need no MFA.
	e.MustRun("rack", "params")
	e.MustRun("rack", "ps")
	e.MustRun("rack", "releases")
	e.MustRun("rack", "logs", "--no-follow")
	if r := e.Run("rack", "update", "3.22.0"); r.Error == nil || r.Error.Code != ipc.CodeStepUpRequired {
		t.Fatalf("rack update without a terminal or window: %s", r)
	}
	term := &kittest.Term{Answers: []string{e.Sandbox.BackupCodes(admin)[0]}}
	r := e.RunWith(term, "rack", "update", "3.22.0")
	if r.Error != nil || len(r.Prompts) != 1 || !strings.Contains(r.Out, "Updating to 3.22.0... OK") {
		t.Fatalf("rack update with a prompt: %s (prompts %q)", r, r.Prompts)
	}
	// The window is open now: the next write needs nothing more.
	wantExact(t, e.Run("rack", "scale", "--count", "3"), "Scaling rack... OK\n")

	deployer := kittest.New(t, "deployer@example.com", false, convox.Register)
	term = &kittest.Term{Interactive: true}
	r = deployer.RunWith(term, "rack", "params", "set", "telemetry=true")
	if r.Error == nil || r.Error.Code != ipc.CodeForbidden || len(r.Prompts) != 0 {
		t.Fatalf("deployer rack params set: %s (prompts %q)", r, r.Prompts)
	}
	if got := deployer.Sandbox.Rack().System().Parameters["telemetry"]; got != "false" {
		t.Fatalf("a refused set changed telemetry to %q", got)
	}
}

// The rack-level commands are subcommands of "rack": "rack" alone and
// "rack info" still run, and an unknown word lists the subcommands.
func TestRackSubcommands(t *testing.T) {
	t.Parallel()
	e := kittest.New(t, admin, true, convox.Register, session.Register)
	wantOut(t, e.Run("rack"), kittest.Rack)
	wantOut(t, e.Run("rack", "info"), "Name      sandbox")
	r := e.Run("rack", "nosuch")
	wantErr(t, r, ipc.CodeUsage, `unknown command "nosuch" for "rack-gateway rack"`)
	for _, sub := range []string{"logs", "params", "params set", "ps", "releases", "scale", "update"} {
		if !strings.Contains(r.Error.Hint, sub) {
			t.Errorf("hint lacks %q: %s", sub, r.Error.Hint)
		}
	}
	for _, argv := range [][]string{{"rack", "params"}, {"rack", "ps"}, {"rack", "releases"}, {"rack", "scale"}} {
		wantErr(t, e.Run(append(argv, "--output", "yaml")...), ipc.CodeUsage, `unknown output format "yaml": use json`)
	}
}

// wantExact fails unless r succeeded with exactly this stdout.
func wantExact(t *testing.T, r kittest.Result, out string) {
	t.Helper()
	if r.Error != nil || r.Status != 0 {
		t.Fatalf("failed: %s", r)
	}
	if r.Out != out {
		t.Errorf("stdout:\n%q\nwant:\n%q", r.Out, out)
	}
}
