package sandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// introspectPrefix holds sandbox-only endpoints for tests. They exist on no
// real gateway, answer only loopback clients and are not request-counted.
const introspectPrefix = "/_sandbox/"

func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	if !isLoopbackRemote(r) {
		notFound(w)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, introspectPrefix)
	switch {
	case r.Method == http.MethodGet && path == "requests":
		s.mu.Lock()
		counts := make(map[string]int, len(s.counts))
		for k, v := range s.counts {
			counts[k] = v
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"counts": counts})
	case r.Method == http.MethodGet && path == "replays":
		writeJSON(w, http.StatusOK, map[string]int{"replay_count": s.ReplayCount()})
	case r.Method == http.MethodGet && path == "totp-steps":
		writeJSON(w, http.StatusOK, s.totpSteps())
	case path == "step-up-window":
		s.serveWindowKnob(w, r)
	case r.Method == http.MethodGet && path == "build-source":
		// What the client packaged for a build: tests of the packaging
		// read it here, since the rack's export holds images, not source.
		data, ok := s.rack.BuildSource(r.URL.Query().Get("app"), r.URL.Query().Get("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no source stored for that build")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
	case r.Method == http.MethodPost && path == "drop-websockets":
		writeJSON(w, http.StatusOK, map[string]any{"status": "armed", "pending": s.rack.DropNextWebSocket()})
	case path == "destructive-actions":
		s.serveDestructiveKnob(w, r)
	case path == "deploy-approvals":
		s.serveApprovalsKnob(w, r)
	case path == "faults":
		s.serveFaultsKnob(w, r)
	case path == "log-flood":
		s.serveFloodKnob(w, r)
	case strings.HasPrefix(path, "users/"):
		// r.URL.Path is already unescaped, so "%40" arrives as "@".
		rest := strings.TrimPrefix(path, "users/")
		i := strings.LastIndex(rest, "/")
		if i <= 0 {
			notFound(w)
			return
		}
		s.serveUserKnob(w, r, rest[:i], rest[i+1:])
	default:
		notFound(w)
	}
}

// serveWindowKnob is GET/PUT /_sandbox/step-up-window, {"seconds":N}.
func (s *Server) serveWindowKnob(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var req struct {
			Seconds *int64 `json:"seconds"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Seconds == nil {
			writeError(w, http.StatusBadRequest, `body must be {"seconds": N}`)
			return
		}
		s.SetStepUpWindow(time.Duration(*req.Seconds) * time.Second)
	default:
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"seconds": int64(s.StepUpWindow() / time.Second)})
}

// serveDestructiveKnob is GET/PUT /_sandbox/destructive-actions,
// {"allow":bool}: the allow_destructive_actions setting.
func (s *Server) serveDestructiveKnob(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var req struct {
			Allow *bool `json:"allow"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Allow == nil {
			writeError(w, http.StatusBadRequest, `body must be {"allow": true|false}`)
			return
		}
		s.SetAllowDestructiveActions(*req.Allow)
	default:
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"allow": s.AllowDestructiveActions()})
}

// serveApprovalsKnob is GET/PUT /_sandbox/deploy-approvals,
// {"enabled":bool,"window_seconds":N}: deploy_approvals_enabled and
// deploy_approval_window_minutes (in seconds; ≤ 0 → 900).
func (s *Server) serveApprovalsKnob(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var req struct {
			Enabled       *bool `json:"enabled"`
			WindowSeconds int64 `json:"window_seconds"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Enabled == nil {
			writeError(w, http.StatusBadRequest, `body must be {"enabled": true|false, "window_seconds": N}`)
			return
		}
		s.ConfigureDeployApprovals(*req.Enabled, time.Duration(req.WindowSeconds)*time.Second)
	default:
		notFound(w)
		return
	}
	s.mu.Lock()
	body := map[string]any{"enabled": s.approvalsEnabled, "window_seconds": int64(s.approvalWindow / time.Second)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) serveUserKnob(w http.ResponseWriter, r *http.Request, email, action string) {
	var (
		body any
		err  error
	)
	switch {
	case r.Method == http.MethodGet && action == "mfa":
		body, err = s.UserMFAState(email)
	case r.Method == http.MethodPost && action == "unlock":
		err = s.Unlock(email)
		body = map[string]string{"status": "unlocked"}
	case r.Method == http.MethodPost && action == "expire-step-up":
		var n int
		n, err = s.ExpireStepUp(email)
		body = map[string]any{"status": "expired", "sessions": n}
	case r.Method == http.MethodPost && action == "webauthn":
		var e webauthnEnrollment
		if derr := json.NewDecoder(r.Body).Decode(&e); derr != nil {
			writeError(w, http.StatusBadRequest, "invalid enrollment: "+derr.Error())
			return
		}
		var id int64
		id, err = s.enrollWebAuthn(email, e)
		body = map[string]any{"status": "enrolled", "method_id": id}
	case r.Method == http.MethodPost && action == "trusted-devices":
		var id int64
		id, err = s.TrustDevice(email)
		body = map[string]any{"status": "trusted", "id": id}
	case r.Method == http.MethodPut && action == "preferred-method":
		var pref *string
		if pref, err = decodePreferredMethod(r); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		err = s.setPreferredMethod(email, pref)
		body = map[string]any{"status": "updated", "preferred_method": pref}
	default:
		notFound(w)
		return
	}
	switch {
	case errors.Is(err, errUnknownUser):
		writeError(w, http.StatusNotFound, "user not found")
	case errors.Is(err, errCredentialRegistered):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

// ExpireStepUp ages every step-up window of email's sessions as if the
// window length had just passed (mfa_verified_at is kept), so the next
// step-up action needs a proof without the test waiting. It returns how
// many sessions had a window.
func (s *Server) ExpireStepUp(email string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[email]; !ok {
		return 0, errUnknownUser
	}
	aged := s.now().Add(-s.window - time.Second)
	n := 0
	for _, sess := range s.sessions {
		if sess.userEmail == email && sess.recentStepUpAt != nil {
			t := aged
			sess.recentStepUpAt = &t
			n++
		}
	}
	return n, nil
}

func (s *Server) setPreferredMethod(email string, pref *string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[email]
	if !ok {
		return errUnknownUser
	}
	u.preferredMethod = pref
	return nil
}

// userSteps is one user's entry in GET /_sandbox/totp-steps.
type userSteps struct {
	// ConsumedSteps are the RFC 6238 time steps (unix/30) the server
	// accepted, in order; a step appears at most once.
	ConsumedSteps []int64 `json:"consumed_steps"`
	// ReplayCount counts submissions of a step this user's clients had
	// already sent (see ReplayCount).
	ReplayCount int `json:"replay_count"`
}

// totpSteps is the body of GET /_sandbox/totp-steps: every user with a
// TOTP secret, plus the server-wide replay count.
func (s *Server) totpSteps() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	users := map[string]userSteps{}
	for email, u := range s.users {
		if u.totpSecret != "" {
			users[email] = userSteps{ConsumedSteps: append([]int64{}, u.stepHistory...), ReplayCount: u.replays}
		}
	}
	return map[string]any{"replay_count": s.replayCount, "users": users}
}

// MFAAttempt is one row of the real server's mfa_attempts table, as
// GET /_sandbox/users/{email}/mfa shows it.
type MFAAttempt struct {
	At time.Time `json:"at"`
	// Factor is "totp" for every non-WebAuthn code (TOTP, backup code; a
	// Yubico OTP success leaves no row) or "webauthn".
	Factor  string `json:"factor"`
	Success bool   `json:"success"`
	// Reason is "" or "backup_code" for a success and, for a failure,
	// invalid_code, replay_detected, rate_limited, or one of the WebAuthn
	// reasons (invalid_session, invalid_credential, validation_failed,
	// credential_not_found).
	Reason string `json:"reason"`
}

// MFAState is a user's lock state and the MFA attempts that still count
// toward the attempt limits and the automatic lock.
type MFAState struct {
	Locked     bool   `json:"locked"`
	LockReason string `json:"lock_reason"`
	// Attempts are the rows of the last 5 minutes (the window both the
	// attempt limits and the lock count over), oldest first.
	Attempts []MFAAttempt `json:"attempts"`
}

// UserMFAState reports email's lock and the MFA attempts of the last 5
// minutes, so a client test can check how many codes actually reached the
// gateway and that the account is not locked.
func (s *Server) UserMFAState(email string) (MFAState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[email]
	if !ok {
		return MFAState{}, errUnknownUser
	}
	st := MFAState{Locked: u.lockedAt != nil, LockReason: u.lockReason, Attempts: []MFAAttempt{}}
	cutoff := s.now().Add(-attemptWindow)
	for _, a := range u.attempts {
		if a.at.After(cutoff) { // the same strict bound the counters use
			st.Attempts = append(st.Attempts, MFAAttempt{At: a.at.UTC(), Factor: a.factor, Success: a.success, Reason: a.reason})
		}
	}
	return st, nil
}
