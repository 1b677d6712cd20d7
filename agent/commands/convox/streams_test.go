package convox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// logs sends --since and --filter to the rack and prints its prefixed
// lines; the default window (2m) leaves out the hour-old release line.
func TestLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.Run("logs", "-a", app)
	wantOut(t, r, " service/web/"+convoxfake.SeedWebPID+" booting web\n", "service/worker/"+convoxfake.SeedWorkerPID+" waiting for jobs\n")
	if strings.Contains(r.Out, "promoted") {
		t.Errorf("a line older than --since 2m:\n%s", r.Out)
	}
	wantOut(t, e.Run("logs", "--since", "0", "-a", app), "release "+convoxfake.SeedReleaseID+" promoted")
	r = e.Run("logs", "-a", app, "--filter", "worker")
	wantOut(t, r, "booting worker")
	if strings.Contains(r.Out, "booting web") {
		t.Errorf("--filter worker shows web lines:\n%s", r.Out)
	}
	wantErr(t, e.Run("logs", "--since", "soon", "-a", app), ipc.CodeUsage, `invalid argument "soon" for "--since" flag`)
}

// A followed stream runs until Ctrl-C, which ends it with success.
func TestLogsFollowEndsOnInterrupt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	term := &hookTerm{Term: &kittest.Term{}, onOut: func(sofar string) {
		if strings.Contains(sofar, "(follow 1)") {
			cancel()
		}
	}}
	res, err := runOn(ctx, e, term, "logs", "-f", "-a", app)
	if err != nil || res.Status != 0 || !strings.Contains(term.stdout(), "booting web") {
		t.Fatalf("logs -f: %v (status %d)\n%s", err, res.Status, term.stdout())
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
