package sandbox

import (
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The MFA verifier (docs/gateway-protocol.md, "Factor acceptance"). One
// entry point handles every non-WebAuthn code ("TOTP-class": Yubico OTP,
// TOTP and backup codes) and one handles WebAuthn (webauthn.go), so
// endpoints never care which factor a code is.
// All functions here run with s.mu held: attempt counting, step consumption
// and locking must be atomic per user.

const (
	totpPeriod    = 30 // seconds
	attemptWindow = 5 * time.Minute
	attemptLimit  = 5 // TOTP-class attempts (successes included) per window
	lockThreshold = 5 // failed attempts of any factor per window
	lockReason    = "Automatic lock: 5 failed MFA attempts in 5 minutes"
)

const (
	factorTOTP     = "totp"
	factorWebAuthn = "webauthn"
)

// Verifier errors. Their texts are what POST /auth/mfa/verify returns.
var (
	errCodeRequired       = errors.New("code required")
	errVerificationFailed = errors.New("verification failed")
	errTooManyAttempts    = errors.New("too many attempts - try again in 5 minutes")
	errAccountLocked      = errors.New("account locked - contact administrator")
	errAccountLockedNow   = errors.New("account locked due to multiple failed attempts - contact administrator")
	errInvalidMFAType     = errors.New("invalid mfa type")
)

// mfaAttempt is one row of the real server's MFA attempt tables.
type mfaAttempt struct {
	at      time.Time
	factor  string
	success bool
	reason  string // backup_code on success; invalid_code, replay_detected, rate_limited, ... on failure
}

var totpOpts = totp.ValidateOpts{
	Period:    totpPeriod,
	Skew:      0, // skew is applied by hand so the matched step is known
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// matchTOTPStep returns the time step (±1 around now) whose code equals
// code, so the caller can consume exactly that step.
func matchTOTPStep(secret, code string, now time.Time) (int64, bool) {
	current := now.Unix() / totpPeriod
	for skew := int64(-1); skew <= 1; skew++ {
		step := current + skew
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// verifyProofLocked checks the MFA proof attached to p's request. Unknown
// types fail with errInvalidMFAType before anything is counted.
func (s *Server) verifyProofLocked(p *principal) error {
	switch p.mfaType {
	case factorTOTP:
		return s.verifyCodeLocked(p.user, p.mfaValue)
	case factorWebAuthn:
		return s.verifyWebAuthnProofLocked(p.user, p.mfaValue, p.origin)
	default:
		return errInvalidMFAType
	}
}

// verifyCodeLocked is the TOTP-class verifier, in the real server's order:
// lock, attempt limit, Yubico OTP, TOTP with per-user step consumption,
// backup codes, failure.
func (s *Server) verifyCodeLocked(u *userRecord, code string) error {
	code = strings.TrimSpace(code)
	if code == "" {
		return errCodeRequired
	}
	now := s.now()
	if u.lockedAt != nil {
		return errAccountLocked
	}
	if u.countAttempts(now, func(a mfaAttempt) bool { return a.factor == factorTOTP }) >= attemptLimit {
		// The refusal is itself a failed TOTP-class row, so hammering
		// extends the block. The lock is deliberately not checked here, as
		// on the real server: a refused code never locks, however many
		// failed rows pile up, but those rows do count in the lock check of
		// the first failed verification after the limit lifts.
		u.attempts = append(u.attempts, mfaAttempt{at: now, factor: factorTOTP, reason: "rate_limited"})
		return errTooManyAttempts
	}
	u.pruneSteps(now)

	// Yubico successes are deliberately not recorded as attempts (as on the
	// real server); a failure falls through to the other factors.
	if len(code) == yubicoOTPLength && s.verifyYubicoLocked(u, code, now) {
		return nil
	}

	for _, ref := range totpRefsLocked(u) {
		if step, ok := matchTOTPStep(ref.secret, code, now); ok {
			if u.consumedSteps[step] {
				u.attempts = append(u.attempts, mfaAttempt{at: now, factor: factorTOTP, reason: "replay_detected"})
				if err := s.lockIfNeededLocked(u, now); err != nil {
					return err
				}
				return errVerificationFailed
			}
			u.consumedSteps[step] = true
			u.stepHistory = append(u.stepHistory, step)
			u.attempts = append(u.attempts, mfaAttempt{at: now, factor: factorTOTP, success: true})
			t := now
			*ref.lastUsed = &t
			return nil
		}
	}

	if s.consumeBackupCodeLocked(u, code, now) {
		// A successful row like a TOTP one (it counts toward the attempt
		// limit), tagged as the real server tags it.
		u.attempts = append(u.attempts, mfaAttempt{at: now, factor: factorTOTP, success: true, reason: "backup_code"})
		return nil
	}

	u.attempts = append(u.attempts, mfaAttempt{at: now, factor: factorTOTP, reason: "invalid_code"})
	if err := s.lockIfNeededLocked(u, now); err != nil {
		return err
	}
	return errVerificationFailed
}

// lockIfNeededLocked locks u once it has lockThreshold failed attempts of
// any factor (rate_limited rows included) inside the window.
func (s *Server) lockIfNeededLocked(u *userRecord, now time.Time) error {
	if u.countAttempts(now, func(a mfaAttempt) bool { return !a.success }) < lockThreshold {
		return nil
	}
	t := now
	u.lockedAt = &t
	u.lockReason = lockReason
	s.logger.Printf("user %s locked: %s", u.email, lockReason)
	return errAccountLockedNow
}

func (u *userRecord) countAttempts(now time.Time, match func(mfaAttempt) bool) int {
	cutoff := now.Add(-attemptWindow)
	kept := u.attempts[:0]
	n := 0
	for _, a := range u.attempts {
		if !a.at.After(cutoff) {
			continue // outside every window from now on
		}
		kept = append(kept, a)
		if match(a) {
			n++
		}
	}
	u.attempts = kept
	return n
}

// pruneSteps forgets steps that can no longer match (skew is ±1), keeping
// the per-user maps small over a long demo.
func (u *userRecord) pruneSteps(now time.Time) {
	oldest := now.Unix()/totpPeriod - 2
	for step := range u.consumedSteps {
		if step < oldest {
			delete(u.consumedSteps, step)
		}
	}
	for step := range u.submittedSteps {
		if step < oldest {
			delete(u.submittedSteps, step)
		}
	}
}

// observeSubmissionLocked records that a client sent code for u. It is
// called once per request that carries a TOTP-class code, before and
// independently of verification, so ReplayCount catches a client that
// re-sends a step even where the server would ignore the proof.
func (s *Server) observeSubmissionLocked(u *userRecord, code string) {
	if u == nil || u.totpSecret == "" {
		return
	}
	now := s.now()
	u.pruneSteps(now)
	var step int64
	ok := false
	for _, ref := range totpRefsLocked(u) {
		if step, ok = matchTOTPStep(ref.secret, strings.TrimSpace(code), now); ok {
			break
		}
	}
	if !ok {
		return
	}
	if u.submittedSteps[step] {
		s.replayCount++
		u.replays++
		s.logger.Printf("replayed TOTP step submitted for %s", u.email)
		return
	}
	u.submittedSteps[step] = true
}
