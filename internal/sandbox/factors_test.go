package sandbox

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestBackupCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	codes := e.s.BackupCodes("admin@example.com")
	if len(codes) != 10 {
		t.Fatalf("codes %v", codes)
	}
	for _, c := range codes {
		if !regexp.MustCompile(`^[0-9A-F]{12}$`).MatchString(c) {
			t.Fatalf("code %q", c)
		}
	}
	// Deterministic per user, distinct between users.
	if again := New(Config{}).BackupCodes("admin@example.com"); again[0] != codes[0] {
		t.Fatal("codes not deterministic")
	}
	if e.s.BackupCodes("viewer@example.com")[0] == codes[0] || e.s.BackupCodes(UnenrolledEmail) != nil {
		t.Fatal("codes shared between users or given to an unenrolled one")
	}

	tok := e.session("admin@example.com", false)
	wantStatus(t, e.verify(tok, codes[0]), 200)
	wantJSONError(t, e.verify(tok, codes[0]), 400, "verification failed") // single use
	wantJSONError(t, e.verify(tok, strings.ToLower(codes[1])), 400, "verification failed")
	wantJSONError(t, e.verify(tok, codes[1][:4]+"-"+codes[1][4:]), 400, "verification failed")
	wantStatus(t, e.verify(tok, "  "+codes[1]+" "), 200) // only surrounding space is trimmed

	st := decode(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)}).Body.Bytes())
	bc := st["backup_codes"].(map[string]any)
	if bc["total"] != float64(10) || bc["unused"] != float64(8) || bc["last_used_at"] != e.clock.Now().Format(time.RFC3339) {
		t.Fatalf("backup_codes %v", bc)
	}
	if e.s.ReplayCount() != 0 {
		t.Fatal("backup codes counted as TOTP replays")
	}
}

func TestBackupCodeAsStepUpProof(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("deployer@example.com", true)
	e.clock.Advance(11 * time.Minute)
	code := e.s.BackupCodes("deployer@example.com")[3]
	wantStatus(t, e.do(req{method: "POST", path: "/api/v1/rack-proxy/apps/demo/releases", header: bearer(tok + ".totp." + code)}), 200)
	e.clock.Advance(11 * time.Minute)
	rec := e.do(req{method: "POST", path: "/api/v1/rack-proxy/apps/demo/releases", header: bearer(tok + ".totp." + code)})
	if rec.Code != 401 || rec.Body.String() != "MFA verification failed" {
		t.Fatalf("reused backup code: %d %q", rec.Code, rec.Body.String())
	}
}

func TestYubicoOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	otp := e.s.YubicoOTP("viewer@example.com")
	if !regexp.MustCompile(`^cccccc[cbdefghijklnrtuv]{38}$`).MatchString(otp) || e.s.YubicoOTP(UnenrolledEmail) != "" {
		t.Fatalf("otp %q", otp)
	}
	tok := e.session("viewer@example.com", false)
	// Another user's key never matches this user's enrolled public ID.
	wantJSONError(t, e.verify(tok, e.s.YubicoOTP("admin@example.com")), 400, "verification failed")
	wantStatus(t, e.verify(tok, otp), 200)
	wantJSONError(t, e.verify(tok, otp), 400, "verification failed") // replayed OTP
	u := e.user("viewer@example.com")
	for _, a := range u.attempts {
		if a.success {
			t.Fatalf("Yubico success recorded as an attempt: %+v", u.attempts)
		}
	}
	st := decode(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)}).Body.Bytes())
	if m := st["methods"].([]any)[1].(map[string]any); m["type"] != "yubiotp" || m["last_used_at"] == nil {
		t.Fatalf("yubiotp method %v", m)
	}
}

func TestTOTPStepsKnob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("viewer@example.com", false)
	code := e.code("viewer@example.com")
	wantStatus(t, e.verify(tok, code), 200)
	wantStatus(t, e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{}`, header: withHeader(tok, "X-Mfa-Totp", code)}), 403)
	rec := e.do(req{method: "GET", path: "/_sandbox/totp-steps", remote: "127.0.0.1:1"})
	body := decode(t, rec.Body.Bytes())
	users := body["users"].(map[string]any)
	v := users["viewer@example.com"].(map[string]any)
	step := float64(e.clock.Now().Unix() / 30)
	if body["replay_count"] != float64(1) || v["replay_count"] != float64(1) || len(v["consumed_steps"].([]any)) != 1 ||
		v["consumed_steps"].([]any)[0] != step {
		t.Fatalf("totp-steps %s", rec.Body.String())
	}
	if a := users["admin@example.com"].(map[string]any); len(a["consumed_steps"].([]any)) != 0 || a["replay_count"] != float64(0) {
		t.Fatalf("admin %v", a)
	}
	if _, ok := users[UnenrolledEmail]; ok {
		t.Fatal("user without TOTP listed")
	}
	if e.s.RequestCount("GET", "/_sandbox/totp-steps") != 0 {
		t.Fatal("introspection counted")
	}
}

func TestPreferredMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", true)
	loop := "127.0.0.1:2"
	wantStatus(t, e.do(req{method: "PUT", path: "/_sandbox/users/admin@example.com/preferred-method", body: `{"preferred_method":"sms"}`, remote: loop}), 400)
	wantStatus(t, e.do(req{method: "PUT", path: "/_sandbox/users/nobody@example.com/preferred-method", body: `{"preferred_method":"totp"}`, remote: loop}), 404)
	wantStatus(t, e.do(req{method: "PUT", path: "/_sandbox/users/admin@example.com/preferred-method", body: `{"preferred_method":"webauthn"}`, remote: loop}), 200)
	st := decode(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)}).Body.Bytes())
	if st["preferred_method"] != "webauthn" {
		t.Fatalf("status %v", st)
	}
	// The native route is step-up: fresh window passes.
	wantStatus(t, e.do(req{method: "PUT", path: "/api/v1/auth/mfa/preferred-method", body: `{"preferred_method":null}`, header: bearer(tok)}), 200)
	st = decode(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)}).Body.Bytes())
	if _, ok := st["preferred_method"]; ok {
		t.Fatalf("preferred_method not cleared: %v", st)
	}
}
