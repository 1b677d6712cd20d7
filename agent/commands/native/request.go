package native

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

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
// status is 2xx; any other status becomes the server's own words (message,
// else error), as gateway-api.md §8.1 asks.
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

// printJSON writes v as two-space indented JSON, the upstream --output
// json format.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ipc.Errorf(ipc.CodeInternal, "encode output: %v", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printRaw re-indents a server body as is, so --output json shows every
// field the server sent rather than only those this client knows.
func printRaw(w io.Writer, body []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		_, err = w.Write(body)
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// wantJSON reads the output format from --output (and the upstream
// api-token listings' --json) and refuses formats nobody implements.
func wantJSON(x *kit.Ctx, allowed ...string) (string, error) {
	out, _ := x.Flags.GetString("output")
	out = strings.ToLower(strings.TrimSpace(out))
	if j, err := x.Flags.GetBool("json"); err == nil && j {
		out = "json"
	}
	for _, a := range allowed {
		if out == a {
			return out, nil
		}
	}
	return "", kit.UsageErr(x.Cmd, "unknown --output value %q", out)
}

// userErr is a plain usage-level failure worded as upstream words it.
func userErr(format string, args ...any) error {
	return ipc.Errorf(ipc.CodeUsage, format, args...)
}
