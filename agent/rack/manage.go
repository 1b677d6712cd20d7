package rack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// AppUpdate is the form of PUT /apps/{name}. A nil Lock and an empty
// Parameters are not sent, so the rack keeps what it has.
type AppUpdate struct {
	Lock       *bool
	Parameters map[string]string
}

// AppCreate is POST /apps; an empty generation lets the rack choose.
func (c *Client) AppCreate(ctx context.Context, name, generation string) (*App, error) {
	f := url.Values{"name": {name}}
	if generation != "" {
		f.Set("generation", generation)
	}
	var out App
	return &out, c.call(ctx, http.MethodPost, "/apps", f, &out)
}

// AppUpdate is PUT /apps/{name}. Parameters travel as one form field
// holding their own url-encoded KEY=VALUE pairs, the way the Convox SDK
// sends a map.
func (c *Client) AppUpdate(ctx context.Context, name string, u AppUpdate) error {
	f := url.Values{}
	if u.Lock != nil {
		f.Set("lock", strconv.FormatBool(*u.Lock))
	}
	if len(u.Parameters) > 0 {
		p := url.Values{}
		for k, v := range u.Parameters {
			p.Set(k, v)
		}
		f.Set("parameters", p.Encode())
	}
	return c.call(ctx, http.MethodPut, "/apps/"+esc(name), f, nil)
}

// ProcessGet is GET /apps/{app}/processes/{pid}.
func (c *Client) ProcessGet(ctx context.Context, app, pid string) (*Process, error) {
	var out Process
	return &out, c.call(ctx, http.MethodGet, "/apps/"+esc(app)+"/processes/"+esc(pid), nil, &out)
}

// BuildImport is POST /apps/{app}/builds/import: the body is a build
// export (builds export), sent whole; the answer is the new build, whose
// Release the rack has created.
func (c *Client) BuildImport(ctx context.Context, app string, archive []byte) (*Build, error) {
	path := "/apps/" + esc(app) + "/builds/import"
	raw, err := c.do(ctx, gateway.Request{Method: http.MethodPost, Path: ProxyPrefix + path,
		Body: gateway.RawBody{ContentType: "application/octet-stream", Data: archive}})
	if err != nil {
		return nil, err
	}
	if raw.Status/100 != 2 {
		return nil, ResponseError(raw)
	}
	var out Build
	if err := json.Unmarshal(raw.Body, &out); err != nil || out.Id == "" {
		return nil, ipc.Errorf(ipc.CodeGateway, "unexpected answer from build import: %s", snippet(raw.Body))
	}
	return &out, nil
}

// BuildExportPath is the proxy path of GET /apps/{app}/builds/{id}.tgz.
// The export can be far larger than an answer the client buffers, so the
// caller streams it itself.
func BuildExportPath(app, id string) string {
	return ProxyPrefix + "/apps/" + esc(app) + "/builds/" + esc(id) + ".tgz"
}
