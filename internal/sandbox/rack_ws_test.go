package sandbox

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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
	out, code, ok := strings.Cut(all, execMarker)
	if !ok {
		t.Fatalf("no exit marker in %q", msgs)
	}
	return out, code
}

func (e *env) exec(srv *httptest.Server, tok, command string, kv ...string) *websocket.Conn {
	e.t.Helper()
	return mustDial(e.t, srv, "/apps/demo/processes/"+seedWebPID+"/exec", tok, append([]string{"Command", command}, kv...)...)
}

func TestExecEchoAndMarkerVariants(t *testing.T) {
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("admin@example.com", true)
	splits, combined := 0, 0
	for i := 1; i <= 8; i++ {
		msgs, err := readAll(e.exec(srv, tok, `echo "hello  world"`, "Height", "24", "Width", "80"))
		wantNormalClose(t, err)
		if out, code := parseExec(t, msgs); out != "hello  world\n" || code != "0" {
			t.Fatalf("exec %d: output %q code %q (%q)", i, out, code, msgs)
		}
		last := msgs[len(msgs)-1]
		if !strings.Contains(last, execMarker) {
			splits++
		}
		if strings.HasPrefix(last, "hello") {
			combined++
		}
	}
	if splits != 2 || combined != 2 {
		t.Fatalf("marker variants: %d split, %d combined with output", splits, combined)
	}
	// A tty translates newlines like a pty.
	msgs, _ := readAll(e.exec(srv, tok, "echo hi", "Tty", "true"))
	if out, _ := parseExec(t, msgs); out != "hi\r\n" {
		t.Fatalf("tty output %q", out)
	}
}

func TestExecExitCodeSplitMarker(t *testing.T) {
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("admin@example.com", true)
	msgs, err := readAll(e.exec(srv, tok, "exit 3"))
	wantNormalClose(t, err)
	if len(msgs) != 2 || strings.Contains(msgs[0], execMarker) || strings.Contains(msgs[1], execMarker) {
		t.Fatalf("marker not split: %q", msgs)
	}
	if out, code := parseExec(t, msgs); out != "" || code != "3" {
		t.Fatalf("output %q code %q", out, code)
	}
	for cmd, want := range map[string]string{"sh -c 'exit 7'": "7", "nope": "127", "false": "1", "sleep 0": "0", "cat /etc/x": "1"} {
		msgs, _ := readAll(e.exec(srv, tok, cmd))
		if _, code := parseExec(t, msgs); code != want {
			t.Errorf("%s: code %q, want %s", cmd, code, want)
		}
	}
	msgs, _ = readAll(e.exec(srv, tok, "env"))
	if out, _ := parseExec(t, msgs); !strings.Contains(out, "FOO=bar\n") || !strings.Contains(out, "SECRET_KEY_BASE=sandbox-secret-key-base\n") ||
		!strings.Contains(out, "HOSTNAME="+seedWebPID+"\n") {
		t.Fatalf("env output %q", out)
	}
}

func TestExecCatUntilEOF(t *testing.T) {
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("admin@example.com", true)
	c := e.exec(srv, tok, "cat")
	for _, line := range []string{"first line\n", "second line\n"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	// Input after EOF is ignored.
	for _, m := range []struct {
		typ  int
		data string
	}{{websocket.BinaryMessage, ""}, {websocket.TextMessage, "late\n"}} {
		if err := c.WriteMessage(m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := readAll(c)
	wantNormalClose(t, err)
	if out, code := parseExec(t, msgs); out != "first line\nsecond line\n" || code != "0" {
		t.Fatalf("cat output %q code %q", out, code)
	}

	// An interactive shell runs a line at a time until exit.
	c = e.exec(srv, tok, "sh")
	_ = c.WriteMessage(websocket.TextMessage, []byte("echo one\necho two\nexit 4\n"))
	msgs, _ = readAll(c)
	if out, code := parseExec(t, msgs); out != "one\ntwo\n" || code != "4" {
		t.Fatalf("sh output %q code %q", out, code)
	}
}

func TestExecRefusalsBeforeUpgrade(t *testing.T) {
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("admin@example.com", true)
	if _, resp, err := dial(t, srv, "/apps/demo/processes/web-gone/exec", tok, "Command", "echo"); err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown process: %v", err)
	}
	e.clock.Advance(11 * time.Minute) // exec is step-up
	_, resp, err := dial(t, srv, "/apps/demo/processes/"+seedWebPID+"/exec", tok, "Command", "echo")
	if err == nil || resp.StatusCode != 401 || resp.Header.Get("X-MFA-Level") != "step_up" {
		t.Fatalf("stale window: %v", err)
	}
	c := mustDial(t, srv, "/apps/demo/processes/"+seedWebPID+"/exec", tok, "Command", "echo ok", "X-Mfa-Totp", e.code("admin@example.com"))
	msgs, _ := readAll(c)
	if out, _ := parseExec(t, msgs); out != "ok\n" {
		t.Fatalf("with proof %q", out)
	}
}

func TestLogsWithoutFollow(t *testing.T) {
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("viewer@example.com", true)
	msgs, err := readAll(mustDial(t, srv, "/apps/demo/logs", tok, "Follow", "false", "Prefix", "true", "Since", "2m0s"))
	wantNormalClose(t, err)
	if len(msgs) != 6 || !strings.HasPrefix(msgs[0], e.clock.Now().Add(-50*time.Second).Format(time.RFC3339)+" service/") {
		t.Fatalf("app logs %q", msgs)
	}
	// Without Since the seeded promotion an hour ago shows too.
	msgs, _ = readAll(mustDial(t, srv, "/apps/demo/logs", tok))
	if len(msgs) != 7 || msgs[0] != "release "+seedReleaseID+" promoted\n" {
		t.Fatalf("all app logs %q", msgs)
	}
	msgs, _ = readAll(mustDial(t, srv, "/apps/demo/logs", tok, "Filter", "worker"))
	if len(msgs) != 3 || msgs[0] != "booting worker\n" {
		t.Fatalf("filtered logs %q", msgs)
	}
	msgs, _ = readAll(mustDial(t, srv, "/apps/demo/logs", tok, "Since", "25s"))
	if len(msgs) != 0 {
		t.Fatalf("since 25s %q", msgs)
	}
	msgs, _ = readAll(mustDial(t, srv, "/apps/demo/processes/"+seedWorkerPID+"/logs", tok))
	if len(msgs) != 3 || msgs[2] != "processed job 1\n" {
		t.Fatalf("process logs %q", msgs)
	}
	msgs, err = readAll(mustDial(t, srv, "/system/logs", tok))
	wantNormalClose(t, err)
	if len(msgs) != 3 || !strings.HasPrefix(msgs[0], "rack sandbox running") {
		t.Fatalf("system logs %q", msgs)
	}
	if _, resp, err := dial(t, srv, "/apps/nope/logs", tok); err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown app logs: %v", err)
	}
}

func TestLogsFollow(t *testing.T) {
	e := newEnv(t)
	e.s.followInterval = time.Millisecond
	srv := e.wsServer()
	tok := e.session("viewer@example.com", true)
	c := mustDial(t, srv, "/apps/demo/logs", tok, "Follow", "true")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var followed int
	for i := 0; followed < 3; i++ {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if strings.Contains(string(data), "(follow ") {
			followed++
		}
	}
	// The client ends a followed stream; the server answers the close.
	if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			wantNormalClose(t, err)
			break
		}
	}
}

func TestBuildLogsCompleteTheBuild(t *testing.T) {
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("deployer@example.com", true)
	e.proxy("POST", "/apps/demo/objects/tmp/x.tgz", tok, nil)
	rec := e.proxy("POST", "/apps/demo/builds", tok, map[string][]string{"url": {"object://demo/tmp/x.tgz"}})
	id := decode(t, rec.Body.Bytes())["id"].(string)
	msgs, err := readAll(mustDial(t, srv, "/apps/demo/builds/"+id+"/logs", tok))
	wantNormalClose(t, err)
	if len(msgs) < 5 || msgs[0] != "Building: .\n" {
		t.Fatalf("build logs %q", msgs)
	}
	if b := decode(t, e.proxy("GET", "/apps/demo/builds/"+id, tok, nil).Body.Bytes()); b["status"] != "complete" || b["release"] == "" {
		t.Fatalf("build after logs %v", b)
	}
}

func TestDropWebSocketsKnob(t *testing.T) {
	e := newEnv(t)
	srv := e.wsServer()
	tok := e.session("admin@example.com", true)
	rec := e.do(req{method: "POST", path: "/_sandbox/drop-websockets", remote: "127.0.0.1:1"})
	if decode(t, rec.Body.Bytes())["pending"] != float64(1) {
		t.Fatalf("knob %s", rec.Body.String())
	}
	msgs, err := readAll(e.exec(srv, tok, "echo cut"))
	var ce *websocket.CloseError
	if len(msgs) != 1 || msgs[0] != "cut\n" || (errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure) {
		t.Fatalf("dropped exec: %q, %v", msgs, err)
	}
	// Only one stream was armed.
	msgs, err = readAll(e.exec(srv, tok, "exit 0"))
	wantNormalClose(t, err)
	if _, code := parseExec(t, msgs); code != "0" {
		t.Fatalf("next exec %q", msgs)
	}
	// Without output a dropped exec sends nothing at all: no marker.
	e.s.DropNextWebSocket()
	msgs, err = readAll(e.exec(srv, tok, "exit 3"))
	if len(msgs) != 0 || websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("dropped exit: %q, %v", msgs, err)
	}
	// A dropped log stream stops after its first line, without a close.
	e.s.DropNextWebSocket()
	msgs, err = readAll(mustDial(t, srv, "/apps/demo/logs", tok))
	if len(msgs) != 1 || websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("dropped logs: %q, %v", msgs, err)
	}
}
