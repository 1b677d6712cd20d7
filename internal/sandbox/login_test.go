package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// liveEnv serves the sandbox over real HTTP so a client can follow the
// browser redirects of the login.
type liveEnv struct {
	*env
	srv *httptest.Server
}

func newLiveEnv(t *testing.T) *liveEnv {
	// The fake clock never refills the buckets, so give the login tests
	// room; rate limiting has its own tests.
	e := newEnv(t, func(c *Config) { c.RateLimitBurst = 1000 })
	srv := httptest.NewServer(e.s.Handler())
	t.Cleanup(srv.Close)
	return &liveEnv{env: e, srv: srv}
}

type started struct {
	AuthURL      string `json:"auth_url"`
	State        string `json:"state"`
	CodeVerifier string `json:"code_verifier"`
}

func (l *liveEnv) post(path, body string) (int, map[string]any) {
	l.t.Helper()
	resp, err := http.Post(l.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		l.t.Fatalf("bad JSON from %s: %q", path, raw)
	}
	return resp.StatusCode, m
}

func (l *liveEnv) start() started {
	l.t.Helper()
	resp, err := http.Post(l.srv.URL+"/api/v1/auth/cli/start", "application/json", nil)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st started
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
		l.t.Fatalf("start: %d %v", resp.StatusCode, err)
	}
	return st
}

// browse follows every redirect like a browser and returns the final URL.
func (l *liveEnv) browse(u string) *url.URL {
	l.t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		l.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.t.Fatalf("browser ended on %s with %d", resp.Request.URL, resp.StatusCode)
	}
	return resp.Request.URL
}

func (l *liveEnv) complete(st started, extra string) (int, map[string]any) {
	body := `{"state":"` + st.State + `","code_verifier":"` + st.CodeVerifier + `"` + extra + `}`
	return l.post("/api/v1/auth/cli/complete", body)
}

func TestStartShape(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	st := l.start()
	if len(st.State) != 43 || len(st.CodeVerifier) != 171 {
		t.Fatalf("state %d chars, verifier %d chars", len(st.State), len(st.CodeVerifier))
	}
	u, err := url.Parse(st.AuthURL)
	if err != nil || u.Path != "/oauth/authorize" {
		t.Fatalf("auth_url %q", st.AuthURL)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"client_id": "sandbox", "redirect_uri": l.srv.URL + "/api/v1/auth/cli/callback",
		"response_type": "code", "scope": "openid profile email", "state": st.State,
		"code_challenge_method": "S256", "prompt": "select_account", "access_type": "offline",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	// Without selected_user the IdP shows an account chooser.
	resp, err := http.Get(st.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "admin@example.com") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("chooser page: %s", page)
	}
}

func TestLoginHappyPathMFAAuto(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	st := l.start()
	if code, body := l.complete(st, ""); code != http.StatusAccepted || body["status"] != "pending" {
		t.Fatalf("before browser: %d %v", code, body)
	}
	final := l.browse(st.AuthURL + "&selected_user=admin@example.com&mfa=auto")
	if final.Path != "/app/cli/auth/success" {
		t.Fatalf("browser ended on %s", final)
	}
	verifiedAt := l.clock.Now()
	l.clock.Advance(3 * time.Second)

	code, body := l.complete(st, `,"device_id":"6f1c1a8e-2b7d-4c1e-9a51-0d9f5d7b1e11","device_name":"laptop","device_os":"linux","client_version":"1.0"`)
	if code != http.StatusOK {
		t.Fatalf("complete: %d %v", code, body)
	}
	tok, _ := body["token"].(string)
	if len(tok) != 43 || strings.ContainsAny(tok, ".:=+/") {
		t.Fatalf("token %q", tok)
	}
	for k, want := range map[string]any{
		"email": "admin@example.com", "name": "Sandbox Admin", "channel": "cli",
		"device_id": "6f1c1a8e-2b7d-4c1e-9a51-0d9f5d7b1e11", "device_name": "laptop",
		"mfa_verified": true, "mfa_required": false, "enrollment_required": false,
	} {
		if body[k] != want {
			t.Errorf("%s = %v, want %v", k, body[k], want)
		}
	}
	if body["session_id"].(float64) < 1 {
		t.Errorf("session_id %v", body["session_id"])
	}
	exp, err := time.Parse(time.RFC3339, body["expires_at"].(string))
	if err != nil || !exp.Equal(l.clock.Now().Add(90*24*time.Hour)) {
		t.Errorf("expires_at %v (%v)", body["expires_at"], err)
	}

	// The window opened when the browser finished MFA, not at complete.
	rec := l.do(req{method: "GET", path: "/api/v1/info", header: bearer(tok)})
	wantStatus(t, rec, http.StatusOK)
	info := decode(t, rec.Body.Bytes())
	user := info["user"].(map[string]any)
	want := verifiedAt.Add(10 * time.Minute).UTC().Format(time.RFC3339)
	if user["recent_step_up_expires_at"] != want {
		t.Errorf("recent_step_up_expires_at = %v, want %s", user["recent_step_up_expires_at"], want)
	}
	if v := info["version"].(map[string]any)["version"].(string); !strings.HasPrefix(v, "sandbox-") {
		t.Errorf("version %q", v)
	}

	// The state is consumed.
	if code, body := l.complete(st, ""); code != 400 || body["error"] != "invalid or expired state" {
		t.Fatalf("second complete: %d %v", code, body)
	}
}

func TestLoginWithTOTPViaCLIMFA(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	st := l.start()
	mfa := func(code string) (int, map[string]any) {
		return l.post("/api/v1/auth/cli/mfa", `{"state":"`+st.State+`","method":"totp","code":"`+code+`"}`)
	}
	// Before the browser finished OAuth the exchange step cannot run.
	if code, body := mfa("123456"); code != 400 || body["error"] != "session_incomplete" {
		t.Fatalf("early: %d %v", code, body)
	}
	final := l.browse(st.AuthURL + "&selected_user=deployer@example.com")
	if final.Path != "/app/auth/mfa/challenge" || final.Query().Get("state") != st.State {
		t.Fatalf("browser ended on %s", final)
	}
	if code, _ := l.complete(st, ""); code != http.StatusAccepted {
		t.Fatalf("complete before MFA: %d", code)
	}
	if code, body := mfa("000000"); code != 400 || body["error"] != "invalid_code" {
		t.Fatalf("wrong code: %d %v", code, body)
	}
	if n := len(l.user("deployer@example.com").attempts); n != 1 {
		t.Fatalf("failed code not counted: %d attempts", n)
	}
	l.clock.Advance(2 * time.Second)
	mfaAt := l.clock.Now()
	if code, body := mfa(l.code("deployer@example.com")); code != 200 || body["redirect"] != "/app/cli/auth/success" {
		t.Fatalf("good code: %d %v", code, body)
	}
	// Already verified: 200 again without looking at the code.
	if code, _ := mfa("999999"); code != 200 {
		t.Fatalf("repeat: %d", code)
	}
	l.clock.Advance(time.Minute)
	code, body := l.complete(st, "")
	if code != 200 || body["mfa_verified"] != true {
		t.Fatalf("complete: %d %v", code, body)
	}
	if _, err := uuid.Parse(body["device_id"].(string)); err != nil {
		t.Errorf("generated device_id %v", body["device_id"])
	}
	l.s.mu.Lock()
	sess := l.s.sessions[hashSecret(body["token"].(string))]
	l.s.mu.Unlock()
	if !sess.recentStepUpAt.Equal(mfaAt) || !sess.mfaVerifiedAt.Equal(mfaAt) {
		t.Fatalf("session stamps %v %v, want %v", sess.recentStepUpAt, sess.mfaVerifiedAt, mfaAt)
	}
}

func TestLoginExchangeFailureKeepsPolling(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	st := l.start()
	final := l.browse(st.AuthURL + "&selected_user=nobody@nowhere.test&mfa=auto")
	if final.Path != "/app/auth/mfa/challenge" || final.Query().Get("error") != "exchange_failed" {
		t.Fatalf("browser ended on %s", final)
	}
	for i := 0; i < 2; i++ {
		if code, _ := l.complete(st, ""); code != http.StatusAccepted {
			t.Fatalf("poll %d: %d", i, code)
		}
	}
	code, body := l.post("/api/v1/auth/cli/mfa", `{"state":"`+st.State+`","code":"123456"}`)
	if code != 400 || body["error"] != "exchange_failed" {
		t.Fatalf("cli/mfa: %d %v", code, body)
	}
}

func TestCompleteErrorStatuses(t *testing.T) {
	t.Parallel()
	l := newLiveEnv(t)
	for _, body := range []string{``, `{`, `{"state":"x"}`, `{"code_verifier":"y"}`, `{"state":"","code_verifier":"y"}`} {
		if code, m := l.post("/api/v1/auth/cli/complete", body); code != 400 || m["error"] != "invalid request" {
			t.Errorf("%q: %d %v", body, code, m)
		}
	}
	if code, m := l.post("/api/v1/auth/cli/complete", `{"state":"nope","code_verifier":"y"}`); code != 400 || m["error"] != "invalid or expired state" {
		t.Errorf("unknown state: %d %v", code, m)
	}

	// Enrollment required: the browser goes to enrollment, the login is dead.
	st := l.start()
	final := l.browse(st.AuthURL + "&selected_user=" + url.QueryEscape(UnenrolledEmail) + "&mfa=auto")
	if final.Path != "/app/account/security" || final.Query().Get("enrollment") != "required" ||
		final.Query().Get("channel") != "cli" || final.Query().Get("state") != st.State {
		t.Fatalf("enrollment redirect %s", final)
	}
	if code, m := l.complete(st, ""); code != 400 || m["error"] != msgEnrollCLI {
		t.Errorf("enrollment: %d %v", code, m)
	}

	// Known to the IdP, unknown to the gateway.
	st = l.start()
	final = l.browse(st.AuthURL + "&selected_user=" + url.QueryEscape(OutsiderEmail))
	if final.Query().Get("error") != "unauthorized" {
		t.Fatalf("outsider redirect %s", final)
	}
	if code, m := l.complete(st, ""); code != 400 || m["error"] != "User not authorized for this gateway." {
		t.Errorf("outsider: %d %v", code, m)
	}
	// Revisiting the MFA page shows the stored error text.
	final = l.browse(l.srv.URL + "/api/v1/auth/cli/mfa?state=" + st.State)
	if final.Query().Get("error") != "User not authorized for this gateway." {
		t.Errorf("stored error redirect %s", final)
	}

	// A stored failure with an empty reason.
	st = l.start()
	l.s.mu.Lock()
	l.s.logins[st.State].loginError = strPtr(" ")
	l.s.mu.Unlock()
	if code, m := l.complete(st, ""); code != 400 || m["error"] != "login_failed" {
		t.Errorf("login_failed: %d %v", code, m)
	}

	// A non-UUID device_id fails session creation and keeps the state.
	st = l.start()
	l.browse(st.AuthURL + "&selected_user=viewer@example.com&mfa=auto")
	if code, m := l.complete(st, `,"device_id":"my-laptop"`); code != 500 || m["error"] != "failed to create session" {
		t.Errorf("bad device_id: %d %v", code, m)
	}
	if code, m := l.complete(st, `,"device_id":"  "`); code != 200 {
		t.Errorf("retry: %d %v", code, m)
	}

	// The user vanished between the browser and complete.
	st = l.start()
	l.browse(st.AuthURL + "&selected_user=viewer@example.com&mfa=auto")
	l.s.mu.Lock()
	delete(l.s.users, "viewer@example.com")
	l.s.mu.Unlock()
	if code, m := l.complete(st, ""); code != 401 || m["error"] != "user not authorized" {
		t.Errorf("vanished user: %d %v", code, m)
	}
}

func TestCallbackAndMFAFormErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.do(req{method: "GET", path: "/api/v1/auth/cli/callback?state=abc"})
	wantStatus(t, rec, 400)
	if rec.Body.String() != "Missing code or state" {
		t.Fatalf("body %q", rec.Body.String())
	}
	rec = e.do(req{method: "GET", path: "/api/v1/auth/cli/callback?state=abc&code=xyz"})
	if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != "/api/v1/auth/cli/mfa?state=abc" {
		t.Fatalf("callback: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	for path, want := range map[string]string{
		"/api/v1/auth/cli/mfa":           "/app/auth/mfa/challenge?error=missing_state",
		"/api/v1/auth/cli/mfa?state=abc": "/app/auth/mfa/challenge?error=expired",
	} {
		rec = e.do(req{method: "GET", path: path})
		if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != want {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	for body, want := range map[string]string{
		`nope`:                              "invalid_request",
		`{"code":"1"}`:                      "state_required",
		`{"state":"s"}`:                     "code_required",
		`{"state":"s","code":"1"}`:          "session_expired",
		`{"state":"s","method":"sms"}`:      "session_expired",
		`{"state":"s","method":"WebAuthn"}`: "session_expired",
	} {
		wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/auth/cli/mfa", body: body}), 400, want)
	}
}
