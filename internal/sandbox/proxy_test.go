package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

func TestProxyAllowList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.session("admin@example.com", true)
	notListed := []struct{ method, path string }{
		{"GET", "/racks"},
		{"GET", "/apps/web/resources"},
		{"GET", "/certificates"},
		{"DELETE", "/instances/i-123"},
		{"POST", "/instances/keyroll"},
		{"GET", "/apps/web/services/web/logs"},
		{"HEAD", "/apps"},
		{"OPTIONS", "/apps"},
		{"POST", "/apps/web/cancel"},
		{"GET", ""},
		{"GET", "/apps/"},
	}
	for _, c := range notListed {
		rec := e.do(req{method: c.method, path: proxyPrefix + c.path, header: bearer(tok)})
		if rec.Code != 404 || rec.Body.String() != "404 page not found" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("%s %s: %d %q", c.method, c.path, rec.Code, rec.Body.String())
		}
	}
	// Authentication comes before the allow-list.
	wantProxy401(t, e.do(req{method: "GET", path: proxyPrefix + "/racks"}), "CLI authentication required - provide Authorization header")

	rec := e.do(req{method: "GET", path: proxyPrefix + "/system", header: bearer(tok)})
	wantStatus(t, rec, 200)
	if sys := decode(t, rec.Body.Bytes()); sys["name"] != "sandbox" || sys["status"] != "running" {
		t.Fatalf("system %v", sys)
	}
	wantJSONError(t, e.do(req{method: "GET", path: proxyPrefix + "/apps/web", header: bearer(tok)}), 404, "no such app: web")
	// An export ({id}.tgz) has a route of its own, which also asks the rack.
	wantJSONError(t, e.do(req{method: "GET", path: proxyPrefix + "/apps/web/builds/B1.tgz", header: bearer(tok)}), 404, "no such app: web")

	// WebSocket upgrades are classified as SOCKET and only match socket routes.
	ws := map[string]string{"Authorization": "Bearer " + tok, "Upgrade": "websocket", "Connection": "Upgrade"}
	wantStatus(t, e.do(req{method: "GET", path: proxyPrefix + "/apps", header: ws}), http.StatusNotFound)
	// …and reach the upgrader, which refuses a handshake without a key.
	wantStatus(t, e.do(req{method: "GET", path: proxyPrefix + "/system/logs", header: ws}), http.StatusBadRequest)
}

func TestMatchProxyRoute(t *testing.T) {
	t.Parallel()
	rt, vars := matchProxyRoute("POST", "/apps/web/releases/R123/promote")
	if rt == nil || rt.permission != "release:promote" || rt.level != mfaStepUp || vars["app"] != "web" || vars["id"] != "R123" {
		t.Fatalf("route %+v vars %v", rt, vars)
	}
	if rt, _ := matchProxyRoute("POST", "/apps/web/builds/import"); rt == nil || rt.pattern != "/apps/{app}/builds" && rt.pattern != "/apps/{app}/builds/import" {
		t.Fatalf("import route %+v", rt)
	}
	if rt, _ := matchProxyRoute("DELETE", "/apps/web/processes/p1"); rt == nil || rt.permission != "process:terminate" {
		t.Fatalf("terminate route %+v", rt)
	}
}

func TestPermissionMatching(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		granted, want string
		ok            bool
	}{
		{"convox:*:*", "convox:app:delete", true},
		{"convox:app:*", "convox:app:delete", true},
		{"convox:app:*", "convox:rack:read", false},
		{"gateway:*:*", "convox:app:list", false},
		{"convox:app:list", "convox:app:list", true},
	} {
		if got := permissionMatches(c.granted, c.want); got != c.ok {
			t.Errorf("%s vs %s = %v", c.granted, c.want, got)
		}
	}
}
