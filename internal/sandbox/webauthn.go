package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// WebAuthn assertions (docs/gateway-protocol.md, "WebAuthn assertions"),
// verified with go-webauthn like the real server. As on the real server
// the ceremony state (session_data) is held by the client and sent back
// verbatim; the sandbox stores nothing per challenge, so a captured proof
// can be replayed and only the attempt limit bounds it. Sign counters are
// not persisted.

var (
	errWebAuthnProof        = errors.New("invalid webauthn proof")
	errCredentialNotFound   = errors.New("credential not found")
	errCredentialRegistered = errors.New("credential already registered")
)

// webauthnCredential is an mfa_methods row of type webauthn.
type webauthnCredential struct {
	methodID       int64
	id             []byte
	publicKey      []byte // COSE_Key
	backupEligible bool
	cliCapable     bool
	label          string
	transports     []protocol.AuthenticatorTransport
	createdAt      time.Time
	lastUsedAt     *time.Time
}

// waUser adapts a user to go-webauthn. Credentials are copied under s.mu
// so the library never reads the store concurrently with a writer.
type waUser struct {
	id          int64
	email, name string
	creds       []webauthn.Credential
}

func (s *Server) waUserLocked(u *userRecord) waUser {
	wu := waUser{id: u.id, email: u.email, name: u.name}
	for _, c := range u.webauthnCreds {
		wu.creds = append(wu.creds, webauthn.Credential{
			ID:        append([]byte(nil), c.id...),
			PublicKey: append([]byte(nil), c.publicKey...),
			Transport: append([]protocol.AuthenticatorTransport(nil), c.transports...),
			Flags:     webauthn.CredentialFlags{UserPresent: true, BackupEligible: c.backupEligible},
		})
	}
	return wu
}

// WebAuthnID is the decimal user id as bytes, so session_data's user_id is
// base64 of the decimal id, as on the real server.
func (w waUser) WebAuthnID() []byte                         { return []byte(strconv.FormatInt(w.id, 10)) }
func (w waUser) WebAuthnName() string                       { return w.email }
func (w waUser) WebAuthnDisplayName() string                { return w.name }
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// defaultRPID picks the RP ID: the configured one, else DOMAIN unless it is
// an IP address (an RP ID must be a domain), else "localhost".
func defaultRPID(cfg Config) string {
	if id := strings.TrimSpace(cfg.WebAuthnRPID); id != "" {
		return id
	}
	if protocol.ValidateRPID(cfg.Domain) == nil {
		return strings.ToLower(cfg.Domain)
	}
	return "localhost"
}

// webAuthnOrigin is the single origin assertions are checked against.
func (s *Server) webAuthnOrigin(r *http.Request) string {
	if s.cfg.WebAuthnOrigin != "" {
		return s.cfg.WebAuthnOrigin
	}
	return baseURL(r)
}

// relyingParty builds the go-webauthn instance for one origin. It is cheap,
// and building it per call lets the default origin follow the request.
func (s *Server) relyingParty(origin string) (*webauthn.WebAuthn, error) {
	return webauthn.New(&webauthn.Config{
		RPID:          s.rpID,
		RPDisplayName: "Rack Gateway (sandbox)",
		RPOrigins:     []string{origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login: webauthn.TimeoutConfig{Timeout: 5 * time.Minute, TimeoutUVD: 5 * time.Minute},
		},
	})
}

// handleWebAuthnStart is POST /api/v1/auth/mfa/webauthn/assertion/start.
func (s *Server) handleWebAuthnStart(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	rp, err := s.relyingParty(p.origin)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "WebAuthn not configured")
		return
	}
	s.mu.Lock()
	user := s.waUserLocked(p.user)
	s.mu.Unlock()
	// No user-verification option: the snapshot server leaves it unset, so
	// options carry no userVerification and UV is not checked.
	options, session, err := rp.BeginLogin(user)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "failed to begin login: "+err.Error())
		return
	}
	data, err := json.Marshal(session)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "failed to marshal session")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"options": options, "session_data": string(data)})
}

// handleWebAuthnVerify is POST /api/v1/auth/mfa/webauthn/assertion/verify;
// success is identical to POST /auth/mfa/verify.
func (s *Server) handleWebAuthnVerify(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	var req struct {
		SessionData       string `json:"session_data"`
		AssertionResponse string `json:"assertion_response"`
		TrustDevice       bool   `json:"trust_device"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.SessionData == "" || req.AssertionResponse == "" {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	s.mu.Lock()
	err := s.verifyAssertionLocked(p.user, req.SessionData, req.AssertionResponse, p.origin)
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

// verifyWebAuthnProofLocked checks an X-MFA-WebAuthn / .webauthn. value:
// standard (padded) base64 of {"session_data":…,"assertion_response":…}.
// A blob that does not decode is rejected before any attempt is counted,
// since it never reaches the assertion verifier.
func (s *Server) verifyWebAuthnProofLocked(u *userRecord, value, origin string) error {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return errWebAuthnProof
	}
	var blob struct {
		SessionData       string `json:"session_data"`
		AssertionResponse string `json:"assertion_response"`
	}
	if err := json.Unmarshal(raw, &blob); err != nil || blob.SessionData == "" || blob.AssertionResponse == "" {
		return errWebAuthnProof
	}
	return s.verifyAssertionLocked(u, blob.SessionData, blob.AssertionResponse, origin)
}

// verifyAssertionLocked runs the real server's WebAuthn verification order:
// lock, WebAuthn attempt limit, session, assertion parse, validation (which
// may lock the account), credential lookup. Every outcome except the lock
// is an attempt row.
func (s *Server) verifyAssertionLocked(u *userRecord, sessionData, assertion, origin string) error {
	now := s.now()
	if u.lockedAt != nil {
		return errAccountLocked
	}
	fail := func(reason string) {
		u.attempts = append(u.attempts, mfaAttempt{at: now, factor: factorWebAuthn, reason: reason})
	}
	if u.countAttempts(now, func(a mfaAttempt) bool { return a.factor == factorWebAuthn }) >= attemptLimit {
		fail("rate_limited")
		return errTooManyAttempts
	}
	var session webauthn.SessionData
	if err := json.Unmarshal([]byte(sessionData), &session); err != nil {
		fail("invalid_session")
		return fmt.Errorf("failed to unmarshal session: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(assertion))
	if err != nil {
		fail("invalid_credential")
		return fmt.Errorf("failed to parse assertion: %w", err)
	}
	rp, err := s.relyingParty(origin)
	if err != nil {
		return err
	}
	// The real server checks against its configured RP ID and origin only.
	// go-webauthn would prefer values found in session_data, which here is
	// client-held, so they are overwritten rather than trusted.
	session.RelyingPartyID = s.rpID
	session.Origin = ""
	cred, err := rp.ValidateLogin(s.waUserLocked(u), session, parsed)
	if err != nil {
		fail("validation_failed")
		if lockErr := s.lockIfNeededLocked(u, now); lockErr != nil {
			return lockErr
		}
		return fmt.Errorf("failed to validate assertion: %w", err)
	}
	for _, c := range u.webauthnCreds {
		if string(c.id) == string(cred.ID) {
			t := now
			c.lastUsedAt = &t
			u.attempts = append(u.attempts, mfaAttempt{at: now, factor: factorWebAuthn, success: true})
			return nil
		}
	}
	fail("credential_not_found")
	if lockErr := s.lockIfNeededLocked(u, now); lockErr != nil {
		return lockErr
	}
	return errCredentialNotFound
}

// EnrollWebAuthn registers a security key for email, as a finished browser
// enrollment would: credID is the raw credential id, coseKey the
// credential public key as a COSE_Key (e.g. EC2/ES256). The key is not
// backup-eligible and is CLI-capable.
func (s *Server) EnrollWebAuthn(email string, credID, coseKey []byte) error {
	_, err := s.enrollWebAuthn(email, webauthnEnrollment{CredentialID: credID, PublicKey: coseKey})
	return err
}

// webauthnEnrollment is the body of POST /_sandbox/users/{email}/webauthn.
// []byte fields are base64url (padding optional).
type webauthnEnrollment struct {
	CredentialID   protocol.URLEncodedBase64 `json:"credential_id"`
	PublicKey      protocol.URLEncodedBase64 `json:"public_key"`
	BackupEligible bool                      `json:"backup_eligible"`
	Label          string                    `json:"label"`
	CLICapable     *bool                     `json:"cli_capable"`
	Transports     []string                  `json:"transports"`
}

func (s *Server) enrollWebAuthn(email string, e webauthnEnrollment) (int64, error) {
	if len(e.CredentialID) == 0 {
		return 0, errors.New("credential_id is required")
	}
	if _, err := webauthncose.ParsePublicKey(e.PublicKey); err != nil {
		return 0, fmt.Errorf("public_key is not a supported COSE key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[email]
	if !ok {
		return 0, errUnknownUser
	}
	for _, other := range s.users {
		for _, c := range other.webauthnCreds {
			if string(c.id) == string(e.CredentialID) {
				return 0, errCredentialRegistered
			}
		}
	}
	c := &webauthnCredential{
		methodID:       s.newMethodIDLocked(),
		id:             append([]byte(nil), e.CredentialID...),
		publicKey:      append([]byte(nil), e.PublicKey...),
		backupEligible: e.BackupEligible,
		cliCapable:     e.CLICapable == nil || *e.CLICapable,
		label:          e.Label,
		createdAt:      s.now(),
	}
	if c.label == "" {
		c.label = "Security Key"
	}
	for _, t := range e.Transports {
		c.transports = append(c.transports, protocol.AuthenticatorTransport(t))
	}
	u.webauthnCreds = append(u.webauthnCreds, c)
	return c.methodID, nil
}
