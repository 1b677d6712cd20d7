package sandbox

import (
	"net/http"
	"time"
)

// Trusted devices (see mfa_manage.go): a verification with trust_device
// mints one for a browser; GET /auth/mfa/status lists those not revoked
// and DELETE /auth/mfa/trusted-devices/{id} (step-up) revokes one. Their
// ids come from the method-id sequence; the real server's table has its
// own, which a client cannot tell apart.

// trustedDevice is a trusted_devices row.
type trustedDevice struct {
	id            int64
	label         string
	createdAt     time.Time
	expiresAt     time.Time
	lastUsedAt    *time.Time
	revokedAt     *time.Time
	revokedReason string
}

type trustedDeviceView struct {
	ID            int64      `json:"id"`
	Label         string     `json:"label"`
	CreatedAt     time.Time  `json:"created_at"`
	LastUsedAt    *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt     time.Time  `json:"expires_at"`
	IPAddress     string     `json:"ip_address,omitempty"`
	UserAgent     string     `json:"user_agent,omitempty"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	RevokedReason string     `json:"revoked_reason,omitempty"`
}

// trustedDeviceTTL is trusted_device_ttl_days' default.
const trustedDeviceTTL = 30 * 24 * time.Hour

// trustedDeviceViewsLocked is the trusted_devices array of the status:
// the devices not revoked.
func trustedDeviceViewsLocked(u *userRecord) []any {
	out := []any{}
	for _, d := range u.manage.trusted {
		if d.revokedAt != nil {
			continue
		}
		out = append(out, trustedDeviceView{ID: d.id, Label: d.label, CreatedAt: d.createdAt.UTC(),
			LastUsedAt: utcPtr(d.lastUsedAt), ExpiresAt: d.expiresAt.UTC()})
	}
	return out
}

// trustDeviceLocked mints a trusted device for sess's user, as a
// verification with trust_device does, unless the session has one.
func (s *Server) trustDeviceLocked(sess *session) {
	u := s.users[sess.userEmail]
	if u == nil || sess.trustedDevice {
		return
	}
	now := s.now()
	u.manage.trusted = append(u.manage.trusted, &trustedDevice{
		id: s.newMethodIDLocked(), label: "Browser", createdAt: now, expiresAt: now.Add(trustedDeviceTTL),
	})
}

// TrustDevice adds a trusted device to email's account, as a browser
// sign-in that ticked "trust this device" would, and returns its id.
func (s *Server) TrustDevice(email string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[email]
	if !ok {
		return 0, errUnknownUser
	}
	now := s.now()
	d := &trustedDevice{id: s.newMethodIDLocked(), label: "Browser", createdAt: now, expiresAt: now.Add(trustedDeviceTTL)}
	u.manage.trusted = append(u.manage.trusted, d)
	return d.id, nil
}

// handleRevokeTrustedDevice is DELETE /api/v1/auth/mfa/trusted-devices/{id},
// a step-up route; revoking a revoked device answers as the first time.
func (s *Server) handleRevokeTrustedDevice(w http.ResponseWriter, _ *http.Request, p *principal, vars map[string]string) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	id, ok := methodIDParam(w, vars, "device")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range p.user.manage.trusted {
		if d.id != id {
			continue
		}
		if d.revokedAt == nil {
			t := s.now()
			d.revokedAt, d.revokedReason = &t, "user_request"
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "revoked"})
		return
	}
	writeError(w, http.StatusNotFound, "trusted device not found")
}
