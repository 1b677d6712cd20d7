package sandbox

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNativeCredentialParsing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", true)
	apiTok, err := e.s.IssueAPIToken("admin@example.com", "ci")
	if err != nil {
		t.Fatal(err)
	}
	if len(apiTok) != 48 || !strings.HasSuffix(apiTok, "=") {
		t.Fatalf("api token %q", apiTok)
	}

	ok := []map[string]string{
		bearer(tok),
		bearer(tok + ".totp.123456"), // suffix parsed off, ignored on a none route
		bearer(tok + ".webauthn.eyJh/b+c=.d"),
		basic("convox", tok),
		basic("anything", tok+".totp.123456"),
		bearer(apiTok),
		basic("convox", apiTok+".totp.123456"),
		{"Cookie": "session_token=" + tok},
	}
	for _, h := range ok {
		wantStatus(t, e.do(req{method: "GET", path: "/api/v1/info", header: h}), http.StatusOK)
	}

	bad := []struct {
		header map[string]string
		reason string
	}{
		{nil, "missing authorization"},
		{map[string]string{"Authorization": "Bearer"}, "invalid authorization header format"},
		{map[string]string{"Authorization": "bearer " + tok}, "unsupported authorization type"},
		{map[string]string{"Authorization": "Token " + tok}, "unsupported authorization type"},
		{bearer("garbage"), "authentication failed: session not found"},
		{bearer(tok + ".totp"), "authentication failed: session not found"}, // two parts: taken verbatim
		{bearer("rgw_nope="), "authentication failed: invalid API token: invalid token"},
		{bearer(apiTok + ".totp.123456"), "authentication failed: invalid API token: invalid token"},
		{map[string]string{"Authorization": "Basic !!!"}, "authentication failed: invalid basic auth: failed to decode base64: illegal base64 data at input byte 0"},
		{map[string]string{"Authorization": "Basic bm9jb2xvbg=="}, "authentication failed: invalid basic auth: missing ':' separator"},
		{map[string]string{"Cookie": "session_token=nope"}, "authentication failed: session not found"},
	}
	for _, c := range bad {
		wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: c.header}), 401, c.reason)
	}

	// API tokens report no roles and no step-up state.
	info := decode(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(apiTok)}).Body.Bytes())
	user := info["user"].(map[string]any)
	if roles := user["roles"].([]any); len(roles) != 0 {
		t.Errorf("token roles %v", roles)
	}
	if _, ok := user["recent_step_up_expires_at"]; ok {
		t.Errorf("token has step-up expiry")
	}
}

func TestProxyCredentialParsing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("viewer@example.com", true)
	path := "/api/v1/rack-proxy/apps"
	cases := []struct {
		header map[string]string
		reason string
	}{
		{nil, "CLI authentication required - provide Authorization header"},
		{map[string]string{"Cookie": "session_token=" + tok, "Authorization": "Bearer " + tok}, "browser session cookies are not permitted for CLI routes"},
		{map[string]string{"Authorization": "Token " + tok}, "invalid authorization type for CLI access"},
		{map[string]string{"Authorization": "bearer " + tok}, "invalid authorization type for CLI access"},
		{bearer("garbage"), "authentication failed: session not found"},
		{map[string]string{"Authorization": "Basic %%%"}, "authentication failed: invalid basic auth: failed to decode base64: illegal base64 data at input byte 0"},
	}
	for _, c := range cases {
		wantProxy401(t, e.do(req{method: "GET", path: path, header: c.header}), c.reason)
	}
	for _, h := range []map[string]string{bearer(tok), basic("convox", tok), basic("convox", tok+".totp.000000")} {
		rec := e.do(req{method: "GET", path: path, header: h})
		wantStatus(t, rec, 200)
		if !strings.Contains(rec.Body.String(), `"name": "demo"`) {
			t.Fatalf("apps body %q", rec.Body.String())
		}
	}
}

func TestLogoutRevokesSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", true)
	other := e.session("admin@example.com", true)
	rec := e.do(req{method: "GET", path: "/api/v1/auth/web/logout", header: bearer(tok)})
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/app/login" {
		t.Fatalf("logout: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 401, "authentication failed: session revoked")
	wantProxy401(t, e.do(req{method: "GET", path: "/api/v1/rack-proxy/system", header: bearer(tok)}), "authentication failed: session revoked")
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(other)}), 200)
	// Without a credential it still redirects.
	if rec := e.do(req{method: "GET", path: "/api/v1/auth/web/logout"}); rec.Code != http.StatusFound {
		t.Fatalf("bare logout %d", rec.Code)
	}
}

func TestSessionSlidingExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("viewer@example.com", false)
	for i := 0; i < 3; i++ {
		e.clock.Advance(89 * 24 * time.Hour) // each use slides expiry 90 days out
		wantStatus(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 200)
	}
	e.clock.Advance(90*24*time.Hour + time.Second)
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 401, "authentication failed: session expired")
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 401, "authentication failed: session revoked")
}

func TestSuspendedUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("deployer@example.com", true)
	apiTok, _ := e.s.IssueAPIToken("deployer@example.com", "ci")
	e.user("deployer@example.com").suspended = true
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 401, "authentication failed: user suspended")
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(apiTok)}), 401, "authentication failed: token owner is suspended")
}

func TestAPITokenExpiredAndMFAStatusRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	apiTok, _ := e.s.IssueAPIToken("admin@example.com", "ci")
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(apiTok)}), 403, "mfa requires user session")
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/auth/mfa/verify", body: `{"code":"1"}`, header: bearer(apiTok)}), 403, "mfa requires user session")
	past := e.clock.Now().Add(-time.Minute)
	e.s.mu.Lock()
	e.s.apiTokens[hashSecret(apiTok)].expiresAt = &past
	e.s.mu.Unlock()
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(apiTok)}), 401, "authentication failed: invalid API token: token has expired")
}
