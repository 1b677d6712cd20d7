// Package rack is a small typed client for the Convox API as the gateway's
// rack proxy serves it (docs/gateway-protocol.md, "Rack proxy"). It does not talk to the network
// itself: every request goes through a Doer, so callers reuse their
// session- and MFA-aware request path and this package stays about shapes.
package rack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// ProxyPrefix is where the gateway serves the Convox API.
const ProxyPrefix = "/api/v1/rack-proxy"

// Doer sends one gateway request and returns the answer whatever its
// status; it fails only when no answer came back.
type Doer func(ctx context.Context, req gateway.Request) (*gateway.Raw, error)

// Client is a Convox API client over a Doer.
type Client struct {
	do Doer
}

// New returns a client that sends its requests through do.
func New(do Doer) *Client { return &Client{do: do} }

// App is a Convox app (structs.App).
type App struct {
	Generation string            `json:"generation,omitempty"`
	Locked     bool              `json:"locked"`
	Name       string            `json:"name"`
	Release    string            `json:"release"`
	Router     string            `json:"router"`
	Status     string            `json:"status"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// ServicePort is one port mapping of a service.
type ServicePort struct {
	Balancer    int    `json:"balancer"`
	Certificate string `json:"certificate"`
	Container   int    `json:"container"`
}

// Service is a Convox service (structs.Service).
type Service struct {
	Count  int           `json:"count"`
	Cpu    int           `json:"cpu"`
	Domain string        `json:"domain"`
	Memory int           `json:"memory"`
	Name   string        `json:"name"`
	Ports  []ServicePort `json:"ports"`
}

// Process is a Convox process (structs.Process).
type Process struct {
	Id       string    `json:"id"`
	App      string    `json:"app"`
	Command  string    `json:"command"`
	Cpu      float64   `json:"cpu"`
	Host     string    `json:"host"`
	Image    string    `json:"image"`
	Instance string    `json:"instance"`
	Memory   float64   `json:"memory"`
	Name     string    `json:"name"`
	Ports    []string  `json:"ports"`
	Release  string    `json:"release"`
	Started  time.Time `json:"started"`
	Status   string    `json:"status"`
}

// Release is a Convox release (structs.Release). Env comes masked from the
// proxy (docs/gateway-protocol.md, "Environment and releases").
type Release struct {
	Id          string    `json:"id"`
	App         string    `json:"app"`
	Build       string    `json:"build"`
	Env         string    `json:"env"`
	Manifest    string    `json:"manifest"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
}

// Build is a Convox build (structs.Build).
type Build struct {
	Id          string    `json:"id"`
	App         string    `json:"app"`
	Description string    `json:"description"`
	Entrypoint  string    `json:"entrypoint"`
	GitSha      string    `json:"git-sha"`
	Logs        string    `json:"logs"`
	Manifest    string    `json:"manifest"`
	Process     string    `json:"process"`
	Release     string    `json:"release"`
	Reason      string    `json:"reason"`
	Repository  string    `json:"repository"`
	Status      string    `json:"status"`
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended"`
}

// System is the rack itself (structs.System).
type System struct {
	Count      int    `json:"count"`
	Domain     string `json:"domain"`
	Name       string `json:"name"`
	Provider   string `json:"provider"`
	RackDomain string `json:"rack-domain"`
	Region     string `json:"region"`
	Status     string `json:"status"`
	Type       string `json:"type"`
	Version    string `json:"version"`
}

// Instance is a rack instance (structs.Instance).
type Instance struct {
	Agent             bool      `json:"agent"`
	Cpu               float64   `json:"cpu"`
	CpuCapacity       float64   `json:"cpu-capacity"`
	CpuAllocatable    float64   `json:"cpu-allocatable,omitempty"`
	Id                string    `json:"id"`
	InstanceType      string    `json:"instance-type,omitempty"`
	Memory            float64   `json:"memory"`
	MemoryCapacity    float64   `json:"memory-capacity"`
	MemoryAllocatable float64   `json:"memory-allocatable,omitempty"`
	PrivateIp         string    `json:"private-ip"`
	Processes         int       `json:"processes"`
	PublicIp          string    `json:"public-ip"`
	Status            string    `json:"status"`
	Started           time.Time `json:"started"`
}

// ServiceUpdate is the form of PUT /apps/{app}/services/{name}; nil fields
// are not sent, so the rack keeps their values.
type ServiceUpdate struct {
	Count, Cpu, Memory *int
}

// AppList is GET /apps.
func (c *Client) AppList(ctx context.Context) ([]App, error) {
	var out []App
	return out, c.call(ctx, http.MethodGet, "/apps", nil, &out)
}

// AppGet is GET /apps/{name}.
func (c *Client) AppGet(ctx context.Context, name string) (*App, error) {
	var out App
	return &out, c.call(ctx, http.MethodGet, "/apps/"+esc(name), nil, &out)
}

// AppDelete is DELETE /apps/{name}.
func (c *Client) AppDelete(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/apps/"+esc(name), nil, nil)
}

// ServiceList is GET /apps/{app}/services.
func (c *Client) ServiceList(ctx context.Context, app string) ([]Service, error) {
	var out []Service
	return out, c.call(ctx, http.MethodGet, "/apps/"+esc(app)+"/services", nil, &out)
}

// ServiceUpdate is PUT /apps/{app}/services/{name}.
func (c *Client) ServiceUpdate(ctx context.Context, app, name string, u ServiceUpdate) error {
	f := url.Values{}
	for k, v := range map[string]*int{"count": u.Count, "cpu": u.Cpu, "memory": u.Memory} {
		if v != nil {
			f.Set(k, strconv.Itoa(*v))
		}
	}
	return c.call(ctx, http.MethodPut, "/apps/"+esc(app)+"/services/"+esc(name), f, nil)
}

// ServiceRestart is POST /apps/{app}/services/{name}/restart.
func (c *Client) ServiceRestart(ctx context.Context, app, name string) error {
	return c.call(ctx, http.MethodPost, "/apps/"+esc(app)+"/services/"+esc(name)+"/restart", url.Values{}, nil)
}

// ProcessList is GET /apps/{app}/processes.
func (c *Client) ProcessList(ctx context.Context, app string) ([]Process, error) {
	return c.ProcessListFiltered(ctx, app, "", "")
}

// ProcessListFiltered is GET /apps/{app}/processes?service=&release=: the
// rack lists only the processes of that service and release (an empty
// filter is not sent).
func (c *Client) ProcessListFiltered(ctx context.Context, app, service, release string) ([]Process, error) {
	q := url.Values{}
	if service != "" {
		q.Set("service", service)
	}
	if release != "" {
		q.Set("release", release)
	}
	path := "/apps/" + esc(app) + "/processes"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []Process
	return out, c.call(ctx, http.MethodGet, path, nil, &out)
}

// ProcessStop is DELETE /apps/{app}/processes/{pid}.
func (c *Client) ProcessStop(ctx context.Context, app, pid string) error {
	return c.call(ctx, http.MethodDelete, "/apps/"+esc(app)+"/processes/"+esc(pid), nil, nil)
}

// ReleaseList is GET /apps/{app}/releases (limit 0: the rack's default).
func (c *Client) ReleaseList(ctx context.Context, app string, limit int) ([]Release, error) {
	var out []Release
	return out, c.call(ctx, http.MethodGet, "/apps/"+esc(app)+"/releases"+limitQuery(limit), nil, &out)
}

// ReleaseGet is GET /apps/{app}/releases/{id}.
func (c *Client) ReleaseGet(ctx context.Context, app, id string) (*Release, error) {
	var out Release
	return &out, c.call(ctx, http.MethodGet, "/apps/"+esc(app)+"/releases/"+esc(id), nil, &out)
}

// ReleaseCreate is POST /apps/{app}/releases with the given form fields
// (build, description, env, parent-release); empty values are not sent.
func (c *Client) ReleaseCreate(ctx context.Context, app string, fields map[string]string) (*Release, error) {
	f := url.Values{}
	for k, v := range fields {
		if v != "" {
			f.Set(k, v)
		}
	}
	var out Release
	return &out, c.call(ctx, http.MethodPost, "/apps/"+esc(app)+"/releases", f, &out)
}

// ReleasePromote is POST /apps/{app}/releases/{id}/promote; force asks
// the rack to promote even while the app is not running.
func (c *Client) ReleasePromote(ctx context.Context, app, id string, force bool) error {
	f := url.Values{"force": {strconv.FormatBool(force)}}
	return c.call(ctx, http.MethodPost, "/apps/"+esc(app)+"/releases/"+esc(id)+"/promote", f, nil)
}

// BuildList is GET /apps/{app}/builds.
func (c *Client) BuildList(ctx context.Context, app string, limit int) ([]Build, error) {
	var out []Build
	return out, c.call(ctx, http.MethodGet, "/apps/"+esc(app)+"/builds"+limitQuery(limit), nil, &out)
}

// BuildGet is GET /apps/{app}/builds/{id}.
func (c *Client) BuildGet(ctx context.Context, app, id string) (*Build, error) {
	var out Build
	return &out, c.call(ctx, http.MethodGet, "/apps/"+esc(app)+"/builds/"+esc(id), nil, &out)
}

// SystemGet is GET /system.
func (c *Client) SystemGet(ctx context.Context) (*System, error) {
	var out System
	return &out, c.call(ctx, http.MethodGet, "/system", nil, &out)
}

// InstanceList is GET /instances.
func (c *Client) InstanceList(ctx context.Context) ([]Instance, error) {
	var out []Instance
	return out, c.call(ctx, http.MethodGet, "/instances", nil, &out)
}

func esc(s string) string { return url.PathEscape(s) }

func limitQuery(n int) string {
	if n <= 0 {
		return ""
	}
	return "?limit=" + strconv.Itoa(n)
}

// call sends one request; form (when non-nil) is the url-encoded body the
// Convox API expects for POST and PUT.
func (c *Client) call(ctx context.Context, method, path string, form url.Values, out any) error {
	req := gateway.Request{Method: method, Path: ProxyPrefix + path}
	if form != nil {
		req.Body = gateway.RawBody{ContentType: "application/x-www-form-urlencoded", Data: []byte(form.Encode())}
	}
	raw, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	if raw.Status/100 != 2 {
		return ResponseError(raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw.Body, out); err != nil {
		return ipc.Errorf(ipc.CodeGateway, "unexpected answer from %s %s: %v", method, path, err)
	}
	return nil
}

// ResponseError is a failed proxy answer as an error of the gateway
// client's: commands turn every such error into what the user sees in one
// place, so codes and hints follow the same rules for native and proxy
// answers.
func ResponseError(raw *gateway.Raw) *gateway.APIError {
	return gateway.NewProxyError("", raw)
}
