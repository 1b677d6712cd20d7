package sandbox

import (
	"encoding/json"
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

// handleInfo is GET /api/v1/info (§5.1).
func (s *Server) handleInfo(w http.ResponseWriter, _ *http.Request, p *principal) {
	s.mu.Lock()
	u := infoUser{
		Email:       p.user.email,
		Name:        p.user.name,
		Roles:       append([]string(nil), p.user.roles...),
		MFAEnrolled: p.user.enrolled(),
		MFARequired: p.user.mfaRequired,
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

// handleMFAStatus is GET /api/v1/auth/mfa/status (§4.2).
func (s *Server) handleMFAStatus(w http.ResponseWriter, _ *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	s.mu.Lock()
	resp := mfaStatusResponse{
		Enrolled:              p.user.enrolled(),
		Required:              p.user.mfaRequired,
		Methods:               []mfaMethodView{},
		TrustedDevices:        []any{},
		RecentStepUpExpiresAt: s.stepUpExpiry(p.session),
	}
	if p.user.enrolled() {
		created := p.user.enrolledAt.UTC()
		resp.Methods = append(resp.Methods, mfaMethodView{
			ID: p.user.id, Type: factorTOTP, Label: "Authenticator App",
			CreatedAt: created, ConfirmedAt: &created, LastUsedAt: utcPtr(p.user.lastUsedAt),
		})
	}
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

// handleMFAVerify is POST /api/v1/auth/mfa/verify (§4.3): it opens a full
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
		verifiedAt = s.now().UTC()
		s.markVerifiedLocked(p.session, verifiedAt)
		expires = verifiedAt.Add(s.window)
		if req.TrustDevice {
			p.session.trustedDevice = true
		}
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.TrustDevice {
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
		"trusted_device_cookie":     req.TrustDevice,
	})
}

// handleLogout is GET /api/v1/auth/web/logout (§3.5): revoke the presented
// session (cookie or plain Bearer token) and always redirect to the login
// page, whether or not anything was revoked.
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
