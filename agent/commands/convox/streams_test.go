package convox_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// logs sends --since and --filter to the rack and prints its prefixed
// lines. As upstream, there is no default window: the hour-old release
// line is there unless --since leaves it out.
func TestLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.Run("logs", "--no-follow", "-a", app)
	wantOut(t, r, " service/web/"+convoxfake.SeedWebPID+" booting web\n", "service/worker/"+convoxfake.SeedWorkerPID+" waiting for jobs\n",
		"release "+convoxfake.SeedReleaseID+" promoted")
	r = e.Run("logs", "--no-follow", "--since", "2m", "-a", app)
	wantOut(t, r, "booting web")
	if strings.Contains(r.Out, "promoted") {
		t.Errorf("a line older than --since 2m:\n%s", r.Out)
	}
	r = e.Run("logs", "--no-follow", "-a", app, "--filter", "worker")
	wantOut(t, r, "booting worker")
	if strings.Contains(r.Out, "booting web") {
		t.Errorf("--filter worker shows web lines:\n%s", r.Out)
	}
	wantErr(t, e.Run("logs", "--since", "soon", "-a", app), ipc.CodeUsage, `invalid argument "soon" for "--since" flag`)
	wantErr(t, e.Run("logs", "-f", "--no-follow", "-a", app), ipc.CodeUsage, "either --follow or --no-follow")
}

// logs follows by default, as upstream (-f only says so again), until
// Ctrl-C, which ends it with success.
func TestLogsFollowEndsOnInterrupt(t *testing.T) {
	t.Parallel()
	for _, argv := range [][]string{{"logs", "-a", app}, {"logs", "-f", "-a", app}} {
		e := newEnv(t)
		ctx, cancel := context.WithCancel(t.Context())
		term := &hookTerm{Term: &kittest.Term{}, onOut: func(sofar string) {
			if strings.Contains(sofar, "(follow 1)") {
				cancel()
			}
		}}
		res, err := runOn(ctx, e, term, argv...)
		cancel()
		if err != nil || res.Status != 0 || !strings.Contains(term.stdout(), "booting web") || !strings.Contains(term.stdout(), "(follow 1)") {
			t.Fatalf("%q: %v (status %d)\n%s", argv, err, res.Status, term.stdout())
		}
	}
}

// exec runs the remote command after the pid, relays stdin and exits with
// the command's status; -a may come after the pid.
func TestExec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := convoxfake.SeedWebPID
	if r := e.Run("exec", pid, "-a", app, "--", "echo", "hi", "-n"); r.Error != nil || r.Out != "hi -n\n" {
		t.Fatalf("exec -- echo: %s", r)
	}
	if r := e.Run("exec", "-a", app, pid, "exit 3"); r.Error != nil || r.Code() != 3 {
		t.Fatalf("exec 'exit 3': exit %d, %s", r.Code(), r)
	}
	r := e.RunWith(&kittest.Term{In: strings.NewReader("from stdin\n")}, "exec", pid, "cat", "-a", app)
	if r.Error != nil || r.Out != "from stdin\n" {
		t.Fatalf("exec cat: %s", r)
	}
	if r := e.Run("exec", "web-nosuch", "true", "-a", app); r.Error == nil {
		t.Fatalf("exec in an unknown process: %s", r)
	}
	wantErr(t, e.Run("exec", pid, "-a", app), ipc.CodeUsage, "exec requires a process id and a command")
}

// exec --entrypoint: true runs the command through the image's entrypoint
// (the fake's exports CONVOX_ENTRYPOINT), false and no flag without it,
// and any other value is an entrypoint of the user's, run before the
// command.
func TestExecEntrypoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := convoxfake.SeedWebPID
	marker := "CONVOX_ENTRYPOINT=" + convoxfake.Entrypoint + "\n"
	wantOut(t, e.Run("exec", pid, "printenv", "--entrypoint", "true", "-a", app), marker)
	for _, argv := range [][]string{{"exec", pid, "printenv", "-a", app}, {"exec", pid, "printenv", "--entrypoint=false", "-a", app}} {
		if r := e.MustRun(argv...); strings.Contains(r.Out, "CONVOX_ENTRYPOINT") {
			t.Errorf("%q ran the entrypoint:\n%s", argv, r.Out)
		}
	}
	if r := e.MustRun("exec", pid, "--entrypoint", "echo", "-a", app, "hello"); r.Out != "hello\n" {
		t.Errorf("exec --entrypoint echo hello: %q", r.Out)
	}
	if r := e.MustRun("exec", pid, "--entrypoint", "sh -c", "-a", app, "'exit 0'"); r.Code() != 0 {
		t.Errorf("exec --entrypoint 'sh -c': %s", r)
	}
}

// A stream that drops before the exit status says the remote command may
// still be running, instead of hanging or claiming a status.
func TestExecLostStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Sandbox.Rack().DropNextWebSocket()
	r := e.Run("exec", convoxfake.SeedWebPID, "echo hi", "-a", app)
	wantErr(t, r, ipc.CodeGateway, "")
	if !strings.Contains(r.Error.Hint, "may still be running") {
		t.Fatalf("dropped exec: %s (hint %q)", r, r.Error.Hint)
	}
}

// run starts a one-off process on --release (flags after the command),
// runs the command in it, exits with its status and stops the process.
func TestRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	env := rackEnv(t, e)
	env["ONLY_IN_R2"] = "yes"
	rel, err := e.Sandbox.Rack().CreateRelease(app, env, "r2")
	if err != nil {
		t.Fatal(err)
	}
	r := e.Run("run", "web", "printenv", "--app", app, "--release", rel.ID)
	wantOut(t, r, "RELEASE="+rel.ID+"\n", "ONLY_IN_R2=yes\n", "SERVICE=web\n")
	// Without --release the app's current release runs.
	wantOut(t, e.Run("run", "-a", app, "worker", "--", "printenv"), "RELEASE="+convoxfake.SeedReleaseID+"\n", "SERVICE=worker\n")
	if r := e.Run("run", "web", "exit 4", "-a", app); r.Error != nil || r.Code() != 4 {
		t.Fatalf("run 'exit 4': exit %d, %s", r.Code(), r)
	}
	// A one-off process the rack already removed is what stopping it is
	// for: no warning about it.
	e.Sandbox.Rack().EndOneOffsOnExit()
	if r := e.Run("run", "web", "true", "-a", app); r.Error != nil || strings.Contains(r.Err, "Warning") {
		t.Fatalf("run of a process already gone: %s", r)
	}
	var ps []struct{ Id string }
	decode(t, e.Run("ps", "-a", app, "--output", "json"), &ps)
	if len(ps) != 2 {
		t.Fatalf("one-off processes were left running: %+v", ps)
	}
	if r := e.Run("run", "web", "true", "-a", app, "--release", "RNOSUCH"); r.Error == nil || !strings.Contains(r.Error.Message, "RNOSUCH") {
		t.Fatalf("run on an unknown release: %s", r)
	}
}

// run --env adds variables to the one-off process's env; --entrypoint is
// exec's.
func TestRunEnvAndEntrypoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.Run("run", "web", "printenv", "--env", "ONE=1", "--env", "TWO=a=b,THREE=3", "-a", app)
	wantOut(t, r, "ONE=1\n", "TWO=a=b\n", "THREE=3\n", "FOO=bar\n")
	if strings.Contains(r.Out, "CONVOX_ENTRYPOINT") {
		t.Errorf("run without --entrypoint ran the entrypoint:\n%s", r.Out)
	}
	wantOut(t, e.Run("run", "web", "printenv", "--entrypoint", "true", "-a", app), "CONVOX_ENTRYPOINT="+convoxfake.Entrypoint+"\n")
	if r := e.MustRun("run", "web", "hi", "--entrypoint", "echo", "-a", app); r.Out != "hi\n" {
		t.Errorf("run --entrypoint echo hi: %q", r.Out)
	}
	wantErr(t, e.Run("run", "web", "true", "--env", "NOVALUE", "-a", app), ipc.CodeUsage, `invalid --env "NOVALUE": expected KEY=VALUE`)
}

// run -d starts the process with the command itself and prints its id on
// upstream's step line; it neither attaches nor stops the process.
func TestRunDetach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.MustRun("run", "-d", "worker", "sleep", "600", "-a", app)
	m := regexp.MustCompile(`^Running detached process\.\.\. OK, (worker-\w+)\n$`).FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("run -d:\n%q", r.Out)
	}
	var ps []struct{ Id, Command, Status string }
	decode(t, e.Run("ps", "-a", app, "--service", "worker", "--output", "json"), &ps)
	found := false
	for _, p := range ps {
		found = found || (p.Id == m[1] && p.Command == "sleep 600" && p.Status == "running")
	}
	if !found {
		t.Fatalf("the detached process is not running the command: %+v", ps)
	}
	if n := e.Sandbox.RequestCount("GET", "/api/v1/rack-proxy/apps/"+app+"/processes/"+m[1]+"/exec"); n != 0 {
		t.Errorf("run -d attached (%d execs)", n)
	}
	r = e.MustRun("run", "web", "--detach", "--env", "A=1", "echo", "hi", "-a", app)
	if !strings.HasPrefix(r.Out, "Running detached process... OK, web-") {
		t.Fatalf("run --detach:\n%q", r.Out)
	}
}
