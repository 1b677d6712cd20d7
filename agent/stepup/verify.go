package stepup

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// ErrNoTerminal words the non-interactive failure (DESIGN.md §4).
func ErrNoTerminal(rack string) *ipc.Error {
	return ipc.Errorf(ipc.CodeStepUpRequired,
		"Step-up required but no interactive terminal to ask for an MFA code (rack %s)", rack).
		WithHint("Use an API token for automation (RACK_GATEWAY_API_TOKEN or --api-token), or pass a code with --mfa-code <code>.")
}

// verify opens the window: WebAuthn first when chosen and possible, else a
// code, prompting again after a wrong one while the lockout guard allows.
// The caller holds the session's guard.
func (e *Engine) verify(ctx context.Context, s Session, w *window, a Asker, r Request) error {
	if r.MFACode != "" {
		code := NormalizeCode(r.MFACode)
		if err := e.checkCode(s.User, code); err != nil {
			return err
		}
		res, err := s.Gateway.VerifyCode(ctx, code)
		e.markUsed(s.User, code)
		if err != nil {
			return e.codeFailure(s, err, true)
		}
		e.opened(s.Key, res, "totp", r.Who)
		fmt.Fprintln(a.Stderr(), "MFA verified")
		r.used("code")
		return nil
	}
	if !a.CanPrompt() {
		return ErrNoTerminal(s.Rack)
	}
	r.used("prompted")
	fmt.Fprintln(a.Stderr(), "Step-up MFA required for this operation.")
	method, err := e.chooseMethod(ctx, s, w, r)
	if err != nil {
		return err
	}
	if method == "webauthn" {
		res, err := e.webauthnVerify(ctx, s, a, r)
		if err == nil {
			e.opened(s.Key, res, "webauthn", r.Who)
			fmt.Fprintln(a.Stderr(), "MFA verified")
			return nil
		}
		if ctx.Err() != nil {
			return ipc.Errorf(ipc.CodeInterrupted, "interrupted")
		}
		fmt.Fprintf(a.Stderr(), "WebAuthn verification failed (%v); falling back to a code.\n", err)
	}
	for {
		code, err := e.askCode(ctx, s, a, r, "Enter TOTP code:")
		if err != nil {
			return err
		}
		res, err := s.Gateway.VerifyCode(ctx, code)
		e.markUsed(s.User, code)
		if err == nil {
			e.opened(s.Key, res, "totp", r.Who)
			fmt.Fprintln(a.Stderr(), "MFA verified")
			return nil
		}
		if err := e.codeFailure(s, err, false); err != nil {
			return err
		}
		left := MaxFailures - e.recentFailures(s.User)
		fmt.Fprintf(a.Stderr(), "Invalid code. %d more attempt(s) before the agent stops asking (the gateway locks the account at 5 in 5 minutes).\n", left)
	}
}

// askCode prompts until it gets a code that is worth sending.
func (e *Engine) askCode(ctx context.Context, s Session, a Asker, r Request, text string) (string, error) {
	for {
		if err := e.checkFailures(s.User); err != nil {
			return "", err
		}
		raw, err := a.Prompt(ctx, ipc.Prompt{Text: text, Secret: true, Rack: s.Rack, Command: r.Command, Reason: "mfa"})
		if err != nil {
			if ctx.Err() != nil {
				return "", ipc.Errorf(ipc.CodeInterrupted, "interrupted")
			}
			return "", err
		}
		code := NormalizeCode(raw)
		if code == "" {
			fmt.Fprintln(a.Stderr(), "No code entered.")
			continue
		}
		if err := e.checkCode(s.User, code); err != nil {
			fmt.Fprintln(a.Stderr(), ipc.AsError(err).Message)
			text = "Enter the next TOTP code:"
			continue
		}
		return code, nil
	}
}

// codeFailure classifies a refused code. It returns nil when the user may
// simply try again.
func (e *Engine) codeFailure(s Session, err error, final bool) error {
	var ae *gateway.APIError
	if !errors.As(err, &ae) {
		return err
	}
	text := ae.Text()
	switch {
	case strings.Contains(text, "too many attempts"):
		return ipc.Errorf(ipc.CodeMFALocked, "the gateway says: %s", text).
			WithHint("Wait five minutes before trying again; more attempts now extend the block.")
	case strings.Contains(text, "locked"):
		return ipc.Errorf(ipc.CodeMFAFailed, "the gateway says: %s", text).
			WithHint("An administrator must unlock the account.")
	case ae.Status == http.StatusBadRequest || isVerificationFailed(ae):
		e.recordFailure(s.User)
		if final {
			return ipc.Errorf(ipc.CodeMFAFailed, "MFA verification failed: %s", text).
				WithHint("Check the code (each code works once) and try again.")
		}
		return nil
	}
	return err
}

func isVerificationFailed(ae *gateway.APIError) bool {
	return ae.Code == "mfa_verification_failed" || strings.Contains(ae.Text(), "MFA verification failed")
}

func (e *Engine) opened(key string, res *gateway.VerifyResult, method, who string) {
	w := e.win(key)
	e.mu.Lock()
	w.verified = e.Now()
	e.mu.Unlock()
	exp := res.RecentStepUpExpiresAt
	e.Observe(key, &exp, method, who)
}

// chooseMethod applies DESIGN.md §4's order: --mfa-method, the server's
// preferred_method, the config's preference, WebAuthn when a key can do it,
// then codes.
func (e *Engine) chooseMethod(ctx context.Context, s Session, w *window, r Request) (string, error) {
	e.mu.Lock()
	st := w.status
	e.mu.Unlock()
	if st == nil && r.Method == "" {
		if err := e.refreshStatus(ctx, s, w); err != nil {
			return "", err
		}
		e.mu.Lock()
		st = w.status
		e.mu.Unlock()
	}
	hasWebAuthn := false
	if st != nil {
		for _, m := range st.Methods {
			if m.Type == "webauthn" && m.CLICapable {
				hasWebAuthn = true
			}
		}
	}
	switch {
	case r.Method == "totp":
		return "totp", nil
	case r.Method == "webauthn":
		if r.Assert == nil {
			return "", ipc.Errorf(ipc.CodeNoAuthenticator, "WebAuthn was asked for, but this agent has no security-key support").
				WithHint("Use --mfa-method totp, or install an agent built with libfido2.")
		}
		return "webauthn", nil
	case r.Method != "":
		return "", ipc.Errorf(ipc.CodeUsage, "unknown --mfa-method %q: use totp or webauthn", r.Method)
	}
	if st != nil && st.PreferredMethod != "" {
		if st.PreferredMethod == "webauthn" && (r.Assert == nil || !hasWebAuthn) {
			return "totp", nil
		}
		return st.PreferredMethod, nil
	}
	if r.Preference == "totp" {
		return "totp", nil
	}
	if hasWebAuthn && r.Assert != nil {
		return "webauthn", nil
	}
	return "totp", nil
}

func (e *Engine) webauthnVerify(ctx context.Context, s Session, a Asker, r Request) (*gateway.VerifyResult, error) {
	fmt.Fprintln(a.Stderr(), "Attempting WebAuthn verification...")
	start, err := s.Gateway.WebAuthnStart(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := r.Assert(ctx, start, func() { fmt.Fprintln(a.Stderr(), "Touch your security key...") })
	if err != nil {
		return nil, err
	}
	res, err := s.Gateway.WebAuthnVerify(ctx, start.SessionData, resp)
	if err != nil {
		var ae *gateway.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			e.recordFailure(s.User) // the server counts it toward the lockout
		}
		return nil, err
	}
	return res, nil
}

// Proof returns a header carrying a proof for one always-level request
// (§4.8): a new code or assertion each time, never a code already used.
func (e *Engine) Proof(ctx context.Context, s Session, a Asker, r Request) (header, value string, err error) {
	w := e.win(s.Key)
	if _, err := e.acquire(ctx, w, a, r.Who, r.Command); err != nil {
		return "", "", err
	}
	defer e.release(w)
	r.used("proof")
	if r.MFACode != "" {
		code := NormalizeCode(r.MFACode)
		if err := e.checkCode(s.User, code); err != nil {
			return "", "", ipc.AsError(err).WithHint("This command needs more than one proof; run it without --mfa-code to be asked for each.")
		}
		e.markUsed(s.User, code)
		return "X-Mfa-Totp", code, nil
	}
	if !a.CanPrompt() {
		return "", "", ErrNoTerminal(s.Rack)
	}
	fmt.Fprintln(a.Stderr(), "MFA verification required.")
	method, err := e.chooseMethod(ctx, s, w, r)
	if err != nil {
		return "", "", err
	}
	if method == "webauthn" {
		fmt.Fprintln(a.Stderr(), "Attempting WebAuthn verification...")
		start, err := s.Gateway.WebAuthnStart(ctx)
		if err == nil {
			var resp string
			resp, err = r.Assert(ctx, start, func() { fmt.Fprintln(a.Stderr(), "Touch your security key...") })
			if err == nil {
				blob, _ := json.Marshal(map[string]string{"session_data": start.SessionData, "assertion_response": resp})
				return "X-MFA-WebAuthn", base64.StdEncoding.EncodeToString(blob), nil
			}
		}
		if ctx.Err() != nil {
			return "", "", ipc.Errorf(ipc.CodeInterrupted, "interrupted")
		}
		fmt.Fprintf(a.Stderr(), "WebAuthn verification failed (%v); falling back to a code.\n", err)
	}
	text := "Enter TOTP code:"
	if e.usedThisStep(s.User) {
		text = "Enter the next TOTP code (the current one was already used):"
	}
	code, err := e.askCode(ctx, s, a, r, text)
	if err != nil {
		return "", "", err
	}
	e.markUsed(s.User, code)
	return "X-Mfa-Totp", code, nil
}

// ProofFailed records that the server refused a proof sent with Proof.
func (e *Engine) ProofFailed(s Session) { e.recordFailure(s.User) }

// ProofAccepted notes that a proof passed: the server restarted the window,
// but did not say until when, so the next step-up asks it once.
func (e *Engine) ProofAccepted(s Session) {
	w := e.win(s.Key)
	e.mu.Lock()
	w.known = false
	e.mu.Unlock()
}

func (e *Engine) recordFailure(user string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.user(user)
	u.failures = append(u.failures, e.Now())
}

func (e *Engine) recentFailures(user string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.user(user)
	cutoff := e.Now().Add(-FailureWindow)
	kept := u.failures[:0]
	for _, t := range u.failures {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	u.failures = kept
	return len(kept)
}

// checkFailures refuses to risk the fifth failure that locks the account.
func (e *Engine) checkFailures(user string) error {
	n := e.recentFailures(user)
	if n < MaxFailures {
		return nil
	}
	e.mu.Lock()
	oldest := e.users[user].failures[0]
	e.mu.Unlock()
	wait := oldest.Add(FailureWindow).Sub(e.Now()).Round(time.Second)
	return ipc.Errorf(ipc.CodeMFALocked,
		"%d wrong MFA codes in the last 5 minutes; the gateway locks the account at 5, so the agent will not send another", n).
		WithHint("Wait %s, then try again with a fresh code.", wait)
}

// checkCode refuses a code that was already sent while it could still be
// valid: the server would count the replay as a failure (§4.5).
func (e *Engine) checkCode(user, code string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.user(user)
	if u.lastCode == hashCode(code) && e.Now().Sub(u.lastUsed) < 3*totpStep {
		return ipc.Errorf(ipc.CodeMFAFailed, "That code was already used; wait for the next one.")
	}
	return nil
}

func (e *Engine) markUsed(user, code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.user(user)
	u.lastCode, u.lastUsed = hashCode(code), e.Now()
}

func (e *Engine) usedThisStep(user string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.user(user)
	return !u.lastUsed.IsZero() && u.lastUsed.Truncate(totpStep).Equal(e.Now().Truncate(totpStep))
}
