package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// fakeClock starts 5 s into a TOTP step so ±1-step arithmetic is easy to
// reason about, and only moves when a test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_010+5, 0).UTC()} }

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

type env struct {
	t     *testing.T
	s     *Server
	clock *fakeClock
}

func newEnv(t *testing.T, mod ...func(*Config)) *env {
	t.Helper()
	clock := newFakeClock()
	cfg := Config{Now: clock.Now}
	for _, m := range mod {
		m(&cfg)
	}
	return &env{t: t, s: New(cfg), clock: clock}
}

// req describes one request to the handler.
type req struct {
	method, path, body string
	header             map[string]string
	host               string
	remote             string
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	hr.Host = "localhost"
	if r.host != "" {
		hr.Host = r.host
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.s.Handler().ServeHTTP(rec, hr)
	return rec
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func basic(user, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

// session creates a CLI session for email directly in the store; verified
// opens the step-up window now, as a completed login does.
func (e *env) session(email string, verified bool) string {
	e.t.Helper()
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	u := e.s.users[email]
	if u == nil {
		e.t.Fatalf("no user %s", email)
	}
	tok, sess := e.s.createSessionLocked(u, "cli", cliSessionTTL)
	if verified {
		e.s.markVerifiedLocked(sess, e.s.now())
	}
	return tok
}

func (e *env) code(email string) string {
	e.t.Helper()
	code, err := totp.GenerateCodeCustom(e.s.users[email].totpSecret, e.clock.Now(), totpOpts)
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

func (e *env) user(email string) *userRecord {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return e.s.users[email]
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("bad JSON %q: %v", body, err)
	}
	return m
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %q", rec.Code, status, rec.Body.String())
	}
}

// wantJSONError checks a native {"error": msg} reply.
func wantJSONError(t *testing.T, rec *httptest.ResponseRecorder, status int, msg string) {
	t.Helper()
	wantStatus(t, rec, status)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON", ct)
	}
	if got := decode(t, rec.Body.Bytes())["error"]; got != msg {
		t.Fatalf("error = %q, want %q", got, msg)
	}
}

// wantProxy401 checks the rack proxy's text 401.
func wantProxy401(t *testing.T, rec *httptest.ResponseRecorder, reason string) {
	t.Helper()
	wantStatus(t, rec, http.StatusUnauthorized)
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if rec.Body.String() != reason+"\n" {
		t.Fatalf("body = %q, want %q", rec.Body.String(), reason+"\n")
	}
	if got := rec.Header().Get("X-Error-Reason"); got != reason {
		t.Fatalf("X-Error-Reason = %q, want %q", got, reason)
	}
}
