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
	"github.com/rack-gateway/rack-gateway/agent/crash"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerStreams(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "logs", Usage: "logs [-a app] [--since 10m] [--filter text] [--no-follow]", MaxArgs: 0,
		Short: "Show an app's logs and follow them until Ctrl-C",
		Long: `Show an app's logs, all of them unless --since says how far back, and keep
following new lines until Ctrl-C, as upstream does; --no-follow stops after
the lines there are. -f/--follow is upstream's flag for the default.`,
		Bind: bindRun(runLogs),
	})
	r.Add(&kit.Command{
		Name: "builds logs", Usage: "builds logs [-a app] <id>", MinArgs: 1, MaxArgs: 1, ArgHint: "a build id",
		Short: "Show a build's output",
		Bind:  bindRun(runBuildLogs),
	})
	r.Add(&kit.Command{
		Name: "exec", Usage: "exec [-a app] [--entrypoint true|false|CMD] <pid> <command...>", MinArgs: 2, MaxArgs: -1,
		ArgHint: "a process id and a command",
		Short:   "Run a command in a running process (step-up MFA)",
		Long: `Run a command in a running process and exit with its exit status.

Flags may stand anywhere, as in the upstream CLI. The remote command is the
arguments after <pid>: quote it ('ls -la') or put it after "--"
(exec <pid> -- ls -la) so its own flags are not read as ours. In a terminal
the session is interactive: your terminal switches to raw mode and Ctrl-C
goes to the remote command.

--entrypoint true runs the command through the image's entrypoint, false
(the rack's default) without it; any other value replaces the entrypoint:
the command runs as "<value> <command>".`,
		Bind: bindRun(runExec),
	})
	r.Add(&kit.Command{
		Name: "run", Usage: "run [-a app] [--release R] [-d] [--env K=V] [--entrypoint true|false|CMD] <service> <command...>", MinArgs: 2, MaxArgs: -1,
		ArgHint: "a service and a command",
		Short:   "Run a command in a new one-off process of a service (step-up MFA)",
		Long: `Start a one-off process of a service, run a command in it, then stop it.
The command's exit status becomes this command's.

Flags may stand anywhere; the remote command is the arguments after
<service>, quoted ('echo hi') or after "--".

With -d/--detach the process runs the command itself, in the background:
the process id is printed and nothing waits for it or stops it. --env adds
variables to the process's env (repeat it or separate pairs with commas);
--entrypoint is as for exec.`,
		Bind: bindRun(runRun),
	})
}

// logsOptions are the flags of logs. Following is the default, as the
// rack does it for upstream's CLI (which sends no Follow header); -f is
// kept for the command lines that ask for it anyway.
type logsOptions struct {
	appOption
	follow   bool
	noFollow bool
	since    time.Duration
	filter   string
}

func (o *logsOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	fs.StringVar(&o.filter, "filter", "", "Only lines containing this text")
	fs.BoolVarP(&o.follow, "follow", "f", false, "Keep streaming new lines until Ctrl-C (the default)")
	fs.BoolVar(&o.noFollow, "no-follow", false, "Stop after the lines there are instead of following")
	fs.DurationVar(&o.since, "since", 0, "Only lines newer than this, e.g. 10m (default: all)")
}

// entrypointOption is --entrypoint, upstream's string flag: "true" and
// "false" say whether the rack runs the command through the image's
// entrypoint (the Entrypoint header); any other value is an entrypoint of
// the user's own, put before the command. Not given, no header is sent
// and the rack decides (Convox: without it).
type entrypointOption struct{ entrypoint optionalString }

func (o *entrypointOption) bind(fs *pflag.FlagSet) {
	fs.Var(&o.entrypoint, "entrypoint", "true: through the image's entrypoint; false: without; else an entrypoint to run the command with")
}

// apply returns the command to send and the Entrypoint header value ("" for
// none).
func (o entrypointOption) apply(command string) (string, string) {
	if !o.entrypoint.set {
		return command, ""
	}
	switch v := strings.TrimSpace(o.entrypoint.val); strings.ToLower(v) {
	case "true", "false":
		return command, strings.ToLower(v)
	case "":
		return command, "false"
	default:
		return v + " " + command, "false"
	}
}

// execOptions are the flags of exec.
type execOptions struct {
	appOption
	entrypointOption
}

func (o *execOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	o.entrypointOption.bind(fs)
}

// runOptions are the flags of run.
type runOptions struct {
	appOption
	entrypointOption
	release string
	detach  bool
	env     []string
}

func (o *runOptions) bind(fs *pflag.FlagSet) {
	o.appOption.bind(fs)
	fs.StringVar(&o.release, "release", "", "Release to run (default: the app's current release)")
	fs.BoolVarP(&o.detach, "detach", "d", false, "Start the process with the command and print its id instead of attaching")
	fs.StringSliceVar(&o.env, "env", nil, "KEY=VALUE to add to the process's env (repeatable)")
	o.entrypointOption.bind(fs)
}

// environment checks --env and encodes it as the Environment header
// (url-encoded pairs, as the Convox SDK sends a map).
func (o *runOptions) environment(cmd *kit.Command) (string, error) {
	q := url.Values{}
	for _, kv := range o.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t\n") {
			return "", kit.UsageErr(cmd, "invalid --env %q: expected KEY=VALUE", kv)
		}
		q.Set(k, v)
	}
	return q.Encode(), nil
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }

func runLogs(ctx context.Context, x *kit.Ctx, o *logsOptions) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	if o.follow && o.noFollow {
		return kit.UsageErr(x.Cmd, "use either --follow or --no-follow, not both")
	}
	h := http.Header{}
	h.Set("Follow", strconv.FormatBool(!o.noFollow))
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

func runExec(ctx context.Context, x *kit.Ctx, o *execOptions) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	command, entry := o.apply(strings.Join(x.Args[1:], " "))
	code, err := execIn(ctx, x, t, appName(x, o.appOption), x.Args[0], command, entry)
	if err != nil {
		return err
	}
	x.Status = code
	return nil
}

// execIn runs command in process pid and returns its exit code. With a
// terminal on stdin the session is interactive (Tty: true) and the user's
// terminal goes raw for its duration; stdin is always relayed, as the
// upstream CLI does, ending with the EOF message when it ends. entrypoint
// is the Entrypoint header, "" for none.
func execIn(ctx context.Context, x *kit.Ctx, t *kit.Target, app, pid, command, entrypoint string) (int, error) {
	tty := x.Term.TTY().Stdin
	h := http.Header{}
	h.Set("Command", command)
	if entrypoint != "" {
		h.Set("Entrypoint", entrypoint)
	}
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
	// A bug in the stdin pump ends this stream, not the agent.
	crash.Go("exec stdin", func() { c.SendStdin(x.Term.Stdin()) }, c.Close)
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
	env, err := o.environment(x.Cmd)
	if err != nil {
		return err
	}
	app, svc := appName(x, o.appOption), x.Args[0]
	command, entry := o.apply(strings.Join(x.Args[1:], " "))
	release := o.release
	// Start, exec and stop are all step-up: the first of them meets the
	// need (one prompt, one use of --mfa-code) and the rest ride the window.
	h := http.Header{}
	// Attached, the process only sleeps: the gateway lets "sleep 3600"
	// (or an approved command) start a process, and the real command runs
	// through exec. Detached, the process runs the command itself.
	h.Set("Command", "sleep 3600")
	if o.detach {
		h.Set("Command", command)
	}
	if release != "" {
		h.Set("Release", release)
	}
	if env != "" {
		h.Set("Environment", env)
	}
	if sz := x.Term.Size(); x.Term.TTY().Stdin && sz.Cols > 0 && sz.Rows > 0 {
		h.Set("Height", strconv.Itoa(sz.Rows))
		h.Set("Width", strconv.Itoa(sz.Cols))
	}
	var p process
	path := stepup.ProxyPrefix + "/apps/" + seg(app) + "/services/" + seg(svc) + "/processes"
	if o.detach {
		// Upstream's one step line, ending with the new process's id.
		return runStep(x, "Running detached process", func() (string, error) {
			if err := streamJSON(ctx, x, t, http.MethodPost, path, h, &p); err != nil {
				return "", err
			}
			if p.ID == "" {
				return "", ipc.Errorf(ipc.CodeGateway, "the rack started a process but did not say its id")
			}
			return p.ID, nil
		})
	}
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
	code, err := execIn(ctx, x, t, app, p.ID, command, entry)
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
