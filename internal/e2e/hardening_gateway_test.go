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
	contains(t, "long 429", r.Err, "rate limited by the gateway (HTTP 429); try again in 30 s")
	if n := sb.requests(t)[route] - before; n != 1 {
		t.Errorf("%d requests for a long 429, want 1", n)
	}
}

// With the agent log on a full disk and a directory where the audit log
// should be, the user is told once, on the next command's stderr, and the
// status says why; before, both logs were lost without a word.
func TestUnwritableLogsAreTold(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	e := newEnv(t)
	dir := filepath.Join(e.State, "rack-gateway")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", e.logPath()); err != nil {
		t.Fatal(err)
	}
	// Runs before newEnv's cleanup, which reads the log (endless zeros
	// from /dev/full) when the test failed.
	t.Cleanup(func() { os.Remove(e.logPath()) })
	auditPath := filepath.Join(dir, "audit.jsonl")
	if err := os.Mkdir(auditPath, 0o700); err != nil {
		t.Fatal(err)
	}
	r := e.mustRun("racks")
	contains(t, "first command", r.Err,
		"warning: the agent could not write its log ("+e.logPath()+"): no space left on device",
		"warning: the agent could not write its audit log ("+auditPath+"): is a directory")
	r2 := e.mustRun("racks")
	if strings.Contains(r2.Err, "warning:") {
		t.Errorf("warned again:\n%s", r2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := e.client().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.LogError, "no space left on device") || !strings.Contains(st.AuditError, "is a directory") {
		t.Errorf("status log_error=%q audit_error=%q", st.LogError, st.AuditError)
	}
	// The disk recovers: the next line is written and the status clears.
	if err := os.Remove(auditPath); err != nil {
		t.Fatal(err)
	}
	e.mustRun("racks")
	if st, err := e.client().Status(ctx); err != nil || st.AuditError != "" {
		t.Errorf("audit_error after recovery: %q (%v)", st.AuditError, err)
	}
	if lines, _ := e.auditLines(t); len(lines) != 1 {
		t.Errorf("%d audit lines after recovery, want 1", len(lines))
	}
}

// A --no-agent run writes the audit line the agent writes for the same
// command; before, such runs left no trace.
func TestNoAgentRunsAreAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustRun("--no-agent", "racks")
	if r := e.run("--no-agent", "racks", "extra"); r.Code != 2 {
		t.Fatalf("usage error: %s", r)
	}
	if _, err := os.Stat(e.socket()); err == nil {
		t.Error("--no-agent started an agent")
	}
	lines, raw := e.auditLines(t)
	if len(lines) != 2 {
		t.Fatalf("%d audit lines, want 2:\n%s", len(lines), raw)
	}
	for i, want := range []int{0, 2} {
		l := lines[i]
		if l.PID == 0 || l.Exe == "" || l.MFA != "none" || l.Exit != want || !strings.Contains(strings.Join(l.Command, " "), "racks") {
			t.Errorf("line %d: %+v", i, l)
		}
	}
	if lines[1].Error != "usage" {
		t.Errorf("usage error recorded as %q", lines[1].Error)
	}
}
