package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Security-key enrolment (see mfa_manage.go): start answers go-webauthn's
// creation options, user verification required and the user's keys
// excluded, and keeps the challenge server-side for this session; confirm
// spends it and stores the key, CLI-capable.

// errRegistrationChallenge is the real server's text for a registration
// challenge that is unknown, expired, spent or another session's.
var errRegistrationChallenge = errors.New("WebAuthn challenge expired or already used; please try again")

// handleWebAuthnEnrollStart is POST /api/v1/auth/mfa/enroll/webauthn/start.
func (s *Server) handleWebAuthnEnrollStart(w http.ResponseWriter, _ *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	rp, err := s.relyingParty(p.origin)
	if err != nil {
		writeError(w, http.StatusBadRequest, "WebAuthn not configured")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := p.user
	prepareEnrollmentLocked(u)
	wu := s.waUserLocked(u)
	var exclude []protocol.CredentialDescriptor
	for _, c := range wu.creds {
		exclude = append(exclude, c.Descriptor())
	}
	options, session, err := rp.BeginRegistration(wu,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(exclude))
	if err != nil {
		writeError(w, http.StatusBadRequest, "failed to begin WebAuthn registration: "+err.Error())
		return
	}
	now := s.now()
	session.Expires = now.Add(webauthnRegistrationTTL)
	data, err := json.Marshal(session)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "failed to marshal WebAuthn session")
		return
	}
	pk := &pendingRegistration{methodID: s.newMethodIDLocked(), sessionID: p.session.id, challenge: data, expires: session.Expires}
	u.manage.pendingKey = pk
	body := map[string]any{"method_id": pk.methodID, "public_key_options": options}
	if codes := s.enrollmentBackupCodesLocked(u); len(codes) > 0 {
		body["backup_codes"] = codes
	}
	writeJSON(w, http.StatusOK, body)
}

// handleWebAuthnEnrollConfirm is POST /api/v1/auth/mfa/enroll/webauthn/confirm,
// {"method_id", "credential": <PublicKeyCredential JSON>, "label"}.
func (s *Server) handleWebAuthnEnrollConfirm(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	var req struct {
		MethodID   int64           `json:"method_id"`
		Credential json.RawMessage `json:"credential"`
		Label      string          `json:"label"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MethodID == 0 ||
		len(req.Credential) == 0 || bytes.Equal(req.Credential, []byte("null")) {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	rp, err := s.relyingParty(p.origin)
	if err != nil {
		writeError(w, http.StatusBadRequest, "WebAuthn not configured")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := p.user
	u.manage.init()
	pk := u.manage.pendingKey
	if pk == nil || pk.methodID != req.MethodID {
		writeError(w, http.StatusBadRequest, "invalid method ID")
		return
	}
	// The challenge is spent now, whatever follows.
	data := pk.challenge
	pk.challenge = nil
	if data == nil || pk.sessionID != p.session.id || !s.now().Before(pk.expires) {
		writeError(w, http.StatusBadRequest, errRegistrationChallenge.Error())
		return
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(data, &session); err != nil {
		writeError(w, http.StatusBadRequest, "failed to unmarshal session: "+err.Error())
		return
	}
	// Expiry was checked on the sandbox's clock, which tests may set;
	// go-webauthn would check it again on the wall clock.
	session.Expires = time.Time{}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(req.Credential)
	if err != nil {
		writeError(w, http.StatusBadRequest, "failed to parse credential: "+err.Error())
		return
	}
	cred, err := rp.CreateCredential(s.waUserLocked(u), session, parsed)
	if err != nil {
		writeError(w, http.StatusBadRequest, "failed to create credential: "+err.Error())
		return
	}
	for _, other := range s.users {
		for _, c := range other.webauthnCreds {
			if bytes.Equal(c.id, cred.ID) {
				writeError(w, http.StatusBadRequest, errCredentialRegistered.Error())
				return
			}
		}
	}
	label := strings.TrimSpace(req.Label)
	if label == "" {
		label = labelSecurity
	}
	u.webauthnCreds = append(u.webauthnCreds, &webauthnCredential{
		methodID: pk.methodID, id: cred.ID, publicKey: cred.PublicKey,
		backupEligible: cred.Flags.BackupEligible, cliCapable: true, label: label,
		transports: cred.Transport, createdAt: s.now(),
	})
	u.manage.pendingKey = nil
	writeJSON(w, http.StatusOK, map[string]any{"status": "enrolled", "method_id": pk.methodID})
}
