package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func (e *env) webauthnVerify(tok, sessionData, assertion string) *httptest.ResponseRecorder {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"session_data": sessionData, "assertion_response": assertion, "trust_device": false})
	return e.do(req{method: "POST", path: "/api/v1/auth/mfa/webauthn/assertion/verify", body: string(body), header: bearer(tok)})
}

func TestWebAuthnEnrollmentAndStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("viewer@example.com", false)
	// No key yet: start fails like the real server without credentials.
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/auth/mfa/webauthn/assertion/start", header: bearer(tok)}),
		500, "failed to begin login: Found no credentials for user")

	key := e.enrollKey("viewer@example.com")
	// The knob is loopback-only and rejects junk keys and duplicates.
	if rec := e.do(req{method: "POST", path: "/_sandbox/users/viewer@example.com/webauthn", body: `{}`}); rec.Code != 404 {
		t.Fatalf("non-loopback enrollment: %d", rec.Code)
	}
	wantStatus(t, e.do(req{method: "POST", path: "/_sandbox/users/viewer@example.com/webauthn", remote: "127.0.0.1:1",
		body: `{"credential_id":"AAAA","public_key":"AAAA"}`}), 400)
	if err := e.s.EnrollWebAuthn("admin@example.com", key.credID, key.coseKey()); err != errCredentialRegistered {
		t.Fatalf("duplicate credential: %v", err)
	}
	// A browser-only key is hidden from Authorization-header callers.
	other := newSoftKey(t)
	body, _ := json.Marshal(map[string]any{"credential_id": base64.URLEncoding.EncodeToString(other.credID),
		"public_key": base64.RawURLEncoding.EncodeToString(other.coseKey()), "cli_capable": false})
	wantStatus(t, e.do(req{method: "POST", path: "/_sandbox/users/viewer@example.com/webauthn", body: string(body), remote: "127.0.0.1:1"}), 200)

	st := decode(t, e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)}).Body.Bytes())
	methods := st["methods"].([]any)
	last := methods[len(methods)-1].(map[string]any)
	if len(methods) != 3 || last["type"] != "webauthn" || last["cli_capable"] != true || st["webauthn_available"] != true {
		t.Fatalf("methods %v", methods)
	}

	so := e.webauthnStart(tok)
	pk := so.Options.PublicKey
	if pk.RPID != "localhost" || pk.Timeout != 300000 || len(pk.Challenge) < 22 || len(pk.AllowCredentials) != 2 ||
		pk.AllowCredentials[0].ID != base64.RawURLEncoding.EncodeToString(key.credID) {
		t.Fatalf("options %+v", pk)
	}
	var sd map[string]any
	if err := json.Unmarshal([]byte(so.SessionData), &sd); err != nil || sd["challenge"] != pk.Challenge ||
		sd["user_id"] != base64.StdEncoding.EncodeToString([]byte("3")) {
		t.Fatalf("session_data %q: %v", so.SessionData, err)
	}
}

func TestWebAuthnVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := e.enrollKey("admin@example.com")
	tok := e.session("admin@example.com", false)

	so := e.webauthnStart(tok)
	rec := e.webauthnVerify(tok, so.SessionData, key.assert(t, "localhost", so.Options.PublicKey.Challenge, "http://localhost"))
	wantStatus(t, rec, 200)
	body := decode(t, rec.Body.Bytes())
	now := e.clock.Now()
	if body["mfa_verified_at"] != now.Format(time.RFC3339) || body["recent_step_up_expires_at"] != now.Add(10*time.Minute).Format(time.RFC3339) {
		t.Fatalf("verify body %v", body)
	}
	// The window is open: a native step-up route passes without a proof.
	wantStatus(t, e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{"env":{"A":"1"}}`, header: bearer(tok)}), 200)

	// Failures, each one a counted WebAuthn attempt.
	impostor := newSoftKey(t)
	impostor.credID = key.credID // right credential id, wrong private key
	so = e.webauthnStart(tok)
	rec = e.webauthnVerify(tok, so.SessionData, impostor.assert(t, "localhost", so.Options.PublicKey.Challenge, "http://localhost"))
	wantStatus(t, rec, 400)
	if msg := decode(t, rec.Body.Bytes())["error"].(string); !strings.HasPrefix(msg, "failed to validate assertion: Error validating the assertion signature") {
		t.Fatalf("bad signature error %q", msg)
	}
	so = e.webauthnStart(tok)
	// The origin must be the gateway's, port included.
	wantJSONError(t, e.webauthnVerify(tok, so.SessionData, key.assert(t, "localhost", so.Options.PublicKey.Challenge, "http://localhost:8080")),
		400, "failed to validate assertion: Error validating origin")
	// rpIdHash must be of the server's RP ID, and user presence is required.
	key.flags = 0
	wantJSONError(t, e.webauthnVerify(tok, so.SessionData, key.assert(t, "localhost", so.Options.PublicKey.Challenge, "http://localhost")),
		400, "failed to validate assertion: Error validating the authenticator response")
	key.flags = 0x01
	wantJSONError(t, e.webauthnVerify(tok, "{", "{}"), 400, "failed to unmarshal session: unexpected end of JSON input")
	wantJSONError(t, e.webauthnVerify(tok, so.SessionData, "x"), 400, "too many attempts - try again in 5 minutes")
	// 1 success + 4 failures were in the window; the refusal added a fifth
	// failure, which alone does not lock (only a failed validation does).
	u := e.user("admin@example.com")
	if n := u.countAttempts(e.clock.Now(), func(a mfaAttempt) bool { return a.factor == factorWebAuthn && !a.success }); n != 5 {
		t.Fatalf("failed webauthn attempts %d, want 5", n)
	}
	if u.lockedAt != nil {
		t.Fatal("locked by a refused attempt")
	}
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/auth/mfa/webauthn/assertion/verify", body: `{}`, header: bearer(tok)}), 400, "invalid request")
}

func TestWebAuthnHeaderProofOnAlwaysRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := e.enrollKey("deployer@example.com")
	tok := e.session("deployer@example.com", true)
	create := func(hdr map[string]string, name string) *httptest.ResponseRecorder {
		h := map[string]string{"Authorization": "Bearer " + tok}
		for k, v := range hdr {
			h[k] = v
		}
		return e.do(req{method: "POST", path: "/api/v1/api-tokens", body: `{"name":"` + name + `","role":"cicd"}`, header: h})
	}
	wantStatus(t, create(map[string]string{"X-MFA-WebAuthn": e.webauthnProof(tok, key)}, "ci-1"), 200)
	// WebAuthn proofs are not single-use, but each ceremony is
	// fresh here anyway; the inline suffix works the same way.
	proof := e.webauthnProof(tok, key)
	rec := e.do(req{method: "POST", path: "/api/v1/api-tokens", body: `{"name":"ci-2","role":"cicd"}`, header: bearer(tok + ".webauthn." + proof)})
	wantStatus(t, rec, 200)
	// A header proof that is not standard base64 JSON fails as WebAuthn.
	rec = create(map[string]string{"X-MFA-WebAuthn": "not base64"}, "ci-3")
	wantJSONError(t, rec, 401, "mfa_verification_failed")
	if decode(t, rec.Body.Bytes())["message"] != "Security key verification failed. Please try again." {
		t.Fatalf("message %s", rec.Body.String())
	}
	// The proxy takes header proofs as well.
	e.clock.Advance(11 * time.Minute)
	rec = e.do(req{method: "POST", path: "/api/v1/rack-proxy/apps/demo/releases", header: map[string]string{
		"Authorization": "Bearer " + tok, "X-MFA-WebAuthn": e.webauthnProof(tok, key)}})
	wantStatus(t, rec, 200)
}

// TestWebAuthnOverHTTP drives a real listener, where the default origin is
// the URL the client used, exactly as a CLI would see it.
func TestWebAuthnOverHTTP(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := New(Config{Now: clock.Now})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	e := &env{t: t, s: s, clock: clock}
	key := newSoftKey(t)
	if err := s.EnrollWebAuthn("viewer@example.com", key.credID, key.coseKey()); err != nil {
		t.Fatal(err)
	}
	tok := e.session("viewer@example.com", false)
	call := func(path string, body any) *http.Response {
		var buf bytes.Buffer
		_ = json.NewEncoder(&buf).Encode(body)
		r, _ := http.NewRequest("POST", srv.URL+path, &buf)
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := call("/api/v1/auth/mfa/webauthn/assertion/start", nil)
	var so startOptions
	_ = json.NewDecoder(resp.Body).Decode(&so)
	resp.Body.Close()
	assertion := key.assert(t, so.Options.PublicKey.RPID, so.Options.PublicKey.Challenge, srv.URL)
	resp = call("/api/v1/auth/mfa/webauthn/assertion/verify", map[string]any{"session_data": so.SessionData, "assertion_response": assertion})
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("verify over HTTP: %d", resp.StatusCode)
	}
}

func TestLoginWithWebAuthnViaCLIMFA(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	key := newSoftKey(t)
	if err := l.s.EnrollWebAuthn("viewer@example.com", key.credID, key.coseKey()); err != nil {
		t.Fatal(err)
	}
	st := l.start()
	l.browse(st.AuthURL + "&selected_user=viewer@example.com")
	// The browser's ceremony state comes from a start call; the sandbox
	// issues no browser cookie, so another session of the user stands in.
	so := l.webauthnStart(l.session("viewer@example.com", false))
	body, _ := json.Marshal(map[string]string{"state": st.State, "method": "webauthn", "session_data": so.SessionData,
		"assertion_response": key.assert(t, "localhost", so.Options.PublicKey.Challenge, l.srv.URL)})
	if code, resp := l.post("/api/v1/auth/cli/mfa", string(body)); code != 200 {
		t.Fatalf("cli/mfa webauthn: %d %v", code, resp)
	}
	if code, resp := l.complete(st, ""); code != 200 || resp["mfa_verified"] != true {
		t.Fatalf("complete: %d %v", code, resp)
	}
}

func TestMixedFailuresLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := e.enrollKey("viewer@example.com")
	tok := e.session("viewer@example.com", false)
	for i := 0; i < 3; i++ {
		wantJSONError(t, e.verify(tok, "000000"), 400, "verification failed")
	}
	impostor := newSoftKey(t)
	impostor.credID = key.credID
	so := e.webauthnStart(tok)
	// An authenticator told the wrong RP ID hashes the wrong rpId.
	wrongRP := key.assert(t, "example.com", so.Options.PublicKey.Challenge, "http://localhost")
	wantJSONError(t, e.webauthnVerify(tok, so.SessionData, wrongRP), 400, "failed to validate assertion: Error validating the authenticator response")
	bad := impostor.assert(t, "localhost", so.Options.PublicKey.Challenge, "http://localhost")
	// The fifth failure in five minutes, of any factor, locks the account.
	wantJSONError(t, e.webauthnVerify(tok, so.SessionData, bad), 400, "account locked due to multiple failed attempts - contact administrator")
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)}), 401, "authentication failed: user locked")
}
