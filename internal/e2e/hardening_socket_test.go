package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/ipc/ws"
)

// The agent's socket under hostile or unlucky clients (issue 12): read
// limits, timeouts, refusals that arrive, handshakes cut off, exact
// argument bytes and version skew.

// A command line over the invocation limit fails with a message that
// names the limit, not with a broken pipe.
func TestCommandLineTooLong(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	args := []string{"env", "set"}
	for i := 0; i < 12; i++ {
		// Each argument stays under Linux's 128 KiB per-argument limit.
		args = append(args, "K"+strings.Repeat("x", 100<<10)+"=v")
	}
	r := e.run(args...)
	if r.Code != 2 {
		t.Fatalf("exit %d, want 2: %s", r.Code, r.Err[:min(len(r.Err), 300)])
	}
	contains(t, "stderr", r.Err, "Error: the command line is too long", "over the agent's limit of 1 MiB")
	if strings.Contains(r.Err, "broken pipe") {
		t.Errorf("stderr: %s", r.Err)
	}
}

// 300 clients that stall in their request body (and in their headers) are
// dropped at the read timeouts, and the agent serves its user meanwhile.
func TestSlowClientsDoNotHoldTheAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.set("RACK_GATEWAY_AGENT_READ_TIMEOUT", "1s")
	e.mustRun("racks")
	const n = 300
	var dropped atomic.Int32
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := transport.Dial(ctx, e.socket())
		cancel()
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		start := "POST /v1/prompts/x HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"va"
		if i%2 == 1 {
			start = "GET /v1/status HTTP/1.1\r\nHost: agent\r\nX-Slow: "
		}
		if _, err := io.WriteString(c, start); err != nil {
			t.Fatal(err)
		}
		go func() {
			// Past this deadline the agent is holding the client.
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				dropped.Add(1)
			}
		}()
	}
	e.mustRun("agent", "status")
	if !poll(30*time.Second, func() bool { return dropped.Load() == n }) {
		t.Fatalf("the agent still holds %d of %d stalled clients", n-int(dropped.Load()), n)
	}
	e.mustRun("racks")
}

// Another user's process is refused every time, and sees why: 50 raw
// requests (the write must succeed, then the 403 must be read) and 50
// websocket handshakes as the CLI does them, all as 'nobody'.
func TestOtherUIDAlwaysSeesTheRefusal(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as 'nobody' (setpriv)")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	e := newEnv(t)
	e.mustRun("racks")
	// Test-only: let nobody reach the socket, so that the agent's own
	// peer check is what refuses it.
	// Owner-only again before the harness stops the agent (cleanups run
	// last first), even when the test fails: the CLI will not use a
	// socket directory others can enter, and its 'agent stop' would leave
	// the agent running.
	t.Cleanup(func() { os.Chmod(filepath.Dir(e.socket()), 0o700) })
	for _, d := range []string{e.root, e.Runtime, filepath.Dir(e.socket())} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(e.socket(), 0o666); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(e.root, "e2e.test")
	if err := copyFile(exe, os.Args[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []byte
	var err error
	for try := 0; ; try++ {
		c := exec.CommandContext(ctx, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", exe)
		c.Env = []string{"E2E_HELPER=refusal-loop", "E2E_SOCKET=" + e.socket()}
		out, err = c.CombinedOutput()
		// A parallel test's fork can hold the copy's write descriptor
		// for a moment (until its exec closes it), so the kernel refuses
		// to run the file: "Text file busy". Only a retry gets past it.
		if err == nil || try == 20 || !strings.Contains(string(out), "Text file busy") {
			break
		}
	}
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	contains(t, "nobody's attempts", string(out), "raw 50/50", "handshake 50/50")
	os.Chmod(filepath.Dir(e.socket()), 0o700)
	e.mustRun("racks")
}

// refusalLoop runs as another user (E2E_HELPER=refusal-loop): it counts
// how many of 50 requests of each kind came back with the agent's 403.
func refusalLoop() int {
	sock := os.Getenv("E2E_SOCKET")
	raw, hs := 0, 0
	for i := 0; i < 50; i++ {
		if err := rawRefusal(sock); err != nil {
			fmt.Printf("raw %d: %v\n", i, err)
		} else {
			raw++
		}
		if err := handshakeRefusal(sock); err != nil {
			fmt.Printf("handshake %d: %v\n", i, err)
		} else {
			hs++
		}
	}
	fmt.Printf("raw %d/50\nhandshake %d/50\n", raw, hs)
	return 0
}

// rawRefusal sends a request and reads the answer, failing on any error:
// a client that is not lenient about a failed write.
func rawRefusal(sock string) error {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: agent\r\n\r\n"); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 403 || !strings.Contains(string(body), "not the agent's owner") {
		return fmt.Errorf("%d %s", resp.StatusCode, body)
	}
	return nil
}

// handshakeRefusal opens /v1/run the way the CLI does.
func handshakeRefusal(sock string) error {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, resp, err := ws.HandshakeHeader(c, ipc.Host, ipc.PathRun, nil, time.Now().Add(5*time.Second))
	if resp == nil || resp.Status != 403 || !strings.Contains(string(resp.Body), "not the agent's owner") {
		return fmt.Errorf("no refusal: %v", err)
	}
	return nil
}

func copyFile(dst, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// A command right after 'agent stop' starts a new agent and runs, every
// time: an agent that hangs up during the handshake is one on its way out.
func TestCommandRightAfterAgentStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustRun("racks")
	failures := 0
	for i := 0; i < 30; i++ {
		if r := e.run("agent", "stop"); r.Code != 0 {
			t.Fatalf("agent stop: %s", r)
		}
		if r := e.run("racks"); r.Code != 0 {
			failures++
			t.Errorf("attempt %d: %s", i, r)
		}
	}
	if failures > 0 {
		t.Fatalf("%d of 30 commands right after 'agent stop' failed", failures)
	}
}

// Arguments reach the gateway exactly as given, or are refused: bytes
// that are not UTF-8 cannot cross the gateway's text API unchanged, so
// the command is refused naming the argument, with or without the agent,
// and nothing is stored. (They used to arrive as U+FFFD, and print OK.)
func TestArgumentBytesAreNeverChanged(t *testing.T) {
	t.Parallel()
	e, _ := convoxEnv(t, admin)
	for _, mode := range [][]string{nil, {"--no-agent"}} {
		r := e.run(append(mode, "env", "set", "BIN=a\xff\xfeb", "-a", "demo")...)
		if r.Code != 2 {
			t.Fatalf("%v: %s", mode, r)
		}
		// Counted as typed: --no-agent is argument 1.
		contains(t, "stderr", r.Err, fmt.Sprintf("Error: argument %d is not valid UTF-8 (byte 0xff at offset 5)", 3+len(mode)))
	}
	if r := e.mustRun("env", "-a", "demo"); strings.Contains(r.Out, "BIN=") {
		t.Fatalf("a refused value was stored:\n%s", r.Out)
	}
	// UTF-8 arrives exactly.
	e.mustRun("env", "set", "UNI=é✓\u00a0x", "-a", "demo")
	if r := e.mustRun("env", "get", "UNI", "-a", "demo"); r.Out != "é✓\u00a0x\n" {
		t.Fatalf("env get UNI: %q", r.Out)
	}
}

// buildVersioned builds the CLI and the agent stamped with version into a
// directory of their own (the CLI starts the agent next to it).
func buildVersioned(t *testing.T, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), version)
	for _, b := range []struct{ out, pkg, cgo string }{
		{"rack-gateway", "../../cmd/rack-gateway", "0"},
		{"rack-gateway-agent", "../../cmd/rack-gateway-agent", "1"},
	} {
		c := exec.Command("go", "build", "-trimpath",
			"-ldflags", "-X github.com/rack-gateway/rack-gateway/internal/buildinfo.Version="+version,
			"-o", filepath.Join(dir, b.out), b.pkg)
		c.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("build %s %s: %v\n%s", b.pkg, version, err, out)
		}
	}
	return dir
}

// runFrom runs the rack-gateway in dir in this environment.
func (e *env) runFrom(dir string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, filepath.Join(dir, "rack-gateway"), args...)
	c.Env = e.environ()
	c.Dir = e.root
	c.WaitDelay = 2 * time.Second
	return e.runCmd(c)
}

// agentHello opens /v1/run, reads what the agent says of itself in the
// upgrade, and hangs up without running anything.
func (e *env) agentHello() (version, running string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := transport.Dial(ctx, e.socket())
	if err != nil {
		return "", ""
	}
	defer nc.Close()
	conn, resp, err := ws.HandshakeHeader(nc, ipc.Host, ipc.PathRun, nil, time.Now().Add(5*time.Second))
	if err != nil {
		return "", ""
	}
	conn.Close()
	return resp.Header.Get(ipc.HeaderVersion), resp.Header.Get(ipc.HeaderRunning)
}

// Version skew both ways, with real binaries of two versions. A newer CLI
// leaves a busy older agent alone and says how to restart it (an unknown
// command says why it may be unknown), and restarts it once it is idle,
// keeping the session; an older CLI is told to update by the newer agent.
// Every command runs.
func TestVersionSkewBothWays(t *testing.T) {
	t.Parallel()
	oldDir, newDir := buildVersioned(t, "v9.0.0"), buildVersioned(t, "v9.1.0")
	e := newEnv(t)
	if r := e.runFrom(oldDir, "racks"); r.Code != 0 || r.Err != "" {
		t.Fatalf("old CLI, old agent: %s", r)
	}
	if v, _ := e.agentHello(); v != "v9.0.0" {
		t.Fatalf("agent version %q", v)
	}
	oldPID := e.agentPID()

	// A login waiting for its browser leg keeps the old agent busy.
	authFile := filepath.Join(e.root, "auth")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	login := exec.CommandContext(ctx, filepath.Join(oldDir, "rack-gateway"), "login", "prod", e.sb.URL, "--no-open", "--auth-file", authFile)
	login.Env, login.Dir = e.environ(), e.root
	_, _, waitLogin := e.start(login)
	authURL := waitAuthURL(t, authFile, 20*time.Second)

	busy := "rack-gateway: the agent (v9.0.0) is older than this CLI (v9.1.0); run 'rack-gateway agent restart' once no command is running.\n"
	if r := e.runFrom(newDir, "racks"); r.Code != 0 || r.Err != busy {
		t.Fatalf("new CLI, busy old agent: %s", r)
	}
	r := e.runFrom(newDir, "no-such-command")
	if r.Code != 2 {
		t.Fatalf("unknown command: %s", r)
	}
	contains(t, "unknown command", r.Err, busy, `unknown command "no-such-command"`,
		"The agent (v9.0.0) is older than this CLI (v9.1.0) and may not know this command: run 'rack-gateway agent restart'")
	if p := e.agentPID(); p != oldPID {
		t.Fatalf("a busy agent was restarted: pid %d, was %d", p, oldPID)
	}

	browse(t, authURL+"&selected_user=viewer@example.com&mfa=auto")
	if r := waitLogin(); r.Code != 0 {
		t.Fatalf("login: %s", r)
	}
	waitFor(t, "the old agent to be idle", 10*time.Second, func() bool { _, n := e.agentHello(); return n == "0" })

	// Idle: the newer CLI restarts it and the command runs on the new one.
	r = e.runFrom(newDir, "racks")
	if r.Code != 0 || r.Err != "rack-gateway: restarted the agent: it was v9.0.0, older than this CLI (v9.1.0).\n" {
		t.Fatalf("new CLI, idle old agent: %s", r)
	}
	contains(t, "racks after the restart", r.Out, "prod")
	if v, _ := e.agentHello(); v != "v9.1.0" {
		t.Fatalf("agent version after the restart %q", v)
	}
	if p := e.agentPID(); p == oldPID || pidAlive(oldPID) {
		t.Fatalf("the old agent (pid %d) still runs; now %d", oldPID, p)
	}
	if r := e.runFrom(newDir, "test-auth"); r.Code != 0 {
		t.Fatalf("the session did not survive the restart: %s", r)
	}

	// The other way: an older CLI is told to update, and its command runs.
	r = e.runFrom(oldDir, "racks")
	if r.Code != 0 || r.Err != "rack-gateway: this CLI (v9.0.0) is older than the agent (v9.1.0); update the rack-gateway CLI to match.\n" {
		t.Fatalf("old CLI, new agent: %s", r)
	}
	contains(t, "old CLI racks", r.Out, "prod")
}

// However a secret prompt ends, the terminal gets its echo back: when the
// agent dies under it, and when the CLI itself is told to terminate or
// hangs up. (Answered elsewhere and Ctrl-C are covered in localapi_test.go
// and stepup_test.go.)
func TestPromptEndsGiveTheEchoBack(t *testing.T) {
	t.Parallel()
	e, _ := mfaEnv(t)
	for _, end := range []struct {
		name string
		do   func(p *ptyTerm)
	}{
		{"agent killed", func(*ptyTerm) {
			if err := syscall.Kill(e.agentPIDFromStatus(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}},
		{"SIGTERM", func(p *ptyTerm) { _ = p.cmd.Process.Signal(syscall.SIGTERM) }},
		{"SIGHUP", func(p *ptyTerm) { _ = p.cmd.Process.Signal(syscall.SIGHUP) }},
	} {
		p := e.startPTY(end.name, stepUpCmd...)
		p.waitText("Enter TOTP code:", 15*time.Second)
		p.waitEchoOff()
		end.do(p)
		code := p.wait(10 * time.Second)
		if code == 0 {
			t.Errorf("%s: exit 0:\n%s", end.name, p.Output())
		}
		if p.echoOff() {
			t.Errorf("%s: the terminal was left without echo:\n%s", end.name, p.Output())
		}
	}
}

// agentPIDFromStatus asks the running agent its pid over the local API,
// without running a command (which would start one).
func (e *env) agentPIDFromStatus() int {
	e.t.Helper()
	st, err := e.client().Status(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st.PID
}
