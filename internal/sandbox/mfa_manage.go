package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// MFA management for a signed-in user (docs/gateway-protocol.md, "MFA
// enrolment and management"): enrolling an authenticator app, a YubiKey or
// a security key, renaming and removing methods, regenerating backup codes
// and revoking trusted devices. As on the real server:
//
//   - enrolment routes have MFA level none (adding a factor is encouraged),
//     renaming a method, regenerating backup codes and revoking a trusted
//     device are step-up, removing a method is always;
//   - starting any enrolment first deletes the user's unconfirmed methods;
//   - starting a TOTP enrolment replaces the backup codes at once, before
//     the confirmation; YubiKey and security-key enrolment hand out codes
//     only to a user who has none;
//   - a TOTP confirmation checks the code against that method's secret
//     only: it leaves no attempt row, consumes no time step, counts toward
//     no limit and cannot lock the account. It opens a full step-up
//     window. The method may be one already confirmed.
//   - a security-key confirmation opens no window.

// totpIssuer is the issuer in the otpauth:// URIs the sandbox hands out.
const totpIssuer = "Rack Gateway"

// Labels the real server gives new methods.
const (
	labelTOTP     = "Authenticator App"
	labelYubiKey  = "Yubikey"
	labelSecurity = "Security Key"
)

// webauthnRegistrationTTL bounds a security-key enrolment ceremony.
const webauthnRegistrationTTL = 5 * time.Minute

// mfaManage is a user's MFA rows beyond the seeded ones (userRecord.manage).
type mfaManage struct {
	// totps are confirmed authenticator apps after the first one, which
	// lives in userRecord.totpSecret.
	totps []*totpMethod
	// pendingTOTP is an unconfirmed authenticator app; pendingKey an
	// unconfirmed security key. A new enrolment deletes both.
	pendingTOTP *totpMethod
	pendingKey  *pendingRegistration
	// labels are the labels of the first TOTP row and the YubiKey row,
	// once set (their defaults otherwise).
	labels  map[int64]string
	trusted []*trustedDevice
	// cloudUsed are Yubico OTPs the "Yubico cloud" has seen; it refuses a
	// replay even after the key was removed and enrolled again.
	cloudUsed map[string]bool
	// regenerated: the backup codes are no longer the derived ones.
	regenerated bool
}

// totpMethod is an mfa_methods row of type totp.
type totpMethod struct {
	id         int64
	secret     string
	label      string
	createdAt  time.Time
	lastUsedAt *time.Time
}

// pendingRegistration is a webauthn_pending method row and its
// server-side registration challenge, bound to the session that started
// it. The challenge is spent by the first confirmation, good or bad.
type pendingRegistration struct {
	methodID  int64
	sessionID int64
	challenge []byte // go-webauthn SessionData JSON; nil once spent
	expires   time.Time
}

// mfaManagePatternRoutes are the parameterised management routes.
func (s *Server) mfaManagePatternRoutes() []nativePatternRoute {
	return []nativePatternRoute{
		{http.MethodPut, "/api/v1/auth/mfa/methods/{id}", mfaStepUp, bucketMFA, s.handleUpdateMFAMethod},
		{http.MethodDelete, "/api/v1/auth/mfa/methods/{id}", mfaAlways, bucketMFA, s.handleDeleteMFAMethod},
		{http.MethodDelete, "/api/v1/auth/mfa/trusted-devices/{id}", mfaStepUp, bucketMFA, s.handleRevokeTrustedDevice},
	}
}

// addMFAManageRoutes adds the exact management routes to the route table.
func (s *Server) addMFAManageRoutes(routes map[string]http.HandlerFunc) {
	routes["POST /api/v1/auth/mfa/enroll/totp/start"] = s.native(mfaNone, bucketMFA, s.handleTOTPEnrollStart)
	routes["POST /api/v1/auth/mfa/enroll/totp/confirm"] = s.native(mfaNone, bucketMFA, s.handleTOTPEnrollConfirm)
	routes["POST /api/v1/auth/mfa/enroll/yubiotp/start"] = s.native(mfaNone, bucketMFA, s.handleYubiOTPEnroll)
	routes["POST /api/v1/auth/mfa/enroll/webauthn/start"] = s.native(mfaNone, bucketMFA, s.handleWebAuthnEnrollStart)
	routes["POST /api/v1/auth/mfa/enroll/webauthn/confirm"] = s.native(mfaNone, bucketMFA, s.handleWebAuthnEnrollConfirm)
	routes["POST /api/v1/auth/mfa/backup-codes/regenerate"] = s.native(mfaStepUp, bucketMFA, s.handleRegenerateBackupCodes)
}

func (m *mfaManage) init() {
	if m.labels == nil {
		m.labels = map[int64]string{}
		m.cloudUsed = map[string]bool{}
	}
}

// totpRef is one TOTP secret of a user, for the verifier: the secret and
// where its method's last use is kept.
type totpRef struct {
	secret   string
	lastUsed **time.Time
}

// totpRefsLocked lists u's confirmed TOTP secrets in creation order, the
// order the real verifier tries them in.
func totpRefsLocked(u *userRecord) []totpRef {
	var refs []totpRef
	if u.totpSecret != "" {
		refs = append(refs, totpRef{u.totpSecret, &u.lastUsedAt})
	}
	for _, m := range u.manage.totps {
		refs = append(refs, totpRef{m.secret, &m.lastUsedAt})
	}
	return refs
}

// methodViewsLocked is the methods array of GET /auth/mfa/status:
// confirmed methods in creation order. CLIs do not see security keys that
// only a browser can use.
func methodViewsLocked(u *userRecord, hideBrowserOnly bool) []mfaMethodView {
	u.manage.init()
	label := func(id int64, def string) string {
		if l, ok := u.manage.labels[id]; ok {
			return l
		}
		return def
	}
	views := []mfaMethodView{}
	if u.totpSecret != "" {
		created := u.enrolledAt.UTC()
		views = append(views, mfaMethodView{ID: u.totpMethodID, Type: factorTOTP, Label: label(u.totpMethodID, labelTOTP),
			CreatedAt: created, ConfirmedAt: &created, LastUsedAt: utcPtr(u.lastUsedAt)})
	}
	for _, m := range u.manage.totps {
		created := m.createdAt.UTC()
		views = append(views, mfaMethodView{ID: m.id, Type: factorTOTP, Label: m.label,
			CreatedAt: created, ConfirmedAt: &created, LastUsedAt: utcPtr(m.lastUsedAt)})
	}
	if y := u.yubi; y != nil {
		created := y.createdAt.UTC()
		views = append(views, mfaMethodView{ID: y.methodID, Type: "yubiotp", Label: label(y.methodID, "YubiKey"),
			CreatedAt: created, ConfirmedAt: &created, LastUsedAt: utcPtr(y.lastUsedAt)})
	}
	for _, c := range u.webauthnCreds {
		if hideBrowserOnly && !c.cliCapable {
			continue
		}
		created := c.createdAt.UTC()
		views = append(views, mfaMethodView{ID: c.methodID, Type: factorWebAuthn, Label: c.label, CLICapable: c.cliCapable,
			CreatedAt: created, ConfirmedAt: &created, LastUsedAt: utcPtr(c.lastUsedAt)})
	}
	sort.SliceStable(views, func(i, j int) bool { return views[i].ID < views[j].ID })
	return views
}

// prepareEnrollmentLocked deletes u's unconfirmed methods, as every
// enrolment start does.
func prepareEnrollmentLocked(u *userRecord) {
	u.manage.init()
	u.manage.pendingTOTP = nil
	u.manage.pendingKey = nil
}

// newBackupCodesLocked replaces u's backup codes with 10 random ones and
// returns them; only their HMACs are kept.
func (s *Server) newBackupCodesLocked(u *userRecord) []string {
	codes := make([]string, backupCodeCount)
	u.backupCodes = u.backupCodes[:0]
	for i := range codes {
		b := make([]byte, backupCodeLength/2)
		if _, err := rand.Read(b); err != nil {
			panic("sandbox: crypto/rand failed: " + err.Error())
		}
		codes[i] = strings.ToUpper(hex.EncodeToString(b))
		u.backupCodes = append(u.backupCodes, &backupCode{hash: s.hashBackupCode(codes[i])})
	}
	t := s.now()
	u.backupGeneratedAt = &t
	u.manage.init()
	u.manage.regenerated = true
	return codes
}

// enrollmentBackupCodesLocked hands out backup codes only to a user who
// has none (YubiKey and security-key enrolment).
func (s *Server) enrollmentBackupCodesLocked(u *userRecord) []string {
	if len(u.backupCodes) > 0 {
		return nil
	}
	return s.newBackupCodesLocked(u)
}

// handleTOTPEnrollStart is POST /api/v1/auth/mfa/enroll/totp/start.
func (s *Server) handleTOTPEnrollStart(w http.ResponseWriter, _ *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: p.user.email, Period: totpPeriod, Digits: otp.DigitsSix})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "failed to generate TOTP secret: "+err.Error())
		return
	}
	s.mu.Lock()
	u := p.user
	prepareEnrollmentLocked(u)
	m := &totpMethod{id: s.newMethodIDLocked(), secret: key.Secret(), label: labelTOTP, createdAt: s.now()}
	u.manage.pendingTOTP = m
	codes := s.newBackupCodesLocked(u) // at start, before any confirmation
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"method_id": m.id, "secret": m.secret, "uri": key.URL(), "backup_codes": codes})
}

// handleTOTPEnrollConfirm is POST /api/v1/auth/mfa/enroll/totp/confirm.
func (s *Server) handleTOTPEnrollConfirm(w http.ResponseWriter, r *http.Request, p *principal) {
	var req struct {
		MethodID    int64  `json:"method_id"`
		Code        string `json:"code"`
		TrustDevice bool   `json:"trust_device"`
		Label       string `json:"label"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	code := strings.TrimSpace(req.Code)
	if req.MethodID == 0 || code == "" {
		writeError(w, http.StatusBadRequest, "method_id and code are required")
		return
	}
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	s.mu.Lock()
	u := p.user
	u.manage.init()
	m, pending := findTOTPLocked(u, req.MethodID)
	if m == nil {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "invalid MFA method")
		return
	}
	now := s.now()
	if _, ok := matchTOTPStep(m.secret, code, now); !ok {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "invalid code")
		return
	}
	label := strings.TrimSpace(req.Label)
	if label == "" {
		label = labelTOTP
	}
	m.label = label
	if pending {
		u.manage.pendingTOTP = nil
		if u.totpSecret == "" {
			u.totpSecret, u.totpMethodID, u.enrolledAt, u.lastUsedAt = m.secret, m.id, m.createdAt, nil
			u.manage.labels[m.id] = label
		} else {
			u.manage.totps = append(u.manage.totps, m)
		}
	} else if m.id == u.totpMethodID {
		u.manage.labels[m.id] = label
	}
	cookie := false
	if req.TrustDevice && !p.session.trustedDevice {
		s.trustDeviceLocked(p.session)
		p.session.trustedDevice, cookie = true, true
	}
	verifiedAt, expires := s.completeVerificationLocked(p.session, false)
	s.mu.Unlock()
	writeVerified(w, verifiedAt, expires, cookie)
}

// findTOTPLocked finds u's TOTP method id: the pending one (reported as
// such) or a confirmed one, whose row the real lookup also finds. The
// first confirmed one is returned as a copy whose label the caller may
// set; its label is kept in manage.labels.
func findTOTPLocked(u *userRecord, id int64) (*totpMethod, bool) {
	if m := u.manage.pendingTOTP; m != nil && m.id == id {
		return m, true
	}
	if u.totpSecret != "" && u.totpMethodID == id {
		return &totpMethod{id: id, secret: u.totpSecret}, false
	}
	for _, m := range u.manage.totps {
		if m.id == id {
			return m, false
		}
	}
	return nil, false
}

// handleYubiOTPEnroll is POST /api/v1/auth/mfa/enroll/yubiotp/start. The
// "Yubico cloud" knows one OTP per user (yubico.go); enrolling it again
// after removing the key works once, since the cloud refuses a replay.
func (s *Server) handleYubiOTPEnroll(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	var req struct {
		YubiOTP string `json:"yubi_otp"`
		Label   string `json:"label"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request: "+err.Error())
		return
	}
	if req.YubiOTP == "" {
		writeError(w, http.StatusBadRequest, "invalid request: Key: 'StartYubiOTPEnrollmentRequest.YubiOTP' Error:Field validation for 'YubiOTP' failed on the 'required' tag")
		return
	}
	code := strings.TrimSpace(req.YubiOTP)
	if len(code) < 32 {
		writeError(w, http.StatusBadRequest, "invalid Yubikey OTP format")
		return
	}
	s.mu.Lock()
	u := p.user
	u.manage.init()
	seen := u.manage.cloudUsed[code] || (u.yubi != nil && u.yubi.used[code])
	if code != yubicoOTP(u.email) || seen {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "invalid Yubikey OTP")
		return
	}
	u.manage.cloudUsed[code] = true
	prepareEnrollmentLocked(u)
	if u.yubi != nil && u.yubi.publicID == code[:12] {
		u.yubi.used[code] = true
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "this Yubikey is already registered")
		return
	}
	y := &yubiMethod{methodID: s.newMethodIDLocked(), publicID: code[:12], createdAt: s.now(), used: map[string]bool{code: true}}
	u.yubi = y
	u.manage.labels[y.methodID] = labelYubiKey
	codes := s.enrollmentBackupCodesLocked(u)
	s.mu.Unlock()
	body := map[string]any{"method_id": y.methodID}
	if len(codes) > 0 {
		body["backup_codes"] = codes
	}
	writeJSON(w, http.StatusOK, body)
}

// methodIDParam parses a {id} path parameter as the real handlers do.
func methodIDParam(w http.ResponseWriter, vars map[string]string, what string) (int64, bool) {
	raw := strings.TrimSpace(vars["id"])
	if raw == "" {
		writeError(w, http.StatusBadRequest, what+" id required")
		return 0, false
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "invalid "+what+" id")
		return 0, false
	}
	return id, true
}

// hasMethodLocked reports whether id is one of u's method rows, confirmed
// or not.
func hasMethodLocked(u *userRecord, id int64) bool {
	if m, _ := findTOTPLocked(u, id); m != nil {
		return true
	}
	if u.yubi != nil && u.yubi.methodID == id {
		return true
	}
	if k := u.manage.pendingKey; k != nil && k.methodID == id {
		return true
	}
	for _, c := range u.webauthnCreds {
		if c.methodID == id {
			return true
		}
	}
	return false
}

// handleUpdateMFAMethod is PUT /api/v1/auth/mfa/methods/{id}: a new
// label (1 to 150 characters).
func (s *Server) handleUpdateMFAMethod(w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	id, ok := methodIDParam(w, vars, "method")
	if !ok {
		return
	}
	s.mu.Lock()
	u := p.user
	u.manage.init()
	found := hasMethodLocked(u, id)
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "mfa method not found")
		return
	}
	var req struct {
		Label *string `json:"label"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Label == nil || *req.Label == "" || len(*req.Label) > 150 {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	s.mu.Lock()
	s.setMethodLabelLocked(u, id, *req.Label)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": "updated"})
}

func (s *Server) setMethodLabelLocked(u *userRecord, id int64, label string) {
	if m := u.manage.pendingTOTP; m != nil && m.id == id {
		m.label = label
	}
	for _, m := range u.manage.totps {
		if m.id == id {
			m.label = label
		}
	}
	for _, c := range u.webauthnCreds {
		if c.methodID == id {
			c.label = label
		}
	}
	if id == u.totpMethodID || (u.yubi != nil && u.yubi.methodID == id) {
		u.manage.labels[id] = label
	}
}

// handleDeleteMFAMethod is DELETE /api/v1/auth/mfa/methods/{id}, an
// always-level route. Removing the last confirmed method leaves the user
// unenrolled and revokes their trusted devices.
func (s *Server) handleDeleteMFAMethod(w http.ResponseWriter, _ *http.Request, p *principal, vars map[string]string) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	id, ok := methodIDParam(w, vars, "method")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := p.user
	u.manage.init()
	if !hasMethodLocked(u, id) {
		writeError(w, http.StatusNotFound, "mfa method not found")
		return
	}
	s.deleteMethodLocked(u, id)
	if !u.enrolled() {
		now := s.now()
		for _, d := range u.manage.trusted {
			if d.revokedAt == nil {
				t := now
				d.revokedAt, d.revokedReason = &t, "mfa_disabled"
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "deleted"})
}

func (s *Server) deleteMethodLocked(u *userRecord, id int64) {
	m := &u.manage
	switch {
	case m.pendingTOTP != nil && m.pendingTOTP.id == id:
		m.pendingTOTP = nil
	case m.pendingKey != nil && m.pendingKey.methodID == id:
		m.pendingKey = nil
	case u.totpSecret != "" && u.totpMethodID == id:
		// The next authenticator app, if any, takes the first row's place.
		u.totpSecret, u.totpMethodID, u.lastUsedAt = "", 0, nil
		if len(m.totps) > 0 {
			next := m.totps[0]
			m.totps = m.totps[1:]
			u.totpSecret, u.totpMethodID, u.enrolledAt, u.lastUsedAt = next.secret, next.id, next.createdAt, next.lastUsedAt
			m.labels[next.id] = next.label
		}
	case u.yubi != nil && u.yubi.methodID == id:
		u.yubi = nil
	}
	for i, t := range m.totps {
		if t.id == id {
			m.totps = append(m.totps[:i:i], m.totps[i+1:]...)
			break
		}
	}
	for i, c := range u.webauthnCreds {
		if c.methodID == id {
			u.webauthnCreds = append(u.webauthnCreds[:i:i], u.webauthnCreds[i+1:]...)
			break
		}
	}
}

// handleRegenerateBackupCodes is POST /api/v1/auth/mfa/backup-codes/regenerate,
// a step-up route: ten new codes, every earlier one void.
func (s *Server) handleRegenerateBackupCodes(w http.ResponseWriter, _ *http.Request, p *principal) {
	if p.isAPIToken() {
		writeError(w, http.StatusForbidden, "mfa requires user session")
		return
	}
	s.mu.Lock()
	codes := s.newBackupCodesLocked(p.user)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string][]string{"backup_codes": codes})
}
