package convox_test

import (
	"testing"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// Each upstream command whose routes the gateway never forwards answers
// with its one-line reason and exit 1, whatever arguments and flags it
// is given, and sends nothing to the rack.
func TestUnforwardedCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"resources", []string{"resources"}},
		{"resources console", []string{"resources", "console", "db"}},
		{"resources export", []string{"resources", "export", "db", "-f", "out.sql"}},
		{"resources import", []string{"resources", "import", "db", "--file", "in.sql"}},
		{"resources info", []string{"resources", "info", "db", "-a", app}},
		{"resources proxy", []string{"resources", "proxy", "db", "-p", "5432", "--tls"}},
		{"resources url", []string{"resources", "url", "db"}},
		{"certs", []string{"certs"}},
		{"certs delete", []string{"certs", "delete", "cert-1"}},
		{"certs generate", []string{"certs", "generate", "example.org", "--id"}},
		{"certs import", []string{"certs", "import", "pub.pem", "key.pem", "--chain", "chain.pem"}},
		{"certs renew", []string{"certs", "renew", "-a", app}},
		{"registries", []string{"registries"}},
		{"registries add", []string{"registries", "add", "reg.example.org", "user", "pass"}},
		{"registries remove", []string{"registries", "remove", "reg.example.org"}},
		{"apps cancel", []string{"apps", "cancel", "-a", app}},
		{"instances keyroll", []string{"instances", "keyroll"}},
		{"instances terminate", []string{"instances", "terminate", "i-0a1b2c3d4e5f60718"}},
	} {
		argv, name := tc.argv, tc.name
		r := e.Run(argv...)
		want := `rack-gateway does not forward "` + name + `" to the rack (the gateway allows only the routes in docs/gateway-protocol.md, "Rack proxy")`
		if r.Error == nil || r.Error.Message != want || r.Code() != ipc.ExitError {
			t.Errorf("%q: want exit 1 with %q, got exit %d: %s", argv, want, r.Code(), r)
		}
		if r.Error == nil {
			continue
		}
		if got := r.Error.Render(); got != "Error: "+want+"\n" {
			t.Errorf("%q: rendered %q, want one line", argv, got)
		}
		if r.Out != "" {
			t.Errorf("%q: stdout %q", argv, r.Out)
		}
	}
}
