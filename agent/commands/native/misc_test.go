package native_test

import (
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
)

func TestGatewayShowsServerAndUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, viewer)
	r := e.MustRun("gateway")
	wantOut(t, "gateway", r, "Gateway URL:     "+e.URL+"\n", "\nRack Name:       ", "\nLogged in as:    "+viewer+"\n",
		"Roles:           viewer\n")
	if r.Rack != kittest.Rack {
		t.Errorf("rack %q", r.Rack)
	}
	d := newEnv(t, deployer)
	wantOut(t, "gateway", d.MustRun("gateway"), "Logged in as:    "+deployer+"\n", "Roles:           deployer\n")
}

// web asks the CLI to open the browser; when it cannot, the URL is printed
// for the user and the command still succeeds.
func TestWebFallsBackToTheURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	r := e.MustRun("web")
	u := e.URL + "/app"
	want := "Opening " + u + " in your browser...\n" +
		"Failed to open browser automatically: kittest: no local actions\n" +
		"Please open this URL manually: " + u + "\n"
	if r.Out != want {
		t.Errorf("web: %q", r.Out)
	}
	if r := e.Run("web", "extra"); r.Error == nil || !strings.Contains(r.Error.Message, "too many arguments") {
		t.Errorf("web extra: %s", r)
	}
}
