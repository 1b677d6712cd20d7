package convox

import (
	"context"
	"errors"
	"net/http"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/rackws"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// openStream opens a Convox websocket through the rack proxy. path is the
// Convox path (e.g. /apps/x/logs). Its MFA can only ride on the upgrade
// request, so the dial goes through withMFA like any request: a refused
// upgrade (401 asking for MFA) has run nothing, and is retried once after
// the step-up.
func openStream(ctx context.Context, x *kit.Ctx, t *kit.Target, path string, h http.Header) (*rackws.Conn, error) {
	tok, err := x.Credential(t)
	if err != nil {
		return nil, err
	}
	full := stepup.ProxyPrefix + path
	var conn *rackws.Conn
	raw, err := x.WithMFA(ctx, t, tok, http.MethodGet, full, func(mfa http.Header) (*gateway.Raw, error) {
		hdr := h.Clone()
		if hdr == nil {
			hdr = http.Header{}
		}
		for k, v := range mfa {
			hdr[k] = v
		}
		c, err := rackws.Open(ctx, rackws.Dial{
			BaseURL: t.URL, Path: full, Token: tok, Header: hdr,
			Agent: "rack-gateway-agent/" + x.Core.Version,
		})
		if err == nil {
			conn = c
			return &gateway.Raw{Status: http.StatusSwitchingProtocols}, nil
		}
		var ref *rackws.RefusedError
		if errors.As(err, &ref) {
			return &gateway.Raw{Status: ref.Status, Header: ref.Header, Body: ref.Body, URL: ref.URL}, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ipc.Errorf(ipc.CodeGatewayUnreachable, "cannot open a stream to the gateway at %s: %v", t.URL, err).
			WithHint("Check the gateway URL and your network; 'rack-gateway rack' shows the URL in use.")
	})
	if err != nil {
		return nil, err
	}
	if conn == nil {
		return nil, kit.ResponseErr(t, http.MethodGet, raw)
	}
	return conn, nil
}

// streamErr turns a stream failure into what the user sees. For exec
// the remote side's fate is unknown, which the user should be told.
func streamErr(err error, exec bool) error {
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
