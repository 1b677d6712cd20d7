package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// fakeAgent listens on a socket and answers websocket handshakes on
// /v1/run; the first cut connections are closed as soon as the request
// arrives, as a stopping agent does. header(n) is added to the n-th 101;
// each run's invocation is recorded and answered with exit 0.
type fakeAgent struct {
	sock     string
	accepted atomic.Int32
	mu       sync.Mutex
	argvs    [][]string
}

func startFakeAgent(t *testing.T, cut int32, header func(n int32) http.Header) *fakeAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "rgcli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &fakeAgent{sock: filepath.Join(dir, "agent.sock")}
	ln, err := net.Listen("unix", a.sock)
	if err != nil {
		t.Fatal(err)
	}
	up := gorilla.Upgrader{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := a.accepted.Add(1)
		if n <= cut {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		var h http.Header
		if header != nil {
			h = header(n)
		}
		conn, err := up.Upgrade(w, r, h)
		if err != nil {
			return
		}
		defer conn.Close()
		var inv ipc.Invocation
		if conn.ReadJSON(&inv) != nil {
			return
		}
		a.mu.Lock()
		a.argvs = append(a.argvs, inv.Argv)
		a.mu.Unlock()
		_ = conn.WriteJSON(&ipc.Control{Type: ipc.MsgExit, Exit: &ipc.Exit{}})
		_, _, _ = conn.ReadMessage() // until the client closes
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *fakeAgent) runs() [][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([][]string(nil), a.argvs...)
}

// An agent that hangs up during the handshake (it is stopping) costs a
// new attempt, not the command: nothing was sent that could have run.
func TestConnectRetriesAHandshakeCutOff(t *testing.T) {
	a := startFakeAgent(t, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := connect(ctx, a.sock, io.Discard)
	if err != nil {
		t.Fatalf("connect after two cut-off handshakes: %v", err)
	}
	conn.Close()
	if n := a.accepted.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// The retries are bounded: an agent that always hangs up is reported.
func TestConnectGivesUpOnAnAgentThatAlwaysHangsUp(t *testing.T) {
	a := startFakeAgent(t, 1000, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := connect(ctx, a.sock, io.Discard)
	if err == nil {
		t.Fatal("connected")
	}
	if n := a.accepted.Load(); n != handshakeAttempts {
		t.Errorf("%d connections, want %d", n, handshakeAttempts)
	}
	if got := err.Error(); !strings.Contains(got, "closed the connection during the handshake") {
		t.Errorf("error %q", got)
	}
}
