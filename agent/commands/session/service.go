package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/localapi"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/platform/paths"
	"github.com/rack-gateway/rack-gateway/platform/service"
)

// The service commands manage the agent itself, so they never run inside
// it: the CLI runs them in-process (`rack-gateway-agent exec`). Inside a
// service-run agent the file system is read-only (ProtectSystem=strict),
// and an agent cannot wait for its own restart.
func registerService(r *kit.Registry) {
	r.Add(&kit.Command{
		Name: "agent install", Usage: "agent install", MaxArgs: 0,
		Short: "Run the agent as a per-user OS service (systemd user unit, LaunchAgent)",
		Long: `Install the agent as a per-user OS service and start it.

Linux: a systemd user unit in ~/.config/systemd/user/ that starts the agent
at login and restarts it if it fails, confined to its own directories.
macOS: a LaunchAgent in ~/Library/LaunchAgents/. Windows has no per-user
service: the agent starts on demand there.

Once it is installed, rack-gateway starts the agent through the service.`,
		Run: runAgentInstall,
	})
	r.Add(&kit.Command{
		Name: "agent uninstall", Usage: "agent uninstall", MaxArgs: 0,
		Short: "Stop the agent's OS service and remove it (the agent starts on demand again)",
		Run:   runAgentUninstall,
	})
	r.Add(&kit.Command{
		Name: "agent start", Usage: "agent start", MaxArgs: 0,
		Short: "Start the agent (through its service when installed)",
		Run:   runAgentStart,
	})
	r.Add(&kit.Command{
		Name: "agent restart", Usage: "agent restart", MaxArgs: 0,
		Short: "Restart the agent (through its service when installed)",
		Run:   runAgentRestart,
	})
}

// agentWait bounds how long a service command waits for the agent's socket
// to answer or to go away.
const agentWait = 10 * time.Second

// notInDaemon refuses a service command the daemon was asked to run (an
// old CLI, or a /v1/run client).
func notInDaemon(x *kit.Ctx) error {
	if x.Mode == kit.ModeDaemon {
		return ipc.Errorf(ipc.CodeUsage, "%q manages the agent, so it runs outside it", "rack-gateway "+x.Cmd.Name).
			WithHint("Run it with the rack-gateway CLI of this version, or as: rack-gateway-agent exec -- %s", x.Cmd.Name)
	}
	return nil
}

func serviceErr(err error) *ipc.Error {
	if errors.Is(err, service.ErrUnsupported) {
		return windowsNoService()
	}
	return ipc.Errorf(ipc.CodeService, "%v", err)
}

// windowsNoService is what the service commands say where there is no
// per-user service.
func windowsNoService() *ipc.Error {
	exe, _ := os.Executable()
	e := ipc.Errorf(ipc.CodeService, "%s has no per-user service for rack-gateway-agent; it starts on demand whenever you run rack-gateway", osName())
	if runtime.GOOS == "windows" {
		return e.WithHint("To start it at logon as well, add a task:\n  schtasks /Create /SC ONLOGON /TN rack-gateway-agent /TR \"\\\"%s\\\" run\"", exe)
	}
	return e
}

func osName() string {
	switch runtime.GOOS {
	case "windows":
		return "Windows"
	case "darwin":
		return "macOS"
	}
	return runtime.GOOS
}

// selfExecutable is this program (rack-gateway-agent: the service commands
// run in `rack-gateway-agent exec`), with symlinks resolved so the unit
// names the real file.
func selfExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", ipc.Errorf(ipc.CodeInternal, "cannot find this program's path: %v", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return exe, nil
}

// runningAgent returns the pid of the agent answering on sock, or 0.
func runningAgent(ctx context.Context, sock string) int {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := localapi.NewClient(sock).Status(ctx)
	if err != nil {
		return 0
	}
	return st.PID
}

// waitAgent polls the socket until an agent other than notPID answers (it
// returns its pid), or until the deadline (0).
func waitAgent(ctx context.Context, sock string, notPID int) int {
	deadline := time.Now().Add(agentWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if pid := runningAgent(ctx, sock); pid != 0 && pid != notPID {
			return pid
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0
}

// stopAgentAt asks the agent on sock to stop and waits until it has.
func stopAgentAt(ctx context.Context, sock string, pid int) error {
	if err := localapi.NewClient(sock).Shutdown(ctx); err != nil {
		return ipc.Errorf(ipc.CodeAgentUnavailable, "could not stop the running agent (pid %d): %v", pid, err)
	}
	deadline := time.Now().Add(agentWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if runningAgent(ctx, sock) != pid {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ipc.Errorf(ipc.CodeAgentUnavailable, "the running agent (pid %d) did not stop within %s", pid, agentWait)
}

func agentSocket() (string, error) {
	sock, err := transport.SocketPath()
	if err != nil {
		return "", ipc.Errorf(ipc.CodeAgentUnavailable, "%v", err)
	}
	return sock, nil
}

func runAgentInstall(ctx context.Context, x *kit.Ctx) error {
	if err := notInDaemon(x); err != nil {
		return err
	}
	exe, err := selfExecutable()
	if err != nil {
		return err
	}
	opts, err := service.FromEnvironment(exe)
	if err != nil {
		return ipc.Errorf(ipc.CodeInternal, "%v", err)
	}
	m, err := service.New(opts)
	if err != nil {
		return serviceErr(err)
	}
	sock, err := agentSocket()
	if err != nil {
		return err
	}
	before := m.Status()
	changed, err := m.Install()
	if err != nil {
		return serviceErr(err).WithHint("Nothing was left installed; the agent keeps starting on demand.")
	}
	if changed {
		fmt.Fprintf(x.Out, "Installed the %s %s\n", m.Kind(), m.File())
	} else {
		fmt.Fprintf(x.Out, "The %s %s is already installed\n", m.Kind(), m.File())
	}
	fmt.Fprintf(x.Out, "It runs %s run at login, and again if it fails.\n", exe)

	// An agent the CLI started on demand holds the socket: hand over to
	// the service. One the service already runs is restarted only when
	// its unit changed.
	pid := runningAgent(ctx, sock)
	st := m.Status()
	switch {
	case pid != 0 && st.Running && st.MainPID == pid:
		if !changed {
			fmt.Fprintf(x.Out, "Agent running through the service (pid %d)\n", pid)
			return nil
		}
		err = m.Restart()
	case pid != 0:
		x.Progress("Stopping the agent started on demand (pid %d), so that the service takes over...", pid)
		if err := stopAgentAt(ctx, sock, pid); err != nil {
			return err
		}
		err = m.Start()
	default:
		err = m.Start()
	}
	if err != nil {
		if !before.Installed {
			// A service that cannot start would make every command try it
			// first: take it back out.
			if uerr := m.Uninstall(); uerr != nil {
				x.Progress("Warning: could not remove the service again: %v", uerr)
			}
			return serviceErr(err).WithHint("The service did not start, so it was removed again; the agent keeps starting on demand.")
		}
		return serviceErr(err)
	}
	if newPID := waitAgent(ctx, sock, pid); newPID != 0 {
		fmt.Fprintf(x.Out, "Agent running through the service (pid %d)\n", newPID)
		return nil
	}
	log, _ := paths.AgentLogPath()
	x.Progress("Warning: the service started, but the agent does not answer on %s yet; see %s", sock, log)
	return nil
}

func runAgentUninstall(ctx context.Context, x *kit.Ctx) error {
	if err := notInDaemon(x); err != nil {
		return err
	}
	m, err := service.New(service.Options{})
	if errors.Is(err, service.ErrUnsupported) {
		fmt.Fprintf(x.Out, "Nothing to uninstall: %s has no per-user service for the agent (it starts on demand).\n", osName())
		return nil
	}
	if err != nil {
		return serviceErr(err)
	}
	switch err := m.Uninstall(); {
	case errors.Is(err, service.ErrNotInstalled):
		fmt.Fprintf(x.Out, "The agent is not installed as a service (no %s)\n", m.File())
		return nil
	case err != nil:
		return serviceErr(err)
	}
	fmt.Fprintf(x.Out, "Removed the %s %s\n", m.Kind(), m.File())
	fmt.Fprintln(x.Out, "The agent is stopped; rack-gateway starts it on demand again.")
	return nil
}

// installedManager returns the service Manager when the service is
// installed, else nil.
func installedManager() *service.Manager {
	m, err := service.New(service.Options{})
	if err != nil || !m.Status().Installed {
		return nil
	}
	return m
}

func runAgentStart(ctx context.Context, x *kit.Ctx) error {
	if err := notInDaemon(x); err != nil {
		return err
	}
	sock, err := agentSocket()
	if err != nil {
		return err
	}
	if pid := runningAgent(ctx, sock); pid != 0 {
		fmt.Fprintf(x.Out, "Agent already running (pid %d)\n", pid)
		return nil
	}
	return startAgent(ctx, x, sock, 0)
}

func runAgentRestart(ctx context.Context, x *kit.Ctx) error {
	if err := notInDaemon(x); err != nil {
		return err
	}
	sock, err := agentSocket()
	if err != nil {
		return err
	}
	pid := runningAgent(ctx, sock)
	if m := installedManager(); m != nil {
		if err := m.Restart(); err != nil {
			return serviceErr(err)
		}
		return reportStarted(ctx, x, sock, pid, "through the service")
	}
	if pid != 0 {
		if err := stopAgentAt(ctx, sock, pid); err != nil {
			return err
		}
	}
	return startAgent(ctx, x, sock, pid)
}

// startAgent starts the agent through the service when it is installed,
// else directly, and waits for it to answer.
func startAgent(ctx context.Context, x *kit.Ctx, sock string, oldPID int) error {
	if m := installedManager(); m != nil {
		if err := m.Start(); err != nil {
			return serviceErr(err)
		}
		return reportStarted(ctx, x, sock, oldPID, "through the service")
	}
	exe, err := selfExecutable()
	if err != nil {
		return err
	}
	log, err := paths.AgentLogPath()
	if err != nil {
		return ipc.Errorf(ipc.CodeAgentUnavailable, "%v", err)
	}
	if _, err := service.Spawn(exe, log); err != nil {
		return ipc.Errorf(ipc.CodeAgentUnavailable, "%v", err)
	}
	return reportStarted(ctx, x, sock, oldPID, "on demand (not installed as a service)")
}

func reportStarted(ctx context.Context, x *kit.Ctx, sock string, oldPID int, how string) error {
	pid := waitAgent(ctx, sock, oldPID)
	if pid == 0 {
		log, _ := paths.AgentLogPath()
		return ipc.Errorf(ipc.CodeAgentUnavailable, "the agent did not answer on %s within %s", sock, agentWait).
			WithHint("See %s", log)
	}
	fmt.Fprintf(x.Out, "Agent started %s (pid %d)\n", how, pid)
	return nil
}

// printServiceStatus is `agent status`'s service part: whether the agent
// is installed as a service, whether that is running, and which program
// it runs.
func printServiceStatus(x *kit.Ctx) {
	m, err := service.New(service.Options{})
	if err != nil {
		fmt.Fprintf(x.Out, "Service: none (%s has no per-user service; the agent starts on demand)\n", osName())
		return
	}
	st := m.Status()
	if !st.Installed {
		fmt.Fprintln(x.Out, "Service: not installed (the agent starts on demand; 'rack-gateway agent install' makes it a service)")
		return
	}
	state := "not running"
	switch {
	case st.Err != nil:
		state = fmt.Sprintf("state unknown (%v)", st.Err)
	case st.Running && st.MainPID == os.Getpid():
		state = "running (this agent)"
	case st.Running && st.MainPID != 0:
		state = fmt.Sprintf("running (pid %d, not this agent)", st.MainPID)
	case st.Running:
		state = "running"
	}
	fmt.Fprintf(x.Out, "Service: installed, %s (%s %s)\n", state, st.Kind, st.File)
	if st.Executable != "" {
		fmt.Fprintf(x.Out, "Service runs: %s\n", st.Executable)
	}
}

// stopThroughService is `agent stop` for an agent the service manager
// runs: the manager is asked to stop it, so that it knows the service is
// stopped rather than just exited. It reports whether it did; the caller
// stops the agent itself otherwise.
func stopThroughService(x *kit.Ctx) bool {
	m, err := service.New(service.Options{})
	if err != nil {
		return false
	}
	st := m.Status()
	if !st.Installed || !st.Running || st.MainPID != os.Getpid() {
		return false
	}
	if err := m.RequestStop(); err != nil {
		x.Core.Log.Warn("could not stop the agent through its service; stopping it directly", "err", err)
		return false
	}
	return true
}
