package faultproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// server is the upstream: JSON on /json, a websocket that sends ten
// messages on /ws, and a count of what reached it.
func server(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	hits := new(atomic.Int32)
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"apps":["one","two","three"]}`)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for i := 0; i < 10; i++ {
			if c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 100))) != nil {
				return
			}
		}
		_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		_, _, _ = c.ReadMessage()
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s, hits
}

func start(t *testing.T) (*Proxy, *atomic.Int32) {
	t.Helper()
	s, hits := server(t)
	p, err := Start(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, hits
}

// client never reuses connections, so net/http's own retry of an
// idempotent request on a reused connection cannot hide a fault.
func client() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

func get(t *testing.T, p *Proxy, path string) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := client().Get(p.URL + path)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestPassesThroughAndRecords(t *testing.T) {
	t.Parallel()
	p, hits := start(t)
	req, _ := http.NewRequest("POST", p.URL+"/json", strings.NewReader(`{"code":"123456"}`))
	req.Header.Set("X-Mfa-Totp", "654321")
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !json.Valid(body) || hits.Load() != 1 {
		t.Fatalf("%d %s, %d hits", resp.StatusCode, body, hits.Load())
	}
	if p.Sent("123456") != 1 || p.Sent("654321") != 1 || p.Sent("000000") != 0 {
		t.Errorf("Sent: %d %d %d", p.Sent("123456"), p.Sent("654321"), p.Sent("000000"))
	}
	// Keep-alive: a second request on the same client connection.
	if _, _, err := get(t, p, "/json"); err != nil || hits.Load() != 2 {
		t.Fatalf("second request: %v, %d hits", err, hits.Load())
	}
}

// The proxy keeps a client's connection for its next request, and says
// "Connection: close" when it will not: a client that reused a connection
// the proxy had closed would see a reset no fault asked for.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	p, _ := start(t)
	p.Arm(Fault{Kind: Status, Path: "/json", Status: 503})
	c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	// A made-up answer, a passed-through one, then a truncated one: all
	// on one connection.
	for i, want := range []int{503, 200, 200} {
		if i == 2 {
			p.Arm(Fault{Kind: Truncate, Path: "/json"})
		}
		if _, err := io.WriteString(c, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer #%d: %v", i+1, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || resp.Close != (i == 2) {
			t.Errorf("answer #%d: %d, close %v", i+1, resp.StatusCode, resp.Close)
		}
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	p, hits := start(t)
	p.Arm(Fault{Kind: Reset, Method: "GET", Path: "/json"})
	_, _, err := get(t, p, "/json")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("want a connection reset, got %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the request reached the server")
	}
	p.Arm(Fault{Kind: Reset, Path: "/js*", Forward: true})
	if _, _, err := get(t, p, "/json"); !errors.Is(err, syscall.ECONNRESET) || hits.Load() != 1 {
		t.Fatalf("forwarded reset: %v, %d hits", err, hits.Load())
	}
	if _, _, err := get(t, p, "/json"); err != nil || p.Armed() != 0 {
		t.Fatalf("a fault outlived its count: %v", err)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	p, hits := start(t)
	p.Arm(Fault{Kind: Status, Path: "/json", Status: 429, Header: http.Header{"Retry-After": {"7"}}, Body: "slow down", Count: 2})
	for i := 0; i < 2; i++ {
		resp, body, err := get(t, p, "/json")
		if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || string(body) != "slow down" {
			t.Fatalf("#%d: %v %v %q", i, err, resp, body)
		}
	}
	if resp, _, err := get(t, p, "/json"); err != nil || resp.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("after the count: %v %v %d hits", err, resp, hits.Load())
	}
}

func TestStall(t *testing.T) {
	t.Parallel()
	p, _ := start(t)
	p.Arm(Fault{Kind: Stall, Path: "/json"})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", p.URL+"/json", nil)
		_, err := client().Do(req)
		errc <- err
	}()
	waitFor(t, "the request to be held", func() bool { return p.Held() == 1 })
	select {
	case err := <-errc:
		t.Fatalf("a stalled request ended: %v", err)
	default:
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("want the client's cancel, got %v", err)
	}
	waitFor(t, "the stall to end with its client", func() bool { return p.Held() == 0 })
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	p, _ := start(t)
	p.Arm(Fault{Kind: Truncate, Path: "/json"})
	resp, body, err := get(t, p, "/json")
	if err != nil || resp.StatusCode != 200 || json.Valid(body) || !strings.HasPrefix(`{"apps":["one","two","three"]}`, string(body)) {
		t.Fatalf("declared whole: %v %q", err, body)
	}
	p.Arm(Fault{Kind: Truncate, Path: "/json", KeepLength: true})
	if _, _, err := get(t, p, "/json"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("length kept: want unexpected EOF, got %v", err)
	}
}

func TestCutStream(t *testing.T) {
	t.Parallel()
	p, _ := start(t)
	ws := "ws" + strings.TrimPrefix(p.URL, "http") + "/ws"
	read := func() (int, error) {
		c, _, err := websocket.DefaultDialer.Dial(ws, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n := 0
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return n, err
			}
			n++
		}
	}
	if n, err := read(); n != 10 || !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("relayed stream: %d messages, %v", n, err)
	}
	// A message is 2 bytes of header and 100 of payload: 3 whole ones
	// and part of the fourth, then the reset.
	p.Arm(Fault{Kind: CutStream, Path: "/*", AfterBytes: 350})
	// An answer that is not an upgrade leaves the fault armed for the
	// next stream.
	if _, _, err := get(t, p, "/json"); err != nil || p.Armed() != 1 {
		t.Fatalf("a plain answer took the stream fault: %v", err)
	}
	n, err := read()
	if n != 3 || websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("cut stream: %d messages, %v", n, err)
	}
}

func TestCutStreams(t *testing.T) {
	t.Parallel()
	p, _ := start(t)
	if n := p.CutStreams(); n != 0 {
		t.Fatalf("cut %d streams of none", n)
	}
	// An echo stream stays open until the client ends it.
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil || c.WriteMessage(typ, msg) != nil {
				return
			}
		}
	}))
	defer s.Close()
	p, err := Start(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(p.URL, "http")+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "one" {
		t.Fatalf("echo: %q %v", msg, err)
	}
	if n := p.Streams(); n != 1 {
		t.Fatalf("%d streams relayed, want 1", n)
	}
	if n := p.CutStreams(); n != 1 {
		t.Fatalf("cut %d streams, want 1", n)
	}
	if _, _, err := c.ReadMessage(); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the cut: want a reset, got %v", err)
	}
	waitFor(t, "the relay to end", func() bool { return p.Streams() == 0 })
}

func TestCloseEndsEverything(t *testing.T) {
	t.Parallel()
	p, _ := start(t)
	p.Arm(Fault{Kind: Stall, Path: "/json"})
	errc := make(chan error, 1)
	go func() { _, _, err := get(t, p, "/json"); errc <- err }()
	waitFor(t, "the request to be held", func() bool { return p.Held() == 1 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Fatal("a held request succeeded after Close")
	}
}

// waitFor polls cond every 5 ms for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
