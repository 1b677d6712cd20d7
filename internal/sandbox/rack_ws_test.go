package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// wsServer serves the sandbox over a real listener: upgrades need one.
func (e *env) wsServer() *httptest.Server {
	srv := httptest.NewServer(e.s.Handler())
	e.t.Cleanup(srv.Close)
	return srv
}

// dial opens a proxied WebSocket with a fresh Dialer (never the default).
func dial(t *testing.T, srv *httptest.Server, path, tok string, kv ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	h := http.Header{"Authorization": {"Bearer " + tok}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+proxyPrefix+path, h)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func mustDial(t *testing.T, srv *httptest.Server, path, tok string, kv ...string) *websocket.Conn {
	t.Helper()
	c, resp, err := dial(t, srv, path, tok, kv...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", path, err, status)
	}
	return c
}

// readAll reads text messages until the stream ends. The deadline only
// guards against a hung server; nothing here waits on it.
func readAll(c *websocket.Conn) ([]string, error) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var msgs []string
	for {
		mt, data, err := c.ReadMessage()
		if err != nil {
			return msgs, err
		}
		if mt == websocket.TextMessage {
			msgs = append(msgs, string(data))
		}
	}
}

func wantNormalClose(t *testing.T, err error) {
	t.Helper()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("stream ended with %v, want a normal close", err)
	}
}

// parseExec splits concatenated exec output into output and exit code the
// way a robust client must: the marker may span messages.
func parseExec(t *testing.T, msgs []string) (string, string) {
	t.Helper()
	all := strings.Join(msgs, "")
	out, code, ok := strings.Cut(all, convoxfake.ExecMarker)
	if !ok {
		t.Fatalf("no exit marker in %q", msgs)
	}
	return out, code
}

func (e *env) exec(srv *httptest.Server, tok, command string, kv ...string) *websocket.Conn {
	e.t.Helper()
	return mustDial(e.t, srv, "/apps/demo/processes/"+convoxfake.SeedWebPID+"/exec", tok, append([]string{"Command", command}, kv...)...)
}

func TestExecRefusalsBeforeUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("admin@example.com", true)
	if _, resp, err := dial(t, srv, "/apps/demo/processes/web-gone/exec", tok, "Command", "echo"); err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown process: %v", err)
	}
	e.clock.Advance(11 * time.Minute) // exec is step-up
	_, resp, err := dial(t, srv, "/apps/demo/processes/"+convoxfake.SeedWebPID+"/exec", tok, "Command", "echo")
	if err == nil || resp.StatusCode != 401 || resp.Header.Get("X-MFA-Level") != "step_up" {
		t.Fatalf("stale window: %v", err)
	}
	c := mustDial(t, srv, "/apps/demo/processes/"+convoxfake.SeedWebPID+"/exec", tok, "Command", "echo ok", "X-Mfa-Totp", e.code("admin@example.com"))
	msgs, _ := readAll(c)
	if out, _ := parseExec(t, msgs); out != "ok\n" {
		t.Fatalf("with proof %q", out)
	}
}

// TestExecThroughGateway: a stream runs on the client's own connection,
// with the process's real env (exec output is never masked).
func TestExecThroughGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("admin@example.com", true)
	msgs, err := readAll(e.exec(srv, tok, "env"))
	wantNormalClose(t, err)
	if out, code := parseExec(t, msgs); code != "0" || !strings.Contains(out, "SECRET_KEY_BASE=sandbox-secret-key-base\n") {
		t.Fatalf("env output %q code %q", out, code)
	}
	msgs, err = readAll(mustDial(t, srv, "/apps/demo/logs", tok, "Filter", "worker"))
	wantNormalClose(t, err)
	if len(msgs) != 3 || msgs[0] != "booting worker\n" {
		t.Fatalf("logs %q", msgs)
	}
}

// TestWebSocketOriginThroughGateway: the gateway's origin rule decides the
// rack's upgrade. Without a User-Agent the transport lets the request by,
// so only the upgrader can refuse it.
func TestWebSocketOriginThroughGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("viewer@example.com", true)
	upgrade := func(origin string) *httptest.ResponseRecorder {
		return e.do(req{method: "GET", path: proxyPrefix + "/system/logs", header: withHeader(tok,
			"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13", "Origin", origin)})
	}
	// A foreign origin is refused; a local one gets past the origin check
	// to the missing Sec-WebSocket-Key.
	wantText(t, upgrade("http://evil.example"), 403, "Forbidden\n")
	wantText(t, upgrade("http://localhost:1234"), 400, "Bad Request\n")
}

func TestDropWebSocketsKnob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("admin@example.com", true)
	for want := 1; want <= 2; want++ {
		rec := e.do(req{method: "POST", path: "/_sandbox/drop-websockets", remote: "127.0.0.1:1"})
		if b := decode(t, rec.Body.Bytes()); b["status"] != "armed" || b["pending"] != float64(want) {
			t.Fatalf("knob %s", rec.Body.String())
		}
	}
	// Both armed streams are cut after their first message.
	for i := 0; i < 2; i++ {
		msgs, err := readAll(e.exec(srv, tok, "echo cut"))
		if len(msgs) != 1 || msgs[0] != "cut\n" || websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("dropped exec %d: %q, %v", i, msgs, err)
		}
	}
	msgs, err := readAll(e.exec(srv, tok, "exit 0"))
	wantNormalClose(t, err)
	if _, code := parseExec(t, msgs); code != "0" {
		t.Fatalf("next exec %q", msgs)
	}
}
