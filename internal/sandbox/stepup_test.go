package sandbox

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func withHeader(tok string, kv ...string) map[string]string {
	h := map[string]string{"Authorization": "Bearer " + tok}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

func wantMFAHeader(t *testing.T, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	if got := rec.Header().Get("X-MFA-Required"); got != want {
		t.Fatalf("X-MFA-Required = %q, want %q", got, want)
	}
}

func TestNativeStepUpRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	put := func(hdr map[string]string, body string) *httptest.ResponseRecorder {
		return e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: body, header: hdr})
	}
	// Never MFA-verified: step-up (enrolled) or enrollment (not enrolled),
	// even with a valid proof attached.
	never := e.session("admin@example.com", false)
	rec := put(withHeader(never, "X-Mfa-Totp", e.code("admin@example.com")), `{"env":{"A":"1"}}`)
	wantJSONError(t, rec, 401, "mfa_step_up_required")
	wantMFAHeader(t, rec, "step-up")
	if m := decode(t, rec.Body.Bytes())["message"]; m != "Multi-factor authentication is required for this action." {
		t.Fatalf("message %v", m)
	}
	rec = put(bearer(e.session(UnenrolledEmail, false)), `{"env":{"A":"1"}}`)
	wantJSONError(t, rec, 401, "mfa_enrollment_required")
	wantMFAHeader(t, rec, "enrollment")

	// Fresh window: passes, and a junk proof is ignored (not evaluated).
	tok := e.session("admin@example.com", true)
	rec = put(withHeader(tok, "X-Mfa-Totp", "000000"), `{"env":{"A":"1","API_KEY":"s3"}}`)
	wantStatus(t, rec, 200)
	body := decode(t, rec.Body.Bytes())
	if env := body["env"].(map[string]any); env["A"] != "1" || env["API_KEY"] != "s3" || !strings.HasPrefix(body["release_id"].(string), "R") {
		t.Fatalf("put body %v", body)
	}
	if n := len(e.user("admin@example.com").attempts); n != 0 {
		t.Fatalf("ignored proof counted: %d", n)
	}
	// GET is MFA-free and masks secrets unless asked.
	rec = e.do(req{method: "GET", path: "/api/v1/apps/demo/env", header: bearer(never)})
	if env := decode(t, rec.Body.Bytes())["env"].(map[string]any); env["A"] != "1" || env["API_KEY"] != maskedSecret {
		t.Fatalf("get env %s", rec.Body.String())
	}

	// Stale window: no proof → step-up; a wrong proof → verification
	// failed without the header; a valid proof → pass and a new window.
	e.clock.Advance(10*time.Minute + time.Second)
	rec = put(bearer(tok), `{"set":{"B":"2"}}`)
	wantJSONError(t, rec, 401, "mfa_step_up_required")
	wantMFAHeader(t, rec, "step-up")
	rec = put(bearer(tok+".totp.000000"), `{"set":{"B":"2"}}`)
	wantJSONError(t, rec, 401, "mfa_verification_failed")
	wantMFAHeader(t, rec, "")
	wantJSONError(t, put(bearer(tok+".sms.123456"), `{}`), 400, "invalid_mfa_type")
	wantStatus(t, put(bearer(tok+".totp."+e.code("admin@example.com")), `{"set":{"B":"2"},"remove":["A"]}`), 200)
	e.clock.Advance(10 * time.Minute) // exactly the window: native is ≤
	rec = put(bearer(tok), `{"set":{"B":"2"}}`)
	wantStatus(t, rec, 200)
	if _, ok := decode(t, rec.Body.Bytes())["release_id"]; ok {
		t.Fatal("no-op update created a release")
	}
	// Viewers pass MFA, then lack the permission.
	viewer := e.session("viewer@example.com", true)
	wantJSONError(t, put(bearer(viewer), `{"set":{"B":"3"}}`), 403, "You don't have permission to modify environment variables.")
}

func TestNativeAlwaysRouteAndTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", true) // fresh window
	create := func(hdr map[string]string, name string) *httptest.ResponseRecorder {
		return e.do(req{method: "POST", path: "/api/v1/api-tokens", body: `{"name":"` + name + `","permissions":["convox:app:list"]}`, header: hdr})
	}
	rec := create(bearer(tok), "ci")
	wantJSONError(t, rec, 401, "mfa_required")
	wantMFAHeader(t, rec, "always")

	code := e.code("admin@example.com")
	rec = create(withHeader(tok, "X-Mfa-Totp", code), "ci")
	wantStatus(t, rec, 200)
	var created struct {
		Token    string       `json:"token"`
		ID       int64        `json:"id"`
		APIToken apiTokenView `json:"api_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^rgw_[A-Za-z0-9_-]{43}=$`).MatchString(created.Token) || created.APIToken.Name != "ci" ||
		created.APIToken.PublicID == "" || created.APIToken.UserID != 1 || *created.APIToken.CreatedByEmail != "admin@example.com" {
		t.Fatalf("created %s", rec.Body.String())
	}
	// The same TOTP step again, even inline, is a failed proof and a replay.
	rec = create(bearer(tok+".totp."+code), "ci-2")
	wantJSONError(t, rec, 401, "mfa_verification_failed")
	if e.s.ReplayCount() != 1 {
		t.Fatalf("replays %d", e.s.ReplayCount())
	}
	wantStatus(t, create(bearer(created.Token), "from-token"), 200) // tokens skip MFA
	e.clock.Advance(30 * time.Second)
	wantJSONError(t, create(withHeader(tok, "X-Mfa-Totp", e.code("admin@example.com")), "ci"), 400, "token name already exists")

	// The new token authenticates, skips MFA, and is listed.
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/rack-proxy/apps", header: bearer(created.Token)}), 200)
	rec = e.do(req{method: "GET", path: "/api/v1/api-tokens", header: bearer(tok)})
	if !strings.Contains(rec.Body.String(), created.APIToken.PublicID) {
		t.Fatalf("list %s", rec.Body.String())
	}
	rec = e.do(req{method: "GET", path: "/api/v1/api-tokens/permissions", header: bearer(tok)})
	perms := decode(t, rec.Body.Bytes())
	if len(perms["roles"].([]any)) != 5 || perms["user_roles"].([]any)[0] != "admin" {
		t.Fatalf("permissions %v", perms)
	}

	del := "/api/v1/api-tokens/" + created.APIToken.PublicID
	wantJSONError(t, e.do(req{method: "DELETE", path: del, header: bearer(tok)}), 401, "mfa_required")
	e.clock.Advance(30 * time.Second)
	rec = e.do(req{method: "DELETE", path: del, header: withHeader(tok, "X-Mfa-Totp", e.code("admin@example.com"))})
	if rec.Code != 204 || rec.Body.Len() != 0 {
		t.Fatalf("delete: %d %q", rec.Code, rec.Body.String())
	}
	wantProxy401(t, e.do(req{method: "GET", path: "/api/v1/rack-proxy/apps", header: bearer(created.Token)}),
		"authentication failed: invalid API token: invalid token")
}

func TestTokenCreateBucket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.RateLimitBurst = 2 })
	tok := e.session("admin@example.com", true)
	for i, want := range []int{401, 401, 429} {
		rec := e.do(req{method: "POST", path: "/api/v1/api-tokens", body: `{}`, header: bearer(tok), remote: "10.0.0.1:1"})
		if rec.Code != want {
			t.Fatalf("call %d: %d, want %d", i, rec.Code, want)
		}
	}
	// Other buckets are untouched.
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok), remote: "10.0.0.1:1"}), 200)
}

func TestProxyReleaseStepUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.StepUpWindow = 2 * time.Minute })
	tok := e.session("deployer@example.com", true)
	path := "/api/v1/rack-proxy/apps/demo/releases"
	rec := e.do(req{method: "POST", path: path, header: bearer(tok)})
	wantStatus(t, rec, 200)
	rel := decode(t, rec.Body.Bytes())
	if !regexp.MustCompile(`^R[A-Z]{10}$`).MatchString(rel["id"].(string)) || rel["app"] != "demo" ||
		rel["created"] != e.clock.Now().Format(time.RFC3339) {
		t.Fatalf("release %v", rel)
	}
	e.clock.Advance(2 * time.Minute) // exactly the window: the proxy is <
	rec = e.do(req{method: "POST", path: path, header: bearer(tok)})
	wantStatus(t, rec, 401)
	if rec.Body.String() != "Multi-factor authentication is required for this action" ||
		rec.Header().Get("X-MFA-Required") != "true" || rec.Header().Get("X-MFA-Level") != "step_up" ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("stale: %q %v", rec.Body.String(), rec.Header())
	}
	wantStatus(t, e.do(req{method: "POST", path: path, header: withHeader(tok, "X-Mfa-Totp", e.code("deployer@example.com"))}), 200)
	wantStatus(t, e.do(req{method: "POST", path: path, header: bearer(tok)}), 200) // window restarted
	viewer := e.session("viewer@example.com", true)
	rec = e.do(req{method: "POST", path: path, header: bearer(viewer)})
	if rec.Code != 403 || rec.Body.String() != "You don't have permission to create releases." {
		t.Fatalf("viewer: %d %q", rec.Code, rec.Body.String())
	}
}

func TestWindowKnob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", true)
	loop := "127.0.0.1:9"
	if rec := e.do(req{method: "PUT", path: "/_sandbox/step-up-window", body: `{"seconds":60}`}); rec.Code != 404 {
		t.Fatalf("non-loopback knob: %d", rec.Code)
	}
	wantStatus(t, e.do(req{method: "PUT", path: "/_sandbox/step-up-window", body: `{}`, remote: loop}), 400)
	rec := e.do(req{method: "PUT", path: "/_sandbox/step-up-window", body: `{"seconds":60}`, remote: loop})
	if decode(t, rec.Body.Bytes())["seconds"] != float64(60) {
		t.Fatalf("knob %s", rec.Body.String())
	}
	e.clock.Advance(61 * time.Second)
	wantStatus(t, e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: bearer(tok)}), 401)
	wantJSONError(t, e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{}`, header: bearer(tok)}), 401, "mfa_step_up_required")
	// Widening it reopens the same session's window, live, on both sides;
	// status reports the expiry under the new length.
	rec = e.do(req{method: "PUT", path: "/_sandbox/step-up-window", body: `{"seconds":600}`, remote: loop})
	wantStatus(t, rec, 200)
	wantStatus(t, e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: bearer(tok)}), 200)
	wantStatus(t, e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{}`, header: bearer(tok)}), 200)
	st := decode(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)}).Body.Bytes())
	if st["recent_step_up_expires_at"] != e.clock.Now().Add(-61*time.Second+10*time.Minute).Format(time.RFC3339) {
		t.Fatalf("expiry %v", st["recent_step_up_expires_at"])
	}
	// Expiring the user's windows needs no clock: MFA is asked again, while
	// mfa_verified_at stays (step-up, not enrollment or "never verified").
	rec = e.do(req{method: "POST", path: "/_sandbox/users/admin@example.com/expire-step-up", remote: loop})
	if decode(t, rec.Body.Bytes())["sessions"] != float64(1) {
		t.Fatalf("expire %s", rec.Body.String())
	}
	wantStatus(t, e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: bearer(tok)}), 401)
	wantJSONError(t, e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{}`, header: bearer(tok)}), 401, "mfa_step_up_required")
	wantStatus(t, e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{}`, header: withHeader(tok, "X-Mfa-Totp", e.code("admin@example.com"))}), 200)
	rec = e.do(req{method: "GET", path: "/_sandbox/step-up-window", remote: loop})
	if decode(t, rec.Body.Bytes())["seconds"] != float64(600) {
		t.Fatalf("get knob %s", rec.Body.String())
	}
}
