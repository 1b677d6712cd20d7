package commands

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// verifier adapts the gateway client, bound to one token, to the engine.
type verifier struct {
	c     *gateway.Client
	token string
}

func (v verifier) MFAStatus(ctx context.Context) (*gateway.MFAStatus, error) {
	return v.c.MFAStatus(ctx, v.token)
}
func (v verifier) VerifyCode(ctx context.Context, code string) (*gateway.VerifyResult, error) {
	return v.c.VerifyCode(ctx, v.token, code)
}
func (v verifier) WebAuthnStart(ctx context.Context) (*gateway.AssertionStart, error) {
	return v.c.WebAuthnStart(ctx, v.token)
}
func (v verifier) WebAuthnVerify(ctx context.Context, sd, resp string) (*gateway.VerifyResult, error) {
	return v.c.WebAuthnVerify(ctx, v.token, sd, resp)
}

// mfaSession names t's session for the engine.
func (x *Ctx) mfaSession(t *Target, token string) stepup.Session {
	email := ""
	if t.Gateway != nil {
		email = t.Gateway.Email
	}
	return stepup.Session{
		Key:     core.SessionKey(t.Profile.Dir, t.Name),
		User:    t.URL + "\x00" + email,
		Rack:    t.Name,
		Gateway: verifier{x.Core.Gateway(t.URL), token},
	}
}

// mfaRequest describes this command to the engine.
func (x *Ctx) mfaRequest(ctx context.Context, t *Target) stepup.Request {
	who := x.Inv.TTYName
	if who == "" {
		who = fmt.Sprintf("pid %d", x.Inv.PID)
	}
	pref := ""
	cfg := t.Profile.Config()
	if g := cfg.Gateways[t.Name]; g != nil && g.MFAPreference != "" && g.MFAPreference != "default" {
		pref = g.MFAPreference
	} else if cfg.MFAPreference != "default" {
		pref = cfg.MFAPreference
	}
	name := ""
	if x.Cmd != nil {
		name = x.Cmd.Name
	}
	return stepup.Request{
		Command: "rack-gateway " + name, Who: who,
		MFACode: x.G.MFACode, Method: x.G.MFAMethod, Preference: pref,
		Assert: x.asserter(ctx, t),
		Used: func(how string) {
			// The strongest use wins: one prompt makes the command "prompted".
			if x.Env.MFA == "" || x.Env.MFA == "reused" || x.Env.MFA == "none" {
				x.Env.MFA = how
			}
		},
	}
}

// Call sends one gateway request with the MFA it needs: a fresh window for
// step-up, a new proof for always. When the server disagrees with the
// prediction (a 401 carrying X-MFA-Required), it steps up once and retries:
// the server refused before acting, so the retry is safe.
func (x *Ctx) Call(ctx context.Context, t *Target, req gateway.Request) (*gateway.Raw, error) {
	tok, err := x.Credential(t)
	if err != nil {
		return nil, err
	}
	req.Token = tok
	gw := x.Core.Gateway(t.URL)
	if x.APIToken() != "" {
		// API tokens never need MFA (§2.1).
		return gw.DoRaw(ctx, req)
	}
	s, r := x.mfaSession(t, tok), x.mfaRequest(ctx, t)
	level := stepup.LevelOf(req.Method, req.Path)
	if level == stepup.Always && stepup.IsProxy(req.Path) {
		level = stepup.StepUp // on the proxy a fresh window satisfies always (§4.8)
	}
	retried := false
	for {
		sent := req
		switch level {
		case stepup.StepUp:
			if err := x.Core.MFA.EnsureWindow(ctx, s, x.Term, r); err != nil {
				return nil, gatewayErr(t, err)
			}
			r.MFACode = "" // --mfa-code opened the window; it is spent
		case stepup.Always:
			h, v, err := x.Core.MFA.Proof(ctx, s, x.Term, r)
			if err != nil {
				return nil, gatewayErr(t, err)
			}
			sent.Header = cloneHeader(req.Header)
			sent.Header.Set(h, v)
			r.MFACode = ""
		}
		raw, err := gw.DoRaw(ctx, sent)
		if err != nil {
			return nil, err
		}
		if raw.Status != http.StatusUnauthorized {
			if level == stepup.Always && raw.Status/100 == 2 {
				x.Core.MFA.ProofAccepted(s)
			}
			return raw, nil
		}
		need := mfaDemand(raw)
		switch {
		case need == "failed" && level == stepup.Always:
			// The proof was refused: count it against the lockout guard
			// and ask again (the guard stops before a fifth failure).
			x.Core.MFA.ProofFailed(s)
			fmt.Fprintln(x.Err, "Invalid code.")
			continue
		case need == "step-up" && !retried:
			x.Core.MFA.Invalidate(s.Key)
			level, retried = stepup.StepUp, true
			continue
		case need == "always" && !retried:
			level, retried = stepup.Always, true
			continue
		case need == "enrollment":
			return nil, ipc.Errorf(ipc.CodeForbidden, "%s", gateway.NewAPIError(req.Method, raw).Text()).
				WithHint("Set up MFA in the gateway's web app, then run 'rack-gateway login %s' again.", t.Name)
		}
		return raw, nil
	}
}

// mfaDemand reads what a 401 asks for: "step-up", "always", "enrollment",
// "failed" (a proof was refused) or "" (not about MFA).
func mfaDemand(raw *gateway.Raw) string {
	switch strings.ToLower(raw.Header.Get("X-Mfa-Required")) {
	case "step-up":
		return "step-up"
	case "always":
		return "always"
	case "enrollment":
		return "enrollment"
	case "true":
		// The proxy: a window (or a proof) satisfies both of its levels.
		return "step-up"
	}
	body := string(raw.Body)
	if strings.Contains(body, "mfa_verification_failed") || strings.Contains(body, "MFA verification failed") {
		return "failed"
	}
	return ""
}

func cloneHeader(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	return h.Clone()
}

// responseErr turns a non-2xx answer into the error the user sees.
func responseErr(t *Target, method string, raw *gateway.Raw) error {
	return gatewayErr(t, gateway.NewAPIError(method, raw))
}
