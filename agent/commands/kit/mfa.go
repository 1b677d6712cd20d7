package kit

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
func (x *Ctx) MFASession(t *Target, token string) stepup.Session {
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

// mfaUsed records how the command met its MFA needs, for the audit log.
// The strongest use wins: one prompt makes the command "prompted".
func (x *Ctx) MFAUsed(how string) {
	if m := x.result.MFA; m == "" || m == "reused" || m == "none" {
		x.result.MFA = how
	}
}

// mfaRequest describes this command to the engine.
func (x *Ctx) MFARequest(ctx context.Context, t *Target) stepup.Request {
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
		Assert: x.Asserter(ctx, t),
		Used:   x.MFAUsed,
		Spin:   x.spinFunc(),
	}
}

// Call sends one gateway request with the MFA it needs. See withMFA.
func (x *Ctx) Call(ctx context.Context, t *Target, req gateway.Request) (*gateway.Raw, error) {
	tok, err := x.Credential(t)
	if err != nil {
		return nil, err
	}
	req.Token = tok
	gw := x.Core.Gateway(t.URL)
	raw, err := x.WithMFA(ctx, t, tok, req.Method, req.Path, func(mfa http.Header) (*gateway.Raw, error) {
		sent := req
		if len(mfa) > 0 {
			sent.Header = cloneHeader(req.Header)
			for k, v := range mfa {
				sent.Header[k] = v
			}
		}
		return gw.DoRaw(ctx, sent)
	})
	if err == nil {
		x.noteSeen(t, req, raw)
	}
	return raw, err
}

// SendFunc sends a request once, with extra MFA headers (nil for none).
type SendFunc func(mfa http.Header) (*gateway.Raw, error)

// withMFA sends one request with the MFA its route needs:
//   - a fresh window: sent as it is, no extra request;
//   - --mfa-code: the code opens the window (step-up) or rides the request
//     (always), and is spent;
//   - otherwise the server is asked before the person: the request goes
//     without a proof, and only a 401 carrying X-MFA-Required leads to a
//     prompt (after checking the user may do this at all) and one retry.
//     The server checks permission and MFA before it acts, so the first
//     try cannot have done anything.
func (x *Ctx) WithMFA(ctx context.Context, t *Target, tok, method, path string, send SendFunc) (*gateway.Raw, error) {
	level := stepup.LevelOf(method, path)
	if x.APIToken() != "" || level == stepup.None {
		// API tokens never need MFA.
		return send(nil)
	}
	if level == stepup.Always && stepup.IsProxy(path) {
		level = stepup.StepUp // on the proxy a fresh window satisfies always
	}
	eng := x.Core.MFA
	s, r := x.MFASession(t, tok), x.MFARequest(ctx, t)
	var proof *stepup.Proof
	fromFlag := false
	// takeCode moves --mfa-code into the request to the engine: the code
	// is this command's proof, spent once.
	takeCode := func() {
		if x.G.MFACode != "" {
			r.MFACode, x.G.MFACode, fromFlag = x.G.MFACode, "", true
		}
	}
	if x.G.MFACode != "" && (level == stepup.Always || !eng.Fresh(s.Key)) {
		takeCode()
		if err := x.meet(ctx, t, s, r, level, &proof); err != nil {
			return nil, err
		}
		r.MFACode = ""
	} else if level == stepup.StepUp && eng.Fresh(s.Key) {
		r.Used("reused")
	}
	asked := fromFlag
	for {
		stamp := eng.Stamp(s.Key)
		raw, err := send(proofHeader(proof))
		if err != nil {
			proof.Settle(false) // a lost answer may have been counted
			return nil, err
		}
		if raw.Status != http.StatusUnauthorized {
			if proof != nil {
				proof.Settle(raw.Status < 500)
				if raw.Status/100 == 2 {
					eng.Unknown(s.Key) // the proof restarted the window
				}
			}
			return raw, nil
		}
		need := MFADemand(raw)
		switch {
		case need == "failed" && proof != nil:
			eng.ProofRefused(x.Term, s, proof)
			proof = nil
			if fromFlag {
				return nil, ipc.Errorf(ipc.CodeMFAFailed, "The gateway refused the MFA code given with --mfa-code.").
					WithHint("Each code works once: check the current code in your authenticator and run the command again with it.")
			}
			if err := x.meet(ctx, t, s, r, stepup.Always, &proof); err != nil {
				return nil, err
			}
			continue
		case (need == "step-up" || need == "always") && !asked:
			asked = true
			if need == "step-up" {
				eng.Closed(s.Key, stamp)
			} else {
				level = stepup.Always
			}
			if err := x.mayAct(ctx, t, tok, method, path); err != nil {
				return nil, err
			}
			takeCode() // the window this command relied on was closed
			if err := x.meet(ctx, t, s, r, level, &proof); err != nil {
				return nil, err
			}
			r.MFACode = ""
			continue
		case need == "enrollment":
			return nil, ipc.Errorf(ipc.CodeForbidden, "%s", gateway.NewAPIError(method, raw).Text()).
				WithHint("Set up MFA in the gateway's web app, then run 'rack-gateway login %s' again.", t.Name)
		}
		if proof != nil {
			proof.Settle(true) // refused for another reason: not a failed code
		}
		return raw, nil
	}
}

// meet gets what level needs from the engine: a window for step-up, a new
// proof (stored in *proof) for always.
func (x *Ctx) meet(ctx context.Context, t *Target, s stepup.Session, r stepup.Request, level stepup.Level, proof **stepup.Proof) error {
	if level == stepup.Always {
		p, err := x.Core.MFA.Proof(ctx, s, x.Term, r)
		if err != nil {
			return GatewayErr(t, err)
		}
		*proof = p
		return nil
	}
	if err := x.Core.MFA.EnsureWindow(ctx, s, x.Term, r); err != nil {
		return GatewayErr(t, err)
	}
	return nil
}

func proofHeader(p *stepup.Proof) http.Header {
	if p == nil {
		return nil
	}
	return http.Header{http.CanonicalHeaderKey(p.Header): {p.Value}}
}

// mayAct checks, before anyone is asked for a code, that the user holds
// the permission a rack-proxy route needs. The proxy asks for MFA before it
// refuses a missing permission, so without this a deployer's "apps delete"
// would spend a code only to be told no. When the gateway cannot say, the
// prompt goes ahead and the server decides.
func (x *Ctx) mayAct(ctx context.Context, t *Target, tok, method, path string) error {
	perm := stepup.PermissionOf(method, path)
	if perm == "" {
		return nil
	}
	p, err := x.Core.Gateway(t.URL).UserPermissions(ctx, tok)
	if err != nil || p.UserPermissions == nil {
		return nil
	}
	if stepup.Permitted(p.UserPermissions, perm) {
		return nil
	}
	roles := strings.Join(p.UserRoles, ", ")
	if roles == "" {
		roles = "none"
	}
	return ipc.Errorf(ipc.CodeForbidden, "%s", PermissionText(perm)).
		WithHint("Your gateway role (%s) does not include %s, so no MFA code was asked for and nothing was changed. Ask a gateway administrator for access.", roles, perm)
}

// PermissionText is the rack proxy's refusal text for a permission.
func PermissionText(perm string) string {
	switch strings.TrimPrefix(perm, "convox:") {
	case "process:start", "process:exec":
		return "You don't have permission to run processes."
	case "process:terminate", "process:stop":
		return "You don't have permission to stop processes."
	case "release:create":
		return "You don't have permission to create releases."
	case "release:promote":
		return "You don't have permission to promote releases."
	}
	return "permission denied"
}

// MFADemand reads what a 401 asks for: "step-up", "always", "enrollment",
// "failed" (a proof was refused) or "" (not about MFA).
func MFADemand(raw *gateway.Raw) string {
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

// ResponseErr turns a non-2xx answer into the error the user sees.
func ResponseErr(t *Target, method string, raw *gateway.Raw) error {
	return GatewayErr(t, gateway.NewAPIError(method, raw))
}
