package sandbox

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// proxy runs a proxied request; a non-empty form is sent url-encoded, the
// way the Convox SDK sends parameters.
func (e *env) proxy(method, path, tok string, form url.Values, kv ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	h := withHeader(tok, kv...)
	body := ""
	if form != nil {
		body = form.Encode()
		h["Content-Type"] = "application/x-www-form-urlencoded"
	}
	return e.do(req{method: method, path: proxyPrefix + path, body: body, header: h})
}

// wantText checks a proxy text answer.
func wantText(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status || rec.Body.String() != body {
		t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), status, body)
	}
}

func decodeList(t *testing.T, rec *httptest.ResponseRecorder) []map[string]any {
	t.Helper()
	wantStatus(t, rec, 200)
	var out []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("bad JSON list %q: %v", rec.Body.String(), err)
	}
	return out
}

// TestProxyForwardsToRack: an allowed request reaches the rack at its
// plain Convox path and the rack's answer reaches the client unchanged.
func TestProxyForwardsToRack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.session("admin@example.com", true)
	for _, path := range []string{"/apps/demo/services", "/apps/demo/processes?service=web", "/system", "/instances",
		"/apps/demo/builds", "/apps/demo/processes/web-nope", "/instances/i-x"} {
		via := e.proxy("GET", path, admin, nil)
		direct := httptest.NewRecorder()
		e.s.Rack().ServeHTTP(direct, httptest.NewRequest("GET", path, nil))
		if via.Code != direct.Code || via.Body.String() != direct.Body.String() || via.Header().Get("Content-Type") != direct.Header().Get("Content-Type") {
			t.Errorf("%s: via the gateway %d %q, from the rack %d %q", path, via.Code, via.Body.String(), direct.Code, direct.Body.String())
		}
	}
	apps := decodeList(t, e.proxy("GET", "/apps", admin, nil))
	if len(apps) != 1 || apps[0]["name"] != convoxfake.SeedApp || apps[0]["release"] != convoxfake.SeedReleaseID {
		t.Fatalf("apps %v", apps)
	}
}

// TestRackRequest: what the rack is sent, and what it is not.
func TestRackRequest(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", proxyPrefix+"/apps/demo/processes?service=web", nil)
	for k, v := range map[string]string{"Authorization": "Bearer x", "Cookie": "a=b", "X-Mfa-Totp": "123456",
		"X-MFA-WebAuthn": "proof", "X-User-Email": "forged@example.com", "Command": "kept"} {
		r.Header.Set(k, v)
	}
	out := rackRequest(r, &principal{user: &userRecord{email: "deployer@example.com"}})
	if out.URL.Path != "/apps/demo/processes" || out.URL.RawQuery != "service=web" || out.RequestURI != "/apps/demo/processes?service=web" {
		t.Fatalf("URL %v, RequestURI %q", out.URL, out.RequestURI)
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Mfa-Totp", "X-MFA-WebAuthn"} {
		if v := out.Header.Get(h); v != "" {
			t.Errorf("%s forwarded: %q", h, v)
		}
	}
	if out.Header.Get("X-User-Email") != "deployer@example.com" || out.Header.Get("Command") != "kept" {
		t.Fatalf("headers %v", out.Header)
	}
	if r.URL.Path != proxyPrefix+"/apps/demo/processes" || r.Header.Get("Authorization") == "" {
		t.Fatal("the client's request was changed")
	}
}

// TestAllowListReachesRack: every allow-listed route is one the rack
// serves, so nothing the gateway lets through meets the rack's own 404.
func TestAllowListReachesRack(t *testing.T) {
	t.Parallel()
	rk := convoxfake.New(convoxfake.Config{})
	for _, rt := range proxyRoutes {
		method := rt.methods[len(rt.methods)-1] // SOCKET routes are GETs to the rack
		path := strings.NewReplacer("{app}", "nope", "{name}", "nope", "{service}", "web", "{pid}", "p", "{id}", "x").Replace(rt.pattern)
		rec := httptest.NewRecorder()
		rk.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		if rec.Code == 404 && rec.Body.String() == "404 page not found\n" {
			t.Errorf("%s %s: the rack has no such route", method, rt.pattern)
		}
	}
}

// TestDestructivePolicy: deletes are the gateway's policy first, then the
// rack's own lock; a deleted app's gateway settings go with it.
func TestDestructivePolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.session("admin@example.com", true)
	wantStatus(t, e.proxy("POST", "/apps", admin, url.Values{"name": {"api"}}), 200)
	wantText(t, e.proxy("PUT", "/apps/api", admin, url.Values{"lock": {"true"}}), 200, "ok\n")
	wantText(t, e.proxy("DELETE", "/apps/api", admin, nil), 403, "Destructive rack actions are disabled by policy")
	if !e.s.Rack().HasApp("api") {
		t.Fatal("a refused delete reached the rack")
	}
	rec := e.do(req{method: "GET", path: "/_sandbox/destructive-actions", remote: "127.0.0.1:1"})
	if decode(t, rec.Body.Bytes())["allow"] != false {
		t.Fatalf("knob default %s", rec.Body.String())
	}
	rec = e.do(req{method: "PUT", path: "/_sandbox/destructive-actions", body: `{"allow":true}`, remote: "127.0.0.1:1"})
	if decode(t, rec.Body.Bytes())["allow"] != true || !e.s.AllowDestructiveActions() {
		t.Fatalf("knob %s", rec.Body.String())
	}
	wantJSONError(t, e.proxy("DELETE", "/apps/api", admin, nil), 400, "app is locked: api")
	wantText(t, e.proxy("PUT", "/apps/api", admin, url.Values{"lock": {"false"}}), 200, "ok\n")
	wantText(t, e.proxy("DELETE", "/apps/api", admin, nil), 200, "ok\n")
	wantJSONError(t, e.proxy("GET", "/apps/api", admin, nil), 404, "no such app: api")
	// Process stops are not destructive actions.
	e.s.SetAllowDestructiveActions(false)
	wantText(t, e.proxy("DELETE", "/apps/demo/processes/"+convoxfake.SeedWorkerPID, admin, nil), 200, "ok\n")

	// demo's DATABASE_URL is protected until demo is deleted; a new demo
	// starts without settings.
	put := func() *httptest.ResponseRecorder {
		return e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{"set":{"DATABASE_URL":"x"}}`, header: bearer(admin)})
	}
	wantJSONError(t, put(), 403, "This environment variable is protected and cannot be changed.")
	e.s.SetAllowDestructiveActions(true)
	wantText(t, e.proxy("DELETE", "/apps/demo", admin, nil), 200, "ok\n")
	wantStatus(t, e.proxy("POST", "/apps", admin, url.Values{"name": {"demo"}}), 200)
	wantStatus(t, put(), 200)
}

func TestRackPermissionTexts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.session("viewer@example.com", true)
	deployer := e.session("deployer@example.com", true)
	run, stop := "You don't have permission to run processes.", "You don't have permission to stop processes."
	for _, c := range []struct {
		tok, method, path, body string
	}{
		{viewer, "POST", "/apps/demo/services/web/processes", run},
		{viewer, "POST", "/apps/demo/services/web/restart", run},
		{viewer, "DELETE", "/apps/demo/processes/" + convoxfake.SeedWebPID, stop},
		{viewer, "POST", "/apps/demo/releases", "You don't have permission to create releases."},
		{viewer, "POST", "/apps/demo/releases/" + convoxfake.SeedReleaseID + "/promote", "You don't have permission to promote releases."},
		{viewer, "GET", "/apps/demo/releases", "permission denied"},
		{viewer, "POST", "/apps", "permission denied"},
		{viewer, "POST", "/apps/demo/objects/tmp/a.tgz", "permission denied"},
		{deployer, "DELETE", "/apps/demo", "permission denied"},
		{deployer, "PUT", "/system", "permission denied"},
	} {
		wantText(t, e.proxy(c.method, c.path, c.tok, nil), 403, c.body)
	}
	exec := withHeader(viewer, "Upgrade", "websocket", "Connection", "Upgrade", "Command", "echo hi")
	wantText(t, e.do(req{method: "GET", path: proxyPrefix + "/apps/demo/processes/" + convoxfake.SeedWebPID + "/exec", header: exec}), 403, run)

	// Role sets: viewer reads, deployer deploys, ops restarts.
	wantStatus(t, e.proxy("GET", "/apps/demo/builds", viewer, nil), 200)
	wantStatus(t, e.proxy("POST", "/apps/demo/releases", deployer, nil), 200)
	ops, _ := e.s.IssueAPIToken("admin@example.com", "ops", rolePerms["ops"]...)
	wantText(t, e.proxy("POST", "/apps/demo/restart", ops, nil), 200, "ok\n")
	wantText(t, e.proxy("POST", "/apps/demo/releases", ops, nil), 403, "You don't have permission to create releases.")

	// Native env texts.
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/apps/demo/env", header: bearer(viewer)}), 403, "You don't have permission to view environment variables.")
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/apps/demo/env?secrets=true", header: bearer(deployer)}), 403, "You don't have permission to view secrets.")
	wantJSONError(t, e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{"set":{"SECRET_KEY_BASE":"x"}}`, header: bearer(deployer)}), 403, "You don't have permission to modify secrets.")
	admin := e.session("admin@example.com", true)
	wantJSONError(t, e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{"set":{"DATABASE_URL":"x"}}`, header: bearer(admin)}), 403, "This environment variable is protected and cannot be changed.")
}

// latestEnv is the masked env of demo's newest release as tok sees it.
func (e *env) latestEnv(tok string) map[string]string {
	e.t.Helper()
	list := decodeList(e.t, e.proxy("GET", "/apps/demo/releases?limit=1", tok, nil))
	if len(list) != 1 {
		e.t.Fatalf("releases %v", list)
	}
	return convoxfake.ParseEnv(list[0]["env"].(string))
}

func (e *env) nativeEnv(tok string, query string) map[string]any {
	e.t.Helper()
	rec := e.do(req{method: "GET", path: "/api/v1/apps/demo/env" + query, header: bearer(tok)})
	wantStatus(e.t, rec, 200)
	return decode(e.t, rec.Body.Bytes())["env"].(map[string]any)
}

func TestRackEnvMaskingAndMerge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.session("admin@example.com", true)
	deployer := e.session("deployer@example.com", true)
	m := maskedSecret
	if env := e.latestEnv(admin); env["FOO"] != "bar" || env["SECRET_KEY_BASE"] != m || env["DATABASE_URL"] != m {
		t.Fatalf("admin view %v", env)
	}
	blind, _ := e.s.IssueAPIToken("admin@example.com", "blind", "convox:release:list")
	if env := e.latestEnv(blind); env["FOO"] != m {
		t.Fatalf("no env:read still sees values: %v", env)
	}
	info := decode(t, e.proxy("GET", "/apps/demo/releases/"+convoxfake.SeedReleaseID, admin, nil).Body.Bytes())
	if !strings.Contains(info["env"].(string), "SECRET_KEY_BASE="+m) || info["build"] != convoxfake.SeedBuildID {
		t.Fatalf("release info %v", info)
	}

	post := func(tok, envText string) *httptest.ResponseRecorder {
		return e.proxy("POST", "/apps/demo/releases", tok, url.Values{"env": {envText}, "description": {"env change"}})
	}
	// Masks keep, posted keys set, absent keys go — except protected ones.
	rec := post(admin, "FOO=baz\nNEW=1\nSECRET_KEY_BASE="+m+"\nDATABASE_URL="+m+"\n")
	wantStatus(t, rec, 200)
	if rel := decode(t, rec.Body.Bytes()); rel["build"] != convoxfake.SeedBuildID || strings.Contains(rel["env"].(string), "sandbox-secret") {
		t.Fatalf("create answer %v", rel)
	}
	env := e.nativeEnv(admin, "?secrets=true")
	if env["FOO"] != "baz" || env["NEW"] != "1" || env["SECRET_KEY_BASE"] != "sandbox-secret-key-base" || env["DATABASE_URL"] != "postgres://demo:sandbox@db.internal:5432/demo" {
		t.Fatalf("merged %v", env)
	}
	wantStatus(t, post(admin, "FOO=baz\nSECRET_KEY_BASE="+m), 200)
	env = e.nativeEnv(admin, "?secrets=true")
	if _, ok := env["NEW"]; ok || env["DATABASE_URL"] == nil || env["SECRET_KEY_BASE"] != "sandbox-secret-key-base" {
		t.Fatalf("absent keys %v", env)
	}

	denied := "You don't have permission to create releases."
	wantText(t, post(deployer, "FOO=baz\nSECRET_KEY_BASE=new"), 403, denied)                // secret change
	wantText(t, post(deployer, "FOO=baz"), 403, denied)                                     // secret deletion
	wantText(t, post(admin, "FOO=baz\nSECRET_KEY_BASE="+m+"\nDATABASE_URL=x"), 403, denied) // protected
	ops, _ := e.s.IssueAPIToken("admin@example.com", "ops-rel", "convox:release:*", "convox:env:read")
	wantText(t, post(ops, "FOO=changed\nSECRET_KEY_BASE="+m), 403, denied) // no env:set
	wantStatus(t, post(ops, "FOO=baz\nSECRET_KEY_BASE="+m), 200)           // unchanged env needs none
	wantJSONError(t, post(admin, "FOO=baz\nSECRET_KEY_BASE="+m+"\nGHOST_TOKEN="+m), 400, "Masked secret value submitted without an existing secret.")
	wantStatus(t, post(deployer, "FOO=qux\nSECRET_KEY_BASE="+m), 200)

	// Both views agree: the native API reads the latest release, and its
	// PUT creates one that the proxy lists first.
	if env := e.nativeEnv(deployer, "?key=FOO"); len(env) != 1 || env["FOO"] != "qux" {
		t.Fatalf("key query %v", env)
	}
	if env := e.nativeEnv(deployer, "?key=MISSING"); env["MISSING"] != "" {
		t.Fatalf("missing key %v", env)
	}
	rec = e.do(req{method: "PUT", path: "/api/v1/apps/demo/env", body: `{"set":{"BAR":"1"}}`, header: bearer(deployer)})
	wantStatus(t, rec, 200)
	relID := decode(t, rec.Body.Bytes())["release_id"]
	list := decodeList(t, e.proxy("GET", "/apps/demo/releases", admin, nil))
	if list[0]["id"] != relID || !strings.Contains(list[0]["env"].(string), "BAR=1\n") {
		t.Fatalf("native PUT not on the rack: %v vs %v", relID, list[0])
	}
	if len(decodeList(t, e.proxy("GET", "/apps/demo/releases?limit=2", admin, nil))) != 2 {
		t.Fatal("limit ignored")
	}
}

// TestReleaseEnvMergeOrder: the rack's own errors come before the
// gateway's merge refusals, and a multipart form is merged too.
func TestReleaseEnvMergeOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	deployer := e.session("deployer@example.com", true)
	secretChange := url.Values{"env": {"FOO=bar\nSECRET_KEY_BASE=new"}}
	wantText(t, e.proxy("POST", "/apps/demo/releases", deployer, secretChange), 403, "You don't have permission to create releases.")
	withBuild := url.Values{"env": secretChange["env"], "build": {"BNOPE"}}
	wantJSONError(t, e.proxy("POST", "/apps/demo/releases", deployer, withBuild), 404, "no such build: BNOPE")
	wantJSONError(t, e.proxy("POST", "/apps/nope/releases", deployer, secretChange), 404, "no such app: nope")
	rec := e.do(req{method: "POST", path: proxyPrefix + "/apps/demo/releases", body: "garbage",
		header: withHeader(deployer, "Content-Type", "multipart/form-data; boundary=x")})
	wantJSONError(t, rec, 400, "invalid form body")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("env", "FOO=multi\nSECRET_KEY_BASE="+maskedSecret+"\nDATABASE_URL="+maskedSecret)
	_ = mw.WriteField("description", "multipart")
	_ = mw.Close()
	rec = e.do(req{method: "POST", path: proxyPrefix + "/apps/demo/releases", body: body.String(),
		header: withHeader(deployer, "Content-Type", mw.FormDataContentType())})
	wantStatus(t, rec, 200)
	if rel := decode(t, rec.Body.Bytes()); rel["description"] != "multipart" || rel["env"] != "DATABASE_URL="+maskedSecret+"\nFOO=multi\nSECRET_KEY_BASE="+maskedSecret+"\n" {
		t.Fatalf("multipart release %v", rel)
	}
	if env, _ := e.s.Rack().Env("demo"); env["FOO"] != "multi" || env["SECRET_KEY_BASE"] != "sandbox-secret-key-base" {
		t.Fatalf("rack env %v", env)
	}
}

// TestRackBuildFlowThroughGateway: uploads, polls, exports and release
// reads pass through the gateway whole.
func TestRackBuildFlowThroughGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	deployer := e.session("deployer@example.com", true)
	blob := bytes.Repeat([]byte("sandbox!"), 2<<20/8) // 2 MB
	rec := e.do(req{method: "POST", path: proxyPrefix + "/apps/demo/objects/tmp/src.tgz", body: string(blob),
		header: withHeader(deployer, "Content-Type", "application/octet-stream")})
	wantStatus(t, rec, 200)
	obj := decode(t, rec.Body.Bytes())["url"].(string)
	if obj != "object://demo/tmp/src.tgz" {
		t.Fatalf("object url %q", obj)
	}

	rec = e.proxy("POST", "/apps/demo/builds", deployer, url.Values{"url": {obj}, "description": {"ci build"}, "git-sha": {"abc123"}, "manifest": {"convox.yml"}})
	wantStatus(t, rec, 200)
	b := decode(t, rec.Body.Bytes())
	id := b["id"].(string)
	if b["status"] != "created" || b["git-sha"] != "abc123" || b["release"] != "" {
		t.Fatalf("build %v", b)
	}
	if got := decode(t, e.proxy("GET", "/apps/demo/builds/"+id, deployer, nil).Body.Bytes()); got["status"] != "running" {
		t.Fatalf("first poll %v", got)
	}
	b = decode(t, e.proxy("GET", "/apps/demo/builds/"+id, deployer, nil).Body.Bytes())
	rel, _ := b["release"].(string)
	if b["status"] != "complete" || !strings.HasPrefix(rel, "R") || !strings.Contains(b["logs"].(string), "Build complete") {
		t.Fatalf("second poll %v", b)
	}
	direct := httptest.NewRecorder()
	e.s.Rack().ServeHTTP(direct, httptest.NewRequest("GET", "/apps/demo/builds/"+id+".tgz", nil))
	if exp := e.proxy("GET", "/apps/demo/builds/"+id+".tgz", deployer, nil); exp.Code != 200 || !bytes.Equal(exp.Body.Bytes(), direct.Body.Bytes()) {
		t.Fatalf("export: %d, %d bytes, the rack's has %d", exp.Code, exp.Body.Len(), direct.Body.Len())
	}
	r := decode(t, e.proxy("GET", "/apps/demo/releases/"+rel, deployer, nil).Body.Bytes())
	if r["build"] != id || r["description"] != "ci build" || r["env"] != "DATABASE_URL="+maskedSecret+"\nFOO=bar\nSECRET_KEY_BASE="+maskedSecret+"\n" {
		t.Fatalf("release %v", r)
	}

	wantText(t, e.proxy("POST", "/apps/demo/releases/"+rel+"/promote", deployer, url.Values{"force": {"false"}}), 200, "ok\n")
	if a := decode(t, e.proxy("GET", "/apps/demo", deployer, nil).Body.Bytes()); a["status"] != "updating" || a["release"] != rel {
		t.Fatalf("after promote %v", a)
	}
	if a := decode(t, e.proxy("GET", "/apps/demo", deployer, nil).Body.Bytes()); a["status"] != "running" {
		t.Fatalf("settled %v", a)
	}
	for _, p := range decodeList(t, e.proxy("GET", "/apps/demo/processes", deployer, nil)) {
		if p["release"] != rel {
			t.Fatalf("process on old release %v", p)
		}
	}
	wantJSONError(t, e.proxy("POST", "/apps/demo/releases/RNOPE/promote", deployer, nil), 404, "no such release: RNOPE")

}
