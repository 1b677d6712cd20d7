// Package stepup is the agent's MFA engine: it predicts each action's MFA
// level from a table that mirrors the server's, keeps each rack's step-up
// window so a fresh window costs no request, lets one terminal prompt while
// the others wait and reuse the result, and never sends a TOTP step twice
// or a fifth wrong code.
package stepup

import (
	"net/http"
	"strings"
)

// Level is an action's MFA level (docs/gateway-protocol.md, "MFA levels").
type Level int

// The levels.
const (
	None   Level = iota
	StepUp       // a fresh window, or a proof on the request
	Always       // a proof on this very request
)

func (l Level) String() string {
	switch l {
	case StepUp:
		return "step-up"
	case Always:
		return "always"
	default:
		return "none"
	}
}

type route struct {
	method     string
	pattern    []string // "{}" matches one segment
	level      Level
	permission string // "convox:<resource>:<action>" on the proxy, else ""
}

func parse(method, path string, level Level) route {
	return route{method: method, pattern: strings.Split(strings.Trim(path, "/"), "/"), level: level}
}

func (r route) needs(perm string) route {
	r.permission = "convox:" + perm
	return r
}

func (r route) match(method string, segs []string) bool {
	if r.method != method || len(r.pattern) != len(segs) {
		return false
	}
	for i, p := range r.pattern {
		if p != "{}" && p != segs[i] {
			return false
		}
	}
	return true
}

// proxyRoutes are the rack proxy's MFA levels and permissions for its
// step-up and always routes (docs/gateway-protocol.md, "Rack proxy"). On
// the proxy a fresh window satisfies "always" too, so the engine treats
// those like step-up; they are kept distinct here to mirror the server.
var proxyRoutes = []route{
	parse("POST", "/apps", StepUp).needs("app:create"),
	parse("PUT", "/apps/{}", StepUp).needs("app:update"),
	parse("DELETE", "/apps/{}", Always).needs("app:delete"),
	parse("POST", "/apps/{}/restart", StepUp).needs("app:restart"),
	parse("PUT", "/apps/{}/services/{}", StepUp).needs("app:update"),
	parse("POST", "/apps/{}/services/{}/restart", StepUp).needs("process:start"),
	parse("DELETE", "/apps/{}/processes/{}", StepUp).needs("process:terminate"),
	parse("POST", "/apps/{}/services/{}/processes", StepUp).needs("process:start"),
	parse("SOCKET", "/apps/{}/processes/{}/exec", StepUp).needs("process:exec"),
	parse("GET", "/apps/{}/processes/{}/exec", StepUp).needs("process:exec"),
	parse("POST", "/apps/{}/builds", StepUp).needs("build:create"),
	parse("POST", "/apps/{}/builds/import", StepUp).needs("build:create"),
	parse("POST", "/apps/{}/releases", StepUp).needs("release:create"),
	parse("POST", "/apps/{}/releases/{}/promote", StepUp).needs("release:promote"),
	parse("PUT", "/system", StepUp).needs("rack:update"),
}

// nativeRoutes are the native API's MFA levels for routes a CLI uses.
// Anything else is none.
var nativeRoutes = []route{
	parse("PUT", "/apps/{}/env", StepUp),
	parse("POST", "/api-tokens", Always),
	parse("PUT", "/api-tokens/{}", Always),
	parse("DELETE", "/api-tokens/{}", Always),
	parse("POST", "/deploy-approval-requests/{}/approve", Always),
	parse("POST", "/deploy-approval-requests/{}/reject", Always),
	parse("POST", "/deploy-approval-requests/{}/extend", Always),
	parse("PUT", "/auth/mfa/preferred-method", StepUp),
	// MFA management (docs/gateway-protocol.md, "MFA enrolment and
	// management"); enrolment itself is none.
	parse("PUT", "/auth/mfa/methods/{}", StepUp),
	parse("DELETE", "/auth/mfa/methods/{}", Always),
	parse("POST", "/auth/mfa/backup-codes/regenerate", StepUp),
	parse("DELETE", "/auth/mfa/trusted-devices/{}", StepUp),
	// Users and sessions (docs/gateway-protocol.md, "Sessions and
	// administration"): gateway:user:create/update/delete are always,
	// revoking one's own sessions included; the name alone is step-up.
	parse("POST", "/users", Always),
	parse("PUT", "/users/{}", Always),
	parse("DELETE", "/users/{}", Always),
	parse("PUT", "/users/{}/name", StepUp),
	parse("POST", "/users/{}/lock", Always),
	parse("POST", "/users/{}/unlock", Always),
	parse("POST", "/users/{}/sessions/{}/revoke", Always),
	parse("POST", "/users/{}/sessions/revoke_all", Always),
}

// ProxyPrefix is where the rack proxy lives on the gateway.
const ProxyPrefix = "/api/v1/rack-proxy"

// LevelOf returns the MFA level of a gateway request path (with its
// /api/v1 or /api/v1/rack-proxy prefix).
func LevelOf(method, path string) Level {
	return lookup(method, path).level
}

// PermissionOf returns the permission a rack-proxy step-up or always
// route needs ("convox:app:delete"), or "" when the table does not say.
// The proxy asks for MFA before it refuses a missing permission, so the
// agent checks this itself before it asks the person for a code.
func PermissionOf(method, path string) string {
	return lookup(method, path).permission
}

func lookup(method, path string) route {
	path, _, _ = strings.Cut(path, "?")
	if method == "" {
		method = http.MethodGet
	}
	table := nativeRoutes
	rest, ok := strings.CutPrefix(path, ProxyPrefix)
	if ok {
		table = proxyRoutes
	} else if rest, ok = strings.CutPrefix(path, "/api/v1"); !ok {
		return route{}
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	for _, r := range table {
		if r.match(method, segs) {
			return r
		}
	}
	return route{}
}

// Permitted reports whether a granted permission list (as the gateway
// lists a user's, with "*" wildcards per segment) includes want.
func Permitted(granted []string, want string) bool {
	w := strings.Split(want, ":")
	for _, g := range granted {
		gs := strings.Split(g, ":")
		if len(gs) != len(w) {
			if g == want {
				return true
			}
			continue
		}
		ok := true
		for i := range gs {
			if gs[i] != "*" && gs[i] != w[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// IsProxy reports whether path is a rack-proxy path.
func IsProxy(path string) bool { return strings.HasPrefix(path, ProxyPrefix+"/") }
