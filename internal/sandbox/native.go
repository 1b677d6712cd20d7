package sandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Version reported by GET /api/v1/info.
const (
	sandboxVersion    = "sandbox-0.1.0"
	sandboxCommitHash = "sandbox"
)

type infoUser struct {
	Email                 string     `json:"email"`
	Name                  string     `json:"name"`
	Roles                 []string   `json:"roles"`
	MFAEnrolled           bool       `json:"mfa_enrolled"`
	MFARequired           bool       `json:"mfa_required"`
	PreferredMFAMethod    *string    `json:"preferred_mfa_method,omitempty"`
	RecentStepUpExpiresAt *time.Time `json:"recent_step_up_expires_at,omitempty"`
	HasTrustedDevice      bool       `json:"has_trusted_device"`
}

type infoResponse struct {
	User         infoUser          `json:"user"`
	Rack         map[string]string `json:"rack"`
	Integrations map[string]bool   `json:"integrations"`
	Version      map[string]string `json:"version"`
}

// handleInfo is GET /api/v1/info (docs/gateway-protocol.md, "Info").
func (s *Server) handleInfo(w http.ResponseWriter, _ *http.Request, p *principal) {
	s.mu.Lock()
	u := infoUser{
		Email:              p.user.email,
		Name:               p.user.name,
		Roles:              append([]string(nil), p.user.roles...),
		MFAEnrolled:        p.user.enrolled(),
		MFARequired:        p.user.mfaRequired,
		PreferredMFAMethod: p.user.preferredMethod, // a profile field, shown to tokens too
	}
	if p.isAPIToken() {
		u.Roles = []string{} // tokens report no roles and no step-up state
	} else {
		u.RecentStepUpExpiresAt = s.stepUpExpiry(p.session)
		u.HasTrustedDevice = p.session.trustedDevice
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, infoResponse{
		User:         u,
		Rack:         map[string]string{"name": "sandbox", "alias": "sandbox", "host": "in-memory://sandbox-rack"},
		Integrations: map[string]bool{"slack": false, "github": false, "circleci": false},
		Version:      map[string]string{"version": sandboxVersion, "commit_hash": sandboxCommitHash},
	})
}

type mfaMethodView struct {
	ID          int64      `json:"id"`
	Type        string     `json:"type"`
	Label       string     `json:"label"`
	CLICapable  bool       `json:"cli_capable"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
}

type backupCodesView struct {
	Total           int        `json:"total"`
	Unused          int        `json:"unused"`
	LastUsedAt      *time.Time `json:"last_used_at,omitempty"`
	LastGeneratedAt *time.Time `json:"last_generated_at,omitempty"`
}

type mfaStatusResponse struct {
	Enrolled              bool            `json:"enrolled"`
	Required              bool            `json:"required"`
	Methods               []mfaMethodView `json:"methods"`
	TrustedDevices        []any           `json:"trusted_devices"`
	BackupCodes           backupCodesView `json:"backup_codes"`
	RecentStepUpExpiresAt *time.Time      `json:"recent_step_up_expires_at,omitempty"`
	PreferredMethod       *string         `json:"preferred_method,omitempty"`
	WebAuthnAvailable     bool            `json:"webauthn_available"`
}

// handleMFAStatus is GET /api/v1/auth/mfa/status.
func (s *Server) handleMFAStatus(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	// CLIs (anything sending Authorization) only see keys usable there.
	hideBrowserOnly := r.Header.Get("Authorization") != ""
	s.mu.Lock()
	u := p.user
	resp := mfaStatusResponse{
		Enrolled:              u.enrolled(),
		Required:              u.mfaRequired,
		Methods:               []mfaMethodView{},
		TrustedDevices:        []any{},
		RecentStepUpExpiresAt: s.stepUpExpiry(p.session),
		PreferredMethod:       u.preferredMethod,
		// The sandbox always has an RP ID and an origin.
		WebAuthnAvailable: true,
	}
	resp.Methods = methodViewsLocked(u, hideBrowserOnly)
	resp.TrustedDevices = trustedDeviceViewsLocked(u)
	resp.BackupCodes = backupCodesStatus(u)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// handleMFAVerify is POST /api/v1/auth/mfa/verify: it opens a full
// step-up window on success.
func (s *Server) handleMFAVerify(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	var req struct {
		Code        string `json:"code"`
		TrustDevice bool   `json:"trust_device"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Code == "" {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	s.mu.Lock()
	s.observeSubmissionLocked(p.user, req.Code)
	err := s.verifyCodeLocked(p.user, req.Code)
	var verifiedAt, expires time.Time
	if err == nil {
		verifiedAt, expires = s.completeVerificationLocked(p.session, req.TrustDevice)
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeVerified(w, verifiedAt, expires, req.TrustDevice)
}

// completeVerificationLocked records a successful explicit verification:
// both timestamps move to now, opening a full window.
func (s *Server) completeVerificationLocked(sess *session, trustDevice bool) (verifiedAt, expires time.Time) {
	verifiedAt = s.now().UTC()
	s.markVerifiedLocked(sess, verifiedAt)
	if trustDevice {
		s.trustDeviceLocked(sess)
		sess.trustedDevice = true
	}
	return verifiedAt, verifiedAt.Add(s.window)
}

// writeVerified writes the 200 body shared by code and WebAuthn
// verification.
func writeVerified(w http.ResponseWriter, verifiedAt, expires time.Time, trustDevice bool) {
	if trustDevice {
		// The real server mints a browser trusted-device record; the cookie
		// is useless to a CLI, so the sandbox only sets an opaque value.
		http.SetCookie(w, &http.Cookie{
			Name: "rgw_trusted_device", Value: randomToken(32), Path: "/",
			HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 30 * 24 * 3600,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"mfa_verified_at":           verifiedAt,
		"recent_step_up_expires_at": expires,
		"trusted_device_cookie":     trustDevice,
	})
}

// handlePreferredMethod is PUT /api/v1/auth/mfa/preferred-method, a
// native step-up route.
func (s *Server) handlePreferredMethod(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	pref, err := decodePreferredMethod(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	p.user.preferredMethod = pref
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": "updated"})
}

// decodePreferredMethod reads {"preferred_method": "totp"|"webauthn"|null}.
func decodePreferredMethod(r *http.Request) (*string, error) {
	var req struct {
		PreferredMethod *string `json:"preferred_method"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, errors.New("invalid request")
	}
	if req.PreferredMethod == nil {
		return nil, nil
	}
	switch v := strings.ToLower(strings.TrimSpace(*req.PreferredMethod)); v {
	case factorTOTP, factorWebAuthn:
		return &v, nil
	}
	return nil, errors.New("preferred_method must be 'totp' or 'webauthn'")
}

// handleLogout is GET /api/v1/auth/web/logout (docs/gateway-protocol.md,
// "Logout"): revoke the presented session (cookie or plain Bearer token)
// and always redirect to the login page, whether or not anything was
// revoked.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	token := ""
	if c, err := r.Cookie("session_token"); err == nil {
		token = strings.TrimSpace(c.Value)
	}
	if token == "" {
		if h := strings.TrimSpace(r.Header.Get("Authorization")); strings.HasPrefix(h, "Bearer ") {
			token = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
		}
	}
	if token != "" {
		s.mu.Lock()
		if sess, ok := s.sessions[hashSecret(token)]; ok {
			s.revokeLocked(sess)
		}
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "session_token", Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Location", "/app/login")
	w.WriteHeader(http.StatusFound)
}
