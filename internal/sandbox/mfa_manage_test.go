package sandbox

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/rack-gateway/rack-gateway/platform/fido"
	"github.com/rack-gateway/rack-gateway/platform/fido/soft"
)

const (
	mAdmin    = "admin@example.com"
	mDeployer = "deployer@example.com"
	mViewer   = "viewer@example.com"
)

type totpStart struct {
	MethodID    int64    `json:"method_id"`
	Secret      string   `json:"secret"`
	URI         string   `json:"uri"`
	BackupCodes []string `json:"backup_codes"`
}

func (e *env) startTOTP(tok string) totpStart {
	e.t.Helper()
	rec := e.do(req{method: "POST", path: "/api/v1/auth/mfa/enroll/totp/start", header: bearer(tok)})
	wantStatus(e.t, rec, 200)
	var st totpStart
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) codeFor(secret string, at time.Time) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) confirmTOTP(tok string, id int64, code, label string) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]any{"method_id": id, "code": code, "label": label})
	return e.do(req{method: "POST", path: "/api/v1/auth/mfa/enroll/totp/confirm", header: bearer(tok), body: string(body)})
}

func (e *env) status(tok string) mfaStatusResponse {
	e.t.Helper()
	rec := e.do(req{method: "GET", path: "/api/v1/auth/mfa/status", header: bearer(tok)})
	wantStatus(e.t, rec, 200)
	var st mfaStatusResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

func TestTOTPEnrollmentConfirmsWithoutCountingAndOpensAWindow(t *testing.T) {
	e := newEnv(t)
	tok := e.session(mAdmin, false)
	old := e.s.BackupCodes(mAdmin)
	st := e.startTOTP(tok)
	if !strings.HasPrefix(st.URI, "otpauth://totp/") || !strings.Contains(st.URI, "secret="+st.Secret) || len(st.BackupCodes) != 10 {
		t.Fatalf("start answer %+v", st)
	}
	// The codes are replaced at start, before any confirmation.
	wantJSONError(t, e.verify(tok, old[0]), 400, "verification failed")
	if e.s.BackupCodes(mAdmin) != nil {
		t.Fatal("BackupCodes still reports the derived codes")
	}
	before := len(e.user(mAdmin).attempts)

	wantJSONError(t, e.confirmTOTP(tok, st.MethodID, "000000", ""), 400, "invalid code")
	wantJSONError(t, e.confirmTOTP(tok, 9999, "123456", ""), 400, "invalid MFA method")
	wantJSONError(t, e.confirmTOTP(tok, 0, "123456", ""), 400, "method_id and code are required")
	code := e.codeFor(st.Secret, e.clock.Now())
	rec := e.confirmTOTP(tok, st.MethodID, code, "Phone")
	wantStatus(t, rec, 200)
	if got := decode(t, rec.Body.Bytes())["recent_step_up_expires_at"]; got != e.clock.Now().Add(10*time.Minute).Format(time.RFC3339) {
		t.Fatalf("window = %v", got)
	}
	if n := len(e.user(mAdmin).attempts); n != before {
		t.Fatalf("confirmations left %d attempt rows", n-before)
	}
	// The step was not consumed: the same code still verifies, once.
	wantStatus(t, e.verify(tok, code), 200)
	wantJSONError(t, e.verify(tok, code), 400, "verification failed")

	// Both apps are listed; a code of the new one passes a step-up.
	s := e.status(tok)
	var labels []string
	for _, m := range s.Methods {
		labels = append(labels, fmt.Sprintf("%s:%s", m.Type, m.Label))
	}
	if got := strings.Join(labels, ","); got != "totp:Authenticator App,yubiotp:YubiKey,totp:Phone" {
		t.Fatalf("methods %s", got)
	}
	e.clock.Advance(30 * time.Second)
	wantStatus(t, e.verify(tok, e.codeFor(st.Secret, e.clock.Now())), 200)
	if e.user(mAdmin).manage.totps[0].lastUsedAt == nil {
		t.Fatal("the new method's last use was not recorded")
	}
	// An API token cannot enroll.
	api, _ := e.s.IssueAPIToken(mAdmin, "ci")
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/auth/mfa/enroll/totp/start", header: bearer(api)}), 403, "mfa requires user session")
}

func TestMethodManagementLevels(t *testing.T) {
	e := newEnv(t)
	tok := e.session(mAdmin, false) // no window
	u := e.user(mAdmin)
	yubi := u.yubi.methodID
	put := func(path, body string, h map[string]string) *httptest.ResponseRecorder {
		return e.do(req{method: "PUT", path: path, header: h, body: body})
	}
	// Step-up: rename, regenerate, revoke; always: remove.
	rec := put(fmt.Sprintf("/api/v1/auth/mfa/methods/%d", yubi), `{"label":"Blue key"}`, bearer(tok))
	wantStatus(t, rec, 401)
	if rec.Header().Get("X-MFA-Required") != "step-up" {
		t.Fatalf("rename without a window: %v", rec.Header())
	}
	wantStatus(t, e.do(req{method: "POST", path: "/api/v1/auth/mfa/backup-codes/regenerate", header: bearer(tok)}), 401)

	wantStatus(t, e.verify(tok, e.code(mAdmin)), 200) // window open
	wantStatus(t, put(fmt.Sprintf("/api/v1/auth/mfa/methods/%d", yubi), `{"label":"Blue key"}`, bearer(tok)), 200)
	wantJSONError(t, put("/api/v1/auth/mfa/methods/999", `{"label":"x"}`, bearer(tok)), 404, "mfa method not found")
	wantJSONError(t, put("/api/v1/auth/mfa/methods/abc", `{"label":"x"}`, bearer(tok)), 400, "invalid method id")
	wantJSONError(t, put(fmt.Sprintf("/api/v1/auth/mfa/methods/%d", yubi), `{"label":""}`, bearer(tok)), 400, "invalid request")
	if got := e.status(tok).Methods[1].Label; got != "Blue key" {
		t.Fatalf("label %q", got)
	}

	rec = e.do(req{method: "POST", path: "/api/v1/auth/mfa/backup-codes/regenerate", header: bearer(tok)})
	wantStatus(t, rec, 200)
	var bc struct {
		BackupCodes []string `json:"backup_codes"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &bc)
	if len(bc.BackupCodes) != 10 {
		t.Fatalf("codes %v", bc)
	}
	wantStatus(t, e.verify(tok, bc.BackupCodes[3]), 200)

	// Remove needs a proof even with a window open.
	del := fmt.Sprintf("/api/v1/auth/mfa/methods/%d", yubi)
	rec = e.do(req{method: "DELETE", path: del, header: bearer(tok)})
	wantStatus(t, rec, 401)
	if rec.Header().Get("X-MFA-Required") != "always" {
		t.Fatalf("remove without a proof: %v", rec.Header())
	}
	e.clock.Advance(30 * time.Second)
	h := bearer(tok)
	h["X-MFA-TOTP"] = e.code(mAdmin)
	wantStatus(t, e.do(req{method: "DELETE", path: del, header: h}), 200)
	if e.user(mAdmin).yubi != nil {
		t.Fatal("the YubiKey is still there")
	}

	// Trusted devices: listed, revoked once, then gone from the list.
	id, _ := e.s.TrustDevice(mAdmin)
	if got := e.status(tok).TrustedDevices; len(got) != 1 {
		t.Fatalf("trusted %v", got)
	}
	path := fmt.Sprintf("/api/v1/auth/mfa/trusted-devices/%d", id)
	wantStatus(t, e.do(req{method: "DELETE", path: path, header: bearer(tok)}), 200)
	wantStatus(t, e.do(req{method: "DELETE", path: path, header: bearer(tok)}), 200)
	wantJSONError(t, e.do(req{method: "DELETE", path: "/api/v1/auth/mfa/trusted-devices/77", header: bearer(tok)}), 404, "trusted device not found")
	if got := e.status(tok).TrustedDevices; len(got) != 0 {
		t.Fatalf("trusted after revoke %v", got)
	}
}

func TestYubiOTPEnrollment(t *testing.T) {
	e := newEnv(t)
	tok := e.session(mViewer, true)
	otp := e.s.YubicoOTP(mViewer)
	post := func(body string) *httptest.ResponseRecorder {
		return e.do(req{method: "POST", path: "/api/v1/auth/mfa/enroll/yubiotp/start", header: bearer(tok), body: body})
	}
	wantJSONError(t, post(`{"yubi_otp":"short"}`), 400, "invalid Yubikey OTP format")
	wantJSONError(t, post(`{"yubi_otp":"`+strings.Repeat("c", 44)+`"}`), 400, "invalid Yubikey OTP")
	// The seeded key is enrolled already: the cloud takes the OTP, the
	// server refuses the duplicate, and the OTP is spent.
	wantJSONError(t, post(`{"yubi_otp":"`+otp+`"}`), 400, "this Yubikey is already registered")
	wantJSONError(t, post(`{"yubi_otp":"`+otp+`"}`), 400, "invalid Yubikey OTP")
}

func TestYubiOTPEnrollmentAfterRemoval(t *testing.T) {
	e := newEnv(t)
	tok := e.session(mViewer, true)
	otp := e.s.YubicoOTP(mViewer)
	e.s.mu.Lock()
	e.s.users[mViewer].yubi = nil
	e.s.mu.Unlock()
	rec := e.do(req{method: "POST", path: "/api/v1/auth/mfa/enroll/yubiotp/start", header: bearer(tok), body: `{"yubi_otp":"` + otp + `"}`})
	wantStatus(t, rec, 200)
	if m := decode(t, rec.Body.Bytes()); m["method_id"] == nil || m["backup_codes"] != nil {
		t.Fatalf("answer %v: the user has backup codes, so none are handed out", m)
	}
	if y := e.user(mViewer).yubi; y == nil || y.publicID != otp[:12] {
		t.Fatal("not enrolled")
	}
}

func TestWebAuthnEnrollmentWithASoftwareKey(t *testing.T) {
	e := newEnv(t)
	tok := e.session(mDeployer, true)
	key, err := soft.New()
	if err != nil {
		t.Fatal(err)
	}
	const origin = "http://localhost"
	start := func() (int64, fido.CreationRequest) {
		rec := e.do(req{method: "POST", path: "/api/v1/auth/mfa/enroll/webauthn/start", header: bearer(tok)})
		wantStatus(t, rec, 200)
		var st struct {
			MethodID int64 `json:"method_id"`
			Options  struct {
				PublicKey struct {
					Challenge string `json:"challenge"`
					RP        struct{ ID, Name string }
					User      struct {
						ID   string `json:"id"`
						Name string `json:"name"`
					} `json:"user"`
					Exclude []struct {
						ID string `json:"id"`
					} `json:"excludeCredentials"`
					Selection struct {
						UserVerification string `json:"userVerification"`
					} `json:"authenticatorSelection"`
				} `json:"publicKey"`
			} `json:"public_key_options"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		pk := st.Options.PublicKey
		uid, _ := base64.RawURLEncoding.DecodeString(pk.User.ID)
		cr := fido.CreationRequest{RPID: pk.RP.ID, RPName: pk.RP.Name, Challenge: pk.Challenge, Origin: origin,
			UserID: uid, UserName: pk.User.Name, UserVerification: pk.Selection.UserVerification}
		for _, x := range pk.Exclude {
			id, _ := base64.RawURLEncoding.DecodeString(x.ID)
			cr.ExcludeCredentials = append(cr.ExcludeCredentials, id)
		}
		return st.MethodID, cr
	}
	confirm := func(id int64, cred json.RawMessage) *httptest.ResponseRecorder {
		body, _ := json.Marshal(map[string]any{"method_id": id, "credential": cred, "label": "Yubikey 5C"})
		return e.do(req{method: "POST", path: "/api/v1/auth/mfa/enroll/webauthn/confirm", header: bearer(tok), body: string(body)})
	}
	id, cr := start()
	if cr.UserVerification != "required" {
		t.Fatalf("user verification %q", cr.UserVerification)
	}
	cred, err := key.MakeCredential(context.Background(), cr)
	if err != nil {
		t.Fatal(err)
	}
	wantJSONError(t, confirm(id+100, cred.Response()), 400, "invalid method ID")
	rec := confirm(id, cred.Response())
	wantStatus(t, rec, 200)
	if m := decode(t, rec.Body.Bytes()); m["status"] != "enrolled" || m["method_id"] != float64(id) {
		t.Fatalf("confirm %v", m)
	}
	// The challenge is spent.
	wantJSONError(t, confirm(id, cred.Response()), 400, "invalid method ID")
	// The key now passes an assertion, and a second enrolment excludes it.
	if s := e.status(tok); s.Methods[len(s.Methods)-1].Label != "Yubikey 5C" || !s.Methods[len(s.Methods)-1].CLICapable {
		t.Fatalf("methods %+v", s.Methods)
	}
	rec = e.do(req{method: "POST", path: "/api/v1/auth/mfa/webauthn/assertion/start", header: bearer(tok)})
	wantStatus(t, rec, 200)
	var as struct {
		Options struct {
			PublicKey struct {
				Challenge string `json:"challenge"`
				RPID      string `json:"rpId"`
			} `json:"publicKey"`
		} `json:"options"`
		SessionData string `json:"session_data"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &as)
	a, err := key.Assert(context.Background(), fido.Request{RPID: as.Options.PublicKey.RPID, Challenge: as.Options.PublicKey.Challenge,
		Origin: origin, AllowCredentials: [][]byte{key.CredentialID()}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"session_data": as.SessionData, "assertion_response": a.Response()})
	wantStatus(t, e.do(req{method: "POST", path: "/api/v1/auth/mfa/webauthn/assertion/verify", header: bearer(tok), body: string(body)}), 200)
	_, cr = start()
	if _, err := key.MakeCredential(context.Background(), cr); err == nil {
		t.Fatal("the enrolled key was not in the exclude list")
	}
}

func TestTrustDeviceOnVerify(t *testing.T) {
	e := newEnv(t)
	tok := e.session(mAdmin, false)
	body := fmt.Sprintf(`{"code":%q,"trust_device":true}`, e.code(mAdmin))
	wantStatus(t, e.do(req{method: "POST", path: "/api/v1/auth/mfa/verify", header: bearer(tok), body: body}), http.StatusOK)
	if got := e.status(tok).TrustedDevices; len(got) != 1 {
		t.Fatalf("trusted devices %v", got)
	}
}
