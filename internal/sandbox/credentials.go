package sandbox

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// principal is an authenticated caller: a session user or an API token.
type principal struct {
	user    *userRecord
	session *session  // nil for API tokens
	token   *apiToken // nil for sessions
	// The MFA proof attached to this request, if any. Headers win
	// over the inline suffix.
	mfaType  string
	mfaValue string
	// origin is the WebAuthn origin a proof on this request must carry.
	origin string
	// approval is the deploy approval a gated proxy action runs under
	// (see gateApproval); nil otherwise.
	approval *deployApproval
}

func (p *principal) isAPIToken() bool { return p.token != nil }

func (p *principal) hasProof() bool { return p.mfaType != "" && p.mfaValue != "" }

// credential is a parsed Authorization value.
type credential struct {
	token    string
	mfaType  string
	mfaValue string
}

// splitInlineMFA splits token[.type.value] on the first two dots only, so a
// base64 WebAuthn blob after the second dot survives intact. Anything other
// than exactly three parts is taken verbatim as the token.
func splitInlineMFA(s string) credential {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) == 3 {
		return credential{token: parts[0], mfaType: parts[1], mfaValue: parts[2]}
	}
	return credential{token: s}
}

// parseAuthorization turns an Authorization header into a credential. On
// failure it returns the exact 401 reason the client sees.
func parseAuthorization(header string) (credential, string) {
	parts := strings.SplitN(header, " ", 2)
	if len(parts) != 2 {
		return credential{}, "invalid authorization header format"
	}
	switch parts[0] { // case-sensitive, like the real server
	case "Bearer":
		if strings.HasPrefix(parts[1], "rgw_") {
			// API tokens are used verbatim on Bearer: no suffix parsing.
			return credential{token: parts[1]}, ""
		}
		return splitInlineMFA(parts[1]), ""
	case "Basic":
		decoded, err := base64.StdEncoding.DecodeString(parts[1])
		if err != nil {
			return credential{}, "authentication failed: invalid basic auth: failed to decode base64: " + err.Error()
		}
		// The username (upstream sends "convox") is ignored.
		_, password, ok := strings.Cut(string(decoded), ":")
		if !ok {
			return credential{}, "authentication failed: invalid basic auth: missing ':' separator"
		}
		return splitInlineMFA(password), ""
	default:
		return credential{}, "unsupported authorization type"
	}
}

// authenticate resolves the caller. allowCookie is true only for native
// routes; the proxy refuses cookies before getting here. The returned
// string is the 401 reason when the principal is nil.
func (s *Server) authenticate(r *http.Request, allowCookie bool) (*principal, string) {
	header := strings.TrimSpace(r.Header.Get("Authorization"))
	var cred credential
	switch {
	case header != "":
		c, reason := parseAuthorization(header)
		if reason != "" {
			return nil, reason
		}
		cred = c
	case allowCookie:
		c, err := r.Cookie("session_token")
		if err != nil || strings.TrimSpace(c.Value) == "" {
			return nil, "missing authorization"
		}
		cred = credential{token: c.Value}
	default:
		return nil, "missing authorization"
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		p   *principal
		err error
	)
	if strings.HasPrefix(cred.token, "rgw_") {
		p, err = s.validateAPITokenLocked(cred.token)
	} else {
		p, err = s.validateSessionLocked(cred.token)
	}
	if err != nil {
		return nil, "authentication failed: " + err.Error()
	}
	p.origin = s.webAuthnOrigin(r)
	if cred.mfaType != "" && cred.mfaValue != "" {
		p.mfaType, p.mfaValue = cred.mfaType, cred.mfaValue
	}
	if v := strings.TrimSpace(r.Header.Get("X-Mfa-Totp")); v != "" {
		p.mfaType, p.mfaValue = "totp", v
	} else if v := strings.TrimSpace(r.Header.Get("X-MFA-WebAuthn")); v != "" {
		p.mfaType, p.mfaValue = "webauthn", v
	}
	if !p.isAPIToken() && p.mfaType == "totp" {
		s.observeSubmissionLocked(p.user, p.mfaValue)
	}
	return p, ""
}

// validateSessionLocked applies the real server's checks in its order. Every
// rejection after "revoked" also revokes the session, so a session that once
// failed for expiry, suspension or lock stays dead.
func (s *Server) validateSessionLocked(token string) (*principal, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errors.New("empty session token")
	}
	sess, ok := s.sessions[hashSecret(token)]
	if !ok {
		return nil, errors.New("session not found")
	}
	if sess.revokedAt != nil {
		return nil, errors.New("session revoked")
	}
	now := s.now()
	if sess.expiresAt.Before(now) || sess.lastSeenAt.Add(sess.ttl).Before(now) {
		s.revokeLocked(sess)
		return nil, errors.New("session expired")
	}
	u, ok := s.users[sess.userEmail]
	switch {
	case !ok:
		s.revokeLocked(sess)
		return nil, errors.New("session user missing")
	case u.suspended:
		s.revokeLocked(sess)
		return nil, errors.New("user suspended")
	case u.lockedAt != nil:
		s.revokeLocked(sess)
		return nil, errors.New("user locked")
	}
	// Sliding expiry: every successful validation pushes expires_at out.
	sess.lastSeenAt = now
	sess.expiresAt = now.Add(sess.ttl)
	return &principal{user: u, session: sess}, nil
}

// validateAPITokenLocked checks an rgw_ token. A locked owner does not stop
// a token (only suspension does), as on the real server.
func (s *Server) validateAPITokenLocked(token string) (*principal, error) {
	t, ok := s.apiTokens[hashSecret(token)]
	if !ok {
		return nil, errors.New("invalid API token: invalid token")
	}
	if t.expiresAt != nil && t.expiresAt.Before(s.now()) {
		return nil, errors.New("invalid API token: token has expired")
	}
	u, ok := s.users[t.ownerEmail]
	if !ok {
		return nil, errors.New("token owner not found")
	}
	if u.suspended {
		return nil, errors.New("token owner is suspended")
	}
	now := s.now()
	t.lastUsedAt = &now
	return &principal{user: u, token: t}, nil
}

func (s *Server) revokeLocked(sess *session) {
	if sess.revokedAt == nil {
		now := s.now()
		sess.revokedAt = &now
	}
}

func writeNativeUnauthorized(w http.ResponseWriter, reason string) {
	writeError(w, http.StatusUnauthorized, reason)
}

// writeProxyUnauthorized is the proxy's 401: plain text plus the reason in
// X-Error-Reason.
func writeProxyUnauthorized(w http.ResponseWriter, reason string) {
	w.Header().Set("X-Error-Reason", reason)
	http.Error(w, reason, http.StatusUnauthorized)
}

// native wraps an authenticated gateway-native route: authenticate (JSON
// 401), then the route's rate-limit bucket if any (the mfa bucket runs after
// authentication), then the route's MFA level.
func (s *Server) native(level mfaLevel, bucket string, h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, reason := s.authenticate(r, true)
		if p == nil {
			writeNativeUnauthorized(w, reason)
			return
		}
		if bucket != "" && s.throttle(bucket, w, r) {
			return
		}
		if !s.enforceNativeMFA(w, level, p) {
			return
		}
		h(w, r, p)
	}
}
