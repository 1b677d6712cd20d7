package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Yubico OTP (docs/gateway-protocol.md, "Factor acceptance", step 3)
// without the network. The real server asks the Yubico cloud to validate a
// 44-character OTP and then matches its first 12 characters (the key's
// public ID) to an enrolled yubiotp method. The
// sandbox instead knows one valid OTP per seeded user:
//
//	"cccccc" + 6 modhex chars (public ID, from the e-mail)
//	         + 32 modhex chars (the "encrypted" part, from the e-mail)
//
// It is accepted exactly once, as Yubico rejects a replayed OTP; afterwards
// it falls through to the TOTP and backup-code checks and fails there.

const yubicoOTPLength = 44

// modhex is Yubico's keyboard-layout-safe hex alphabet.
const modhex = "cbdefghijklnrtuv"

// yubiMethod is an mfa_methods row of type yubiotp.
type yubiMethod struct {
	methodID   int64
	publicID   string // first 12 characters of every OTP of this key
	createdAt  time.Time
	lastUsedAt *time.Time
	used       map[string]bool // OTPs already accepted
}

func toModhex(b []byte) string {
	var sb strings.Builder
	for _, c := range hex.EncodeToString(b) {
		sb.WriteByte(modhex[strings.IndexRune("0123456789abcdef", c)])
	}
	return sb.String()
}

// yubicoPublicID is the seeded key's public ID: "cccccc" like real keys'
// prefixes, then 3 bytes derived from the e-mail.
func yubicoPublicID(email string) string {
	sum := sha256.Sum256([]byte("rack-gateway-sandbox yubikey/" + email))
	return "cccccc" + toModhex(sum[:3])
}

// yubicoOTP is the one OTP the sandbox's "Yubico cloud" accepts for email.
func yubicoOTP(email string) string {
	sum := sha256.Sum256([]byte("rack-gateway-sandbox yubico otp/" + email))
	return yubicoPublicID(email) + toModhex(sum[:16])
}

// verifyYubicoLocked reports whether code is u's valid, unused OTP and
// consumes it. Callers have already checked the length.
func (s *Server) verifyYubicoLocked(u *userRecord, code string, now time.Time) bool {
	y := u.yubi
	if y == nil || code[:12] != y.publicID || code != yubicoOTP(u.email) || y.used[code] {
		return false
	}
	y.used[code] = true
	t := now
	y.lastUsedAt = &t
	return true
}

// YubicoOTP returns the single Yubico OTP the sandbox accepts for a seeded
// user (44 modhex characters, see above), or "" for users without a
// YubiKey. It verifies once; a second use fails like a replay.
func (s *Server) YubicoOTP(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[email]; !ok || u.yubi == nil {
		return ""
	}
	return yubicoOTP(email)
}
