package commands

import (
	"context"
	"errors"
	"net/http"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rackws"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// EnsureStepUp opens t's step-up window (prompting once, shared with other
// terminals) unless it is already fresh, exactly as Call does before a
// step-up request. Websockets need it because their MFA can only ride on
// the upgrade request's headers, and a window needs no header at all.
// A --mfa-code is spent here: later calls of the same command must not
// send the same TOTP step again.
func (x *Ctx) EnsureStepUp(ctx context.Context, t *Target) error {
	if x.APIToken() != "" {
		return nil // API tokens never need MFA (§2.1)
	}
	tok, err := x.Credential(t)
	if err != nil {
		return err
	}
	s, r := x.mfaSession(t, tok), x.mfaRequest(ctx, t)
	if err := x.Core.MFA.EnsureWindow(ctx, s, x.Term, r); err != nil {
		return gatewayErr(t, err)
	}
	x.G.MFACode = ""
	return nil
}

// strmOpen opens a Convox websocket through the rack proxy. path is the
// Convox path (e.g. /apps/x/logs). Step-up routes get a fresh window
// first; when the gateway still answers 401 asking for MFA (its window
// closed before ours), the window is reopened and the dial retried once:
// the gateway refused before upgrading, so nothing ran.
func (x *Ctx) strmOpen(ctx context.Context, t *Target, path string, h http.Header) (*rackws.Conn, error) {
	full := stepup.ProxyPrefix + path
	level := stepup.LevelOf(http.MethodGet, full)
	for retried := false; ; retried = true {
		if level != stepup.None {
			if err := x.EnsureStepUp(ctx, t); err != nil {
				return nil, err
			}
		}
		tok, err := x.Credential(t)
		if err != nil {
			return nil, err
		}
		c, err := rackws.Open(ctx, rackws.Dial{
			BaseURL: t.URL, Path: full, Token: tok, Header: h,
			Agent: "rack-gateway-agent/" + x.Core.Version,
		})
		if err == nil {
			return c, nil
		}
		var ref *rackws.RefusedError
		if !errors.As(err, &ref) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, ipc.Errorf(ipc.CodeGatewayUnreachable, "cannot open a stream to the gateway at %s: %v", t.URL, err).
				WithHint("Check the gateway URL and your network; 'rack-gateway rack' shows the URL in use.")
		}
		raw := &gateway.Raw{Status: ref.Status, Header: ref.Header, Body: ref.Body, URL: ref.URL}
		if ref.Status == http.StatusUnauthorized && !retried && x.APIToken() == "" && mfaDemand(raw) != "" {
			x.Core.MFA.Invalidate(x.mfaSession(t, tok).Key)
			level = stepup.StepUp
			continue
		}
		return nil, responseErr(t, http.MethodGet, raw)
	}
}

// strmStreamErr turns a stream failure into what the user sees. For exec
// the remote side's fate is unknown, which the user should be told.
func strmStreamErr(err error, exec bool) error {
	var lost *rackws.LostError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &lost) && exec:
		return ipc.Errorf(ipc.CodeGateway, "%v", lost).
			WithHint("The connection dropped before the command's exit status arrived; the remote command may still be running.")
	case errors.As(err, &lost):
		return ipc.Errorf(ipc.CodeGateway, "%v", lost).
			WithHint("The connection dropped; run the command again to resume.")
	default:
		return ipc.Errorf(ipc.CodeGateway, "%v", err)
	}
}
