package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// allCmdlines returns every process's argv on this machine.
func allCmdlines(t *testing.T) string {
	var b strings.Builder
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		data, err := os.ReadFile(d)
		if err == nil {
			b.Write(data)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func TestTokenNeverInConfigLogOrArgv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.login("prod", "admin@example.com")
	e.mustRun("test-auth")
	e.mustRun("rack")
	tok := e.storedToken("prod")
	if len(tok) != 43 {
		t.Fatalf("unexpected token shape (%d chars)", len(tok))
	}
	cfg, err := os.ReadFile(filepath.Join(e.Config, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), tok) || strings.Contains(string(cfg), `"token"`) {
		t.Errorf("token in config.json:\n%s", cfg)
	}
	if strings.Contains(e.agentLog(), tok) {
		t.Error("token in the agent log")
	}
	if strings.Contains(allCmdlines(t), tok) {
		t.Error("token in some process's argv")
	}
	st, _ := os.Stat(filepath.Join(e.Config, "credentials.json"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials.json mode %v", st.Mode().Perm())
	}
	dst, _ := os.Stat(e.Config)
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode %v", dst.Mode().Perm())
	}
}

// An upstream config.json with a token in it: the agent moves the token into
// the store at start, says so once, and the session keeps working.
func TestUpstreamTokenMigratesOnce(t *testing.T) {
	t.Parallel()
	src := newEnv(t)
	src.login("prod", "admin@example.com")
	tok := src.storedToken("prod")

	e := newEnv(t)
	if err := os.MkdirAll(e.Config, 0o700); err != nil {
		t.Fatal(err)
	}
	upstream := fmt.Sprintf(`{"current":"prod","gateways":{"prod":{"url":%q,"token":%q,"email":"admin@example.com","channel":"cli"}},"machine_id":"0b0c33c1-1b9c-4c57-8a3c-0c54b7a1c0de","mfa_preference":"default"}`, sandboxURL, tok)
	if err := os.WriteFile(filepath.Join(e.Config, "config.json"), []byte(upstream), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.mustRun("test-auth")
	contains(t, "first run", r.Out, "Authenticated as admin@example.com")
	contains(t, "first run notice", r.Err, "moved the session token for prod", "config.json")
	cfg, _ := os.ReadFile(filepath.Join(e.Config, "config.json"))
	if strings.Contains(string(cfg), tok) {
		t.Fatalf("token still in config.json:\n%s", cfg)
	}
	var parsed map[string]any
	if err := json.Unmarshal(cfg, &parsed); err != nil || parsed["current"] != "prod" {
		t.Fatalf("config damaged: %v\n%s", err, cfg)
	}
	if e.storedToken("prod") != tok {
		t.Fatal("token not in the store")
	}
	r = e.mustRun("test-auth")
	if strings.Contains(r.Err, "moved the session token") {
		t.Errorf("notice shown twice:\n%s", r.Err)
	}
}

// With a real Secret Service (CI runs this under dbus-run-session with an
// unlocked gnome-keyring), tokens go to the keyring and nowhere on disk.
func TestKeyringHoldsTheToken(t *testing.T) {
	t.Parallel()
	if os.Getenv("RACK_GATEWAY_KEYRING_TEST") != "1" {
		t.Skip("set RACK_GATEWAY_KEYRING_TEST=1 inside .ci/keyring-session.sh to test against a real gnome-keyring")
	}
	e := newEnv(t)
	e.set("RACK_GATEWAY_SECRET_STORE", "") // auto: the keyring is reachable
	e.login("prod", "admin@example.com")
	r := e.mustRun("rack")
	contains(t, "rack", r.Out, "Token store: OS keyring")
	if _, err := os.Stat(filepath.Join(e.Config, "credentials.json")); err == nil {
		t.Error("credentials.json written although the keyring works")
	}
	e.mustRun("test-auth")
	r = e.mustRun("agent", "status")
	contains(t, "agent status", r.Out, "Token store: OS keyring")
	e.mustRun("logout")
	r = e.run("test-auth")
	if r.Code == 0 {
		t.Errorf("test-auth after logout should fail: %s", r)
	}
}

func TestNoAgentAndAPITokenRunInProcess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.login("prod", "admin@example.com")
	e.stopAgent()
	waitFor(t, "agent gone", 5*time.Second, func() bool { _, err := os.Stat(e.socket()); return err != nil })

	r := e.mustRun("--no-agent", "rack")
	contains(t, "--no-agent rack", r.Out, "Current rack: prod", "Logged in as admin@example.com")
	e.mustRun("test-auth", "--no-agent")
	if _, err := os.Stat(e.socket()); err == nil {
		t.Error("--no-agent started the agent")
	}
	r = e.run("--no-agent", "agent", "status")
	if r.Code != 2 || !strings.Contains(r.Err, "--no-agent") {
		t.Errorf("agent status with --no-agent: %s", r)
	}

	// API-token mode: RACK_GATEWAY_URL + RACK_GATEWAY_RACK, no config, no
	// daemon. The sandbox refuses MFA status for tokens, and says so.
	api := newEnv(t)
	api.set("RACK_GATEWAY_API_TOKEN", "rgw_notarealtokennotarealtokennotarealtokennotrea=")
	api.set("RACK_GATEWAY_URL", sandboxURL)
	api.set("RACK_GATEWAY_RACK", "ci")
	r = api.mustRun("rack")
	contains(t, "api-token rack", r.Out, "Current rack: ci", "Gateway URL: "+sandboxURL, "Using an API token")
	r = api.run("test-auth")
	if r.Code == 0 || !strings.Contains(r.Err, "Error: authentication failed: invalid API token") {
		t.Errorf("bad API token: %s", r)
	}
	if _, err := os.Stat(api.socket()); err == nil {
		t.Error("API-token mode started the agent")
	}
	if strings.Contains(allCmdlines(t), "rgw_notarealtoken") {
		t.Error("API token in argv")
	}
}
