package kit

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/platform/fido"
)

// asserter returns the engine's WebAuthn hook for t, or nil when no
// security key is present: method choice then skips WebAuthn without
// asking the user to touch anything.
func (x *Ctx) Asserter(ctx context.Context, t *Target) stepup.Asserter {
	a := x.Core.Authenticator
	if a == nil {
		return nil
	}
	if ok, err := a.Present(ctx); err != nil || !ok {
		return nil
	}
	origin := originOf(t.URL)
	pin := x.PINPrompt(t)
	return func(ctx context.Context, start *gateway.AssertionStart, touch func()) (string, error) {
		pk := start.Options.PublicKey
		req := fido.Request{
			RPID: pk.RPID, Challenge: pk.Challenge, Origin: origin,
			UserVerification: pk.UserVerification, Touch: touch, PIN: pin,
		}
		for _, c := range pk.AllowCredentials {
			id, err := base64.RawURLEncoding.DecodeString(c.ID)
			if err != nil {
				continue
			}
			req.AllowCredentials = append(req.AllowCredentials, id)
		}
		as, err := a.Assert(ctx, req)
		if errors.Is(err, fido.ErrPINInvalid) || errors.Is(err, fido.ErrPINBlocked) {
			x.Core.PIN.Clear()
		}
		if err != nil {
			return "", err
		}
		defer as.Wipe()
		return as.Response(), nil
	}
}

// originOf is the gateway's origin (scheme://host[:port]), which the
// server compares with clientDataJSON's origin (docs/gateway-protocol.md, "WebAuthn assertions").
func originOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Scheme + "://" + u.Host
}

// PINPrompt returns the security key's PIN source for t: the agent's PIN
// cache, else a secret prompt on the terminal whose answer is cached for
// the rack's webauthn_pin_cache_seconds. Assertions and key enrolment ask
// the same way.
func (x *Ctx) PINPrompt(t *Target) func(context.Context) (string, error) {
	ttl := time.Duration(t.Profile.Config().WebAuthnPINCacheSeconds) * time.Second
	return func(ctx context.Context) (string, error) {
		if pin, ok := x.Core.PIN.Get(); ok {
			return pin, nil
		}
		pin, err := x.Term.Prompt(ctx, ipc.Prompt{Text: "Security key PIN:", Secret: true, Rack: t.Name, Reason: "fido_pin"})
		if err == nil {
			x.Core.PIN.Put(pin, ttl)
		}
		return pin, err
	}
}
