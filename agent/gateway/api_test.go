package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
)

// bodyOf decodes the JSON body the server received.
func bodyOf(t *testing.T, r seen) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return m
}

func TestStartLogin(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{"auth_url":"https://idp/authorize?x","state":"st","code_verifier":"cv"}`))
	ls, err := c.StartLogin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ls.AuthURL != "https://idp/authorize?x" || ls.State != "st" || ls.CodeVerifier != "cv" {
		t.Fatalf("%+v", ls)
	}
	r := rec.last(t)
	if r.Method != http.MethodPost || r.Path != "/api/v1/auth/cli/start" {
		t.Fatalf("%s %s", r.Method, r.Path)
	}
	if r.Header.Get("Authorization") != "" {
		t.Errorf("login start sent a credential")
	}
	if string(r.Body) != "{}" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("body %q, type %q", r.Body, r.Header.Get("Content-Type"))
	}
}

func TestStartLoginIncompleteAnswer(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{}`, `{"auth_url":"https://idp"}`, `{"state":"s"}`} {
		c, _ := newGateway(t, jsonAnswer(200, body))
		_, err := c.StartLogin(context.Background())
		var bre *gateway.BadResponseError
		if !errors.As(err, &bre) || bre.Status != 200 || bre.URL != c.BaseURL+"/api/v1/auth/cli/start" {
			t.Errorf("%s: err %T %v, want *BadResponseError", body, err, err)
		}
	}
}

func TestCompleteLogin(t *testing.T) {
	t.Parallel()
	exp := time.Date(2027, 2, 24, 21, 0, 0, 0, time.UTC)
	c, rec := newGateway(t, jsonAnswer(200, `{"token":"tok","email":"me@example.com","name":"Me","expires_at":"2027-02-24T21:00:00Z",
		"session_id":7,"channel":"cli","device_id":"d1","device_name":"laptop","mfa_verified":true,"mfa_required":true,"enrollment_required":false}`))
	res, err := c.CompleteLogin(context.Background(), gateway.CompleteRequest{State: "st", CodeVerifier: "cv", DeviceName: "laptop", ClientVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Token != "tok" || res.Email != "me@example.com" || !res.ExpiresAt.Equal(exp) || res.SessionID != 7 || !res.MFAVerified || !res.MFARequired {
		t.Fatalf("%+v", res)
	}
	r := rec.last(t)
	if r.Method != http.MethodPost || r.Path != "/api/v1/auth/cli/complete" {
		t.Fatalf("%s %s", r.Method, r.Path)
	}
	b := bodyOf(t, r)
	want := map[string]any{"state": "st", "code_verifier": "cv", "device_name": "laptop", "client_version": "v1"}
	if len(b) != len(want) {
		t.Errorf("body %v, want %v (empty fields omitted)", b, want)
	}
	for k, v := range want {
		if b[k] != v {
			t.Errorf("body[%s] = %v, want %v", k, b[k], v)
		}
	}
}

func TestCompleteLoginPendingAndFailures(t *testing.T) {
	t.Parallel()
	c, _ := newGateway(t, jsonAnswer(202, `{"status":"pending"}`))
	res, err := c.CompleteLogin(context.Background(), gateway.CompleteRequest{State: "st"})
	if res != nil || err != nil {
		t.Fatalf("pending: %+v, %v; want nil, nil", res, err)
	}

	c, _ = newGateway(t, jsonAnswer(200, `{"email":"me@example.com"}`))
	_, err = c.CompleteLogin(context.Background(), gateway.CompleteRequest{State: "st"})
	var bre *gateway.BadResponseError
	if !errors.As(err, &bre) || bre.Status != 200 {
		t.Fatalf("no token: err %v, want *BadResponseError", err)
	}

	c, _ = newGateway(t, jsonAnswer(400, `{"error":"invalid_state","message":"This login expired; start again."}`))
	_, err = c.CompleteLogin(context.Background(), gateway.CompleteRequest{State: "st"})
	var ae *gateway.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Text() != "This login expired; start again." {
		t.Fatalf("refused: err %v", err)
	}
}

func TestMFAStatus(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{"enrolled":true,"required":true,"webauthn_available":true,"preferred_method":"totp",
		"recent_step_up_expires_at":"2026-11-26T21:10:00Z",
		"methods":[{"id":3,"type":"totp","label":"Authenticator App","cli_capable":true,"last_used_at":"2026-11-26T21:00:00Z"},{"id":4,"type":"webauthn","label":"Key"}]}`))
	st, err := c.MFAStatus(context.Background(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Enrolled || !st.Required || !st.WebAuthnAvailable || st.PreferredMethod != "totp" || st.RecentStepUpExpiresAt == nil {
		t.Fatalf("%+v", st)
	}
	if len(st.Methods) != 2 || st.Methods[0].ID != 3 || !st.Methods[0].CLICapable || st.Methods[0].LastUsedAt == nil || st.Methods[1].LastUsedAt != nil {
		t.Fatalf("methods %+v", st.Methods)
	}
	r := rec.last(t)
	if r.Method != http.MethodGet || r.Path != "/api/v1/auth/mfa/status" || r.Header.Get("Authorization") != "Bearer tok" {
		t.Fatalf("%s %s %q", r.Method, r.Path, r.Header.Get("Authorization"))
	}
}

func TestVerifyCode(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{"mfa_verified_at":"2026-11-26T21:00:00Z","recent_step_up_expires_at":"2026-11-26T21:10:00Z"}`))
	v, err := c.VerifyCode(context.Background(), "tok", "123456")
	if err != nil {
		t.Fatal(err)
	}
	if v.RecentStepUpExpiresAt.Sub(v.MFAVerifiedAt) != 10*time.Minute {
		t.Fatalf("%+v", v)
	}
	r := rec.last(t)
	if r.Method != http.MethodPost || r.Path != "/api/v1/auth/mfa/verify" || r.Header.Get("Authorization") != "Bearer tok" {
		t.Fatalf("%s %s", r.Method, r.Path)
	}
	// trust_device is a browser feature; the agent always says no.
	if b := bodyOf(t, r); b["code"] != "123456" || b["trust_device"] != false || len(b) != 2 {
		t.Fatalf("body %v", b)
	}

	c, _ = newGateway(t, jsonAnswer(400, `{"error":"invalid code"}`))
	_, err = c.VerifyCode(context.Background(), "tok", "000000")
	var ae *gateway.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Text() != "invalid code" {
		t.Fatalf("refused code: err %v", err)
	}
}

func TestWebAuthn(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{"session_data":"sd","options":{"publicKey":{"challenge":"Y2g","timeout":60000,"rpId":"gw.example.com",
		"userVerification":"preferred","allowCredentials":[{"type":"public-key","id":"Y3JlZA"}]}}}`))
	as, err := c.WebAuthnStart(context.Background(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	pk := as.Options.PublicKey
	if as.SessionData != "sd" || pk.Challenge != "Y2g" || pk.RPID != "gw.example.com" || pk.Timeout != 60000 ||
		len(pk.AllowCredentials) != 1 || pk.AllowCredentials[0].ID != "Y3JlZA" {
		t.Fatalf("%+v", as)
	}
	r := rec.last(t)
	if r.Method != http.MethodPost || r.Path != "/api/v1/auth/mfa/webauthn/assertion/start" || r.Header.Get("Authorization") != "Bearer tok" || len(r.Body) != 0 {
		t.Fatalf("start sent %s %s body %q", r.Method, r.Path, r.Body)
	}

	c, rec = newGateway(t, jsonAnswer(200, `{"mfa_verified_at":"2026-11-26T21:00:00Z","recent_step_up_expires_at":"2026-11-26T21:10:00Z"}`))
	if _, err := c.WebAuthnVerify(context.Background(), "tok", "sd", `{"id":"x"}`); err != nil {
		t.Fatal(err)
	}
	r = rec.last(t)
	if r.Path != "/api/v1/auth/mfa/webauthn/assertion/verify" {
		t.Fatalf("path %s", r.Path)
	}
	if b := bodyOf(t, r); b["session_data"] != "sd" || b["assertion_response"] != `{"id":"x"}` || b["trust_device"] != false || len(b) != 3 {
		t.Fatalf("body %v", b)
	}
}

func TestCLIMFA(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, jsonAnswer(200, `{"status":"ok"}`))
	if err := c.CLIMFA(context.Background(), "st", "123456"); err != nil {
		t.Fatal(err)
	}
	r := rec.last(t)
	if r.Method != http.MethodPost || r.Path != "/api/v1/auth/cli/mfa" {
		t.Fatalf("%s %s", r.Method, r.Path)
	}
	if r.Header.Get("Authorization") != "" {
		t.Errorf("a pending login has no session to send")
	}
	if b := bodyOf(t, r); b["state"] != "st" || b["method"] != "totp" || b["code"] != "123456" || len(b) != 3 {
		t.Fatalf("body %v", b)
	}
}

func TestInfoAndUserPermissions(t *testing.T) {
	t.Parallel()
	c, rec := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/info":
			jsonAnswer(200, `{"user":{"email":"me@example.com","roles":["deployer"],"mfa_enrolled":true},"rack":{"name":"prod"},"version":{"version":"v1.2.3"}}`)(w, r)
		case "/api/v1/api-tokens/permissions":
			jsonAnswer(200, `{"user_roles":["deployer"],"user_permissions":["convox:apps:*","convox:env:read"],"permissions":["ignored"]}`)(w, r)
		default:
			textAnswer(404, "404 page not found")(w, r)
		}
	})
	info, err := c.Info(context.Background(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	if info.User.Email != "me@example.com" || len(info.User.Roles) != 1 || !info.User.MFAEnrolled || info.Rack.Name != "prod" || info.Version.Version != "v1.2.3" {
		t.Fatalf("%+v", info)
	}
	perms, err := c.UserPermissions(context.Background(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	if len(perms.UserRoles) != 1 || perms.UserRoles[0] != "deployer" || len(perms.UserPermissions) != 2 || perms.UserPermissions[0] != "convox:apps:*" {
		t.Fatalf("%+v", perms)
	}
	r := rec.last(t)
	if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer tok" {
		t.Fatalf("%s %q", r.Method, r.Header.Get("Authorization"))
	}
}
