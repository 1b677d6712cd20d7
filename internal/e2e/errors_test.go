package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
)

func TestBadInputGetsClearErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown command", []string{"deplyo"}, ipc.ExitUsage, []string{`unknown command "deplyo"`, "--help"}},
		{"typo suggestion", []string{"logni"}, ipc.ExitUsage, []string{`Did you mean "login"`}},
		{"missing argument", []string{"switch"}, ipc.ExitUsage, []string{"switch requires a rack name", "Usage: rack-gateway switch <rack>"}},
		{"too many arguments", []string{"racks", "extra"}, ipc.ExitUsage, []string{"too many arguments"}},
		{"unknown flag", []string{"racks", "--bogus"}, ipc.ExitUsage, []string{"unknown flag: --bogus"}},
		{"unknown subcommand", []string{"agent", "frob"}, ipc.ExitUsage, []string{`unknown command "frob" for "rack-gateway agent"`, "status", "stop"}},
		{"login without a URL", []string{"login", "newrack"}, ipc.ExitUsage, []string{"gateway URL required for rack newrack"}},
		{"invalid URL scheme", []string{"login", "x", "ftp://gw.example.com"}, ipc.ExitUsage, []string{"invalid gateway URL", "scheme"}},
		{"invalid URL", []string{"login", "x", "https://"}, ipc.ExitUsage, []string{"invalid gateway URL"}},
		{"rack before login", []string{"rack"}, ipc.ExitAuth, []string{"no rack selected", "rack-gateway login <rack> <gateway-url>"}},
		{"switch to unknown rack", []string{"switch", "nope"}, ipc.ExitError, []string{"rack nope not found", "rack-gateway racks"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.run(c.args...)
			if r.Code != c.code {
				t.Errorf("exit %d, want %d\n%s", r.Code, c.code, r)
			}
			contains(t, "stderr", r.Err, append([]string{"Error: "}, c.want...)...)
		})
	}
	r := e.mustRun("--help")
	contains(t, "help", r.Out, "login", "logout", "racks", "switch", "test-auth", "agent status", "--no-agent")
	r = e.mustRun("login", "--help")
	contains(t, "login --help", r.Out, "--no-open", "--auth-file", "Usage:")
	r = e.mustRun("help", "switch")
	contains(t, "help switch", r.Out, "switch <rack>")
	// A group alone, "<group> --help" and "help <group>" show the group.
	for _, args := range [][]string{{"agent"}, {"agent", "--help"}, {"help", "agent"}} {
		r = e.mustRun(args...)
		contains(t, strings.Join(args, " "), r.Out, "Subcommands of rack-gateway agent", "status", "stop")
	}
}

func TestGatewayFailuresAreNamed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A port with nothing listening: connection refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	r := e.run("login", "dead", dead, "--no-open")
	if r.Code == 0 {
		t.Errorf("refused connection: %s", r)
	}
	contains(t, "refused", r.Err, "cannot reach the gateway at "+dead, "connection refused")

	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		fmt.Fprint(w, `{"error":"failed to initialize login state"}`)
	}))
	defer fail.Close()
	r = e.run("login", "broken", fail.URL, "--no-open")
	if r.Code == 0 {
		t.Errorf("500 should fail: %s", r)
	}
	contains(t, "500", r.Err, "HTTP 500", "failed to initialize login state", fail.URL)

	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html>not a gateway</html>")
	}))
	defer notJSON.Close()
	r = e.run("login", "html", notJSON.URL, "--no-open")
	if r.Code == 0 {
		t.Errorf("invalid JSON should fail: %s", r)
	}
	contains(t, "invalid JSON", r.Err, "unexpected response", "is this a rack-gateway URL?")

	// A gateway that accepts but never answers: Ctrl-C ends the wait.
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.cmd(ctx, "login", "hang", hang.URL, "--no-open")
	_, errb, wait := e.start(c)
	select {
	case <-arrived:
	case <-ctx.Done():
		t.Fatal("the login never reached the hanging gateway")
	}
	// The request can reach the gateway before the CLI has set up its
	// Ctrl-C handling (it sends the invocation first); the first line it
	// relays shows that it has.
	waitFor(t, "the CLI to relay the login's first line", 10*time.Second, func() bool {
		return strings.Contains(errb.String(), "Starting login for rack: hang")
	})
	if err := c.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	r = wait()
	if r.Code != ipc.ExitInterrupted {
		t.Errorf("Ctrl-C during a hung request: %s", r)
	}
}

// Ctrl-C while the agent polls for the browser ends the login there. If
// the agent went on polling, the command would run into its deadline and
// be killed, which the exit status tells apart.
func TestCtrlCCancelsLoginInTheAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := e.cmd(ctx, "login", "prod", sandboxURL, "--no-open", "--auth-file", e.root+"/auth")
	_, errb, wait := e.start(c)
	// The waiting line comes after the first poll: the agent is in the
	// polling loop.
	waitFor(t, "the login to poll", 10*time.Second, func() bool { return strings.Contains(errb.String(), "Waiting for login") })
	if err := c.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := wait()
	if r.Code != ipc.ExitInterrupted {
		t.Fatalf("want exit %d: %s", ipc.ExitInterrupted, r)
	}
	contains(t, "stderr", r.Err, "login cancelled")
	// The agent logged the cancellation and nothing was stored.
	waitFor(t, "run logged", 3*time.Second, func() bool { return strings.Contains(e.agentLog(), "code=interrupted") })
	if _, err := os.Stat(e.Config + "/credentials.json"); err == nil {
		t.Error("a cancelled login stored credentials")
	}
}
