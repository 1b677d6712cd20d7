package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemonProc is a D-Bus or keyring daemon seen in /proc.
type daemonProc struct {
	PID  int
	Name string
}

// keyringDaemonNames are the programs an autolaunched session bus leaves
// behind: dbus-launch's bus, and the Secret Service it activates. /proc's
// comm is cut at 15 bytes, hence gnome-keyring-d.
var keyringDaemonNames = map[string]bool{"dbus-daemon": true, "dbus-launch": true, "gnome-keyring-d": true}

// keyringDaemons returns the D-Bus and keyring daemons whose environment
// carries mark. Every process a test's agents start, and everything those
// start in turn (dbus-launch's bus, the services the bus activates), inherits
// the test's environment, so the mark picks out exactly what this test
// caused and ignores the rest of the machine.
func keyringDaemons(mark string) map[int]daemonProc {
	out := map[int]daemonProc{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || !keyringDaemonNames[strings.TrimSpace(string(comm))] {
			continue
		}
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !strings.Contains(string(env), mark) {
			continue
		}
		if !pidAlive(pid) {
			continue
		}
		out[pid] = daemonProc{PID: pid, Name: strings.TrimSpace(string(comm))}
	}
	return out
}

// killMarked ends every daemon carrying mark, so that a failing run still
// leaves nothing behind.
func killMarked(t *testing.T, mark string) {
	procs := keyringDaemons(mark)
	for pid := range procs {
		_ = syscall.Kill(pid, syscall.SIGCONT)
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	poll(3*time.Second, func() bool {
		for pid := range procs {
			if !pidAlive(pid) {
				delete(procs, pid)
			}
		}
		return len(procs) == 0
	})
	for pid, p := range procs {
		t.Logf("killing %s (pid %d), still running after SIGTERM", p.Name, pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// noSessionBus makes e look like an SSH login to a headless server: no
// session bus address, no desktop, and a runtime directory with no bus
// socket in it (newEnv's is fresh). The private bus that .ci/keyring-session.sh
// gives the test process must not leak into the agent.
func noSessionBus(e *env) {
	for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "DBUS_STARTER_ADDRESS", "DBUS_STARTER_BUS_TYPE",
		"GNOME_KEYRING_CONTROL", "DISPLAY", "WAYLAND_DISPLAY"} {
		e.set(k, "")
	}
	e.set("XDG_DATA_HOME", filepath.Join(e.root, "data"))
}

// On a headless box with dbus-launch installed and no session bus, go-keyring
// (through godbus) used to autolaunch a bus on every probe, and each bus
// activated a gnome-keyring-daemon; none of them ever exited. Agent starts
// and API-token commands must start no daemon at all, and API-token commands
// must not open the secret store.
func TestNoKeyringDaemonsWithoutSessionBus(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("dbus-launch"); err != nil {
		t.Skip("dbus-launch is not installed (Debian package dbus-x11): nothing on this machine could autolaunch a session bus")
	}
	mark := fmt.Sprintf("RACK_GATEWAY_E2E_MARK=leak-%d-%d", os.Getpid(), time.Now().UnixNano())
	k, v, _ := strings.Cut(mark, "=")
	t.Cleanup(func() { killMarked(t, mark) })

	e := newEnv(t)
	noSessionBus(e)
	e.set(k, v)
	e.set("RACK_GATEWAY_SECRET_STORE", "") // auto: the agent looks for a keyring
	if err := os.MkdirAll(e.Config, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"current":"prod","gateways":{"prod":{"url":%q}}}`, sandboxURL)
	if err := os.WriteFile(filepath.Join(e.Config, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pidRE := regexp.MustCompile(`Agent: running \(pid (\d+)`)
	for i := 0; i < 20; i++ {
		// agent status starts the agent and makes it open the secret
		// store, which is when it looks for a keyring.
		r := e.mustRun("agent", "status")
		contains(t, "agent status", r.Out, "Token store: file", "no D-Bus session bus")
		m := pidRE.FindStringSubmatch(r.Out)
		if m == nil {
			t.Fatalf("no pid in agent status:\n%s", r)
		}
		pid, _ := strconv.Atoi(m[1])
		e.mustRun("agent", "stop")
		waitFor(t, "the agent to exit", 10*time.Second, func() bool { return !pidAlive(pid) })
	}

	// API-token mode. RACK_GATEWAY_SECRET_STORE=keyring with no session
	// bus makes opening the store fail, so a command that succeeds here
	// proves that it never opened the store.
	api := newEnv(t)
	noSessionBus(api)
	api.set(k, v)
	api.set("RACK_GATEWAY_SECRET_STORE", "keyring")
	api.set("RACK_GATEWAY_API_TOKEN", "rgw_notarealtokennotarealtokennotarealtokennotrea=")
	api.set("RACK_GATEWAY_URL", sandboxURL)
	api.set("RACK_GATEWAY_RACK", "ci")
	var took []time.Duration
	failed := 0
	for i := 0; i < 20; i++ {
		r := api.run("rack")
		if r.Code != 0 || !strings.Contains(r.Out, "Using an API token") {
			if failed++; failed == 1 {
				t.Errorf("API-token rack (the store must not be opened): %s", r)
			}
		}
		took = append(took, r.Took)
	}
	if failed > 0 {
		t.Errorf("%d of 20 API-token commands failed", failed)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("API-token 'rack' (20 runs): median %.1f ms, slowest %.1f ms", ms(took[len(took)/2]), ms(took[len(took)-1]))

	if left := keyringDaemons(mark); len(left) > 0 {
		var names []string
		for _, p := range left {
			names = append(names, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
		}
		sort.Strings(names)
		t.Errorf("20 agent starts and 20 API-token commands left %d daemons running: %s", len(left), strings.Join(names, ", "))
	}
}

// privateKeyring starts a D-Bus session bus and an unlocked gnome-keyring
// on it, for one test: a test that freezes the keyring must not freeze the
// one other tests share. It returns the bus address and the keyring
// daemon's pid; both processes end with the test.
func privateKeyring(t testing.TB, root string) (string, int) {
	t.Helper()
	for _, tool := range []string{"dbus-daemon", "dbus-send", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian packages dbus and gnome-keyring)", tool)
		}
	}
	dir := filepath.Join(root, "keyring")
	for _, d := range []string{filepath.Join(dir, "run"), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	addr := "unix:path=" + filepath.Join(dir, "bus")
	start := func(cmd *exec.Cmd) {
		t.Helper()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	bus := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address="+addr)
	start(bus)
	waitFor(t, "the private session bus", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "bus"))
		return err == nil
	})
	kr := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	kr.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr,
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	// --unlock reads the new login keyring's password from stdin.
	kr.Stdin = strings.NewReader("pass")
	start(kr)
	waitFor(t, "org.freedesktop.secrets on the private bus", 10*time.Second, func() bool {
		out, _ := exec.Command("dbus-send", "--bus="+addr, "--print-reply", "--dest=org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames").Output()
		return strings.Contains(string(out), `"org.freedesktop.secrets"`)
	})
	return addr, kr.Process.Pid
}

// A keyring that stops answering (here: its daemon stopped with SIGSTOP)
// is reported as such, with the way out, and not as "not logged in": the
// session is still in it, and it works again once the keyring answers.
func TestStoppedKeyringIsReported(t *testing.T) {
	t.Parallel()
	if os.Getenv("RACK_GATEWAY_KEYRING_TEST") != "1" {
		t.Skip("set RACK_GATEWAY_KEYRING_TEST=1 inside .ci/keyring-session.sh to test against a real gnome-keyring")
	}
	e := newEnv(t)
	addr, keyringPID := privateKeyring(t, e.root)
	noSessionBus(e)
	e.set("DBUS_SESSION_BUS_ADDRESS", addr)
	e.set("RACK_GATEWAY_SECRET_STORE", "") // auto
	e.set("RACK_GATEWAY_KEYRING_TIMEOUT", "500ms")
	e.login("prod", "admin@example.com")
	contains(t, "rack", e.mustRun("rack").Out, "Token store: OS keyring")
	pid := e.agentPID()
	e.mustRun("agent", "stop")
	waitFor(t, "the agent to exit", 10*time.Second, func() bool { return !pidAlive(pid) })

	if err := syscall.Kill(keyringPID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(keyringPID, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)

	for _, args := range [][]string{{"test-auth"}, {"rack"}} {
		r := e.run(args...)
		t.Logf("%s with the keyring stopped: exit %d\n%s", args[0], r.Code, r.Err)
		if r.Code == 0 || r.Code == 5 {
			t.Errorf("%s with the keyring stopped: exit %d, want a failure that is not 'not logged in' (5)\n%s", args[0], r.Code, r)
		}
		contains(t, args[0]+" stderr", r.Err, "the OS keyring did not answer within 500ms", "RACK_GATEWAY_SECRET_STORE=file")
		if strings.Contains(strings.ToLower(r.Out+r.Err), "not logged in") {
			t.Errorf("%s says 'not logged in' although the session is in the keyring:\n%s", args[0], r)
		}
	}
	r := e.mustRun("agent", "status")
	contains(t, "agent status", r.Out, "Token store: OS keyring", "not answering")

	resume()
	// The same agent uses the keyring again once it answers.
	waitFor(t, "test-auth to work once the keyring answers", 20*time.Second, func() bool {
		return e.run("test-auth").Code == 0
	})
	contains(t, "test-auth", e.mustRun("test-auth").Out, "Authenticated as admin@example.com")
}
