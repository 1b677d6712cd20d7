package sandbox

import (
	"net/http"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// The Convox rack proxy (docs/gateway-protocol.md, "Rack proxy"). The
// route table is data: each allow-listed method+path carries its
// permission, MFA level and what the gateway does around forwarding it to
// the rack (most routes: nothing).

const proxyPrefix = "/api/v1/rack-proxy"

// methodSocket is how the real proxy classifies WebSocket upgrades.
const methodSocket = "SOCKET"

type proxyRoute struct {
	methods    []string
	pattern    string // segments; "{name}" matches one segment
	permission string // without the "convox:" prefix
	level      mfaLevel
	filter     *rackFilter // nil: the rack's answer goes to the client untouched
}

var (
	get       = []string{http.MethodGet}
	post      = []string{http.MethodPost}
	put       = []string{http.MethodPut}
	del       = []string{http.MethodDelete}
	socketGet = []string{methodSocket, http.MethodGet}
)

// proxyRoutes is the proxy's allow-list, in the real server's order.
var proxyRoutes = []proxyRoute{
	{get, "/apps", "app:list", mfaNone, nil},
	{get, "/apps/{name}", "app:read", mfaNone, nil},
	{post, "/apps", "app:create", mfaStepUp, nil},
	{put, "/apps/{name}", "app:update", mfaStepUp, nil},
	{del, "/apps/{name}", "app:delete", mfaAlways, filterAppDelete},
	{post, "/apps/{app}/restart", "app:restart", mfaStepUp, nil},
	{get, "/apps/{app}/services", "app:read", mfaNone, nil},
	{put, "/apps/{app}/services/{name}", "app:update", mfaStepUp, nil},
	{post, "/apps/{app}/services/{service}/restart", "process:start", mfaStepUp, nil},
	{get, "/apps/{app}/processes", "process:list", mfaNone, nil},
	{get, "/apps/{app}/processes/{pid}", "process:read", mfaNone, nil},
	{del, "/apps/{app}/processes/{pid}", "process:terminate", mfaStepUp, nil},
	{post, "/apps/{app}/services/{service}/processes", "process:start", mfaStepUp, filterProcessRun},
	{socketGet, "/apps/{app}/processes/{pid}/exec", "process:exec", mfaStepUp, nil},
	{socketGet, "/apps/{app}/logs", "log:read", mfaNone, nil},
	{socketGet, "/apps/{app}/processes/{pid}/logs", "log:read", mfaNone, nil},
	{socketGet, "/apps/{app}/builds/{id}/logs", "log:read", mfaNone, nil},
	{socketGet, "/system/logs", "log:read", mfaNone, nil},
	{get, "/apps/{app}/builds", "build:list", mfaNone, nil},
	{get, "/apps/{app}/builds/{id}.tgz", "build:read", mfaNone, nil},
	{get, "/apps/{app}/builds/{id}", "build:read", mfaNone, nil},
	{post, "/apps/{app}/builds", "build:create", mfaStepUp, filterBuildCreate},
	{post, "/apps/{app}/builds/import", "build:create", mfaStepUp, filterBuildCreate},
	{put, "/apps/{app}/builds/{id}", "build:update", mfaNone, nil},
	{get, "/apps/{app}/releases", "release:list", mfaNone, filterReleaseList},
	{get, "/apps/{app}/releases/{id}", "release:read", mfaNone, filterReleaseGet},
	{post, "/apps/{app}/releases", "release:create", mfaStepUp, filterReleaseCreate},
	{post, "/apps/{app}/releases/{id}/promote", "release:promote", mfaStepUp, filterPromote},
	{post, "/apps/{app}/objects/tmp/{name}", "object:create", mfaNone, filterObjectStore},
	{get, "/instances", "instance:list", mfaNone, nil},
	{get, "/instances/{id}", "instance:read", mfaNone, nil},
	{get, "/system", "rack:read", mfaNone, nil},
	{get, "/system/capacity", "rack:read", mfaNone, nil},
	{get, "/system/metrics", "rack:read", mfaNone, nil},
	{get, "/system/processes", "rack:read", mfaNone, nil},
	{get, "/system/releases", "rack:read", mfaNone, nil},
	{put, "/system", "rack:update", mfaStepUp, nil},
}

// matchProxyRoute finds the route for method and path (after the prefix).
func matchProxyRoute(method, path string) (*proxyRoute, map[string]string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range proxyRoutes {
		rt := &proxyRoutes[i]
		if !containsString(rt.methods, method) {
			continue
		}
		if vars, ok := convoxfake.MatchPattern(rt.pattern, segs); ok {
			return rt, vars
		}
	}
	return nil, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func proxyMethod(r *http.Request) string {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
		return methodSocket
	}
	return r.Method
}

// serveProxy runs the proxy's order of checks (docs/gateway-protocol.md,
// "Rack proxy"): CLI-only auth → authenticate → allow-list → permission
// (tokens answered here) → MFA → permission (sessions) → destructive
// policy → forward to the rack.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie("session_token"); err == nil && strings.TrimSpace(c.Value) != "" {
		writeProxyUnauthorized(w, "browser session cookies are not permitted for CLI routes")
		return
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		writeProxyUnauthorized(w, "CLI authentication required - provide Authorization header")
		return
	}
	if !strings.HasPrefix(header, "Bearer ") && !strings.HasPrefix(header, "Basic ") {
		writeProxyUnauthorized(w, "invalid authorization type for CLI access")
		return
	}
	p, reason := s.authenticate(r, false)
	if p == nil {
		writeProxyUnauthorized(w, reason)
		return
	}
	rt, vars := matchProxyRoute(proxyMethod(r), strings.TrimPrefix(r.URL.Path, proxyPrefix))
	if rt == nil {
		notFound(w)
		return
	}
	allowed := s.hasPermission(p, "convox:"+rt.permission)
	if p.isAPIToken() && !allowed {
		// A deploy_with_approval token may still do a gated action under
		// an approved deploy request.
		kind := approvalGateKind(rt)
		if kind == "" || !s.hasPermission(p, "convox:deploy:deploy_with_approval") {
			writeText(w, http.StatusForbidden, permissionDeniedText(rt.permission))
			return
		}
		if !s.gateApproval(w, r, p, rt, kind, vars) {
			return
		}
		allowed = true
	}
	// Session users are asked for MFA before a permission denial.
	if !s.enforceProxyMFA(w, rt.level, p) {
		return
	}
	if !allowed {
		writeText(w, http.StatusForbidden, permissionDeniedText(rt.permission))
		return
	}
	if r.Method == http.MethodDelete && rt.permission != "process:terminate" {
		s.mu.Lock()
		allow := s.allowDestructive
		s.mu.Unlock()
		if !allow {
			writeText(w, http.StatusForbidden, "Destructive rack actions are disabled by policy")
			return
		}
	}
	s.forward(w, rackRequest(r, p), p, rt, vars)
}

// rackRequest is r as the gateway sends it to the rack: the Convox path
// without the proxy prefix, none of the caller's credentials (the rack
// trusts the gateway, not the caller) and the caller's e-mail in
// X-User-Email (a token's owner), as the real proxy does. Body and
// context are r's, so a WebSocket upgrade takes over the client's own
// connection: in process, that is the byte-for-byte relay a proxy would
// otherwise run.
func rackRequest(r *http.Request, p *principal) *http.Request {
	out := r.Clone(r.Context())
	out.URL.Path = strings.TrimPrefix(r.URL.Path, proxyPrefix)
	out.URL.RawPath = ""
	out.RequestURI = out.URL.RequestURI()
	for _, h := range []string{"Authorization", "Cookie", "X-Mfa-Totp", "X-Mfa-Webauthn"} {
		out.Header.Del(h)
	}
	out.Header.Set("X-User-Email", p.user.email)
	return out
}

func permissionDeniedText(perm string) string {
	switch perm {
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

// SetAllowDestructiveActions changes the allow_destructive_actions
// setting (default false), which gates every proxied DELETE except
// process stops. It is a gateway setting: the rack deletes whatever it is
// asked to.
func (s *Server) SetAllowDestructiveActions(allow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowDestructive = allow
}

// AllowDestructiveActions reports the allow_destructive_actions setting.
func (s *Server) AllowDestructiveActions() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allowDestructive
}
