package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Hardening of what the agent reads from disk and from the gateway, with
// the real binaries: a broken config.json, hostile error text, rate limits
// and logs that cannot be written.

// writeConfig puts a config.json in the environment's config directory.
func (e *env) writeConfig(t *testing.T, body string) {
	t.Helper()
	if err := os.MkdirAll(e.Config, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.Config, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A null rack entry used to crash the agent at start (the first save of
// the config dereferenced it) and then every status read.
func TestConfigNullEntryIsDroppedNotFatal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeConfig(t, `{"gateways":{"a":null}}`)
	r := e.mustRun("racks")
	contains(t, "racks", r.Out, "No racks configured")
	contains(t, "racks notice", r.Err, `dropped the empty entry for rack "a"`, "rack-gateway login a <gateway-url>")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := e.client().Status(ctx)
	if err != nil {
		t.Fatalf("status after the null entry: %v", err)
	}
	if len(st.Racks) != 0 {
		t.Errorf("racks in status: %+v", st.Racks)
	}
	data, _ := os.ReadFile(filepath.Join(e.Config, "config.json"))
	if strings.Contains(string(data), `"a"`) {
		t.Errorf("the null entry is still in config.json:\n%s", data)
	}
	// Said once: the next command has nothing to tell.
	if r := e.mustRun("racks"); strings.Contains(r.Err, "dropped") {
		t.Errorf("notice repeated:\n%s", r)
	}
}

// "TOKEN" is the token to the upstream CLI (Go matches JSON keys to fields
// in any case), so it moves into the secret store like "token".
func TestConfigUpperCaseTokenIsMigrated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeConfig(t, `{"current":"up","gateways":{"up":{"url":"`+e.sb.URL+`","TOKEN":"rgw_uppercase_token_value"}}}`)
	r := e.mustRun("racks")
	contains(t, "racks notice", r.Err, "moved the session token for up out of")
	data, _ := os.ReadFile(filepath.Join(e.Config, "config.json"))
	if strings.Contains(strings.ToLower(string(data)), "token") {
		t.Errorf("config.json still holds a token:\n%s", data)
	}
	if got := e.storedToken("up"); got != "rgw_uppercase_token_value" {
		t.Errorf("stored token = %q", got)
	}
}

// privateEnv is a logged-in environment with a sandbox of its own, so its
// faults hit no other test.
func privateEnv(t *testing.T) (*env, *sandbox) {
	t.Helper()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	e.login("prod", admin)
	return e, sb
}

// What a gateway (or whatever answers in its place) sends is shown capped,
// without its escape sequences, and with the status when the words alone
// would hide it.
func TestGatewayErrorTextIsBoundedAndNamed(t *testing.T) {
	t.Parallel()
	e, sb := privateEnv(t)
	page := "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
	sb.fault(t, map[string]any{"method": "GET", "path": "/api/v1/rack-proxy/apps", "status": 502, "body": page, "content_type": "text/html"})
	r := e.run("apps")
	if r.Code == 0 || strings.Contains(r.Err, "<html") || strings.Contains(r.Err, "<center>") {
		t.Errorf("an HTML page reached the user:\n%s", r)
	}
	contains(t, "502 page", r.Err, "Error: gateway answered 502 Bad Gateway")

	huge := "\x1b]0;owned\x07\x1b[2J" + strings.Repeat("A", 200<<10)
	body, _ := json.Marshal(map[string]string{"error": "bad_request", "message": huge})
	sb.fault(t, map[string]any{"method": "GET", "path": "/api/v1/info", "status": 400, "body": string(body)})
	r = e.run("api", "/api/v1/info")
	if r.Code == 0 || len(r.Err) > 4<<10 || strings.ContainsRune(r.Err, 0x1b) || strings.ContainsRune(r.Err, 0x07) {
		t.Errorf("a 200 KB message reached the user as %d bytes (ESC: %v), exit %d", len(r.Err), strings.ContainsRune(r.Err, 0x1b), r.Code)
	}
	contains(t, "huge message", r.Err, "…(truncated)", `\x1b[2J`)
}

// A 429 on a read is retried once after a short Retry-After; a long one
// is not waited out: the error says when to try again, and nothing more
// was sent.
func TestRateLimitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	e, sb := privateEnv(t)
	const route = "GET /api/v1/rack-proxy/apps"
	before := sb.requests(t)[route]
	sb.fault(t, map[string]any{"method": "GET", "path": "/api/v1/rack-proxy/apps", "status": 429, "retry_after": "1"})
	r := e.mustRun("apps")
	contains(t, "apps after a short 429", r.Out, "demo")
	if n := sb.requests(t)[route] - before; n != 2 {
		t.Errorf("%d requests for one short 429, want 2 (one retry)", n)
	}

	before = sb.requests(t)[route]
	sb.fault(t, map[string]any{"method": "GET", "path": "/api/v1/rack-proxy/apps", "status": 429, "retry_after": "30"})
	r = e.run("apps")
	if r.Code == 0 {
		t.Fatalf("a long 429 succeeded:\n%s", r)
	}
	contains(t, "long 429", r.Err, "rate limited by the gateway; try again in 30s")
	if n := sb.requests(t)[route] - before; n != 1 {
		t.Errorf("%d requests for a long 429, want 1", n)
	}
}
