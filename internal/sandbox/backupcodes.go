package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Backup codes (docs/gateway-protocol.md, "Factor acceptance", step 4):
// 10 codes of 12 upper-case hex characters per user, single use. The real
// server generates them randomly and stores an HMAC; the sandbox derives
// them from the user's e-mail so tests and demos know them in advance
// (BackupCodes), and stores the same kind of HMAC.
//
// Matching is exactly the real server's: the input is trimmed of
// surrounding white space and then compared byte for byte, so lower-case
// hex, dashes or inner spaces do not match. Clients must send the code
// exactly as issued.

const (
	backupCodeCount  = 10
	backupCodeLength = 12 // hex characters
)

// backupCode is one mfa_backup_codes row.
type backupCode struct {
	hash   string // HMAC of the code; the plaintext is not kept
	usedAt *time.Time
}

// derivedBackupCodes are the fixed codes of a seeded user, in issue order.
func derivedBackupCodes(email string) []string {
	codes := make([]string, backupCodeCount)
	for i := range codes {
		sum := sha256.Sum256([]byte("rack-gateway-sandbox backup code/" + email + "/" + strconv.Itoa(i)))
		codes[i] = strings.ToUpper(hex.EncodeToString(sum[:backupCodeLength/2]))
	}
	return codes
}

func (s *Server) hashBackupCode(code string) string {
	mac := hmac.New(sha256.New, s.backupCodeSecret)
	mac.Write([]byte(strings.TrimSpace(code)))
	return hex.EncodeToString(mac.Sum(nil))
}

// seedBackupCodesLocked gives u its deterministic set, generated at now.
func (s *Server) seedBackupCodesLocked(u *userRecord, now time.Time) {
	u.backupCodes = u.backupCodes[:0]
	for _, c := range derivedBackupCodes(u.email) {
		u.backupCodes = append(u.backupCodes, &backupCode{hash: s.hashBackupCode(c)})
	}
	t := now
	u.backupGeneratedAt = &t
}

// consumeBackupCodeLocked marks code used and reports whether it was an
// unused code of u.
func (s *Server) consumeBackupCodeLocked(u *userRecord, code string, now time.Time) bool {
	h := s.hashBackupCode(code)
	for _, bc := range u.backupCodes {
		if bc.usedAt == nil && hmac.Equal([]byte(bc.hash), []byte(h)) {
			t := now
			bc.usedAt = &t
			return true
		}
	}
	return false
}

// backupCodesStatus is the backup_codes object of GET /auth/mfa/status.
func backupCodesStatus(u *userRecord) backupCodesView {
	v := backupCodesView{Total: len(u.backupCodes), LastGeneratedAt: utcPtr(u.backupGeneratedAt)}
	for _, bc := range u.backupCodes {
		if bc.usedAt == nil {
			v.Unused++
			continue
		}
		if v.LastUsedAt == nil || bc.usedAt.After(*v.LastUsedAt) {
			v.LastUsedAt = utcPtr(bc.usedAt)
		}
	}
	return v
}

// BackupCodes returns the 10 backup codes issued to a seeded user, in issue
// order, used ones included (each verifies once). It returns nil for users
// without backup codes, and once a user's codes were replaced (regenerated,
// or a TOTP enrolment started): new codes are random. The codes never
// appear on stdout.
func (s *Server) BackupCodes(email string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[email]
	if !ok || len(u.backupCodes) == 0 || u.manage.regenerated {
		return nil // regenerated codes are random, shown only to the client
	}
	return derivedBackupCodes(email)
}
