package sandbox

import "fmt"

// IssueSession creates a CLI session for email directly in the store, as a
// completed login does, for in-process tests that do not play the browser.
// With verified the session has passed MFA and its step-up window opens
// now; without, it has no window.
func (s *Server) IssueSession(email string, verified bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[email]
	if u == nil {
		return "", fmt.Errorf("%w: %s", errUnknownUser, email)
	}
	tok, sess := s.createSessionLocked(u, "cli", cliSessionTTL)
	if verified {
		s.markVerifiedLocked(sess, s.now())
	}
	return tok, nil
}
