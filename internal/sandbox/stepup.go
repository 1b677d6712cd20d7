package sandbox

import (
	"net/http"
	"time"
)

// mfaLevel is a route's MFA requirement (docs/gateway-protocol.md, "MFA
// levels").
type mfaLevel int

const (
	mfaNone mfaLevel = iota
	mfaStepUp
	mfaAlways
)

// nativeWindowOpen is the native middleware's test: now − recent_step_up_at
// ≤ window (inclusive).
func (s *Server) nativeWindowOpen(sess *session, now time.Time) bool {
	return sess.recentStepUpAt != nil && now.Sub(*sess.recentStepUpAt) <= s.window
}

// proxyWindowOpen is the rack proxy's test: strictly less than the window.
// The one-instant difference from nativeWindowOpen is real and kept.
func (s *Server) proxyWindowOpen(sess *session, now time.Time) bool {
	return sess.recentStepUpAt != nil && now.Sub(*sess.recentStepUpAt) < s.window
}

// stepUpExpiry is recent_step_up_at + window, or nil when never stepped up.
func (s *Server) stepUpExpiry(sess *session) *time.Time {
	if sess == nil || sess.recentStepUpAt == nil {
		return nil
	}
	t := sess.recentStepUpAt.Add(s.window).UTC()
	return &t
}

// markStepUpLocked restarts the window after an inline/header proof.
func (s *Server) markStepUpLocked(sess *session, now time.Time) {
	t := now
	sess.recentStepUpAt = &t
}

// markVerifiedLocked sets both timestamps, as login completion and
// POST /auth/mfa/verify do.
func (s *Server) markVerifiedLocked(sess *session, at time.Time) {
	t := at
	sess.mfaVerifiedAt = &t
	sess.recentStepUpAt = &t
}

type mfaReply struct {
	status  int
	body    map[string]string
	headers map[string]string
}

var (
	replyStepUpRequired = mfaReply{http.StatusUnauthorized, map[string]string{
		"error":   "mfa_step_up_required",
		"message": "Multi-factor authentication is required for this action.",
	}, map[string]string{"X-MFA-Required": "step-up"}}
	replyEnrollmentRequired = mfaReply{http.StatusUnauthorized, map[string]string{
		"error":   "mfa_enrollment_required",
		"message": "Multi-factor authentication must be enabled for this account before continuing.",
	}, map[string]string{"X-MFA-Required": "enrollment"}}
	replyAlwaysRequired = mfaReply{http.StatusUnauthorized, map[string]string{
		"error":   "mfa_required",
		"message": "Multi-factor authentication is required for this sensitive operation.",
	}, map[string]string{"X-MFA-Required": "always"}}
	replyInvalidType = mfaReply{http.StatusBadRequest, map[string]string{
		"error":   "invalid_mfa_type",
		"message": "MFA type must be 'totp' or 'webauthn'",
	}, nil}
)

func replyVerificationFailed(typ string) mfaReply {
	msg := "Verification code is incorrect or has expired. Please try again."
	if typ == factorWebAuthn {
		msg = "Security key verification failed. Please try again."
	}
	return mfaReply{http.StatusUnauthorized, map[string]string{
		"error": "mfa_verification_failed", "message": msg,
	}, nil}
}

// enforceNativeMFA applies the MFA levels to native routes and reports
// whether the request may proceed; otherwise the response has been
// written. API tokens skip MFA entirely.
func (s *Server) enforceNativeMFA(w http.ResponseWriter, level mfaLevel, p *principal) bool {
	if level == mfaNone || p.isAPIToken() {
		return true
	}
	reply, ok := s.decideNativeMFA(level, p)
	if ok {
		return true
	}
	for k, v := range reply.headers {
		w.Header().Set(k, v)
	}
	writeJSON(w, reply.status, reply.body)
	return false
}

func (s *Server) decideNativeMFA(level mfaLevel, p *principal) (mfaReply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	sess := p.session
	if level == mfaStepUp {
		if sess.mfaVerifiedAt == nil {
			if p.user.enrolled() {
				return replyStepUpRequired, false
			}
			return replyEnrollmentRequired, false
		}
		if s.nativeWindowOpen(sess, now) {
			return mfaReply{}, true // an attached proof is ignored, not consumed
		}
		if !p.hasProof() {
			return replyStepUpRequired, false
		}
	} else if !p.hasProof() || sess.mfaVerifiedAt == nil {
		// "Always": a fresh window does not help; every call needs a proof.
		return replyAlwaysRequired, false
	}
	if p.mfaType != factorTOTP && p.mfaType != factorWebAuthn {
		return replyInvalidType, false
	}
	if err := s.verifyProofLocked(p); err != nil {
		return replyVerificationFailed(p.mfaType), false
	}
	s.markStepUpLocked(sess, now)
	return mfaReply{}, true
}

// enforceProxyMFA applies the rack proxy's MFA rules: text bodies, a strict
// window that also satisfies "always", no mfa_verified_at requirement, and
// no distinction between wrong, replayed or rate-limited codes.
func (s *Server) enforceProxyMFA(w http.ResponseWriter, level mfaLevel, p *principal) bool {
	if level == mfaNone || p.isAPIToken() {
		return true
	}
	s.mu.Lock()
	now := s.now()
	var verr error
	open := s.proxyWindowOpen(p.session, now)
	if !open && p.hasProof() {
		verr = s.verifyProofLocked(p)
		if verr == nil {
			s.markStepUpLocked(p.session, now)
		}
	}
	s.mu.Unlock()
	switch {
	case open:
		return true
	case p.hasProof() && verr == nil:
		return true
	case p.hasProof():
		writeText(w, http.StatusUnauthorized, "MFA verification failed")
		return false
	}
	lvl := "step_up"
	if level == mfaAlways {
		lvl = "always"
	}
	w.Header().Set("X-MFA-Required", "true")
	w.Header().Set("X-MFA-Level", lvl)
	writeText(w, http.StatusUnauthorized, "Multi-factor authentication is required for this action")
	return false
}
