package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
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

func TestRackSeed(t *testing.T) {
	e := newEnv(t)
	admin := e.session("admin@example.com", true)
	apps := decodeList(t, e.proxy("GET", "/apps", admin, nil))
	if len(apps) != 1 || apps[0]["name"] != "demo" || apps[0]["generation"] != "2" || apps[0]["status"] != "running" ||
		apps[0]["release"] != seedReleaseID || apps[0]["locked"] != false {
		t.Fatalf("apps %v", apps)
	}
	svcs := decodeList(t, e.proxy("GET", "/apps/demo/services", admin, nil))
	if len(svcs) != 2 || svcs[0]["name"] != "web" || svcs[1]["name"] != "worker" || svcs[0]["count"] != float64(1) {
		t.Fatalf("services %v", svcs)
	}
	ps := decodeList(t, e.proxy("GET", "/apps/demo/processes", admin, nil))
	if len(ps) != 2 || ps[0]["id"] != seedWebPID || ps[1]["id"] != seedWorkerPID || ps[0]["status"] != "running" {
		t.Fatalf("processes %v", ps)
	}
	if ps := decodeList(t, e.proxy("GET", "/apps/demo/processes?service=worker", admin, nil)); len(ps) != 1 {
		t.Fatalf("filtered processes %v", ps)
	}
	wantStatus(t, e.proxy("GET", "/apps/demo/processes/"+seedWebPID, admin, nil), 200)
	wantJSONError(t, e.proxy("GET", "/apps/demo/processes/web-nope", admin, nil), 404, "no such process: web-nope")
	if bs := decodeList(t, e.proxy("GET", "/apps/demo/builds", admin, nil)); len(bs) != 1 || bs[0]["id"] != seedBuildID || bs[0]["status"] != "complete" {
		t.Fatalf("builds %v", bs)
	}
	sys := decode(t, e.proxy("GET", "/system", admin, nil).Body.Bytes())
	if sys["name"] != "sandbox" || sys["version"] != rackVersion || sys["count"] != float64(2) {
		t.Fatalf("system %v", sys)
	}
	for _, p := range []string{"/system/processes", "/system/releases", "/instances", "/system/metrics"} {
		decodeList(t, e.proxy("GET", p, admin, nil))
	}
	wantStatus(t, e.proxy("GET", "/instances/i-0a1b2c3d4e5f60718", admin, nil), 200)
	wantJSONError(t, e.proxy("GET", "/instances/i-x", admin, nil), 404, "no such instance: i-x")
	wantStatus(t, e.proxy("GET", "/system/capacity", admin, nil), 200)
}

func TestRackAppCRUD(t *testing.T) {
	e := newEnv(t)
	admin := e.session("admin@example.com", true)
	rec := e.proxy("POST", "/apps", admin, url.Values{"name": {"api"}})
	wantStatus(t, rec, 200)
	if a := decode(t, rec.Body.Bytes()); a["name"] != "api" || a["status"] != "creating" || a["generation"] != "2" {
		t.Fatalf("create %v", a)
	}
	// The wait loop sees "creating" once, then "running".
	if a := decode(t, e.proxy("GET", "/apps/api", admin, nil).Body.Bytes()); a["status"] != "creating" {
		t.Fatalf("first read %v", a)
	}
	if a := decode(t, e.proxy("GET", "/apps/api", admin, nil).Body.Bytes()); a["status"] != "running" {
		t.Fatalf("second read %v", a)
	}
	wantJSONError(t, e.proxy("POST", "/apps", admin, url.Values{"name": {"api"}}), 409, "app already exists: api")
	wantJSONError(t, e.proxy("POST", "/apps", admin, url.Values{"name": {"Bad_Name"}}), 400, "invalid app name: Bad_Name")
	if apps := decodeList(t, e.proxy("GET", "/apps", admin, nil)); len(apps) != 2 || apps[0]["name"] != "api" {
		t.Fatalf("apps %v", apps)
	}

	wantText(t, e.proxy("PUT", "/apps/api", admin, url.Values{"lock": {"true"}}), 200, "ok\n")
	if a := decode(t, e.proxy("GET", "/apps/api", admin, nil).Body.Bytes()); a["locked"] != true {
		t.Fatalf("lock %v", a)
	}
	params := url.Values{"parameters": {url.Values{"BuildMem": {"2048"}}.Encode()}}
	wantText(t, e.proxy("PUT", "/apps/api", admin, params), 200, "ok\n")
	if a := decode(t, e.proxy("GET", "/apps/api", admin, nil).Body.Bytes()); a["parameters"].(map[string]any)["BuildMem"] != "2048" || a["status"] != "updating" {
		t.Fatalf("params %v", a)
	}

	// Deletion: the policy first, then the rack's own lock.
	wantText(t, e.proxy("DELETE", "/apps/api", admin, nil), 403, "Destructive rack actions are disabled by policy")
	rec = e.do(req{method: "PUT", path: "/_sandbox/destructive-actions", body: `{"allow":true}`, remote: "127.0.0.1:1"})
	if decode(t, rec.Body.Bytes())["allow"] != true {
		t.Fatalf("knob %s", rec.Body.String())
	}
	wantJSONError(t, e.proxy("DELETE", "/apps/api", admin, nil), 400, "app is locked: api")
	wantText(t, e.proxy("PUT", "/apps/api", admin, url.Values{"lock": {"false"}}), 200, "ok\n")
	wantText(t, e.proxy("DELETE", "/apps/api", admin, nil), 200, "ok\n")
	wantJSONError(t, e.proxy("GET", "/apps/api", admin, nil), 404, "no such app: api")

	// Scale and restart.
	wantText(t, e.proxy("PUT", "/apps/demo/services/web", admin, url.Values{"count": {"3"}, "memory": {"1024"}}), 200, "ok\n")
	if ps := decodeList(t, e.proxy("GET", "/apps/demo/processes?service=web", admin, nil)); len(ps) != 3 {
		t.Fatalf("scaled %v", ps)
	}
	wantJSONError(t, e.proxy("PUT", "/apps/demo/services/web", admin, url.Values{"count": {"x"}}), 400, "invalid count: x")
	wantJSONError(t, e.proxy("PUT", "/apps/demo/services/db", admin, url.Values{"count": {"1"}}), 404, "no such service: db")
	before := decodeList(t, e.proxy("GET", "/apps/demo/processes?service=worker", admin, nil))[0]["id"]
	wantText(t, e.proxy("POST", "/apps/demo/restart", admin, nil), 200, "ok\n")
	if after := decodeList(t, e.proxy("GET", "/apps/demo/processes?service=worker", admin, nil))[0]["id"]; after == before {
		t.Fatal("restart kept the process")
	}

	// run → a one-off process; stop ends it.
	rec = e.proxy("POST", "/apps/demo/services/web/processes", admin, nil, "Command", "bin/migrate")
	wantStatus(t, rec, 200)
	proc := decode(t, rec.Body.Bytes())
	pid := proc["id"].(string)
	if !strings.HasPrefix(pid, "web-") || proc["command"] != "bin/migrate" || proc["status"] != "running" || proc["release"] != seedReleaseID {
		t.Fatalf("run %v", proc)
	}
	wantText(t, e.proxy("DELETE", "/apps/demo/processes/"+pid, admin, nil), 200, "ok\n")
	wantJSONError(t, e.proxy("GET", "/apps/demo/processes/"+pid, admin, nil), 404, "no such process: "+pid)
}

func TestRackPermissionTexts(t *testing.T) {
	e := newEnv(t)
	viewer := e.session("viewer@example.com", true)
	deployer := e.session("deployer@example.com", true)
	run, stop := "You don't have permission to run processes.", "You don't have permission to stop processes."
	for _, c := range []struct {
		tok, method, path, body string
	}{
		{viewer, "POST", "/apps/demo/services/web/processes", run},
		{viewer, "POST", "/apps/demo/services/web/restart", run},
		{viewer, "DELETE", "/apps/demo/processes/" + seedWebPID, stop},
		{viewer, "POST", "/apps/demo/releases", "You don't have permission to create releases."},
		{viewer, "POST", "/apps/demo/releases/" + seedReleaseID + "/promote", "You don't have permission to promote releases."},
		{viewer, "GET", "/apps/demo/releases", "permission denied"},
		{viewer, "POST", "/apps", "permission denied"},
		{viewer, "POST", "/apps/demo/objects/tmp/a.tgz", "permission denied"},
		{deployer, "DELETE", "/apps/demo", "permission denied"},
		{deployer, "PUT", "/system", "permission denied"},
	} {
		wantText(t, e.proxy(c.method, c.path, c.tok, nil), 403, c.body)
	}
	exec := withHeader(viewer, "Upgrade", "websocket", "Connection", "Upgrade", "Command", "echo hi")
	wantText(t, e.do(req{method: "GET", path: proxyPrefix + "/apps/demo/processes/" + seedWebPID + "/exec", header: exec}), 403, run)

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
	return parseEnv(list[0]["env"].(string))
}

func (e *env) nativeEnv(tok string, query string) map[string]any {
	e.t.Helper()
	rec := e.do(req{method: "GET", path: "/api/v1/apps/demo/env" + query, header: bearer(tok)})
	wantStatus(e.t, rec, 200)
	return decode(e.t, rec.Body.Bytes())["env"].(map[string]any)
}

func TestRackEnvMaskingAndMerge(t *testing.T) {
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
	info := decode(t, e.proxy("GET", "/apps/demo/releases/"+seedReleaseID, admin, nil).Body.Bytes())
	if !strings.Contains(info["env"].(string), "SECRET_KEY_BASE="+m) || info["build"] != seedBuildID {
		t.Fatalf("release info %v", info)
	}

	post := func(tok, envText string) *httptest.ResponseRecorder {
		return e.proxy("POST", "/apps/demo/releases", tok, url.Values{"env": {envText}, "description": {"env change"}})
	}
	// Masks keep, posted keys set, absent keys go — except protected ones.
	rec := post(admin, "FOO=baz\nNEW=1\nSECRET_KEY_BASE="+m+"\nDATABASE_URL="+m+"\n")
	wantStatus(t, rec, 200)
	if rel := decode(t, rec.Body.Bytes()); rel["build"] != seedBuildID || strings.Contains(rel["env"].(string), "sandbox-secret") {
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

func TestRackObjectUploadAndBuildFlow(t *testing.T) {
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
	if exp := e.proxy("GET", "/apps/demo/builds/"+id+".tgz", deployer, nil); !bytes.Equal(exp.Body.Bytes(), blob) {
		t.Fatalf("export: %d bytes", exp.Body.Len())
	}
	r := decode(t, e.proxy("GET", "/apps/demo/releases/"+rel, deployer, nil).Body.Bytes())
	if r["build"] != id || r["description"] != "ci build" || !strings.Contains(r["env"].(string), "FOO=bar") {
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

	// A build whose object never arrived fails.
	rec = e.proxy("POST", "/apps/demo/builds", deployer, url.Values{"url": {"object://demo/tmp/missing.tgz"}})
	id = decode(t, rec.Body.Bytes())["id"].(string)
	e.proxy("GET", "/apps/demo/builds/"+id, deployer, nil)
	if b := decode(t, e.proxy("GET", "/apps/demo/builds/"+id, deployer, nil).Body.Bytes()); b["status"] != "failed" {
		t.Fatalf("missing object build %v", b)
	}
}
