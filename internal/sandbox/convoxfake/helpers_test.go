package convoxfake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeClock only moves when a test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one test's rack, reached through ServeHTTP as a gateway would.
type env struct {
	t     *testing.T
	rk    *Rack
	clock *fakeClock
}

func newEnv(t *testing.T, mod ...func(*Config)) *env {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_700_000_015, 0).UTC()}
	cfg := Config{Now: clock.Now}
	for _, m := range mod {
		m(&cfg)
	}
	return &env{t: t, rk: New(cfg), clock: clock}
}

// do sends one request to the rack; a non-nil form is sent url-encoded,
// the way the Convox SDK sends parameters; kv are header pairs.
func (e *env) do(method, path string, form url.Values, kv ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	rec := httptest.NewRecorder()
	e.rk.ServeHTTP(rec, r)
	return rec
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	wantStatus(t, rec, 200)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("bad JSON %q: %v", rec.Body.String(), err)
	}
	return m
}

func decodeList(t *testing.T, rec *httptest.ResponseRecorder) []map[string]any {
	t.Helper()
	wantStatus(t, rec, 200)
	var out []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("bad JSON list %q: %v", rec.Body.String(), err)
	}
	return out
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %q", rec.Code, status, rec.Body.String())
	}
}

// wantText checks a plain-text answer.
func wantText(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status || rec.Body.String() != body {
		t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), status, body)
	}
}

// wantError checks a rack error: indented JSON {"error": msg}.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, msg string) {
	t.Helper()
	want := "{\n  \"error\": " + strings.TrimSpace(mustJSON(t, msg)) + "\n}\n"
	if rec.Code != status || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q (%s), want %d %q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"), status, want)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wsServer serves the rack over a real listener: upgrades need one.
func (e *env) wsServer() *httptest.Server {
	srv := httptest.NewServer(e.rk)
	e.t.Cleanup(srv.Close)
	return srv
}

// dial opens a WebSocket with a fresh Dialer (never the default).
func dial(t *testing.T, srv *httptest.Server, path string, kv ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+path, h)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func mustDial(t *testing.T, srv *httptest.Server, path string, kv ...string) *websocket.Conn {
	t.Helper()
	c, resp, err := dial(t, srv, path, kv...)
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
// guards against a hung rack; nothing here waits on it.
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
	out, code, ok := strings.Cut(strings.Join(msgs, ""), ExecMarker)
	if !ok {
		t.Fatalf("no exit marker in %q", msgs)
	}
	return out, code
}

func (e *env) exec(srv *httptest.Server, command string, kv ...string) *websocket.Conn {
	e.t.Helper()
	return mustDial(e.t, srv, "/apps/demo/processes/"+SeedWebPID+"/exec", append([]string{"Command", command}, kv...)...)
}
