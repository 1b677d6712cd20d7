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
	c := exec.CommandContext(ctx, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", exe)
	c.Env = []string{"E2E_HELPER=refusal-loop", "E2E_SOCKET=" + e.socket()}
	out, err := c.CombinedOutput()
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
