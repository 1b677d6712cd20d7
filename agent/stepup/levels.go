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

// Level is an action's MFA level (gateway-api.md §4.7).
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
	method  string
	pattern []string // "{}" matches one segment
	level   Level
}

func parse(method, path string, level Level) route {
	return route{method, strings.Split(strings.Trim(path, "/"), "/"), level}
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

// proxyRoutes are the rack proxy's MFA levels (§6.1). On the proxy, a fresh
// window satisfies "always" too (§4.8), so the engine treats those like
// step-up; they are kept distinct here to mirror the server's table.
var proxyRoutes = []route{
	parse("POST", "/apps", StepUp),
	parse("PUT", "/apps/{}", StepUp),
	parse("DELETE", "/apps/{}", Always),
	parse("POST", "/apps/{}/restart", StepUp),
	parse("PUT", "/apps/{}/services/{}", StepUp),
	parse("POST", "/apps/{}/services/{}/restart", StepUp),
	parse("DELETE", "/apps/{}/processes/{}", StepUp),
	parse("POST", "/apps/{}/services/{}/processes", StepUp),
	parse("SOCKET", "/apps/{}/processes/{}/exec", StepUp),
	parse("GET", "/apps/{}/processes/{}/exec", StepUp),
	parse("POST", "/apps/{}/builds", StepUp),
	parse("POST", "/apps/{}/builds/import", StepUp),
	parse("POST", "/apps/{}/releases", StepUp),
	parse("POST", "/apps/{}/releases/{}/promote", StepUp),
	parse("PUT", "/system", StepUp),
}

// nativeRoutes are the native API's MFA levels for routes a CLI uses
// (§4.7). Anything else is none.
var nativeRoutes = []route{
	parse("PUT", "/apps/{}/env", StepUp),
	parse("POST", "/api-tokens", Always),
	parse("PUT", "/api-tokens/{}", Always),
	parse("DELETE", "/api-tokens/{}", Always),
	parse("POST", "/deploy-approval-requests/{}/approve", Always),
	parse("POST", "/deploy-approval-requests/{}/reject", Always),
	parse("POST", "/deploy-approval-requests/{}/extend", Always),
	parse("PUT", "/auth/mfa/preferred-method", StepUp),
}

// ProxyPrefix is where the rack proxy lives on the gateway.
const ProxyPrefix = "/api/v1/rack-proxy"

// LevelOf returns the MFA level of a gateway request path (with its
// /api/v1 or /api/v1/rack-proxy prefix).
func LevelOf(method, path string) Level {
	path, _, _ = strings.Cut(path, "?")
	if method == "" {
		method = http.MethodGet
	}
	table := nativeRoutes
	rest, ok := strings.CutPrefix(path, ProxyPrefix)
	if ok {
		table = proxyRoutes
	} else if rest, ok = strings.CutPrefix(path, "/api/v1"); !ok {
		return None
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	for _, r := range table {
		if r.match(method, segs) {
			return r.level
		}
	}
	return None
}

// IsProxy reports whether path is a rack-proxy path.
func IsProxy(path string) bool { return strings.HasPrefix(path, ProxyPrefix+"/") }
