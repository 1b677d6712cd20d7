package convoxfake

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// post sends a raw body, as the Convox SDK sends an import.
func (e *env) post(path string, body []byte) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.rk.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
	return rec
}

// An export of the seeded build is a Convox-shaped tarball (build.json and
// one image per service), the same bytes every time; importing it into a
// new app makes a new complete build with the export's description and a
// release of it, and reports the completion.
func TestBuildExportImport(t *testing.T) {
	t.Parallel()
	e, done := newEnvWithCompletions(t)
	exp := e.do("GET", "/apps/demo/builds/"+SeedBuildID+".tgz", nil)
	wantStatus(t, exp, 200)
	if ct := exp.Header().Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("content type %q", ct)
	}
	src, err := readExport(exp.Body.Bytes())
	if err != nil || src.ID != SeedBuildID || src.Description != "initial build" || !strings.Contains(src.Manifest, "worker:") {
		t.Fatalf("export: %v, %+v", err, src)
	}
	if again := e.do("GET", "/apps/demo/builds/"+SeedBuildID+".tgz", nil); !bytes.Equal(again.Body.Bytes(), exp.Body.Bytes()) {
		t.Error("two exports of one build differ")
	}

	decode(t, e.do("POST", "/apps", url.Values{"name": {"copy"}}))
	b := decode(t, e.post("/apps/copy/builds/import", exp.Body.Bytes()))
	id, rel := b["id"].(string), b["release"].(string)
	if id == SeedBuildID || !strings.HasPrefix(id, "B") || b["status"] != "complete" || b["description"] != "initial build" || rel == "" {
		t.Fatalf("import %v", b)
	}
	if r := decode(t, e.do("GET", "/apps/copy/releases/"+rel, nil)); r["build"] != id {
		t.Fatalf("release %v", r)
	}
	if got := done.all(); len(got) != 1 || got[0].App != "copy" || got[0].Build != id || got[0].Release != rel {
		t.Fatalf("completions %+v", got)
	}
	// The imported build can be promoted and exported in its turn.
	wantText(t, e.do("POST", "/apps/copy/releases/"+rel+"/promote", nil), 200, "ok\n")
	wantStatus(t, e.do("GET", "/apps/copy/builds/"+id+".tgz", nil), 200)
}

func TestBuildExportImportErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantError(t, e.do("GET", "/apps/ghost/builds/B1.tgz", nil), 404, "no such app: ghost")
	wantError(t, e.do("GET", "/apps/demo/builds/BNOPE.tgz", nil), 404, "no such build: BNOPE")
	// A build still running has nothing to export yet.
	id := decode(t, e.do("POST", "/apps/demo/builds", url.Values{"url": {"object://demo/tmp/x.tgz"}}))["id"].(string)
	wantError(t, e.do("GET", "/apps/demo/builds/"+id+".tgz", nil), 400, "build is not complete: "+id)

	wantError(t, e.post("/apps/demo/builds/import", []byte("not a tarball")), 400, "gzip: invalid header")
	// A tarball without build.json is not an export either.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: "web.tar", Mode: 0o600, Size: 2, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("x\n"))
	_ = tw.Close()
	_ = gz.Close()
	wantError(t, e.post("/apps/demo/builds/import", buf.Bytes()), 400, "invalid build export: no build.json")
	exp, err := exportArchive(Build{ID: "BX", App: "demo"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	noMeta := exp
	wantError(t, e.post("/apps/ghost/builds/import", noMeta), 404, "no such app: ghost")
	if len(e.rk.builds) != 2 {
		t.Errorf("a refused import stored a build: %d builds", len(e.rk.builds))
	}
}

// A named segment may end in a literal: the export route takes B1.tgz and
// names B1, and the plain route no longer sees exports.
func TestMatchPatternSuffix(t *testing.T) {
	t.Parallel()
	vars, ok := MatchPattern("/apps/{app}/builds/{id}.tgz", []string{"apps", "demo", "builds", "B1.tgz"})
	if !ok || vars["app"] != "demo" || vars["id"] != "B1" {
		t.Fatalf("vars %v ok %v", vars, ok)
	}
	for _, seg := range []string{"B1", ".tgz", "B1.tgzx"} {
		if _, ok := MatchPattern("/apps/{app}/builds/{id}.tgz", []string{"apps", "demo", "builds", seg}); ok {
			t.Errorf("%q matched the export route", seg)
		}
	}
	if vars, ok := MatchPattern("/apps/{app}/builds/{id}", []string{"apps", "demo", "builds", "B1"}); !ok || vars["id"] != "B1" {
		t.Fatalf("plain route: %v %v", vars, ok)
	}
}

// A locked app refuses to be deleted, as on a rack; unlocking lets it go.
// Parameters set through PUT are what GET shows.
func TestAppLockAndParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wantText(t, e.do("PUT", "/apps/demo", url.Values{"lock": {"true"}}), 200, "ok\n")
	if a := decode(t, e.do("GET", "/apps/demo", nil)); a["locked"] != true {
		t.Fatalf("after lock %v", a)
	}
	wantError(t, e.do("DELETE", "/apps/demo", nil), 400, "app is locked: demo")
	wantText(t, e.do("PUT", "/apps/demo", url.Values{"parameters": {url.Values{"BuildCpu": {"512"}}.Encode()}}), 200, "ok\n")
	if p := decode(t, e.do("GET", "/apps/demo", nil))["parameters"].(map[string]any); p["BuildCpu"] != "512" || p["BuildMem"] != "1024" {
		t.Fatalf("parameters %v", p)
	}
	wantText(t, e.do("PUT", "/apps/demo", url.Values{"lock": {"false"}}), 200, "ok\n")
	wantText(t, e.do("DELETE", "/apps/demo", nil), 200, "ok\n")
}
