package convox

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerStreams(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "logs", Usage: "logs [-a app] [-f] [--since 2m] [--filter text]", MaxArgs: 0,
		Short: "Show an app's logs (with -f, keep following until Ctrl-C)",
		Bind:  bindRun(runLogs),
	})
	r.Add(&kit.Command{
		Name: "builds logs", Usage: "builds logs [-a app] <id>", MinArgs: 1, MaxArgs: 1, ArgHint: "a build id",
		Short: "Show a build's output",
		Bind:  bindRun(runBuildLogs),
	})
	r.Add(&kit.Command{
		Name: "exec", Usage: "exec [-a app] <pid> <command...>", MinArgs: 2, MaxArgs: -1,
		ArgHint: "a process id and a command",
		Short:   "Run a command in a running process (step-up MFA)",
		Long: `Run a command in a running process and exit with its exit status.

Flags may stand anywhere, as in the upstream CLI. The remote command is the
arguments after <pid>: quote it ('ls -la') or put it after "--"
(exec <pid> -- ls -la) so its own flags are not read as ours. In a terminal
the session is interactive: your terminal switches to raw mode and Ctrl-C
goes to the remote command.`,
		Bind: bindRun(runExec),
	})
	r.Add(&kit.Command{
		Name: "run", Usage: "run [-a app] [--release R] <service> <command...>", MinArgs: 2, MaxArgs: -1,
		ArgHint: "a service and a command",
		Short:   "Run a command in a new one-off process of a service (step-up MFA)",
		Long: `Start a one-off process of a service, run a command in it, then stop it.
The command's exit status becomes this command's.

Flags may stand anywhere; the remote command is the arguments after
<service>, quoted ('echo hi') or after "--".`,
		Bind: bindRun(runRun),
	})
}

// logsOptions are the flags of logs.
type logsOptions struct {
	appOption
	follow bool
	since  time.Duration
	filter string
}

func (o *logsOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	fs.BoolVarP(&o.follow, "follow", "f", false, "Keep streaming new lines until Ctrl-C")
	fs.DurationVar(&o.since, "since", 2*time.Minute, "Show lines newer than this (0 for all)")
	fs.StringVar(&o.filter, "filter", "", "Only lines containing this text")
}

// runOptions are the flags of run.
type runOptions struct {
	appOption
	release string
}

func (o *runOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	fs.StringVar(&o.release, "release", "", "Release to run (default: the app's current release)")
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }

func runLogs(ctx context.Context, x *kit.Ctx, o *logsOptions) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Follow", strconv.FormatBool(o.follow))
	h.Set("Prefix", "true") // the upstream CLI's "<time> <source> <text>" lines
	if o.since > 0 {
		h.Set("Since", o.since.String())
	}
	if o.filter != "" {
		h.Set("Filter", o.filter)
	}
	return followLogs(ctx, x, t, "/apps/"+seg(appName(x, o.appOption))+"/logs", h)
}

func runBuildLogs(ctx context.Context, x *kit.Ctx, o *appOption) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	path := "/apps/" + seg(appName(x, *o)) + "/builds/" + seg(x.Args[0]) + "/logs"
	return followLogs(ctx, x, t, path, http.Header{})
}

// followLogs copies a log stream to stdout. Ctrl-C (ctx cancelled) is how a
// followed stream normally ends, so it is a success (exit 0), as upstream.
func followLogs(ctx context.Context, x *kit.Ctx, t *kit.Target, path string, h http.Header) error {
	c, err := openStream(ctx, x, t, path, h)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer c.Close()
	err = c.Copy(ctx, x.Out)
	if ctx.Err() != nil {
		return nil
	}
	return streamErr(err, false)
}

func runExec(ctx context.Context, x *kit.Ctx, o *appOption) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	code, err := execIn(ctx, x, t, appName(x, *o), x.Args[0], strings.Join(x.Args[1:], " "))
	if err != nil {
		return err
	}
	x.Status = code
	return nil
}

// execIn runs command in process pid and returns its exit code. With a
// terminal on stdin the session is interactive (Tty: true) and the user's
// terminal goes raw for its duration; stdin is always relayed, as the
// upstream CLI does, ending with the EOF message when it ends.
func execIn(ctx context.Context, x *kit.Ctx, t *kit.Target, app, pid, command string) (int, error) {
	tty := x.Term.TTY().Stdin
	h := http.Header{}
	h.Set("Command", command)
	h.Set("Tty", strconv.FormatBool(tty))
	// Convox has no resize message on the exec stream: the size at the
	// start, which the CLI's resize messages keep current, is what the
	// remote terminal gets.
	if sz := x.Term.Size(); tty && sz.Cols > 0 && sz.Rows > 0 {
		h.Set("Height", strconv.Itoa(sz.Rows))
		h.Set("Width", strconv.Itoa(sz.Cols))
	}
	path := "/apps/" + seg(app) + "/processes/" + seg(pid) + "/exec"
	c, err := openStream(ctx, x, t, path, h)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	defer rawMode(x)()
	go c.SendStdin(x.Term.Stdin())
	code, err := c.Exec(ctx, x.Out)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, streamErr(err, true)
	}
	return code, nil
}

// process is the part of a Convox process run needs.
type process struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// runWait bounds the wait for a one-off process to start (upstream: 5
// minutes, polled every second).
const (
	runWait = 5 * time.Minute
	runPoll = time.Second
)

func runRun(ctx context.Context, x *kit.Ctx, o *runOptions) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	app, svc := appName(x, o.appOption), x.Args[0]
	command := strings.Join(x.Args[1:], " ")
	release := o.release
	// Start, exec and stop are all step-up: the first of them meets the
	// need (one prompt, one use of --mfa-code) and the rest ride the window.
	h := http.Header{}
	// The gateway only lets "sleep 3600" (or an approved command) start a
	// process; the real command runs through exec.
	h.Set("Command", "sleep 3600")
	if release != "" {
		h.Set("Release", release)
	}
	if sz := x.Term.Size(); x.Term.TTY().Stdin && sz.Cols > 0 && sz.Rows > 0 {
		h.Set("Height", strconv.Itoa(sz.Rows))
		h.Set("Width", strconv.Itoa(sz.Cols))
	}
	var p process
	path := stepup.ProxyPrefix + "/apps/" + seg(app) + "/services/" + seg(svc) + "/processes"
	if err := streamJSON(ctx, x, t, http.MethodPost, path, h, &p); err != nil {
		return err
	}
	if p.ID == "" {
		return ipc.Errorf(ipc.CodeGateway, "the rack started a process but did not say its id")
	}
	defer stopProcess(x, t, app, p.ID)
	if err := waitProcessRunning(ctx, x, t, app, p); err != nil {
		return err
	}
	code, err := execIn(ctx, x, t, app, p.ID, command)
	if err != nil {
		return err
	}
	x.Status = code
	return nil
}

// waitProcessRunning polls the process until the rack reports it running.
func waitProcessRunning(ctx context.Context, x *kit.Ctx, t *kit.Target, app string, p process) error {
	deadline := time.Now().Add(runWait)
	path := stepup.ProxyPrefix + "/apps/" + seg(app) + "/processes/" + seg(p.ID)
	for p.Status != "running" {
		if time.Now().After(deadline) {
			return ipc.Errorf(ipc.CodeGateway, "process %s did not start within %s (status %q)", p.ID, runWait, p.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(runPoll):
		}
		if err := streamJSON(ctx, x, t, http.MethodGet, path, nil, &p); err != nil {
			return err
		}
	}
	return nil
}

// stopProcess removes the one-off process even when the command failed or was
// interrupted: a forgotten "sleep 3600" would hold capacity for an hour.
func stopProcess(x *kit.Ctx, t *kit.Target, app, pid string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := stepup.ProxyPrefix + "/apps/" + seg(app) + "/processes/" + seg(pid)
	raw, err := x.Call(ctx, t, gateway.Request{Method: http.MethodDelete, Path: path})
	if err == nil && raw.Status/100 != 2 {
		err = kit.ResponseErr(t, http.MethodDelete, raw)
	}
	if err == nil {
		return
	}
	e := ipc.AsError(kit.GatewayErr(t, err))
	if e.Code == ipc.CodeNotFound {
		// The process ended on its own, which is what stopping it was
		// for; upstream says nothing either.
		return
	}
	x.Progress("Warning: could not stop process %s: %v", pid, e.Message)
}

// streamJSON sends one proxy request through Call and decodes the answer.
func streamJSON(ctx context.Context, x *kit.Ctx, t *kit.Target, method, path string, h http.Header, out any) error {
	raw, err := x.Call(ctx, t, gateway.Request{Method: method, Path: path, Header: h})
	if err != nil {
		return kit.GatewayErr(t, err)
	}
	if raw.Status/100 != 2 {
		return kit.ResponseErr(t, method, raw)
	}
	if err := json.Unmarshal(raw.Body, out); err != nil {
		return ipc.Errorf(ipc.CodeGateway, "unexpected answer from %s %s: %v", method, path, err)
	}
	return nil
}
