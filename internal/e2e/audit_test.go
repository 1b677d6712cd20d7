package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type auditLine struct {
	PID     int      `json:"pid"`
	Exe     string   `json:"exe"`
	Rack    string   `json:"rack"`
	Command []string `json:"command"`
	MFA     string   `json:"mfa"`
	Exit    int      `json:"exit"`
	Error   string   `json:"error"`
}

func (e *env) auditLines(t *testing.T) ([]auditLine, string) {
	t.Helper()
	path := filepath.Join(e.State, "rack-gateway", "audit.jsonl")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v", st.Mode().Perm())
	}
	var out []auditLine
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad audit line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out, string(data)
}

func TestAuditLogRecordsCommandsWithoutSecrets(t *testing.T) {
	t.Parallel()
	e, sb := mfaEnv(t)
	code := totpCodes.next(t, sb, admin)
	tok := e.storedToken("prod")
	e.mustRun(append(stepUpCmd, "--mfa-code", code)...)
	e.mustRun(stepUpCmd...) // the window is fresh: reused
	e.run("api", "-X", "PUT", "/api/v1/apps/demo/env", "-d", `{"env":{"SECRET_KEY":"hunter2hunter2"}}`)
	e.run("racks", "DB_PASSWORD=sw0rdfish")
	p := e.startPTY("prompted", "test-auth", "totp")
	p.waitText("Enter TOTP code:", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	p.wait(10 * time.Second)
	lines, raw := e.auditLines(t)
	for _, secret := range []string{code, tok, "hunter2hunter2", "sw0rdfish"} {
		if strings.Contains(raw, secret) {
			t.Errorf("audit log contains a secret %q:\n%s", secret, raw)
		}
	}
	var sawCode, sawReused, sawPrompted bool
	for _, l := range lines {
		if l.PID == 0 || l.Exe == "" || len(l.Command) == 0 {
			t.Errorf("incomplete line %+v", l)
		}
		switch {
		case l.MFA == "code" && l.Rack == "prod" && l.Exit == 0:
			sawCode = true
		case l.MFA == "reused" && l.Exit == 0:
			sawReused = true
		case l.MFA == "prompted" && l.Command[0] == "test-auth":
			sawPrompted = true
		}
	}
	if !sawCode || !sawReused || !sawPrompted {
		t.Errorf("mfa outcomes code=%v reused=%v prompted=%v:\n%s", sawCode, sawReused, sawPrompted, raw)
	}
	if !strings.Contains(raw, `"exit":2`) {
		t.Errorf("the usage error was not recorded:\n%s", raw)
	}
}
