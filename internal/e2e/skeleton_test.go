package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
	"github.com/rack-gateway/rack-gateway/ipc/localapi"
	"github.com/rack-gateway/rack-gateway/ipc/transport"
)

// storedToken reads a rack's token from the file store (tests use the file
// fallback unless they test the keyring).
func (e *env) storedToken(rack string) string {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.Config, "credentials.json"))
	if err != nil {
		e.t.Fatalf("read credentials: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		e.t.Fatalf("credentials.json: %v", err)
	}
	for k, v := range m {
		if s, ok := v.(string); ok && (k == rack || strings.HasPrefix(k, rack+"@")) {
			return s
		}
		if mm, ok := v.(map[string]any); ok {
			for k2, v2 := range mm {
				if s, ok := v2.(string); ok && (k2 == rack || strings.HasPrefix(k2, rack+"@")) {
					return s
				}
			}
		}
	}
	e.t.Fatalf("no token for %s in credentials.json", rack)
	return ""
}

func gatewayStatus(t *testing.T, sb *sandbox, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", sb.URL+"/api/v1/auth/mfa/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

func TestLoginRackRacksSwitchTestAuthLogout(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t) // its request counts are this test's
	e := newEnv(t)
	e.sb = sb
	// The browser leg is played only once the agent has polled twice while
	// it was pending: the waiting line comes with the first pending poll
	// and must not come again with the next. (e.login plays it at once, so
	// the agent's first poll may already find the login complete, and
	// then there is rightly no waiting line at all.)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, _, wait := e.start(e.cmd(ctx, "login", "prod", sb.URL, "--no-open", "--auth-file", filepath.Join(e.root, "auth-prod")))
	authURL := waitAuthURL(t, filepath.Join(e.root, "auth-prod"), 20*time.Second)
	waitFor(t, "two polls of the pending login", 20*time.Second, func() bool {
		return sb.requests(t)["POST /api/v1/auth/cli/complete"] >= 2
	})
	browse(t, authURL+"&selected_user="+admin+"&mfa=auto")
	r := wait()
	if r.Code != 0 {
		t.Fatalf("login: %s", r)
	}
	contains(t, "login stdout", r.Out, "Logged in as admin@example.com")
	contains(t, "login stderr", r.Err, "Starting login for rack: prod", "Waiting for login to complete")
	if strings.Count(r.Err, "Waiting for login") != 1 {
		t.Errorf("the waiting line should appear once over several polls:\n%s", r.Err)
	}
	st, err := os.Stat(filepath.Join(e.root, "auth-prod"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("auth file mode: %v %v", st.Mode(), err)
	}
	authData, _ := os.ReadFile(filepath.Join(e.root, "auth-prod"))
	contains(t, "auth file", string(authData), "AUTH_URL=http", "STATE=", "CODE_VERIFIER=")

	r = e.mustRun("rack")
	contains(t, "rack", r.Out, "Current rack: prod", "Gateway URL: "+sb.URL,
		"Status: Logged in as admin@example.com", "Session expires:", "Token store: file")

	e.login("staging", "deployer@example.com")
	r = e.mustRun("racks")
	contains(t, "racks", r.Out, "* staging", "  prod", "deployer@example.com", "admin@example.com")

	r = e.mustRun("switch", "prod")
	contains(t, "switch", r.Out, "✓ Switched to rack: prod")
	r = e.mustRun("racks")
	contains(t, "racks after switch", r.Out, "* prod", "  staging")

	r = e.mustRun("test-auth")
	contains(t, "test-auth", r.Out, "Authenticated as admin@example.com")
	r = e.mustRun("test-auth", "-r", "staging")
	contains(t, "test-auth -r staging", r.Out, "Authenticated as deployer@example.com")

	r = e.mustRun("version")
	contains(t, "version", r.Out, "client: ", "\ngateway: sandbox-0.1.0 (sandbox)\n", "\nserver: 3.21.3\n", "\nagent: ")
	if v := e.mustRun("--version"); v.Out != r.Out {
		t.Errorf("--version differs from version:\n%s\nwant:\n%s", v.Out, r.Out)
	}

	// Logout revokes on the server: the old token then gets 401.
	tok := e.storedToken("prod")
	if code, _ := gatewayStatus(t, sb, tok); code != 200 {
		t.Fatalf("token should work before logout, got %d", code)
	}
	r = e.mustRun("logout")
	contains(t, "logout", r.Out, "✓ Logged out from prod")
	code, body := gatewayStatus(t, sb, tok)
	if code != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("after logout the old token should get 401 revoked, got %d %s", code, body)
	}
	r = e.mustRun("rack")
	contains(t, "rack after logout", r.Out, "Status: Not logged in")
	if r = e.mustRun("logout"); r.Out != "Not logged in to prod\n" {
		t.Errorf("logout with nothing logged in: %s", r)
	}
	r = e.run("test-auth")
	if r.Code != ipc.ExitAuth || !strings.Contains(r.Err, "Error: not logged in to prod") {
		t.Errorf("test-auth after logout: %s", r)
	}
	// The other rack is untouched.
	e.mustRun("test-auth", "--rack", "staging")
}

func TestAgentStartsOnceAndIsReused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := os.Stat(e.socket()); err == nil {
		t.Fatal("socket exists before the first command")
	}
	e.mustRun("racks")
	pid1 := e.agentPID()
	if !pidAlive(pid1) {
		t.Fatalf("the first command should have started the agent (pid %d)", pid1)
	}
	e.mustRun("racks")
	if pid2 := e.agentPID(); pid2 != pid1 {
		t.Fatalf("second command used another agent: %d then %d", pid1, pid2)
	}
	st, err := os.Stat(e.socket())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, err %v", st.Mode(), err)
	}
	dst, _ := os.Stat(filepath.Dir(e.socket()))
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode %v", dst.Mode().Perm())
	}
	r := e.mustRun("agent", "stop")
	contains(t, "agent stop", r.Out, "Agent stopped")
	waitFor(t, "agent exit", 5*time.Second, func() bool { return !pidAlive(pid1) })
	if _, err := os.Stat(e.socket()); err == nil {
		t.Error("socket left behind after a clean stop")
	}
	// agent stop with nothing running does not start an agent.
	r = e.mustRun("agent", "stop")
	contains(t, "agent stop (none)", r.Out, "No agent is running")
	if _, err := os.Stat(e.socket()); err == nil {
		t.Error("agent stop started an agent")
	}
}

func TestSecondAgentRefusedAndStaleSocketReplaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustRun("racks")
	pid := e.agentPID()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, filepath.Join(binDir, "rack-gateway-agent"), "run")
	second.Env = e.environ()
	out, err := second.CombinedOutput()
	if err == nil {
		t.Fatalf("a second agent started:\n%s", out)
	}
	contains(t, "second agent", string(out), "already running", "pid")
	if e.agentPID() != pid {
		t.Fatal("the first agent was displaced")
	}

	// A killed agent leaves its socket file; the next command replaces it.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "agent death", 5*time.Second, func() bool { return !pidAlive(pid) })
	if _, err := os.Stat(e.socket()); err != nil {
		t.Fatalf("expected a stale socket file: %v", err)
	}
	e.mustRun("racks")
	if p := e.agentPID(); p == pid || !pidAlive(p) {
		t.Fatalf("stale socket not replaced: old %d new %d", pid, p)
	}
}

func TestOtherUIDRefused(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as 'nobody' (setpriv)")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	e := newEnv(t)
	e.mustRun("racks")
	// Test-only: open the directories so that nobody can reach the socket
	// at all; the agent's own peer check must then refuse it.
	for _, d := range []string{e.root, e.Runtime, filepath.Dir(e.socket())} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(e.socket(), 0o666); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(binDir, "e2e.test")
	data, _ := os.ReadFile(self)
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	c := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", exe)
	c.Env = []string{"E2E_HELPER=dial-status", "E2E_SOCKET=" + e.socket()}
	out, _ := c.CombinedOutput()
	contains(t, "nobody's request", string(out), "status 403", "not the agent's owner")
	if strings.Contains(string(out), `"racks"`) {
		t.Errorf("nobody got the status:\n%s", out)
	}
	// The agent is still serving its owner (once the directory is private
	// again: the CLI refuses a socket directory others can enter).
	os.Chmod(filepath.Dir(e.socket()), 0o700)
	e.mustRun("racks")
	if !strings.Contains(e.agentLog(), "refused connection from another user") {
		t.Error("the refusal is not in the agent log")
	}
}

func TestLocalAPIRefusesBrowsersAndSendsVersionHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustRun("racks")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return transport.Dial(ctx, e.socket())
	}}, Timeout: 5 * time.Second}
	get := func(h map[string]string) *http.Response {
		req, _ := http.NewRequest("GET", "http://agent/v1/status", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get(nil)
	if resp.StatusCode != 200 || resp.Header.Get(ipc.HeaderVersion) == "" || resp.Header.Get(ipc.HeaderCapability) == "" {
		t.Errorf("status: %d headers %v", resp.StatusCode, resp.Header)
	}
	for _, h := range []map[string]string{{"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"}} {
		if resp := get(h); resp.StatusCode != 403 {
			t.Errorf("request with %v: %d, want 403", h, resp.StatusCode)
		}
	}
	st, err := localapi.NewClient(e.socket()).Status(context.Background())
	if err != nil || st.PID == 0 || st.Version == "" {
		t.Fatalf("typed status: %+v %v", st, err)
	}
}
