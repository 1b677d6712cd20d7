package sandbox

import (
	"net/http"
	"strings"
)

// The Convox rack proxy (§6). The route table is data: each allow-listed
// method+path carries its permission, MFA level and the in-memory rack
// handler that answers it.

const proxyPrefix = "/api/v1/rack-proxy"

// methodSocket is how the real proxy classifies WebSocket upgrades.
const methodSocket = "SOCKET"

// proxyHandler serves an allow-listed route after every proxy check.
type proxyHandler func(s *Server, w http.ResponseWriter, r *http.Request, p *principal, vars map[string]string)

type proxyRoute struct {
	methods    []string
	pattern    string // segments; "{name}" matches one segment
	permission string // without the "convox:" prefix
	level      mfaLevel
	handler    proxyHandler
}

var (
	get       = []string{http.MethodGet}
	post      = []string{http.MethodPost}
	put       = []string{http.MethodPut}
	del       = []string{http.MethodDelete}
	socketGet = []string{methodSocket, http.MethodGet}
)

// proxyRoutes is §6.1's allow-list, in its order.
var proxyRoutes = []proxyRoute{
	{get, "/apps", "app:list", mfaNone, handleAppList},
	{get, "/apps/{name}", "app:read", mfaNone, handleAppGet},
	{post, "/apps", "app:create", mfaStepUp, handleAppCreate},
	{put, "/apps/{name}", "app:update", mfaStepUp, handleAppUpdate},
	{del, "/apps/{name}", "app:delete", mfaAlways, handleAppDelete},
	{post, "/apps/{app}/restart", "app:restart", mfaStepUp, handleAppRestart},
	{get, "/apps/{app}/services", "app:read", mfaNone, handleServiceList},
	{put, "/apps/{app}/services/{name}", "app:update", mfaStepUp, handleServiceUpdate},
	{post, "/apps/{app}/services/{service}/restart", "process:start", mfaStepUp, handleServiceRestart},
	{get, "/apps/{app}/processes", "process:list", mfaNone, handleProcessList},
	{get, "/apps/{app}/processes/{pid}", "process:read", mfaNone, handleProcessGet},
	{del, "/apps/{app}/processes/{pid}", "process:terminate", mfaStepUp, handleProcessStop},
	{post, "/apps/{app}/services/{service}/processes", "process:start", mfaStepUp, handleProcessRun},
	{socketGet, "/apps/{app}/processes/{pid}/exec", "process:exec", mfaStepUp, handleExec},
	{socketGet, "/apps/{app}/logs", "log:read", mfaNone, handleAppLogs},
	{socketGet, "/apps/{app}/processes/{pid}/logs", "log:read", mfaNone, handleProcessLogs},
	{socketGet, "/apps/{app}/builds/{id}/logs", "log:read", mfaNone, handleBuildLogs},
	{socketGet, "/system/logs", "log:read", mfaNone, handleSystemLogs},
	{get, "/apps/{app}/builds", "build:list", mfaNone, handleBuildList},
	{get, "/apps/{app}/builds/{id}", "build:read", mfaNone, handleBuildGet},
	{post, "/apps/{app}/builds", "build:create", mfaStepUp, handleBuildCreate},
	{post, "/apps/{app}/builds/import", "build:create", mfaStepUp, handleBuildImport},
	{put, "/apps/{app}/builds/{id}", "build:update", mfaNone, handleBuildUpdate},
	{get, "/apps/{app}/releases", "release:list", mfaNone, handleReleaseList},
	{get, "/apps/{app}/releases/{id}", "release:read", mfaNone, handleReleaseGet},
	{post, "/apps/{app}/releases", "release:create", mfaStepUp, handleCreateRelease},
	{post, "/apps/{app}/releases/{id}/promote", "release:promote", mfaStepUp, handlePromote},
	{post, "/apps/{app}/objects/tmp/{name}", "object:create", mfaNone, handleObjectStore},
	{get, "/instances", "instance:list", mfaNone, handleInstanceList},
	{get, "/instances/{id}", "instance:read", mfaNone, handleInstanceGet},
	{get, "/system", "rack:read", mfaNone, handleSystemGet},
	{get, "/system/capacity", "rack:read", mfaNone, handleSystemCapacity},
	{get, "/system/metrics", "rack:read", mfaNone, handleSystemMetrics},
	{get, "/system/processes", "rack:read", mfaNone, handleSystemProcesses},
	{get, "/system/releases", "rack:read", mfaNone, handleSystemReleases},
	{put, "/system", "rack:update", mfaStepUp, handleSystemUpdate},
}

// matchProxyRoute finds the route for method and path (after the prefix).
func matchProxyRoute(method, path string) (*proxyRoute, map[string]string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range proxyRoutes {
		rt := &proxyRoutes[i]
		if !containsString(rt.methods, method) {
			continue
		}
		if vars, ok := matchPattern(rt.pattern, segs); ok {
			return rt, vars
		}
	}
	return nil, nil
}

func matchPattern(pattern string, segs []string) (map[string]string, bool) {
	want := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	if len(want) != len(segs) {
		return nil, false
	}
	vars := map[string]string{}
	for i, w := range want {
		if strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}") {
			if segs[i] == "" {
				return nil, false
			}
			vars[w[1:len(w)-1]] = segs[i]
			continue
		}
		if w != segs[i] {
			return nil, false
		}
	}
	return vars, true
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

// serveProxy runs §6.2's order: CLI-only auth → authenticate → allow-list →
// permission (tokens answered here) → MFA → permission (sessions) →
// destructive policy → handler.
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
		// §6.5: a deploy_with_approval token may still do a gated action
		// under an approved request.
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
	// Session users are asked for MFA before a permission denial (§10.8).
	if !s.enforceProxyMFA(w, rt.level, p) {
		return
	}
	if !allowed {
		writeText(w, http.StatusForbidden, permissionDeniedText(rt.permission))
		return
	}
	if r.Method == http.MethodDelete && rt.permission != "process:terminate" {
		s.mu.Lock()
		allow := s.rack.allowDestructive
		s.mu.Unlock()
		if !allow {
			writeText(w, http.StatusForbidden, "Destructive rack actions are disabled by policy")
			return
		}
	}
	rt.handler(s, w, r, p, vars)
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
// process stops.
func (s *Server) SetAllowDestructiveActions(allow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rack.allowDestructive = allow
}
