package native

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Helpers shared by the commands that talk to the gateway's native API
// (api-token, deploy-approval, gateway). They go through x.Call so every
// request gets the session or API token and the MFA its route needs.

// apiPrefix is the prefix of the native API; paths below are relative to it,
// as in the upstream CLI.
const apiPrefix = "/api/v1"

// call sends one native request and returns the raw answer when its
// status is 2xx; any other status becomes an error in the server's own
// words (its message, else its error field).
func call(ctx context.Context, x *kit.Ctx, t *kit.Target, method, path string, body any) (*gateway.Raw, error) {
	raw, err := send(ctx, x, t, method, path, body)
	if err != nil {
		return nil, err
	}
	if raw.Status/100 != 2 {
		return nil, kit.ResponseErr(t, method, raw)
	}
	return raw, nil
}

// send is call without judging the status, for callers that treat a
// particular non-2xx answer (such as 409) as data.
func send(ctx context.Context, x *kit.Ctx, t *kit.Target, method, path string, body any) (*gateway.Raw, error) {
	req := gateway.Request{Method: method, Path: apiPrefix + path}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, ipc.Errorf(ipc.CodeInternal, "encode request: %v", err)
		}
		req.Body = gateway.RawBody{ContentType: "application/json", Data: b}
	}
	raw, err := x.Call(ctx, t, req)
	if err != nil {
		return nil, kit.GatewayErr(t, err)
	}
	return raw, nil
}

// getJSON fetches path and decodes the answer into out.
func getJSON(ctx context.Context, x *kit.Ctx, t *kit.Target, path string, out any) (*gateway.Raw, error) {
	raw, err := call(ctx, x, t, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	return raw, decode(raw, out)
}

// decode reads a success body; a body that is not the expected JSON
// usually means the URL is not a gateway, so say so.
func decode(raw *gateway.Raw, out any) error {
	if err := json.Unmarshal(raw.Body, out); err != nil {
		return kit.GatewayErr(nil, &gateway.BadResponseError{URL: raw.URL, Status: raw.Status, Detail: "body is not the expected JSON"})
	}
	return nil
}

// Call, Send, GetJSON and Decode are call, send, getJSON and decode for
// the other command packages of the native API (agent/commands/admin and
// mfa), so every native request is sent and judged one way.
func Call(ctx context.Context, x *kit.Ctx, t *kit.Target, method, path string, body any) (*gateway.Raw, error) {
	return call(ctx, x, t, method, path, body)
}

// Send sends path (relative to /api/v1) and returns the answer whatever
// its status.
func Send(ctx context.Context, x *kit.Ctx, t *kit.Target, method, path string, body any) (*gateway.Raw, error) {
	return send(ctx, x, t, method, path, body)
}

// GetJSON fetches path (relative to /api/v1) and decodes the answer.
func GetJSON(ctx context.Context, x *kit.Ctx, t *kit.Target, path string, out any) (*gateway.Raw, error) {
	return getJSON(ctx, x, t, path, out)
}

// Decode reads a success body into out.
func Decode(raw *gateway.Raw, out any) error { return decode(raw, out) }
