package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc/transport"
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
