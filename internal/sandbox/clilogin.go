package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The CLI login protocol (docs/gateway-protocol.md, "CLI login"): start →
// browser (mock IdP → callback → GET cli/mfa → challenge) → POST cli/mfa →
// complete.

const (
	challengePage = "/app/auth/mfa/challenge"
	successPage   = "/app/cli/auth/success"
	securityPage  = "/app/account/security"

	msgEnrollCLI     = "You must set up multi-factor authentication before you can continue using the CLI."
	msgUnknownUser   = "User not authorized for this gateway."
	msgMissingEmail  = "Unable to determine account information for CLI login."
	msgGenericFailed = "login_failed"
)

// handleCLIStart is POST /api/v1/auth/cli/start. The body is ignored.
func (s *Server) handleCLIStart(w http.ResponseWriter, r *http.Request) {
	state := randomToken(32)     // 43 chars
	verifier := randomToken(128) // 171 chars
	s.mu.Lock()
	s.logins[state] = &loginState{codeVerifier: verifier}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"auth_url":      authURL(baseURL(r), state, verifier),
		"state":         state,
		"code_verifier": verifier,
	})
}

// handleCLICallback is the OAuth redirect target: remember the code for
// the state and send the browser on to the MFA step.
func (s *Server) handleCLICallback(w http.ResponseWriter, r *http.Request) {
	code := strings.TrimSpace(r.URL.Query().Get("code"))
	state := strings.TrimSpace(r.URL.Query().Get("state"))
	if code == "" || state == "" {
		writeText(w, http.StatusBadRequest, "Missing code or state")
		return
	}
	s.mu.Lock()
	// Like an UPDATE that matches no row: an unknown state is not an error
	// here; the next step reports it as expired.
	if rec, ok := s.logins[state]; ok {
		rec.code = code
	}
	s.mu.Unlock()
	http.Redirect(w, r, "/api/v1/auth/cli/mfa?state="+url.QueryEscape(state), http.StatusTemporaryRedirect)
}

func challengeError(code string) string {
	return challengePage + "?" + url.Values{"error": {code}}.Encode()
}

// handleCLIMFAForm is GET /api/v1/auth/cli/mfa: exchange the code, load the
// user and send the browser to success, challenge, enrollment or an error.
func (s *Server) handleCLIMFAForm(w http.ResponseWriter, r *http.Request) {
	target := s.cliMFAFormTarget(strings.TrimSpace(r.URL.Query().Get("state")))
	http.Redirect(w, r, target, http.StatusTemporaryRedirect)
}

func (s *Server) cliMFAFormTarget(state string) string {
	if state == "" {
		return challengeError("missing_state")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.logins[state]
	switch {
	case !ok:
		return challengeError("expired")
	case rec.loginError != nil:
		return challengeError(strings.TrimSpace(*rec.loginError))
	case rec.mfaVerifiedAt != nil:
		return successPage
	case rec.code == "":
		return challengeError("session_incomplete")
	}
	// The real handler exchanges the code on every visit, and IdP codes are
	// single-use, so reloading this page fails with exchange_failed. Kept;
	// but an identity the MFA submit stored is used as it is.
	autoMFA := rec.autoMFA
	if !rec.persisted {
		id, auto, err := s.exchangeCodeLocked(rec.code, rec.codeVerifier)
		if err != nil {
			return challengeError("exchange_failed")
		}
		rec.email, rec.name, autoMFA = id.email, id.name, auto
	}
	if strings.TrimSpace(rec.email) == "" {
		rec.loginError = strPtr(msgMissingEmail)
		return challengeError("unauthorized")
	}
	u, ok := s.users[rec.email]
	if !ok {
		rec.loginError = strPtr(msgUnknownUser)
		return challengeError("unauthorized")
	}
	now := s.now()
	if !u.mfaRequired {
		rec.mfaVerifiedAt = &now
		return successPage
	}
	if !u.enrolled() {
		rec.loginError = strPtr(msgEnrollCLI)
		q := url.Values{"enrollment": {"required"}, "channel": {"cli"}, "state": {state}}
		return securityPage + "?" + q.Encode()
	}
	if autoMFA && u.lockedAt == nil {
		// Sandbox knob: the simulated browser finishes the challenge now.
		rec.mfaVerifiedAt = &now
		return successPage
	}
	return challengePage + "?" + url.Values{"state": {state}}.Encode()
}

func strPtr(s string) *string { return &s }

// handleCLIMFASubmit is POST /api/v1/auth/cli/mfa. It needs only the
// state and a code, so a terminal can drive it once the browser finished
// the OAuth leg.
func (s *Server) handleCLIMFASubmit(w http.ResponseWriter, r *http.Request) {
	var req struct {
		State             string `json:"state"`
		Method            string `json:"method"`
		Code              string `json:"code"`
		SessionData       string `json:"session_data"`
		AssertionResponse string `json:"assertion_response"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	method := strings.ToLower(strings.TrimSpace(req.Method))
	if method == "" {
		method = factorTOTP
	}
	state := strings.TrimSpace(req.State)
	if state == "" {
		writeError(w, http.StatusBadRequest, "state_required")
		return
	}
	if method == factorTOTP && strings.TrimSpace(req.Code) == "" {
		writeError(w, http.StatusBadRequest, "code_required")
		return
	}
	status, errCode := s.submitCLIMFA(state, method, req.Code, req.SessionData, req.AssertionResponse, s.webAuthnOrigin(r))
	if errCode != "" {
		writeError(w, status, errCode)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": successPage})
}

func (s *Server) submitCLIMFA(state, method, code, sessionData, assertion, origin string) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.logins[state]
	if !ok {
		return http.StatusBadRequest, "session_expired"
	}
	if rec.mfaVerifiedAt != nil {
		return http.StatusOK, ""
	}
	if rec.email == "" {
		if rec.code == "" {
			return http.StatusBadRequest, "session_incomplete"
		}
		id, auto, err := s.exchangeCodeLocked(rec.code, rec.codeVerifier)
		if err != nil {
			return http.StatusBadRequest, "exchange_failed"
		}
		rec.email, rec.name = id.email, id.name
		rec.persisted, rec.autoMFA = true, auto
	}
	u, ok := s.users[strings.TrimSpace(rec.email)]
	if !ok {
		return http.StatusUnauthorized, "user_not_authorized"
	}
	var err error
	switch method {
	case factorTOTP:
		s.observeSubmissionLocked(u, code)
		err = s.verifyCodeLocked(u, code)
	case factorWebAuthn:
		err = s.verifyAssertionLocked(u, sessionData, assertion, origin)
	default:
		return http.StatusBadRequest, "invalid_method"
	}
	if err != nil {
		return http.StatusBadRequest, "invalid_code"
	}
	now := s.now()
	rec.mfaVerifiedAt = &now
	return http.StatusOK, ""
}

// cliLoginResponse is the 200 body of /auth/cli/complete.
type cliLoginResponse struct {
	Token              string    `json:"token"`
	Email              string    `json:"email"`
	Name               string    `json:"name"`
	ExpiresAt          time.Time `json:"expires_at"`
	SessionID          int64     `json:"session_id"`
	Channel            string    `json:"channel"`
	DeviceID           string    `json:"device_id"`
	DeviceName         string    `json:"device_name"`
	MFAVerified        bool      `json:"mfa_verified"`
	MFARequired        bool      `json:"mfa_required"`
	EnrollmentRequired bool      `json:"enrollment_required"`
}

type cliCompleteRequest struct {
	State         string `json:"state"`
	CodeVerifier  string `json:"code_verifier"`
	DeviceID      string `json:"device_id"`
	DeviceName    string `json:"device_name"`
	DeviceOS      string `json:"device_os"`
	ClientVersion string `json:"client_version"`
}

// handleCLIComplete is POST /api/v1/auth/cli/complete, polled by the
// CLI until the browser side is done.
func (s *Server) handleCLIComplete(w http.ResponseWriter, r *http.Request) {
	var req cliCompleteRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.State == "" || req.CodeVerifier == "" {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	status, body := s.completeCLILogin(req)
	writeJSON(w, status, body)
}

func (s *Server) completeCLILogin(req cliCompleteRequest) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.logins[req.State]
	if !ok {
		return http.StatusBadRequest, map[string]string{"error": "invalid or expired state"}
	}
	if rec.loginError != nil {
		reason := strings.TrimSpace(*rec.loginError)
		if reason == "" {
			reason = msgGenericFailed
		}
		return http.StatusBadRequest, map[string]string{"error": reason}
	}
	if rec.email == "" || rec.mfaVerifiedAt == nil {
		return http.StatusAccepted, map[string]string{"status": "pending"}
	}
	u, ok := s.users[rec.email]
	if !ok {
		return http.StatusUnauthorized, map[string]string{"error": "user not authorized"}
	}
	deviceID := strings.TrimSpace(req.DeviceID)
	if deviceID == "" {
		deviceID = uuid.NewString()
	} else if _, err := uuid.Parse(deviceID); err != nil {
		// The real server's uuid column rejects the insert.
		return http.StatusInternalServerError, map[string]string{"error": "failed to create session"}
	}
	token, sess := s.createSessionLocked(u, "cli", cliSessionTTL)
	sess.deviceID = deviceID
	sess.deviceName = strings.TrimSpace(req.DeviceName)
	sess.deviceOS = strings.TrimSpace(req.DeviceOS)
	sess.clientVersion = strings.TrimSpace(req.ClientVersion)
	// The window opens at the moment the browser finished MFA, not now.
	s.markVerifiedLocked(sess, *rec.mfaVerifiedAt)
	delete(s.logins, req.State)

	name := u.name
	if strings.TrimSpace(rec.name) != "" {
		name = rec.name
	}
	return http.StatusOK, cliLoginResponse{
		Token:              token,
		Email:              rec.email,
		Name:               name,
		ExpiresAt:          sess.expiresAt.UTC(),
		SessionID:          sess.id,
		Channel:            sess.channel,
		DeviceID:           sess.deviceID,
		DeviceName:         sess.deviceName,
		MFAVerified:        sess.mfaVerifiedAt != nil,
		MFARequired:        u.mfaRequired && sess.mfaVerifiedAt == nil,
		EnrollmentRequired: u.mfaRequired && !u.enrolled(),
	}
}
