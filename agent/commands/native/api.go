package native

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/agent/stepup"
	"github.com/rack-gateway/rack-gateway/ipc"
)

func registerAPI(r *kit.Registry) {
	r.Add(&kit.Command{
		Name:  "api",
		Usage: "api [-X METHOD] <path> [-f key=value]... [-d JSON]",
		Short: "Make an authenticated request to the gateway (MFA handled for you)",
		Long: `Make an authenticated request to the gateway and print the response body.

Paths under /api/ go to the gateway's native API; any other path goes to the
rack proxy (so "/apps" means /api/v1/rack-proxy/apps). The agent adds the
session and whatever MFA the route needs: a shared step-up window or a new
proof for "always" routes. Fields given with -f are sent as a form to the rack
proxy and as a JSON object to the native API; -d sends a JSON body as is
("-d @-" reads it from stdin).`,
		MinArgs: 1, MaxArgs: 1, ArgHint: "a path, such as /apps or /api/v1/info",
		Bind: kit.BindNew[apiOptions](),
	})
}

// apiOptions are api's flags.
type apiOptions struct {
	method string   // -X: "" means GET, or POST with a body
	fields []string // -f key=value, in order
	data   string   // -d: a JSON body, or "@-" for stdin
}

func (o *apiOptions) Bind(fs *pflag.FlagSet) {
	fs.StringVarP(&o.method, "method", "X", "", "HTTP method (default GET, or POST when a body is given)")
	fs.StringArrayVarP(&o.fields, "field", "f", nil, "A key=value field of the body (repeatable)")
	fs.StringVarP(&o.data, "data", "d", "", "A JSON body, or @- to read it from stdin")
}

func (o *apiOptions) Run(ctx context.Context, x *kit.Ctx) error {
	t, err := x.ResolveRack()
	if err != nil {
		return err
	}
	path := x.Args[0]
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if !strings.HasPrefix(path, "/api/") {
		path = stepup.ProxyPrefix + path
	}
	method, fields, data := o.method, o.fields, o.data
	if data != "" && len(fields) > 0 {
		return kit.UsageErr(x.Cmd, "use either -d or -f, not both")
	}
	req := gateway.Request{Path: path}
	switch {
	case data == "@-":
		b, err := io.ReadAll(io.LimitReader(x.Term.Stdin(), 8<<20))
		if err != nil {
			return ipc.Errorf(ipc.CodeInternal, "read stdin: %v", err)
		}
		data = string(b)
		fallthrough
	case data != "":
		if !json.Valid([]byte(data)) {
			return kit.UsageErr(x.Cmd, "-d is not valid JSON")
		}
		req.Body = gateway.RawBody{ContentType: "application/json", Data: []byte(data)}
	case len(fields) > 0:
		body, err := fieldsBody(fields, stepup.IsProxy(path))
		if err != nil {
			return kit.UsageErr(x.Cmd, "%v", err)
		}
		req.Body = body
	}
	if method == "" {
		method = http.MethodGet
		if req.Body != nil {
			method = http.MethodPost
		}
	}
	req.Method = strings.ToUpper(method)
	raw, err := x.Call(ctx, t, req)
	if err != nil {
		return kit.GatewayErr(t, err)
	}
	if raw.Status/100 != 2 {
		return kit.ResponseErr(t, req.Method, raw)
	}
	return kit.PrintRaw(x.Out, raw.Body)
}

func fieldsBody(fields []string, form bool) (gateway.RawBody, error) {
	vals := url.Values{}
	obj := map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return gateway.RawBody{}, fmt.Errorf("field %q is not key=value", f)
		}
		vals.Add(k, v)
		obj[k] = v
	}
	if form {
		return gateway.RawBody{ContentType: "application/x-www-form-urlencoded", Data: []byte(vals.Encode())}, nil
	}
	b, _ := json.Marshal(obj)
	return gateway.RawBody{ContentType: "application/json", Data: b}, nil
}
