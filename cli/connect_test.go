package cli

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAgent listens on a socket and answers websocket handshakes; the
// first cut connections are closed as soon as the request arrives, as a
// stopping agent does. header is added to every 101.
type fakeAgent struct {
	sock     string
	accepted atomic.Int32
}

func startFakeAgent(t *testing.T, cut int32, header http.Header) *fakeAgent {
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
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := a.accepted.Add(1)
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil || n <= cut {
					return
				}
				sum := sha1.Sum([]byte(req.Header.Get("Sec-Websocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
				resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
					"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n"
				for k, vs := range header {
					resp += k + ": " + vs[0] + "\r\n"
				}
				if _, err := io.WriteString(c, resp+"\r\n"); err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, c) // until the client closes
			}()
		}
	}()
	return a
}

// An agent that hangs up during the handshake (it is stopping) costs a
// new attempt, not the command: nothing was sent that could have run.
func TestConnectRetriesAHandshakeCutOff(t *testing.T) {
	a := startFakeAgent(t, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := connect(ctx, a.sock, io.Discard)
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
	_, err := connect(ctx, a.sock, io.Discard)
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
