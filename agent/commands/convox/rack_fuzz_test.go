package convox_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/convox"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/agent/rack"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// rackAnswer is what the fuzzed rack answers every proxied request with.
type rackAnswer struct {
	mu     sync.Mutex
	status int
	body   []byte
}

func (a *rackAnswer) set(status int, body []byte) {
	a.mu.Lock()
	a.status, a.body = status, body
	a.mu.Unlock()
}

// The read-only commands whose output is made of rack answers.
var fuzzCommands = [][]string{
	{"apps"}, {"apps", "--output", "json"}, {"apps", "info", app}, {"apps", "info", app, "--output", "json"},
	{"ps", "-a", app}, {"ps", "-a", app, "--output", "json"},
	{"releases", "-a", app}, {"releases", "info", "R1", "-a", app}, {"releases", "info", "R1", "-a", app, "--output", "json"},
	{"builds", "-a", app}, {"builds", "info", "B1", "-a", app},
	{"rack", "info"}, {"rack", "info", "--output", "json"}, {"instances"}, {"instances", "--output", "json"},
	{"env", "-a", app}, {"env", "get", "FOO", "-a", app}, {"scale", "-a", app}, {"rack"},
}

var fuzzStatuses = []int{200, 200, 200, 200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503}

// FuzzRackAnswers runs the read-only Convox commands against a rack that
// answers anything: the commands never panic, fail only with a typed error
// that is not a bug ("internal"), print valid JSON for --output json, and
// print an amount of text in proportion to what the rack sent.
func FuzzRackAnswers(f *testing.F) {
	for _, s := range []string{
		`[{"name":"demo","status":"running","release":"R1","generation":"2","locked":false}]`,
		`{"name":"demo","status":"running","release":"R1","parameters":{"A":"1"},"router":"r"}`,
		`[{"id":"p-1","app":"demo","name":"web","release":"R1","started":"2025-01-02T03:04:05Z","status":"running","cpu":0.05,"memory":0.2,"ports":["80:3000"]}]`,
		`[{"id":"R1","app":"demo","build":"B1","env":"A=1\nB=two","created":"2025-01-02T03:04:05Z","description":"d"}]`,
		`{"id":"R1","env":"A=1\n#c\n\nB","created":"0001-01-01T00:00:00Z"}`,
		`[{"id":"B1","status":"complete","started":"2025-01-02T03:04:05Z","ended":"2025-01-02T03:00:00Z"}]`,
		`{"name":"rack","status":"running","version":"3.19.1","count":3,"parameters":{"X":"y"}}`,
		`[{"id":"i-1","status":"active","started":"9999-12-31T23:59:59Z","cpu":1e308,"memory":-1,"processes":-5}]`,
		`[{"name":"web","count":-1,"cpu":256,"memory":512,"ports":[{"balancer":80,"container":3000}]}]`,
		`{"error":"app not found"}`,
		`{"ERROR":"\u001b[2Jowned"}`,
		`<html><title>502 Bad Gateway</title></html>`,
		`null`, `[null]`, `[]`, `{}`, `"x"`, ``,
	} {
		for i := range 3 {
			f.Add([]byte(s), uint8(i*7), uint8(0))
		}
	}
	f.Add([]byte(`{"error":"locked"}`), uint8(3), uint8(8))
	f.Add([]byte(`oops`), uint8(0), uint8(14))

	e := kittest.New(f, admin, true, convox.Register)
	ans := &rackAnswer{}
	sandbox, _ := url.Parse(e.URL)
	proxy := httputil.NewSingleHostReverseProxy(sandbox)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, rack.ProxyPrefix+"/") {
			proxy.ServeHTTP(w, r)
			return
		}
		ans.mu.Lock()
		status, body := ans.status, ans.body
		ans.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	f.Cleanup(front.Close)
	p, err := e.Core.Profile(e.ConfigDir)
	if err != nil {
		f.Fatal(err)
	}
	if err := p.Update(func(c *config.Config) error {
		c.Gateways[kittest.Rack].URL = front.URL
		return nil
	}); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body []byte, cmd, status uint8) {
		argv := fuzzCommands[int(cmd)%len(fuzzCommands)]
		ans.set(fuzzStatuses[int(status)%len(fuzzStatuses)], body)
		run := *e
		run.T = t // kittest reports through the current input's t
		r := run.Run(argv...)
		if r.Error != nil {
			if r.Error.Code == "" || r.Error.Code == ipc.CodeInternal || r.Error.Message == "" {
				t.Fatalf("%q with a %d answer %q: %s", argv, ans.status, body, r)
			}
		} else if argv[len(argv)-1] == "json" && !json.Valid([]byte(r.Out)) {
			t.Fatalf("%q printed invalid JSON:\n%s", argv, r.Out)
		}
		if n := len(r.Out) + len(r.Err); n > 64*len(body)+16<<10 {
			t.Fatalf("%q printed %d bytes for a %d-byte answer", argv, n, len(body))
		}
	})
}
