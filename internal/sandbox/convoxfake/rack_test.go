package convoxfake

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestServeHTTPSeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	apps := decodeList(t, e.do("GET", "/apps", nil))
	if len(apps) != 1 || apps[0]["name"] != "demo" || apps[0]["generation"] != "2" || apps[0]["status"] != "running" ||
		apps[0]["release"] != SeedReleaseID || apps[0]["locked"] != false {
		t.Fatalf("apps %v", apps)
	}
	svcs := decodeList(t, e.do("GET", "/apps/demo/services", nil))
	if len(svcs) != 2 || svcs[0]["name"] != "web" || svcs[1]["name"] != "worker" || svcs[0]["count"] != float64(1) {
		t.Fatalf("services %v", svcs)
	}
	ps := decodeList(t, e.do("GET", "/apps/demo/processes", nil))
	if len(ps) != 2 || ps[0]["id"] != SeedWebPID || ps[1]["id"] != SeedWorkerPID || ps[0]["status"] != "running" {
		t.Fatalf("processes %v", ps)
	}
	if ps := decodeList(t, e.do("GET", "/apps/demo/processes?service=worker", nil)); len(ps) != 1 {
		t.Fatalf("filtered processes %v", ps)
	}
	wantStatus(t, e.do("GET", "/apps/demo/processes/"+SeedWebPID, nil), 200)
	wantError(t, e.do("GET", "/apps/demo/processes/web-nope", nil), 404, "no such process: web-nope")
	if bs := decodeList(t, e.do("GET", "/apps/demo/builds", nil)); len(bs) != 1 || bs[0]["id"] != SeedBuildID || bs[0]["status"] != "complete" {
		t.Fatalf("builds %v", bs)
	}
	// The rack's releases are unmasked: masking is the gateway's job.
	rels := decodeList(t, e.do("GET", "/apps/demo/releases", nil))
	if len(rels) != 1 || !strings.Contains(rels[0]["env"].(string), "SECRET_KEY_BASE=sandbox-secret-key-base\n") {
		t.Fatalf("releases %v", rels)
	}
	sys := decode(t, e.do("GET", "/system", nil))
	if sys["name"] != Name || sys["version"] != Version || sys["count"] != float64(2) {
		t.Fatalf("system %v", sys)
	}
	for _, p := range []string{"/system/processes", "/system/releases", "/instances", "/system/metrics"} {
		decodeList(t, e.do("GET", p, nil))
	}
	wantStatus(t, e.do("GET", "/instances/i-0a1b2c3d4e5f60718", nil), 200)
	wantError(t, e.do("GET", "/instances/i-x", nil), 404, "no such instance: i-x")
	wantStatus(t, e.do("GET", "/system/capacity", nil), 200)
	// Answers are rendered like stdapi's RenderJSON.
	if body := e.do("GET", "/instances", nil).Body.String(); !strings.HasPrefix(body, "[\n  {\n    \"agent\": true,") || !strings.HasSuffix(body, "]\n") {
		t.Fatalf("rendering %q", body)
	}
}

func TestServeHTTPUnknownRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/racks"}, {"HEAD", "/apps"}, {"DELETE", "/system"}, {"GET", "/apps/"}, {"GET", "/api/v1/rack-proxy/apps"},
	} {
		wantText(t, e.do(c.method, c.path, nil), 404, "404 page not found\n")
	}
}

func TestServeHTTPAppCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := decode(t, e.do("POST", "/apps", url.Values{"name": {"api"}}))
	if a["name"] != "api" || a["status"] != "creating" || a["generation"] != "2" {
		t.Fatalf("create %v", a)
	}
	// The wait loop sees "creating" once, then "running".
	if a := decode(t, e.do("GET", "/apps/api", nil)); a["status"] != "creating" {
		t.Fatalf("first read %v", a)
	}
	if a := decode(t, e.do("GET", "/apps/api", nil)); a["status"] != "running" {
		t.Fatalf("second read %v", a)
	}
	wantError(t, e.do("POST", "/apps", url.Values{"name": {"api"}}), 409, "app already exists: api")
	wantError(t, e.do("POST", "/apps", url.Values{"name": {"Bad_Name"}}), 400, "invalid app name: Bad_Name")
	if apps := decodeList(t, e.do("GET", "/apps", nil)); len(apps) != 2 || apps[0]["name"] != "api" {
		t.Fatalf("apps %v", apps)
	}

	wantText(t, e.do("PUT", "/apps/api", url.Values{"lock": {"true"}}), 200, "ok\n")
	if a := decode(t, e.do("GET", "/apps/api", nil)); a["locked"] != true {
		t.Fatalf("lock %v", a)
	}
	params := url.Values{"parameters": {url.Values{"BuildMem": {"2048"}}.Encode()}}
	wantText(t, e.do("PUT", "/apps/api", params), 200, "ok\n")
	if a := decode(t, e.do("GET", "/apps/api", nil)); a["parameters"].(map[string]any)["BuildMem"] != "2048" || a["status"] != "updating" {
		t.Fatalf("params %v", a)
	}
	// The rack has no destructive-action policy, only the app's lock.
	wantError(t, e.do("DELETE", "/apps/api", nil), 400, "app is locked: api")
	wantText(t, e.do("PUT", "/apps/api", url.Values{"lock": {"false"}}), 200, "ok\n")
	wantText(t, e.do("DELETE", "/apps/api", nil), 200, "ok\n")
	wantError(t, e.do("GET", "/apps/api", nil), 404, "no such app: api")
	if e.rk.HasApp("api") {
		t.Fatal("deleted app still there")
	}

	// Scale and restart.
	wantText(t, e.do("PUT", "/apps/demo/services/web", url.Values{"count": {"3"}, "memory": {"1024"}}), 200, "ok\n")
	if ps := decodeList(t, e.do("GET", "/apps/demo/processes?service=web", nil)); len(ps) != 3 {
		t.Fatalf("scaled %v", ps)
	}
	wantError(t, e.do("PUT", "/apps/demo/services/web", url.Values{"count": {"x"}}), 400, "invalid count: x")
	wantError(t, e.do("PUT", "/apps/demo/services/db", url.Values{"count": {"1"}}), 404, "no such service: db")
	before := decodeList(t, e.do("GET", "/apps/demo/processes?service=worker", nil))[0]["id"]
	wantText(t, e.do("POST", "/apps/demo/restart", nil), 200, "ok\n")
	if after := decodeList(t, e.do("GET", "/apps/demo/processes?service=worker", nil))[0]["id"]; after == before {
		t.Fatal("restart kept the process")
	}

	// run → a one-off process; stop ends it.
	proc := decode(t, e.do("POST", "/apps/demo/services/web/processes", nil, "Command", "bin/migrate"))
	pid := proc["id"].(string)
	if !strings.HasPrefix(pid, "web-") || proc["command"] != "bin/migrate" || proc["status"] != "running" || proc["release"] != SeedReleaseID {
		t.Fatalf("run %v", proc)
	}
	wantError(t, e.do("POST", "/apps/demo/services/web/processes", nil, "Release", "RNOPE"), 404, "no such release: RNOPE")
	wantText(t, e.do("DELETE", "/apps/demo/processes/"+pid, nil), 200, "ok\n")
	wantError(t, e.do("GET", "/apps/demo/processes/"+pid, nil), 404, "no such process: "+pid)
}

// completions records OnBuildComplete calls and checks that each runs
// outside the rack's lock, so the gateway may call the rack back.
type completions struct {
	mu   sync.Mutex
	rk   *Rack
	list []BuildCompletion
}

func (c *completions) add(b BuildCompletion) {
	if !c.rk.mu.TryLock() {
		panic("OnBuildComplete called under the rack's lock")
	}
	c.rk.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, b)
}

func (c *completions) all() []BuildCompletion {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]BuildCompletion(nil), c.list...)
}

func newEnvWithCompletions(t *testing.T) (*env, *completions) {
	c := &completions{}
	e := newEnv(t, func(cfg *Config) { cfg.OnBuildComplete = c.add })
	c.rk = e.rk
	return e, c
}

func TestServeHTTPObjectBuildReleasePromote(t *testing.T) {
	t.Parallel()
	e, done := newEnvWithCompletions(t)
	blob := bytes.Repeat([]byte("sandbox!"), 2<<20/8) // 2 MB
	r := httptest.NewRequest("POST", "/apps/demo/objects/tmp/src.tgz", bytes.NewReader(blob))
	rec := httptest.NewRecorder()
	e.rk.ServeHTTP(rec, r)
	obj := decode(t, rec)["url"].(string)
	if obj != "object://demo/tmp/src.tgz" {
		t.Fatalf("object url %q", obj)
	}

	b := decode(t, e.do("POST", "/apps/demo/builds", url.Values{"url": {obj}, "description": {"ci build"}, "git-sha": {"abc123"}}))
	id := b["id"].(string)
	if b["status"] != "created" || b["git-sha"] != "abc123" || b["release"] != "" {
		t.Fatalf("build %v", b)
	}
	if got := decode(t, e.do("GET", "/apps/demo/builds/"+id, nil)); got["status"] != "running" {
		t.Fatalf("first poll %v", got)
	}
	if got := done.all(); len(got) != 1 || got[0].Build != id || got[0].App != "demo" || !got[0].At.Equal(e.clock.Now()) {
		t.Fatalf("completions after the first poll %+v", got)
	}
	b = decode(t, e.do("GET", "/apps/demo/builds/"+id, nil))
	rel, _ := b["release"].(string)
	if b["status"] != "complete" || rel != done.all()[0].Release || !strings.Contains(b["logs"].(string), "Build complete") {
		t.Fatalf("second poll %v", b)
	}
	if len(done.all()) != 1 {
		t.Fatal("a build completed twice")
	}
	exp := e.do("GET", "/apps/demo/builds/"+id+".tgz", nil)
	if got, err := readExport(exp.Body.Bytes()); err != nil || got.ID != id {
		t.Fatalf("export: %v, build %+v", err, got)
	}
	r2 := decode(t, e.do("GET", "/apps/demo/releases/"+rel, nil))
	if r2["build"] != id || r2["description"] != "ci build" || !strings.Contains(r2["env"].(string), "FOO=bar") {
		t.Fatalf("release %v", r2)
	}

	wantText(t, e.do("POST", "/apps/demo/releases/"+rel+"/promote", url.Values{"force": {"false"}}), 200, "ok\n")
	if a := decode(t, e.do("GET", "/apps/demo", nil)); a["status"] != "updating" || a["release"] != rel {
		t.Fatalf("after promote %v", a)
	}
	if a := decode(t, e.do("GET", "/apps/demo", nil)); a["status"] != "running" {
		t.Fatalf("settled %v", a)
	}
	for _, p := range decodeList(t, e.do("GET", "/apps/demo/processes", nil)) {
		if p["release"] != rel {
			t.Fatalf("process on old release %v", p)
		}
	}
	wantError(t, e.do("POST", "/apps/demo/releases/RNOPE/promote", nil), 404, "no such release: RNOPE")

	// A build whose object never arrived fails, and completes nothing.
	id = decode(t, e.do("POST", "/apps/demo/builds", url.Values{"url": {"object://demo/tmp/missing.tgz"}}))["id"].(string)
	e.do("GET", "/apps/demo/builds/"+id, nil)
	if b := decode(t, e.do("GET", "/apps/demo/builds/"+id, nil)); b["status"] != "failed" {
		t.Fatalf("missing object build %v", b)
	}
	// An import of the export completes at once.
	r = httptest.NewRequest("POST", "/apps/demo/builds/import", bytes.NewReader(exp.Body.Bytes()))
	rec = httptest.NewRecorder()
	e.rk.ServeHTTP(rec, r)
	imp := decode(t, rec)
	if got := done.all(); imp["status"] != "complete" || len(got) != 2 || got[1].Build != imp["id"] {
		t.Fatalf("import %v, completions %+v", imp, got)
	}
}

func TestServeHTTPReleaseCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// No env: the release forks the latest one whole.
	rel := decode(t, e.do("POST", "/apps/demo/releases", url.Values{"description": {"fork"}}))
	if rel["build"] != SeedBuildID || !strings.Contains(rel["env"].(string), "DATABASE_URL=postgres://") || rel["description"] != "fork" {
		t.Fatalf("fork %v", rel)
	}
	// A posted env is the release's whole env: the rack neither merges
	// nor masks.
	rel = decode(t, e.do("POST", "/apps/demo/releases", url.Values{"env": {"ONLY=1\n"}}))
	if rel["env"] != "ONLY=1\n" || rel["build"] != SeedBuildID {
		t.Fatalf("env release %v", rel)
	}
	if env, err := e.rk.Env("demo"); err != nil || len(env) != 1 || env["ONLY"] != "1" {
		t.Fatalf("Env = %v, %v", env, err)
	}
	wantError(t, e.do("POST", "/apps/demo/releases", url.Values{"build": {"BNOPE"}, "env": {"X=1"}}), 404, "no such build: BNOPE")
	wantError(t, e.do("POST", "/apps/nope/releases", nil), 404, "no such app: nope")
	r := httptest.NewRequest("POST", "/apps/demo/releases", strings.NewReader("garbage"))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	rec := httptest.NewRecorder()
	e.rk.ServeHTTP(rec, r)
	wantError(t, rec, 400, "invalid form body")
}

func TestTypedMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if !e.rk.HasApp("demo") || e.rk.HasApp("nope") || !e.rk.HasBuild("demo", SeedBuildID) || e.rk.HasBuild("demo", "BNOPE") {
		t.Fatal("HasApp/HasBuild")
	}
	// HasApp is not a status read: a new app still shows "creating" once.
	decode(t, e.do("POST", "/apps", url.Values{"name": {"fresh"}}))
	if !e.rk.HasApp("fresh") {
		t.Fatal("fresh app missing")
	}
	if a := decode(t, e.do("GET", "/apps/fresh", nil)); a["status"] != "creating" {
		t.Fatalf("HasApp settled the status: %v", a)
	}
	if env, err := e.rk.Env("fresh"); err != nil || len(env) != 0 {
		t.Fatalf("fresh Env = %v, %v", env, err)
	}
	if _, err := e.rk.Env("nope"); !errors.Is(err, ErrNoSuchApp) {
		t.Fatalf("Env(nope) = %v", err)
	}
	rel, err := e.rk.CreateRelease("demo", map[string]string{"A": "1"}, "typed")
	if err != nil || rel.Build != SeedBuildID || rel.Env != "A=1\n" || rel.Description != "typed" || !strings.HasPrefix(rel.ID, "R") {
		t.Fatalf("CreateRelease = %+v, %v", rel, err)
	}
	if a := decode(t, e.do("GET", "/apps/demo", nil)); a["release"] != SeedReleaseID {
		t.Fatalf("CreateRelease promoted: %v", a)
	}
	if list := decodeList(t, e.do("GET", "/apps/demo/releases?limit=1", nil)); list[0]["id"] != rel.ID {
		t.Fatalf("latest release %v", list)
	}
	if _, err := e.rk.CreateRelease("nope", nil, ""); !errors.Is(err, ErrNoSuchApp) {
		t.Fatalf("CreateRelease(nope) = %v", err)
	}
	if n := e.rk.DropNextWebSocket(); n != 1 {
		t.Fatalf("DropNextWebSocket = %d", n)
	}
	if n := e.rk.DropNextWebSocket(); n != 2 {
		t.Fatalf("DropNextWebSocket = %d", n)
	}
}

func TestEnvText(t *testing.T) {
	t.Parallel()
	env := ParseEnv("# comment\n\nB=2\r\n A =x=y\nEMPTY=\n")
	if len(env) != 3 || env["A"] != "x=y" || env["B"] != "2" || env["EMPTY"] != "" {
		t.Fatalf("ParseEnv = %v", env)
	}
	if got := FormatEnv(env); got != "A=x=y\nB=2\nEMPTY=\n" {
		t.Fatalf("FormatEnv = %q", got)
	}
}
