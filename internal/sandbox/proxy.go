package sandbox

import (
	"crypto/rand"
	"net/http"
	"strings"
)

// The Convox rack proxy (§6). The route table is data: each allow-listed
// method+path carries its permission, MFA level and handler, so the
// in-memory rack only has to fill in handlers.

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
	handler    proxyHandler // nil: not implemented by the sandbox yet
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
	{get, "/apps", "app:list", mfaNone, placeholderList},
	{get, "/apps/{name}", "app:read", mfaNone, placeholderNoApp("name")},
	{post, "/apps", "app:create", mfaStepUp, nil},
	{put, "/apps/{name}", "app:update", mfaStepUp, nil},
	{del, "/apps/{name}", "app:delete", mfaAlways, nil},
	{post, "/apps/{app}/restart", "app:restart", mfaStepUp, nil},
	{get, "/apps/{app}/services", "app:read", mfaNone, placeholderNoApp("app")},
	{put, "/apps/{app}/services/{name}", "app:update", mfaStepUp, nil},
	{post, "/apps/{app}/services/{service}/restart", "process:start", mfaStepUp, nil},
	{get, "/apps/{app}/processes", "process:list", mfaNone, placeholderNoApp("app")},
	{get, "/apps/{app}/processes/{pid}", "process:read", mfaNone, placeholderNoApp("app")},
	{del, "/apps/{app}/processes/{pid}", "process:terminate", mfaStepUp, nil},
	{post, "/apps/{app}/services/{service}/processes", "process:start", mfaStepUp, nil},
	{socketGet, "/apps/{app}/processes/{pid}/exec", "process:exec", mfaStepUp, nil},
	{socketGet, "/apps/{app}/logs", "log:read", mfaNone, nil},
	{socketGet, "/apps/{app}/processes/{pid}/logs", "log:read", mfaNone, nil},
	{socketGet, "/apps/{app}/builds/{id}/logs", "log:read", mfaNone, nil},
	{socketGet, "/system/logs", "log:read", mfaNone, nil},
	{get, "/apps/{app}/builds", "build:list", mfaNone, placeholderNoApp("app")},
	{get, "/apps/{app}/builds/{id}", "build:read", mfaNone, placeholderNoApp("app")},
	{post, "/apps/{app}/builds", "build:create", mfaStepUp, nil},
	{post, "/apps/{app}/builds/import", "build:create", mfaStepUp, nil},
	{put, "/apps/{app}/builds/{id}", "build:update", mfaNone, nil},
	{get, "/apps/{app}/releases", "release:list", mfaNone, placeholderNoApp("app")},
	{get, "/apps/{app}/releases/{id}", "release:read", mfaNone, placeholderNoApp("app")},
	{post, "/apps/{app}/releases", "release:create", mfaStepUp, handleCreateRelease},
	{post, "/apps/{app}/releases/{id}/promote", "release:promote", mfaStepUp, nil},
	{post, "/apps/{app}/objects/tmp/{name}", "object:create", mfaNone, nil},
	{get, "/instances", "instance:list", mfaNone, placeholderList},
	{get, "/instances/{id}", "instance:read", mfaNone, placeholderNoInstance},
	{get, "/system", "rack:read", mfaNone, placeholderSystem},
	{get, "/system/capacity", "rack:read", mfaNone, placeholderObject},
	{get, "/system/metrics", "rack:read", mfaNone, placeholderList},
	{get, "/system/processes", "rack:read", mfaNone, placeholderList},
	{get, "/system/releases", "rack:read", mfaNone, placeholderList},
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
		writeText(w, http.StatusForbidden, permissionDeniedText(rt.permission))
		return
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
		writeText(w, http.StatusForbidden, "Destructive rack actions are disabled by policy")
		return
	}
	if rt.handler == nil {
		writeError(w, http.StatusNotImplemented, "not implemented by the sandbox yet")
		return
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

// handleCreateRelease answers POST /apps/{app}/releases once the proxy's
// MFA and permission checks passed: a new release like Convox's, without
// touching any rack state (the in-memory rack does not exist yet).
func handleCreateRelease(s *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      newReleaseID(),
		"app":     vars["app"],
		"created": s.now().UTC(),
	})
}

// newReleaseID mimics Convox ids: "R" and 10 random upper-case letters.
func newReleaseID() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic("sandbox: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return "R" + string(b)
}

// Placeholders until the in-memory rack exists: an empty rack.

func placeholderList(_ *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	writeJSON(w, http.StatusOK, []any{})
}

func placeholderObject(_ *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	writeJSON(w, http.StatusOK, map[string]any{})
}

func placeholderNoApp(key string) proxyHandler {
	return func(_ *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
		writeError(w, http.StatusNotFound, "no such app: "+vars[key])
	}
}

func placeholderNoInstance(_ *Server, w http.ResponseWriter, _ *http.Request, _ *principal, vars map[string]string) {
	writeError(w, http.StatusNotFound, "no such instance: "+vars["id"])
}

func placeholderSystem(_ *Server, w http.ResponseWriter, _ *http.Request, _ *principal, _ map[string]string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name":     "sandbox",
		"provider": "local",
		"region":   "local",
		"status":   "running",
		"type":     "sandbox",
		"version":  sandboxVersion,
		"count":    0,
	})
}
