package rack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// BuildOptions is the form of POST /apps/{app}/builds. Empty strings are
// not sent, so the rack applies its own defaults (convox.yml, no sha).
type BuildOptions struct {
	URL         string // object:// URL of the uploaded source tarball
	Description string
	GitSha      string
	Manifest    string
	NoCache     bool
}

// Progress is told how many of total bytes have been handed over.
type Progress func(done, total int64)

// ObjectUpload is POST /apps/{app}/objects/tmp/{name}: the body is sent as
// application/octet-stream and the answer's object:// URL is returned.
//
// progress hears 0 first, then the bytes handed to the connection (held
// one short of total), and total only once the gateway has acknowledged
// the upload: the gateway buffers the whole body before forwarding it
// (docs/gateway-protocol.md, "Environment and releases"), so the last byte sent is not yet the upload done.
func (c *Client) ObjectUpload(ctx context.Context, app, name string, data []byte, progress Progress) (string, error) {
	total := int64(len(data))
	if progress != nil {
		progress(0, total)
	}
	req := gateway.Request{
		Method: http.MethodPost,
		Path:   ProxyPrefix + "/apps/" + esc(app) + "/objects/tmp/" + esc(name),
		Body:   gateway.RawBody{ContentType: "application/octet-stream", Data: data},
	}
	if progress != nil && total > 0 {
		req.Body = gateway.RawBody{ContentType: "application/octet-stream", Data: data,
			Progress: func(sent int64) { progress(min(sent, total-1), total) }}
	}
	raw, err := c.do(ctx, req)
	if err != nil {
		return "", err
	}
	if raw.Status/100 != 2 {
		return "", ResponseError(raw)
	}
	var out struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(raw.Body, &out); err != nil || out.URL == "" {
		return "", ipc.Errorf(ipc.CodeGateway, "unexpected answer from object upload: %s", snippet(raw.Body))
	}
	if progress != nil {
		progress(total, total)
	}
	return out.URL, nil
}

// BuildCreate is POST /apps/{app}/builds.
func (c *Client) BuildCreate(ctx context.Context, app string, o BuildOptions) (*Build, error) {
	f := url.Values{}
	for k, v := range map[string]string{"url": o.URL, "description": o.Description, "git-sha": o.GitSha, "manifest": o.Manifest} {
		if v != "" {
			f.Set(k, v)
		}
	}
	// The Convox CLI always sends no-cache, so the rack never has to guess.
	f.Set("no-cache", "false")
	if o.NoCache {
		f.Set("no-cache", "true")
	}
	var out Build
	return &out, c.call(ctx, http.MethodPost, "/apps/"+esc(app)+"/builds", f, &out)
}

// snippet is a short, terminal-safe quote of an answer body.
func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
		return gateway.SafeText(string(b)) + "…"
	}
	return gateway.SafeText(string(b))
}
