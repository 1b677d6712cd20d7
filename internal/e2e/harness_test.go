// Package e2e runs the real binaries — rack-gateway, rack-gateway-agent and
// rack-gateway-sandbox — as a user would: real processes, a real socket,
// real HTTP on loopback. Only the gateway is a fake (the sandbox).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Every test runs in parallel with the others. What they share is set
// once, before any test runs: binDir, sandboxURL, shared and totp. The
// shared sandbox is only for what no test changes (logins of the seeded
// users, reads); a test that turns a knob, spends codes or counts requests
// starts its own (newSandbox). Everything else lives in the test's env and
// sandbox values, and totpCodes has a mutex.
var (
	binDir     string            // built binaries
	sandboxURL string            // the package's shared sandbox
	shared     *sandbox          // the same, for envs that do not get a private one
	totp       map[string]string // email → base32 secret (same in every sandbox)
)

// sandbox is one running rack-gateway-sandbox process.
type sandbox struct {
	URL  string
	cmd  *exec.Cmd
	totp map[string]string // the seeded users' TOTP secrets it printed
	// CAFile is the CA certificate of a --tls sandbox (newTLSSandbox),
	// for SSL_CERT_FILE; "" for plain HTTP.
	CAFile string
}

// stop ends the sandbox the way a person would, with SIGTERM.
func (sb *sandbox) stop() { _ = sb.cmd.Process.Signal(syscall.SIGTERM); _ = sb.cmd.Wait() }

// kill ends the sandbox at once. A test's own sandbox keeps nothing worth
// a graceful stop (its state is in memory), and a graceful stop waits up
// to 5 s for requests a fault is still holding.
func (sb *sandbox) kill() { _ = sb.cmd.Process.Kill(); _ = sb.cmd.Wait() }

func TestMain(m *testing.M) {
	if os.Getenv("E2E_HELPER") != "" {
		os.Exit(helperMain())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	defaultParallel()
	dir, err := os.MkdirTemp("", "rg-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Test binaries must be usable by the 'nobody' user in the uid test.
	_ = os.Chmod(dir, 0o755)
	binDir = dir
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sb, err := startSandbox("--step-up-window", "10m")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer sb.stop()
	sandboxURL, shared, totp = sb.URL, sb, sb.totp
	return m.Run()
}

// defaultParallel raises -test.parallel, unless it was given, from
// GOMAXPROCS to 4 per core. The tests spend most of their time waiting on
// other processes (the agent's 1 s login poll, a sandbox, a terminal), not
// on a CPU, so GOMAXPROCS tests at a time leave a 2-core machine idle.
func defaultParallel() {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(4*runtime.GOMAXPROCS(0)))
	}
}

func buildAll(dir string) error {
	builds := []struct {
		out, pkg string
		env      []string
	}{
		{"rack-gateway", "../../cmd/rack-gateway", []string{"CGO_ENABLED=0"}},
		{"rack-gateway-agent", "../../cmd/rack-gateway-agent", nil},
		{"rack-gateway-sandbox", "../../cmd/rack-gateway-sandbox", nil},
		{"noop", "./testdata/noop", []string{"CGO_ENABLED=0"}},
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// startSandbox runs a sandbox with rate limits raised: many tests log in
// from the same loopback address.
func startSandbox(extra ...string) (*sandbox, error) {
	args := append([]string{"--listen", "127.0.0.1:0", "--rate-limit-rps", "1000", "--rate-limit-burst", "1000"}, extra...)
	cmd := exec.Command(filepath.Join(binDir, "rack-gateway-sandbox"), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// The sandbox's request log is kept out of test output; set
	// E2E_SANDBOX_LOG=1 to see it.
	if os.Getenv("E2E_SANDBOX_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sb := &sandbox{cmd: cmd, totp: map[string]string{}}
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "ca_file="); ok {
			sb.CAFile = p
			continue
		}
		if u, ok := strings.CutPrefix(line, "url="); ok {
			sb.URL = u
			continue
		}
		if f := strings.Fields(line); len(f) == 3 && f[0] == "totp" {
			sb.totp[f[1]] = f[2]
			if f[1] == "viewer@example.com" {
				go func() { _, _ = io.Copy(io.Discard, out) }()
				return sb, nil
			}
		}
	}
	sb.stop()
	return nil, fmt.Errorf("sandbox did not print its url and users")
}

// newSandbox starts a private sandbox for one test: TOTP steps, attempt
// limits and windows are per user, so tests that verify codes must not
// share users.
func newSandbox(t testing.TB, extra ...string) *sandbox {
	t.Helper()
	sb, err := startSandbox(extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.kill)
	return sb
}

// env is one isolated user environment: its own runtime, state and config
// directories, so each test has its own agent.
type env struct {
	t       testing.TB
	root    string
	Runtime string
	State   string
	Config  string
	vars    map[string]string
	sb      *sandbox
}

func newEnv(t testing.TB) *env {
	t.Helper()
	root, err := os.MkdirTemp("", "rg-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, root: root, sb: shared,
		Runtime: filepath.Join(root, "run"), State: filepath.Join(root, "state"), Config: filepath.Join(root, "config")}
	home := filepath.Join(root, "home")
	for _, d := range []string{e.Runtime, e.State, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e.vars = map[string]string{
		// Nothing a test runs may touch the real home directory: tests
		// run side by side, and a user service installed there would be
		// found by every other test's CLI.
		"HOME":                      home,
		"XDG_RUNTIME_DIR":           e.Runtime,
		"XDG_STATE_HOME":            e.State,
		"GATEWAY_CLI_CONFIG_DIR":    e.Config,
		"RACK_GATEWAY_SECRET_STORE": "file",
		"BROWSER":                   "true", // never open a real browser
		"RACK_GATEWAY_API_TOKEN":    "",
		"RACK_GATEWAY_RACK":         "",
		"RACK_GATEWAY_URL":          "",
	}
	t.Cleanup(func() {
		e.stopAgent()
		if !t.Failed() {
			os.RemoveAll(root)
		} else {
			t.Logf("kept %s; agent log:\n%s", root, e.agentLog())
		}
	})
	return e
}

func (e *env) set(k, v string) { e.vars[k] = v }

func (e *env) environ() []string {
	out := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := e.vars[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range e.vars {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func (e *env) socket() string   { return filepath.Join(e.Runtime, "rack-gateway", "agent.sock") }
func (e *env) logPath() string  { return filepath.Join(e.State, "rack-gateway", "agent.log") }
func (e *env) agentLog() string { b, _ := os.ReadFile(e.logPath()); return string(b) }

// result is a finished command.
type result struct {
	Out, Err string
	Code     int
	Took     time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Out, r.Err)
}

// cmd prepares a rack-gateway command in this environment.
func (e *env) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, filepath.Join(binDir, "rack-gateway"), args...)
	c.Env = e.environ()
	c.Dir = e.root
	c.WaitDelay = 2 * time.Second
	return c
}

// run runs rack-gateway with args; every run has a deadline.
func (e *env) run(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.runCmd(e.cmd(ctx, args...))
}

// start starts c with its output kept where the test can read it while c
// runs; wait waits for c and returns the result.
func (e *env) start(c *exec.Cmd) (out, errb *lockedBuffer, wait func() result) {
	e.t.Helper()
	out, errb = &lockedBuffer{}, &lockedBuffer{}
	c.Stdout, c.Stderr = out, errb
	start := time.Now()
	if err := c.Start(); err != nil {
		e.t.Fatal(err)
	}
	return out, errb, func() result {
		err := c.Wait()
		r := result{Out: out.String(), Err: errb.String(), Took: time.Since(start)}
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
		} else if err != nil {
			e.t.Errorf("run %v: %v", c.Args, err)
		}
		return r
	}
}

func (e *env) runCmd(c *exec.Cmd) result {
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	start := time.Now()
	err := c.Run()
	r := result{Out: out.String(), Err: errb.String(), Took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", c.Args, err)
	}
	return r
}

// mustRun runs and requires exit 0.
func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.Code != 0 {
		e.t.Fatalf("rack-gateway %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// login signs in headlessly: --auth-file, then the test plays the browser
// by fetching AUTH_URL with selected_user (and mfa=auto: the user passes
// MFA in the browser).
func (e *env) login(rack, email string) result {
	e.t.Helper()
	authFile := filepath.Join(e.root, "auth-"+rack)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := e.cmd(ctx, "login", rack, e.sb.URL, "--no-open", "--auth-file", authFile)
	var wg sync.WaitGroup
	var r result
	wg.Add(1)
	go func() { defer wg.Done(); r = e.runCmd(c) }()
	authURL := waitAuthURL(e.t, authFile, 20*time.Second)
	e.sb.browse(e.t, authURL+"&selected_user="+email+"&mfa=auto")
	wg.Wait()
	if r.Code != 0 {
		e.t.Fatalf("login: %s", r)
	}
	return r
}

func waitAuthURL(t testing.TB, path string, wait time.Duration) string {
	t.Helper()
	var u string
	waitFor(t, "AUTH_URL in "+path, wait, func() bool {
		data, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "AUTH_URL="); ok && v != "" {
				u = v
				return true
			}
		}
		return false
	})
	return u
}

// browse fetches a URL following redirects, like a browser.
func browse(t testing.TB, u string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("browser leg: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("browser leg ended with %s at %s", resp.Status, resp.Request.URL)
	}
}

// agentPID returns the pid the running agent reports, or 0.
func (e *env) agentPID() int {
	r := e.run("agent", "status")
	m := regexp.MustCompile(`pid (\d+)`).FindStringSubmatch(r.Out)
	if m == nil {
		return 0
	}
	var pid int
	fmt.Sscan(m[1], &pid)
	return pid
}

// stopAgent stops this environment's agent without starting one, and
// waits until its process is gone: a test leaves nothing running, and a
// test that restarts the agent gets a new one, not one still shutting down.
func (e *env) stopAgent() {
	if _, err := os.Stat(e.socket()); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := e.cmd(ctx, "agent", "stop").Output()
	m := regexp.MustCompile(`Agent stopped \(pid (\d+)\)`).FindSubmatch(out)
	if m == nil {
		// 'agent stop' found no agent, or could not reach it (a test
		// that left the socket unusable): whatever the log says started
		// must not outlive the test.
		for _, m := range regexp.MustCompile(`msg="agent started" pid=(\d+)`).FindAllStringSubmatch(e.agentLog(), -1) {
			pid, _ := strconv.Atoi(m[1])
			// The pid must still be this test's agent, not a number reused.
			env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if pidAlive(pid) && strings.Contains(string(env), "XDG_RUNTIME_DIR="+e.Runtime+"\x00") {
				e.t.Errorf("agent pid %d still running after 'agent stop' (%q); killing it", pid, out)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return
	}
	pid, _ := strconv.Atoi(string(m[1]))
	if !poll(10*time.Second, func() bool { return !pidAlive(pid) }) {
		e.t.Errorf("agent pid %d still running 10 s after 'agent stop'", pid)
	}
}

func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is not alive.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(data))
	return len(f) > 2 && f[2] != "Z"
}

// poll checks cond every 10 ms until it holds or wait has passed, and
// reports whether it held. Tests wait for a condition, never for a fixed
// time: every wait in the package goes through here.
func poll(wait time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
}

// waitFor polls cond and fails the test if it does not hold within wait.
func waitFor(t testing.TB, what string, wait time.Duration, cond func() bool) {
	t.Helper()
	if !poll(wait, cond) {
		t.Fatalf("timed out after %s waiting for %s", wait, what)
	}
}

func contains(t testing.TB, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, s)
		}
	}
}
