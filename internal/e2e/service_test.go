package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// e2eSystemctl stands in for systemctl (systemd does not run on these
// machines). It logs every call's arguments. "start" runs the unit's
// ExecStart in the background, detached, as the user manager would, and
// keeps its pid; "stop" ends it; "is-active" and "show" report it. Actions
// named in $FAKE_SYSTEMCTL_FAIL fail.
const e2eSystemctl = `#!/bin/sh
d=$FAKE_SYSTEMCTL_DIR
echo "$*" >> "$d/log"
action=
for a in "$@"; do case "$a" in -*) ;; *) action=$a; break;; esac; done
case " $FAKE_SYSTEMCTL_FAIL " in *" $action "*) echo "Failed to $action rack-gateway-agent.service: fake failure" >&2; exit 1;; esac
unit=$HOME/.config/systemd/user/rack-gateway-agent.service
link=$HOME/.config/systemd/user/default.target.wants/rack-gateway-agent.service
running() {
	[ -f "$d/pid" ] || return 1
	st=$(cut -d' ' -f3 "/proc/$(cat "$d/pid")/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}
stop() {
	running || return 0
	kill "$(cat "$d/pid")"
	case " $* " in *" --no-block "*) return 0;; esac
	i=0
	while running && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
}
start() {
	running && return 0
	exe=$(sed -n 's/^ExecStart=//p' "$unit" | sed 's/ run$//')
	setsid "$exe" run </dev/null >>"$d/agent.out" 2>&1 &
	echo $! > "$d/pid"
}
case "$action" in
enable) mkdir -p "$(dirname "$link")" && ln -sf "$unit" "$link" ;;
disable) rm -f "$link" ;;
start) start ;;
stop) stop "$@" ;;
restart) stop; start ;;
is-active) if running; then echo active; else echo inactive; exit 3; fi ;;
list-unit-files) if [ -e "$unit" ]; then echo "rack-gateway-agent.service enabled"; fi ;;
show) if running; then cat "$d/pid"; else echo 0; fi ;;
esac
exit 0
`

// fakeSystemd gives e a private HOME and the fake systemctl on PATH, and
// returns the fake's directory (its log, and the pid of the agent it
// started). Whatever agent the fake started is stopped with the test.
func fakeSystemd(t *testing.T, e *env) string {
	t.Helper()
	home, bin, dir := filepath.Join(e.root, "home"), filepath.Join(e.root, "fakebin"), filepath.Join(e.root, "systemd")
	for _, d := range []string{home, bin, dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(e2eSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	e.set("HOME", home)
	e.set("PATH", bin+":"+os.Getenv("PATH"))
	e.set("FAKE_SYSTEMCTL_DIR", dir)
	t.Cleanup(func() {
		if pid := fakePID(dir); pid != 0 && pidAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			if !poll(5*time.Second, func() bool { return !pidAlive(pid) }) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return dir
}

func fakePID(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func fakeCalls(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	return string(b)
}

func countLines(s, line string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if l == line {
			n++
		}
	}
	return n
}

// `agent install` writes a hardened systemd user unit and starts the agent
// through systemctl; with the unit installed, the CLI starts the agent
// through systemctl too; `agent stop`, `restart` and `uninstall` go
// through it; and a failed install leaves nothing behind.
func TestAgentServiceWithFakeSystemctl(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := fakeSystemd(t, e)
	home := e.vars["HOME"]
	unitPath := filepath.Join(home, ".config", "systemd", "user", "rack-gateway-agent.service")
	linkPath := filepath.Join(home, ".config", "systemd", "user", "default.target.wants", "rack-gateway-agent.service")
	agentBin := filepath.Join(binDir, "rack-gateway-agent")
	pidRE := regexp.MustCompile(`\(pid (\d+)\)`)
	pidIn := func(s string) int {
		m := pidRE.FindStringSubmatch(s)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}

	r := e.mustRun("agent", "install")
	contains(t, "agent install", r.Out, "Installed the systemd user unit "+unitPath, "It runs "+agentBin+" run", "Agent running through the service")
	calls := fakeCalls(dir)
	for _, c := range []string{"--user show-environment", "enable --user rack-gateway-agent.service", "daemon-reload --user", "start --user rack-gateway-agent.service"} {
		if countLines(calls, c) != 1 {
			t.Errorf("agent install: want one systemctl %q:\n%s", c, calls)
		}
	}
	if pid := pidIn(r.Out); pid == 0 || pid != fakePID(dir) {
		t.Errorf("agent install reports pid %d; the fake systemctl started %d", pid, fakePID(dir))
	}

	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"[Service]", "ExecStart=" + agentBin + " run", "Restart=on-failure",
		"UMask=0077", "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
		"LockPersonality=yes", "MemoryDenyWriteExecute=yes", "ProtectSystem=strict",
		// The harness sets XDG_STATE_HOME and GATEWAY_CLI_CONFIG_DIR: the
		// unit passes the first on and makes both writable.
		"Environment=XDG_STATE_HOME=" + e.State,
		"ReadWritePaths=-" + e.State + "/rack-gateway -%h/.config/rack-gateway -%t/rack-gateway -" + e.Config,
		"[Install]", "WantedBy=default.target",
	} {
		if !strings.Contains("\n"+string(unit), "\n"+line+"\n") {
			t.Errorf("the unit has no line %q:\n%s", line, unit)
		}
	}
	if st, err := os.Stat(unitPath); err == nil && st.Mode().Perm()&0o022 != 0 {
		t.Errorf("unit mode %v", st.Mode().Perm())
	}
	systemdVerify(t, unitPath, e)

	r = e.mustRun("agent", "status")
	contains(t, "agent status", r.Out, "Service: installed, running (this agent) (systemd user unit "+unitPath+")", "Service runs: "+agentBin)

	// agent stop goes through the service manager.
	pid := fakePID(dir)
	e.mustRun("agent", "stop")
	waitFor(t, "the service's agent to stop", 10*time.Second, func() bool { return !pidAlive(pid) })
	if c := fakeCalls(dir); !strings.Contains(c, "--user stop --no-block rack-gateway-agent.service\n") {
		t.Errorf("agent stop did not ask systemctl:\n%s", c)
	}

	// The first command starts the agent through systemctl, and works.
	r = e.mustRun("racks")
	contains(t, "racks", r.Out, "No racks configured")
	if strings.Contains(r.Err, "could not start") {
		t.Errorf("racks: %s", r.Err)
	}
	if n := countLines(fakeCalls(dir), "--user start rack-gateway-agent.service"); n != 1 {
		t.Errorf("the CLI ran systemctl --user start %d times, want 1:\n%s", n, fakeCalls(dir))
	}
	if got := e.agentPID(); got == 0 || got != fakePID(dir) || got == pid {
		t.Errorf("the agent answering is pid %d; the fake systemctl started %d (before: %d)", got, fakePID(dir), pid)
	}

	pid = fakePID(dir)
	r = e.mustRun("agent", "restart")
	contains(t, "agent restart", r.Out, "Agent started through the service")
	if np := pidIn(r.Out); np == 0 || np == pid || np != fakePID(dir) {
		t.Errorf("agent restart: pid %d after %d (fake: %d)", np, pid, fakePID(dir))
	}

	// When systemctl cannot start it, the CLI says so once and spawns it.
	pid = fakePID(dir)
	e.mustRun("agent", "stop")
	waitFor(t, "the service's agent to stop", 10*time.Second, func() bool { return !pidAlive(pid) })
	e.set("FAKE_SYSTEMCTL_FAIL", "start")
	r = e.mustRun("racks")
	if n := strings.Count(r.Err, "could not start the agent through its systemd user unit"); n != 1 || !strings.Contains(r.Err, "fake failure") {
		t.Errorf("a failing service start: want one notice naming systemctl's error:\n%s", r.Err)
	}
	e.stopAgent()
	e.set("FAKE_SYSTEMCTL_FAIL", "")

	r = e.mustRun("agent", "uninstall")
	contains(t, "agent uninstall", r.Out, "Removed the systemd user unit "+unitPath)
	if _, err := os.Lstat(unitPath); err == nil {
		t.Error("the unit is still there after uninstall")
	}
	if _, err := os.Lstat(linkPath); err == nil {
		t.Error("the enable link is still there after uninstall")
	}
	contains(t, "systemctl calls", fakeCalls(dir), "disable --user rack-gateway-agent.service\n")
	r = e.mustRun("agent", "status")
	contains(t, "agent status", r.Out, "Service: not installed")
	if n := countLines(fakeCalls(dir), "--user start rack-gateway-agent.service"); n != 2 {
		t.Errorf("without the unit the CLI still used systemctl start (%d calls):\n%s", n, fakeCalls(dir))
	}
	r = e.mustRun("agent", "uninstall")
	contains(t, "second uninstall", r.Out, "not installed as a service")

	// A failed install leaves no unit behind and says so.
	e.stopAgent()
	for _, fail := range []string{"enable", "daemon-reload", "start"} {
		e.set("FAKE_SYSTEMCTL_FAIL", fail)
		r = e.run("agent", "install")
		if r.Code != 1 || !strings.Contains(r.Err, "Error: ") || !strings.Contains(r.Err, "agent keeps starting on demand") {
			t.Errorf("agent install with systemctl %s failing: %s", fail, r)
		}
		for _, p := range []string{unitPath, linkPath} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("systemctl %s failed, and %s was left behind", fail, p)
			}
		}
	}
}

// systemdVerify runs systemd-analyze verify on an installed unit where the
// systemd package is installed; the other checks do not depend on it.
func systemdVerify(t *testing.T, unit string, e *env) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed (Debian package systemd): skipping only the systemd-analyze verify check")
		return
	}
	cmd := exec.Command(sa, "--user", "verify", unit)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+e.Runtime, "HOME="+e.vars["HOME"])
	out, err := cmd.CombinedOutput()
	// verify exits 0 on unknown keys and bad values, and only warns.
	if err != nil || strings.Contains(string(out), "rack-gateway-agent.service") {
		t.Errorf("systemd-analyze --user verify %s: %v\n%s", unit, err, out)
	}
}

// On Windows there is no per-user service; elsewhere `agent install` needs
// a service manager. Without systemctl at all, it says so and writes
// nothing.
func TestAgentInstallWithoutSystemd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	home := filepath.Join(e.root, "home")
	empty := filepath.Join(e.root, "emptybin")
	for _, d := range []string{home, empty} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e.set("HOME", home)
	e.set("PATH", empty)
	// The CLI finds the agent next to itself, so PATH can be empty.
	r := e.run("agent", "install")
	if r.Code != 1 || !strings.Contains(r.Err, "systemctl was not found") {
		t.Errorf("agent install without systemctl: %s", r)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "systemd", "user", "rack-gateway-agent.service")); err == nil {
		t.Error("a unit was written without systemctl")
	}
}
