package sandbox

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func (e *env) verify(tok, code string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/api/v1/auth/mfa/verify", body: `{"code":"` + code + `"}`, header: bearer(tok)})
}

func TestMFAStatusShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", false)
	rec := e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)})
	wantStatus(t, rec, 200)
	st := decode(t, rec.Body.Bytes())
	if st["enrolled"] != true || st["required"] != true || st["webauthn_available"] != true {
		t.Fatalf("status %v", st)
	}
	if _, ok := st["recent_step_up_expires_at"]; ok {
		t.Fatalf("expiry present before any step-up: %v", st)
	}
	methods := st["methods"].([]any)
	if len(methods) != 2 || methods[0].(map[string]any)["type"] != "totp" || methods[1].(map[string]any)["type"] != "yubiotp" {
		t.Fatalf("methods %v", methods)
	}
	if _, ok := st["trusted_devices"].([]any); !ok {
		t.Fatalf("trusted_devices %v", st["trusted_devices"])
	}
	if bc := st["backup_codes"].(map[string]any); bc["total"] != float64(10) || bc["unused"] != float64(10) {
		t.Fatalf("backup_codes %v", bc)
	}

	wantStatus(t, e.verify(tok, e.code("admin@example.com")), 200)
	st = decode(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)}).Body.Bytes())
	want := e.clock.Now().Add(10 * time.Minute).Format(time.RFC3339)
	if st["recent_step_up_expires_at"] != want {
		t.Fatalf("expiry %v, want %s", st["recent_step_up_expires_at"], want)
	}
}

func TestVerifyResponsesAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.StepUpWindow = 3 * time.Minute })
	tok := e.session("viewer@example.com", false)
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/auth/mfa/verify", body: `{}`, header: bearer(tok)}), 400, "invalid request")
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/auth/mfa/verify", body: `nope`, header: bearer(tok)}), 400, "invalid request")

	code := e.code("viewer@example.com")
	rec := e.verify(tok, code)
	wantStatus(t, rec, 200)
	body := decode(t, rec.Body.Bytes())
	now := e.clock.Now()
	if body["mfa_verified_at"] != now.Format(time.RFC3339) ||
		body["recent_step_up_expires_at"] != now.Add(3*time.Minute).Format(time.RFC3339) ||
		body["trusted_device_cookie"] != false {
		t.Fatalf("verify body %v", body)
	}
	if e.s.ReplayCount() != 0 {
		t.Fatalf("replay count %d", e.s.ReplayCount())
	}

	// Same step again, even from another session: a replay.
	other := e.session("viewer@example.com", false)
	wantJSONError(t, e.verify(other, code), 400, "verification failed")
	if e.s.ReplayCount() != 1 {
		t.Fatalf("replay count %d, want 1", e.s.ReplayCount())
	}
	// The previous step's code is still inside the skew but was never
	// used, so it verifies; the next step's code as well.
	e.clock.Advance(30 * time.Second)
	wantStatus(t, e.verify(tok, e.code("viewer@example.com")), 200)
	if e.s.ReplayCount() != 1 {
		t.Fatalf("replay count %d", e.s.ReplayCount())
	}
	rec = e.do(req{method: "GET", path: "/_sandbox/replays", remote: "127.0.0.1:5555"})
	if decode(t, rec.Body.Bytes())["replay_count"] != float64(1) {
		t.Fatalf("introspection %s", rec.Body.String())
	}
}

func TestAttemptLimitCountsSuccesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", false)
	for i := 0; i < 5; i++ {
		wantStatus(t, e.verify(tok, e.code("admin@example.com")), 200)
		e.clock.Advance(30 * time.Second)
	}
	// 2.5 minutes in, five successes are inside the window.
	wantJSONError(t, e.verify(tok, e.code("admin@example.com")), 400, "too many attempts - try again in 5 minutes")
	u := e.user("admin@example.com")
	last := u.attempts[len(u.attempts)-1]
	if last.success || last.reason != "rate_limited" {
		t.Fatalf("last attempt %+v", last)
	}
	// Once the successes age out, verification works again.
	e.clock.Advance(5 * time.Minute)
	wantStatus(t, e.verify(tok, e.code("admin@example.com")), 200)
}

func TestLockoutAfterFiveFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("deployer@example.com", true)
	other := e.session("deployer@example.com", true)
	apiTok, _ := e.s.IssueAPIToken("deployer@example.com", "ci")
	for i := 0; i < 4; i++ {
		wantJSONError(t, e.verify(tok, "000000"), 400, "verification failed")
	}
	wantJSONError(t, e.verify(tok, "000000"), 400, "account locked due to multiple failed attempts - contact administrator")
	if u := e.user("deployer@example.com"); u.lockedAt == nil || u.lockReason != lockReason {
		t.Fatalf("not locked: %+v", u)
	}
	// Every session of the user now fails (and is revoked by the failure).
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 401, "authentication failed: user locked")
	wantProxy401(t, e.do(req{method: "GET", path: "/api/v1/rack-proxy/apps", header: bearer(other)}), "authentication failed: user locked")
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 401, "authentication failed: session revoked")
	// API tokens are not stopped by a lock.
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(apiTok)}), 200)
	// The CLI-login verifier reports the lock as a code failure.
	e.s.mu.Lock()
	err := e.s.verifyCodeLocked(e.s.users["deployer@example.com"], e.code("deployer@example.com"))
	e.s.mu.Unlock()
	if err != errAccountLocked {
		t.Fatalf("locked verify: %v", err)
	}

	// Introspection unlock is loopback-only.
	if rec := e.do(req{method: "POST", path: "/_sandbox/users/deployer@example.com/unlock"}); rec.Code != 404 {
		t.Fatalf("non-loopback unlock: %d", rec.Code)
	}
	rec := e.do(req{method: "POST", path: "/_sandbox/users/deployer%40example.com/unlock", remote: "127.0.0.1:4000"})
	wantStatus(t, rec, 200)
	fresh := e.session("deployer@example.com", false)
	wantStatus(t, e.verify(fresh, e.code("deployer@example.com")), 200)
}

func TestReplayCountsTowardLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("viewer@example.com", false)
	code := e.code("viewer@example.com")
	wantStatus(t, e.verify(tok, code), 200)
	for i := 0; i < 3; i++ {
		wantJSONError(t, e.verify(tok, code), 400, "verification failed")
	}
	wantJSONError(t, e.verify(tok, "111111"), 400, "verification failed")
	// Five attempts (one success) are in the window: refused unevaluated,
	// yet the client still re-sent a used step.
	wantJSONError(t, e.verify(tok, code), 400, "too many attempts - try again in 5 minutes")
	if e.s.ReplayCount() != 4 {
		t.Fatalf("replays %d, want 4", e.s.ReplayCount())
	}
	// Five failed rows now exist, but only a failed verification locks.
	if e.user("viewer@example.com").lockedAt != nil {
		t.Fatal("locked by a rate-limited attempt")
	}
	// Hammering keeps the block: every refusal adds a row to the window.
	e.clock.Advance(30 * time.Second)
	wantJSONError(t, e.verify(tok, "222222"), 400, "too many attempts - try again in 5 minutes")
}

func TestStepUpWindowBoundaries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.StepUpWindow = 2 * time.Minute })
	tok := e.session("admin@example.com", true)
	e.clock.Advance(2 * time.Minute) // exactly at the window's end

	p, reason := e.s.authenticate(httptest.NewRequest("GET", "/", nil), false)
	if p != nil || reason == "" {
		t.Fatal("request without credentials authenticated")
	}
	hr := httptest.NewRequest("GET", "/", nil)
	hr.Header.Set("Authorization", "Bearer "+tok)
	p, _ = e.s.authenticate(hr, false)
	// Native: now − recent_step_up_at ≤ window → still open.
	rec := httptest.NewRecorder()
	if !e.s.enforceNativeMFA(rec, mfaStepUp, p) {
		t.Fatalf("native step-up refused at the boundary: %s", rec.Body.String())
	}
	// Proxy: strictly less → closed.
	rec = e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: bearer(tok)})
	wantStatus(t, rec, http.StatusUnauthorized)
	if rec.Body.String() != "Multi-factor authentication is required for this action" ||
		rec.Header().Get("X-MFA-Required") != "true" || rec.Header().Get("X-MFA-Level") != "step_up" {
		t.Fatalf("proxy step-up reply %q %v", rec.Body.String(), rec.Header())
	}
	e.clock.Advance(time.Nanosecond)
	rec = httptest.NewRecorder()
	if e.s.enforceNativeMFA(rec, mfaStepUp, p) {
		t.Fatal("native step-up passed after the window")
	}
	wantJSONError(t, rec, 401, "mfa_step_up_required")
	if rec.Header().Get("X-MFA-Required") != "step-up" {
		t.Fatalf("header %v", rec.Header())
	}
}

func TestNativeMFAEnforcement(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	run := func(level mfaLevel, tok string, hdr map[string]string) *httptest.ResponseRecorder {
		hr := httptest.NewRequest("GET", "/", nil)
		hr.Header.Set("Authorization", "Bearer "+tok)
		for k, v := range hdr {
			hr.Header.Set(k, v)
		}
		p, reason := e.s.authenticate(hr, true)
		if p == nil {
			t.Fatalf("auth: %s", reason)
		}
		rec := httptest.NewRecorder()
		if e.s.enforceNativeMFA(rec, level, p) {
			rec.WriteHeader(299) // marker: passed
		}
		return rec
	}
	never := e.session("admin@example.com", false)
	wantJSONError(t, run(mfaStepUp, never, nil), 401, "mfa_step_up_required")
	fresh := e.session("admin@example.com", true)
	if rec := run(mfaStepUp, fresh, map[string]string{"X-Mfa-Totp": "000000"}); rec.Code != 299 {
		t.Fatalf("fresh window with junk proof: %d", rec.Code)
	}
	if n := len(e.user("admin@example.com").attempts); n != 0 {
		t.Fatalf("ignored proof was evaluated: %d attempts", n)
	}
	rec := run(mfaAlways, fresh, nil)
	wantJSONError(t, rec, 401, "mfa_required")
	if rec.Header().Get("X-MFA-Required") != "always" {
		t.Fatalf("header %v", rec.Header())
	}
	wantJSONError(t, run(mfaAlways, fresh+".foo.bar", nil), 400, "invalid_mfa_type")
	wantJSONError(t, run(mfaAlways, fresh+".totp.000000", nil), 401, "mfa_verification_failed")
	if rec := run(mfaAlways, fresh+".totp."+e.code("admin@example.com"), nil); rec.Code != 299 {
		t.Fatalf("always with proof: %d %s", rec.Code, rec.Body.String())
	}

	unenrolled := e.session(UnenrolledEmail, false)
	wantJSONError(t, run(mfaStepUp, unenrolled, nil), 401, "mfa_enrollment_required")
}

func TestProxyMFA(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.session("admin@example.com", true)
	viewer := e.session("viewer@example.com", true)
	// Fresh window: "always" DELETE /apps passes MFA, then policy refuses it.
	rec := e.do(req{method: "DELETE", path: "/api/v1/rack-proxy/apps/web", header: bearer(admin)})
	if rec.Code != 403 || rec.Body.String() != "Destructive rack actions are disabled by policy" {
		t.Fatalf("delete: %d %q", rec.Code, rec.Body.String())
	}
	// Viewer passes MFA (window) and then lacks the permission.
	rec = e.do(req{method: "POST", path: "/api/v1/rack-proxy/apps/web/services/web/processes", header: bearer(viewer)})
	if rec.Code != 403 || rec.Body.String() != "You don't have permission to run processes." {
		t.Fatalf("viewer run: %d %q", rec.Code, rec.Body.String())
	}

	e.clock.Advance(11 * time.Minute)
	// MFA is asked before the permission is denied.
	rec = e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: bearer(viewer)})
	wantStatus(t, rec, 401)
	rec = e.do(req{method: "DELETE", path: "/api/v1/rack-proxy/apps/web", header: bearer(admin)})
	if rec.Code != 401 || rec.Header().Get("X-MFA-Level") != "always" {
		t.Fatalf("always level: %d %v", rec.Code, rec.Header())
	}
	rec = e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: map[string]string{
		"Authorization": "Bearer " + admin, "X-Mfa-Totp": "000000"}})
	if rec.Code != 401 || rec.Body.String() != "MFA verification failed" || rec.Header().Get("X-MFA-Required") != "" {
		t.Fatalf("bad proof: %d %q", rec.Code, rec.Body.String())
	}
	rec = e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: bearer(admin + ".foo.bar")})
	if rec.Code != 401 || rec.Body.String() != "MFA verification failed" {
		t.Fatalf("unknown type: %d %q", rec.Code, rec.Body.String())
	}
	// A good header proof wins over a bad inline one and reopens the window.
	rec = e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: map[string]string{
		"Authorization": "Bearer " + admin + ".totp.000000", "X-Mfa-Totp": e.code("admin@example.com")}})
	wantStatus(t, rec, http.StatusOK)
	rec = e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: bearer(admin)})
	wantStatus(t, rec, http.StatusOK)

	// API tokens skip MFA and are answered at the permission step.
	limited, _ := e.s.IssueAPIToken("admin@example.com", "ro", "convox:app:*", "convox:rack:read")
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/rack-proxy/system", header: bearer(limited)}), 200)
	rec = e.do(req{method: "PUT", path: "/api/v1/rack-proxy/system", header: bearer(limited)})
	if rec.Code != 403 || rec.Body.String() != "permission denied" {
		t.Fatalf("token denied: %d %q", rec.Code, rec.Body.String())
	}
}
