// Package agent is the rack-gateway-agent program: the per-user daemon that
// owns sessions and runs commands (`run`), and the in-process runner used
// with API tokens and --no-agent (`exec`).
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/audit"
	"github.com/rack-gateway/rack-gateway/agent/commands"
	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/crash"
	"github.com/rack-gateway/rack-gateway/agent/server"
	"github.com/rack-gateway/rack-gateway/internal/buildinfo"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/localapi"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/platform/harden"
	"github.com/rack-gateway/rack-gateway/platform/paths"
	"github.com/rack-gateway/rack-gateway/platform/statusfile"
	"github.com/rack-gateway/rack-gateway/platform/tty"
)

const usage = `Usage:
  rack-gateway-agent run            run the agent in the foreground
  rack-gateway-agent exec -- ARGV   run one rack-gateway command in-process
  rack-gateway-agent version        print the version

The agent normally starts on demand when you run rack-gateway.
`

// Main is the whole program; it returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ipc.ExitUsage
	}
	switch args[0] {
	case "run":
		return runDaemon(args[1:], stderr)
	case "exec":
		rest := args[1:]
		if len(rest) > 0 && rest[0] == "--" {
			rest = rest[1:]
		}
		return runExec(rest, stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "rack-gateway-agent %s\n", buildinfo.String())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "Error: unknown command %q\n%s", args[0], usage)
		return ipc.ExitUsage
	}
}

func runDaemon(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] != "--foreground" {
		fmt.Fprintf(stderr, "Error: unexpected argument %q\n%s", args[0], usage)
		return ipc.ExitUsage
	}
	fail := func(e *ipc.Error) int {
		fmt.Fprint(stderr, "rack-gateway-agent: "+e.Render()[len("Error: "):])
		return ipc.ExitStatus(e.Code)
	}
	if err := harden.Process(); err != nil {
		fmt.Fprintf(stderr, "rack-gateway-agent: warning: could not harden the process: %v\n", err)
	}
	log, logHealth, closeLog, err := openLog(stderr)
	if err != nil {
		return fail(ipc.Errorf(ipc.CodeInternal, "%v", err))
	}
	defer closeLog()
	sock, err := transport.SocketPath()
	if err != nil {
		return fail(ipc.Errorf(ipc.CodeInternal, "%v", err))
	}
	crash.SetLogger(log)
	c := core.New(buildinfo.Version, log, nil)
	if c.StatusPath, err = statusfile.Path(); err != nil {
		log.Warn("no status file for shell prompts", "err", err)
	}
	if c.Authenticator, err = authenticator(); err != nil {
		return fail(ipc.Errorf(ipc.CodeUsage, "%v", err))
	}
	ln, err := transport.Listen(sock, transport.ListenOptions{OnReject: server.RejectPeer(log)})
	if errors.Is(err, transport.ErrAgentRunning) {
		pid := ""
		if st, err := localapi.NewClient(sock).Status(context.Background()); err == nil {
			pid = fmt.Sprintf(" (pid %d)", st.PID)
		}
		return fail(ipc.Errorf(ipc.CodeAgentRunning, "another agent is already running%s on %s", pid, sock).
			WithHint("Stop it first with 'rack-gateway agent stop'."))
	}
	if err != nil {
		return fail(ipc.Errorf(ipc.CodeInternal, "listen on %s: %v", sock, err))
	}
	// Load the default config now so tokens the upstream CLI left in
	// config.json move into the keyring at start, not at first use.
	if dir, err := core.DefaultConfigDir(); err == nil {
		if _, err := os.Stat(dir); err == nil {
			if _, err := c.Profile(dir); err != nil {
				log.Warn("could not load the default config", "err", err)
			}
		}
	}
	c.WriteStatus()
	srv := server.New(c, sock, log)
	if t, ok := envDuration(log, readTimeoutEnv); ok {
		srv.SetTimeouts(server.Timeouts{Header: t, Request: t})
	}
	if t, ok := envDuration(log, callTimeoutEnv); ok {
		c.CallTimeout = t
	}
	srv.LogHealth = logHealth
	if ap, err := audit.DefaultPath(); err != nil {
		log.Warn("no audit log", "err", err)
	} else {
		// A log that cannot be opened now keeps trying, and its failure
		// reaches the user (server.Server.LogHealth).
		srv.Audit = audit.New(ap, 0, 0)
		if e := srv.Audit.Health().Err(); e != "" {
			log.Warn("audit log", "err", e)
		}
		defer srv.Audit.Close()
	}
	log.Info("agent started", "pid", os.Getpid(), "version", buildinfo.Version, "socket", sock)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	select {
	case s := <-sigs:
		log.Info("stopping on signal", "signal", s.String())
	case <-srv.Stopping():
		log.Info("stopping on request")
	case err := <-serveErr:
		if err != nil {
			log.Error("server failed", "err", err)
			return fail(ipc.Errorf(ipc.CodeInternal, "serve: %v", err))
		}
		log.Info("stopping: the server stopped accepting")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	log.Info("agent stopped")
	return 0
}

// readTimeoutEnv shortens the local API's read timeouts (a Go duration,
// for both the headers and the whole request): tests use it to see slow
// clients dropped in a second rather than ten.
const readTimeoutEnv = "RACK_GATEWAY_AGENT_READ_TIMEOUT"

// callTimeoutEnv shortens the bound on each gateway request (a Go
// duration, normally gateway.CallTimeout): tests use it to see a gateway
// that never answers reported in seconds rather than thirty.
const callTimeoutEnv = "RACK_GATEWAY_AGENT_CALL_TIMEOUT"

func envDuration(log *slog.Logger, name string) (time.Duration, bool) {
	v := os.Getenv(name)
	if v == "" {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		log.Warn("ignoring "+name, "value", v, "err", err)
		return 0, false
	}
	return d, true
}

// openLog opens the agent log: $XDG_STATE_HOME/rack-gateway/agent.log. The
// log records commands and outcomes, never arguments, tokens or codes. Its
// writes go through a Health, because slog drops write errors: a full disk
// is then told to the user instead of losing the log without a word.
func openLog(stderr io.Writer) (*slog.Logger, *audit.Health, func(), error) {
	p, err := paths.AgentLogPath()
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open log %s: %w", p, err)
	}
	h := audit.NewHealth("log", p)
	return slog.New(slog.NewTextHandler(h.Writer(f), &slog.HandlerOptions{Level: slog.LevelInfo})), h, func() { f.Close() }, nil
}

func runExec(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	start := time.Now()
	res, err := execCommand(argv, stdin, stdout, stderr)
	status := res.Status
	var e *ipc.Error
	if err != nil {
		e = ipc.AsError(err)
		fmt.Fprint(stderr, e.Render())
		status = ipc.ExitStatus(e.Code)
	}
	// The same line the daemon writes (agent/server): a command run with
	// --no-agent or an API token is no less the user's.
	auditExec(stderr, start, argv, res, status, e)
	return status
}

func execCommand(argv []string, stdin io.Reader, stdout, stderr io.Writer) (commands.Result, error) {
	cwd, _ := os.Getwd()
	inv := &ipc.Invocation{
		Argv: argv, Cwd: cwd, Env: ipc.ForwardedEnv(os.Environ()), PID: os.Getpid(),
		Version: buildinfo.Version,
		TTY:     ipc.TTYState{Stdin: tty.IsTerminal(os.Stdin), Stdout: tty.IsTerminal(os.Stdout), Stderr: tty.IsTerminal(os.Stderr)},
	}
	inv.CanPrompt = inv.TTY.Stdin && os.Getenv("RACK_GATEWAY_NONINTERACTIVE") != "1"
	if e := ipc.CheckText(argv); e != nil {
		// The daemon refuses these too (agent/server): the same command
		// line must not behave differently with --no-agent.
		return commands.Result{}, e
	}
	// exec runs for one command: a plain logger on nothing; the user sees
	// what matters on stderr.
	c := core.New(buildinfo.Version, nil, nil)
	a, err := authenticator()
	if err != nil {
		return commands.Result{}, ipc.Errorf(ipc.CodeUsage, "%v", err)
	}
	c.Authenticator = a
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	t := &localTerm{in: stdin, out: stdout, err: stderr, inv: inv}
	return commands.Run(ctx, &commands.Env{Core: c, Mode: commands.ModeExec, Registry: commands.Registry()}, inv, t)
}
