package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/ledger"
	"github.com/rack-gateway/rack-gateway/agent/server"
	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/localapi"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
	"github.com/rack-gateway/rack-gateway/platform/secrets"
)

// TestMain points every per-user location (home, XDG directories) at a
// private directory before any test runs: the server reads the default
// config directory for /v1/status and core.New prepares the state
// directory, and neither may touch the real user's files.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "rg-server-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for k, v := range map[string]string{
		"HOME":            home,
		"XDG_CONFIG_HOME": filepath.Join(home, "config"),
		"XDG_STATE_HOME":  filepath.Join(home, "state"),
		"XDG_CACHE_HOME":  filepath.Join(home, "cache"),
		"XDG_RUNTIME_DIR": filepath.Join(home, "run"),
	} {
		os.Setenv(k, v)
	}
	os.Unsetenv("GATEWAY_CLI_CONFIG_DIR")
	os.Unsetenv("RACK_GATEWAY_SECRET_STORE")
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

const testVersion = "v0.0.0-test"

// agent is one server on a real Unix socket, as runDaemon wires it.
type agent struct {
	Core   *core.Core
	Srv    *server.Server
	Socket string
	// Served receives Serve's result once it returns.
	Served chan served
	// HTTP talks to the socket with no client-side rules of its own.
	HTTP *http.Client
	API  *localapi.Client
}

// served is how Serve returned.
type served struct {
	Err error
	// Stopped says whether a stop had been requested when Serve returned.
	// The daemon waits on Serve and on Stopping together and takes a
	// return of Serve alone for a failure.
	Stopped bool
}

func newCore(t *testing.T) *core.Core {
	t.Helper()
	c := core.New(testVersion, nil, func(dir string) (secrets.Store, error) {
		return secrets.Open(secrets.Options{Backend: secrets.BackendFile, FileDir: dir})
	})
	c.MFA.UseLedger(ledger.Open(t.TempDir()))
	return c
}

// startAgent serves a fresh core on a socket in a temporary directory. The
// server is stopped and shut down when the test ends.
func startAgent(t *testing.T, setup ...func(*server.Server)) *agent {
	t.Helper()
	c := newCore(t)
	sock := filepath.Join(privateDir(t), "agent.sock")
	log := slog.New(slog.DiscardHandler)
	ln, err := transport.Listen(sock, transport.ListenOptions{OnReject: server.RejectPeer(log)})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, c, sock, ln, setup...)
}

// privateDir is a temporary directory that passes the socket directory's
// owner-only check.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// serve serves c on ln; setup functions change the server before it
// serves (a test's own commands, routes, log or timeouts).
func serve(t *testing.T, c *core.Core, sock string, ln net.Listener, setup ...func(*server.Server)) *agent {
	t.Helper()
	srv := server.New(c, sock, slog.New(slog.DiscardHandler))
	for _, f := range setup {
		f(srv)
	}
	a := &agent{Core: c, Srv: srv, Socket: sock, Served: make(chan served, 1), API: localapi.NewClient(sock)}
	a.HTTP = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return transport.Dial(ctx, sock)
		},
	}}
	go func() {
		err := srv.Serve(ln)
		stopped := false
		select {
		case <-srv.Stopping():
			stopped = true
		default:
		}
		a.Served <- served{Err: err, Stopped: stopped}
	}()
	t.Cleanup(func() {
		a.HTTP.CloseIdleConnections()
		srv.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		_ = ln.Close()
		select {
		case <-a.Served:
		case <-ctx.Done():
			t.Error("Serve did not return after Shutdown")
		}
	})
	return a
}

// do sends one request to the agent and returns the response with its
// body read.
func (a *agent) do(t *testing.T, method, path string, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, localapi.URL(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// apiError decodes an error body and checks its status, JSON type and
// code.
func apiError(t *testing.T, resp *http.Response, body []byte, status int, code string) *ipc.Error {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var eb ipc.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error == nil {
		t.Fatalf("body %s is not an error body: %v", body, err)
	}
	if eb.Error.Code != code {
		t.Fatalf("code %q, want %q (%s)", eb.Error.Code, code, eb.Error.Message)
	}
	if eb.Error.Message == "" {
		t.Errorf("empty message")
	}
	return eb.Error
}

func checkAgentHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get(ipc.HeaderVersion); got != testVersion {
		t.Errorf("%s = %q, want %q", ipc.HeaderVersion, got, testVersion)
	}
	if got := resp.Header.Get(ipc.HeaderCapability); got != fmt.Sprint(ipc.Capability) {
		t.Errorf("%s = %q, want %d", ipc.HeaderCapability, got, ipc.Capability)
	}
}
