package convoxfake

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// PUT /system records what it was sent and the rack reports "updating" to
// exactly one read; an update adds a version to the history.
func TestSystemUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sys := decode(t, e.do("GET", "/system", nil))
	params, _ := sys["parameters"].(map[string]any)
	if sys["status"] != "running" || params["node_type"] != "t3.small" || params["rack_name"] != Name {
		t.Fatalf("seeded system %v", sys)
	}
	rels := decodeList(t, e.do("GET", "/system/releases", nil))
	if len(rels) != 1 || rels[0]["id"] != Version {
		t.Fatalf("seeded releases %v", rels)
	}

	// Parameters come as one url-encoded field, as the Convox SDK sends them.
	wantStatus(t, e.do("PUT", "/system", url.Values{"parameters": {"telemetry=true&Foo=a b"}}), 200)
	if s := decode(t, e.do("GET", "/system", nil)); s["status"] != "updating" {
		t.Fatalf("after params: %v", s)
	}
	s := decode(t, e.do("GET", "/system", nil))
	params, _ = s["parameters"].(map[string]any)
	if s["status"] != "running" || params["telemetry"] != "true" || params["Foo"] != "a b" || params["high_availability"] != "false" {
		t.Fatalf("second read: %v", s)
	}

	wantStatus(t, e.do("PUT", "/system", url.Values{"count": {"3"}, "type": {"t3.large"}}), 200)
	if got := e.rk.System(); got.Count != 3 || got.Type != "t3.large" || got.Parameters["node_type"] != "t3.large" || got.Status != "updating" {
		t.Fatalf("after scale: %+v", got)
	}

	e.clock.Advance(time.Minute)
	wantStatus(t, e.do("PUT", "/system", url.Values{"version": {"3.21.4"}}), 200)
	rels = decodeList(t, e.do("GET", "/system/releases", nil))
	if len(rels) != 2 || rels[0]["id"] != "3.21.4" || rels[1]["id"] != Version {
		t.Fatalf("releases after update %v", rels)
	}
	if v := e.rk.System().Version; v != "3.21.4" {
		t.Fatalf("version %q", v)
	}
	ps := decodeList(t, e.do("GET", "/system/processes", nil))
	if len(ps) != 2 || ps[0]["release"] != "3.21.4" {
		t.Fatalf("system processes after update %v", ps)
	}

	// Invalid fields change nothing.
	wantError(t, e.do("PUT", "/system", url.Values{"count": {"0"}, "version": {"9.9.9"}}), 400, "invalid count: 0")
	wantError(t, e.do("PUT", "/system", url.Values{"parameters": {"%zz"}}), 400, "invalid parameters")
	if v := e.rk.System().Version; v != "3.21.4" {
		t.Fatalf("a refused update changed the version to %q", v)
	}

	// Each change is a line of the rack's log.
	srv := e.wsServer()
	msgs, err := readAll(mustDial(t, srv, "/system/logs"))
	wantNormalClose(t, err)
	joined := strings.Join(msgs, "")
	for _, want := range []string{"rack update: parameters Foo,telemetry", "rack update: count=3 type=t3.large", "rack update: version=3.21.4"} {
		if !strings.Contains(joined, want) {
			t.Errorf("system logs lack %q:\n%s", want, joined)
		}
	}
}

// Without ?all the rack lists its own processes; with it, every app's too.
func TestSystemProcessesAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if ps := decodeList(t, e.do("GET", "/system/processes", nil)); len(ps) != 2 || ps[0]["app"] != "system" || ps[1]["name"] != "router" {
		t.Fatalf("system processes %v", ps)
	}
	ps := decodeList(t, e.do("GET", "/system/processes?all=true", nil))
	if len(ps) != 4 || ps[2]["id"] != SeedWebPID || ps[3]["id"] != SeedWorkerPID {
		t.Fatalf("all processes %v", ps)
	}
}
