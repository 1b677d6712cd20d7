package stepup

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// ErrNoTerminal words the non-interactive failure.
func ErrNoTerminal(rack string) *ipc.Error {
	return ipc.Errorf(ipc.CodeStepUpRequired,
		"Step-up required but no interactive terminal to ask for an MFA code (rack %s)", rack).
		WithHint("Use an API token for automation (RACK_GATEWAY_API_TOKEN or --api-token), or pass a code with --mfa-code <code>.")
}

// wrongCode is a code the gateway refused as wrong (or replayed, which it
// does not tell apart). The user may try another one.
type wrongCode struct{ text string }

func (w *wrongCode) Error() string { return "the gateway refused the code: " + w.text }

// refused turns what the ledger said into the error the user sees. A
// ledger that cannot be read or written is a refusal too: an attempt that
// cannot be recorded is not sent.
func refused(err error) error {
	var rf *ledger.Refusal
	if errors.As(err, &rf) {
		return ipc.Errorf(ipc.CodeMFALocked, "%s", rf.Message)
	}
	return ipc.Errorf(ipc.CodeMFALocked, "Nothing was sent: the MFA attempt ledger could not be updated (%v).", err).
		WithHint("Check that the state directory ($XDG_STATE_HOME/rack-gateway) is writable, then try again.")
}

// isRetryRefusal reports refusals that another code can get past: this
// code was used, or this TOTP step was.
func isRetryRefusal(err error) (*ledger.Refusal, bool) {
	var rf *ledger.Refusal
	if errors.As(err, &rf) && (rf.Reason == "replay" || rf.Reason == "same_step") {
		return rf, true
	}
	return nil, false
}

// verify opens the window: WebAuthn first when chosen and possible, else a
// code, prompting again after a wrong one while the ledger allows. The
// caller holds the session's guard.
func (e *Engine) verify(ctx context.Context, s Session, w *window, sc *screen, r Request) error {
	e.mu.Lock()
	gen := w.gen
	e.mu.Unlock()
	if r.MFACode != "" {
		res, err := e.sendCode(ctx, s, NormalizeCode(r.MFACode))
		if err != nil {
			return codeFlagErr(err)
		}
		e.opened(s.Key, w, gen, res, "totp", r.Who)
		sc.say("MFA verified")
		r.used("code")
		return nil
	}
	if !sc.a.CanPrompt() {
		return ErrNoTerminal(s.Rack)
	}
	method, err := e.sendableMethod(ctx, s, w, r)
	if err != nil {
		return err
	}
	r.used("prompted")
	sc.say("Step-up MFA required for this operation.")
	if method == "webauthn" {
		res, err := e.webauthnVerify(ctx, s, sc, r)
		if err == nil {
			e.opened(s.Key, w, gen, res, "webauthn", r.Who)
			sc.say("MFA verified")
			return nil
		}
		if ctx.Err() != nil {
			return ipc.Interrupted("interrupted")
		}
		var we *wrongCode
		if !errors.As(err, &we) && ipc.AsError(err).Code == ipc.CodeMFALocked {
			return err
		}
		sc.say("WebAuthn verification failed (%v); falling back to a code.", err)
	}
	text := "Enter TOTP code:"
	for {
		code, err := e.askCode(ctx, s, sc, r, text)
		if err != nil {
			return err
		}
		res, err := e.sendCode(ctx, s, code)
		if err == nil {
			e.opened(s.Key, w, gen, res, "totp", r.Who)
			sc.say("MFA verified")
			return nil
		}
		var we *wrongCode
		if !errors.As(err, &we) {
			return e.sendErr(err)
		}
		sc.say("Invalid code.%s", e.attemptsLeft(s.User))
		text = "Enter TOTP code:"
	}
}

// lockoutLine is how many refused codes the ledger lets through in five
// minutes: the gateway locks the account at the fifth.
const lockoutLine = 4

// attemptsLeft says how many more codes the ledger will let through before
// the lockout line, so the user knows before the agent stops asking.
func (e *Engine) attemptsLeft(user string) string {
	b, err := e.Ledger.Budget(user)
	if err != nil {
		return ""
	}
	left := lockoutLine - b.Rejected
	if left <= 0 {
		return ""
	}
	return fmt.Sprintf(" %d more wrong code(s) and the agent stops asking for 5 minutes (the gateway locks the account at 5 in 5 minutes).", left)
}

// sendCode records a code in the ledger, sends it to the verify endpoint
// and records the answer. A lost answer stays counted as refused.
func (e *Engine) sendCode(ctx context.Context, s Session, code string) (*gateway.VerifyResult, error) {
	t, err := e.Ledger.Reserve(s.User, ledger.Code, code)
	if err != nil {
		return nil, err
	}
	res, err := s.Gateway.VerifyCode(ctx, code)
	if err == nil {
		_ = t.Settle(ledger.Accepted)
		return res, nil
	}
	_ = t.Settle(ledger.Rejected)
	return nil, e.serverSaid(s, err)
}

// serverSaid records what a refused verification means for the budget. It
// returns *wrongCode for a code the user may retry, else a final error.
func (e *Engine) serverSaid(s Session, err error) error {
	var ae *gateway.APIError
	if !errors.As(err, &ae) {
		return err
	}
	text := ae.Text()
	switch {
	case strings.Contains(text, "too many attempts"):
		_ = e.Ledger.ServerRefused(s.User, "rate_limited")
		return ipc.Errorf(ipc.CodeMFALocked, "The gateway refused the code: %s.", text).
			WithHint("The agent sends nothing more for five minutes: every attempt now would extend the block.")
	case strings.Contains(text, "locked"):
		_ = e.Ledger.ServerRefused(s.User, "locked")
		return ipc.Errorf(ipc.CodeMFAFailed, "The gateway says: %s", text).
			WithHint("An administrator must unlock the account.")
	case ae.Status == http.StatusBadRequest || isVerificationFailed(ae):
		return &wrongCode{text: text}
	}
	return err
}

// sendErr words a failure to send a code that is neither a wrong code nor
// a refusal of the server's: a ledger refusal, or a lost answer.
func (e *Engine) sendErr(err error) error {
	var rf *ledger.Refusal
	if errors.As(err, &rf) {
		return refused(err)
	}
	if ie := (*ipc.Error)(nil); errors.As(err, &ie) {
		return ie
	}
	return ipc.Errorf(ipc.CodeGateway, "MFA verification did not complete: %v", err).
		WithHint("The code was counted as spent (the gateway may have seen it); use the next code.")
}

// codeFlagErr words a failed --mfa-code.
func codeFlagErr(err error) error {
	var we *wrongCode
	if errors.As(err, &we) {
		return ipc.Errorf(ipc.CodeMFAFailed, "The gateway refused the MFA code given with --mfa-code (%s).", we.text).
			WithHint("Each code works once: check the current code in your authenticator and run the command again with it.")
	}
	if rf, ok := isRetryRefusal(err); ok {
		return ipc.Errorf(ipc.CodeMFALocked, "%s", rf.Message).
			WithHint("Run the command again with the next code from your authenticator.")
	}
	var rf *ledger.Refusal
	if errors.As(err, &rf) {
		return refused(err)
	}
	var ie *ipc.Error
	if errors.As(err, &ie) {
		return ie
	}
	return ipc.Errorf(ipc.CodeGateway, "MFA verification did not complete: %v", err).
		WithHint("The code was counted as spent (the gateway may have seen it); run the command again with the next code.")
}

func isVerificationFailed(ae *gateway.APIError) bool {
	return ae.Code == "mfa_verification_failed" || strings.Contains(ae.Text(), "MFA verification failed")
}

// askCode prompts until it gets a code that is worth sending. It stops
// before prompting when the ledger would refuse any code.
func (e *Engine) askCode(ctx context.Context, s Session, sc *screen, r Request, text string) (string, error) {
	for {
		if err := e.Ledger.Check(s.User, ledger.Code, ""); err != nil {
			return "", refused(err)
		}
		sc.breakLine()
		raw, err := sc.a.Prompt(ctx, ipc.Prompt{Text: text, Secret: true, Rack: s.Rack, Command: r.Command, Reason: "mfa"})
		if err != nil {
			if ctx.Err() != nil {
				return "", ipc.Interrupted("interrupted")
			}
			return "", err
		}
		code := NormalizeCode(raw)
		if code == "" {
			sc.say("No code entered.")
			continue
		}
		if err := e.Ledger.Check(s.User, ledger.Code, code); err != nil {
			if rf, ok := isRetryRefusal(err); ok {
				sc.say("%s", rf.Message)
				text = "Enter the next TOTP code:"
				continue
			}
			return "", refused(err)
		}
		return code, nil
	}
}

// sendableMethod is chooseMethod narrowed to what the ledger would let
// through, so nothing is asked of the person when nothing could be sent:
// a security key the WebAuthn budget refuses falls back to a code, and a
// code the budget refuses ends the decision.
func (e *Engine) sendableMethod(ctx context.Context, s Session, w *window, r Request) (string, error) {
	method, err := e.chooseMethod(ctx, s, w, r)
	if err != nil {
		return "", err
	}
	if method == "webauthn" && e.Ledger.Check(s.User, ledger.WebAuthn, "") != nil {
		method = "totp"
	}
	if err := e.Ledger.Check(s.User, ledger.Code, ""); err != nil && method != "webauthn" {
		return "", refused(err)
	}
	return method, nil
}

// chooseMethod applies the method order: --mfa-method, the server's
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

// assertion makes a WebAuthn assertion for a new server challenge. Nothing
// reaches the gateway's verifier yet, so nothing is recorded here.
func (e *Engine) assertion(ctx context.Context, s Session, sc *screen, r Request) (*gateway.AssertionStart, string, error) {
	sc.say("Attempting WebAuthn verification...")
	start, err := s.Gateway.WebAuthnStart(ctx)
	if err != nil {
		return nil, "", err
	}
	resp, err := r.Assert(ctx, start, func() { sc.say("Touch your security key...") })
	if err != nil {
		return nil, "", err
	}
	return start, resp, nil
}

func (e *Engine) webauthnVerify(ctx context.Context, s Session, sc *screen, r Request) (*gateway.VerifyResult, error) {
	start, resp, err := e.assertion(ctx, s, sc, r)
	if err != nil {
		return nil, err
	}
	t, err := e.Ledger.Reserve(s.User, ledger.WebAuthn, "")
	if err != nil {
		return nil, refused(err)
	}
	res, err := s.Gateway.WebAuthnVerify(ctx, start.SessionData, resp)
	if err == nil {
		_ = t.Settle(ledger.Accepted)
		return res, nil
	}
	_ = t.Settle(ledger.Rejected)
	return nil, e.serverSaid(s, err)
}

// Proof is one always-level proof: a header for one request. Settle it
// with the request's outcome.
type Proof struct {
	Header, Value string
	ticket        *ledger.Ticket
}

// Settle records whether the gateway accepted the proof. A proof whose
// request got no answer must be settled as refused: the gateway may have
// counted it.
func (p *Proof) Settle(accepted bool) {
	if p == nil || p.ticket == nil {
		return
	}
	if accepted {
		_ = p.ticket.Settle(ledger.Accepted)
	} else {
		_ = p.ticket.Settle(ledger.Rejected)
	}
}

// Proof makes a proof for one always-level request: a new code or
// assertion each time, never a code already sent. It is recorded in the
// ledger before it is returned.
func (e *Engine) Proof(ctx context.Context, s Session, a Asker, r Request) (_ *Proof, err error) {
	sc := &screen{a: a}
	defer sc.done(&err)
	w := e.win(s.Key)
	if _, err := e.acquire(ctx, w, sc, r); err != nil {
		return nil, err
	}
	defer e.release(w)
	r.used("proof")
	if r.MFACode != "" {
		code := NormalizeCode(r.MFACode)
		t, err := e.Ledger.Reserve(s.User, ledger.Code, code)
		if err != nil {
			return nil, codeFlagErr(err)
		}
		return &Proof{Header: "X-Mfa-Totp", Value: code, ticket: t}, nil
	}
	if !a.CanPrompt() {
		return nil, ErrNoTerminal(s.Rack)
	}
	method, err := e.sendableMethod(ctx, s, w, r)
	if err != nil {
		return nil, err
	}
	sc.say("MFA verification required.")
	if method == "webauthn" {
		start, resp, err := e.assertion(ctx, s, sc, r)
		if err == nil {
			t, err := e.Ledger.Reserve(s.User, ledger.WebAuthn, "")
			if err != nil {
				return nil, refused(err)
			}
			blob, _ := json.Marshal(map[string]string{"session_data": start.SessionData, "assertion_response": resp})
			return &Proof{Header: "X-MFA-WebAuthn", Value: base64.StdEncoding.EncodeToString(blob), ticket: t}, nil
		}
		if ctx.Err() != nil {
			return nil, ipc.Interrupted("interrupted")
		}
		sc.say("WebAuthn verification failed (%v); falling back to a code.", err)
	}
	for {
		code, err := e.askCode(ctx, s, sc, r, "Enter TOTP code:")
		if err != nil {
			return nil, err
		}
		t, err := e.Ledger.Reserve(s.User, ledger.Code, code)
		if rf, ok := isRetryRefusal(err); ok {
			sc.say("%s", rf.Message)
			continue
		}
		if err != nil {
			return nil, refused(err)
		}
		return &Proof{Header: "X-Mfa-Totp", Value: code, ticket: t}, nil
	}
}

// ProofRefused records a proof the gateway refused as wrong and says so on
// the terminal that made it.
func (e *Engine) ProofRefused(a Asker, s Session, p *Proof) {
	p.Settle(false)
	sc := &screen{a: a}
	sc.say("Invalid code.%s", e.attemptsLeft(s.User))
	sc.done(nil)
}
