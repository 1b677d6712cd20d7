package admin_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/admin"
	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/config"
	"github.com/rack-gateway/rack-gateway/ipc"
)

const (
	adminEmail    = "admin@example.com"
	deployerEmail = "deployer@example.com"
	viewerEmail   = "viewer@example.com"
)

// newEnv logs email in to a fresh sandbox and stores the session's id
// as a login would. A fresh sandbox numbers sessions from 1 in creation
// order, so the login's session is 1.
func newEnv(t *testing.T, email string) *kittest.Env {
	t.Helper()
	e := kittest.New(t, email, true, admin.Register)
	p, err := e.Core.Profile(e.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Update(func(c *config.Config) error {
		c.Gateways[kittest.Rack].SessionID = 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// otherSession makes another session of email (the next id) and returns
// its token.
func otherSession(t *testing.T, e *kittest.Env, email string) string {
	t.Helper()
	tok, err := e.Sandbox.IssueSession(email, true)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// works reports whether a session token still authenticates.
func works(t *testing.T, e *kittest.Env, tok string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/api/v1/info", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func backupCode(t *testing.T, e *kittest.Env, email string, i int) string {
	t.Helper()
	codes := e.Sandbox.BackupCodes(email)
	if len(codes) <= i {
		t.Fatalf("no backup code %d", i)
	}
	return codes[i]
}

func TestSessionsMarkThisOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t, viewerEmail)
	otherSession(t, e, viewerEmail)
	r := e.MustRun("sessions")
	lines := strings.Split(strings.TrimSpace(r.Out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CURRENT  ID  CHANNEL") {
		t.Fatalf("sessions:\n%s", r.Out)
	}
	marked := map[string]bool{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if f[0] == "*" {
			marked[f[1]] = true
		}
	}
	if len(marked) != 1 || !marked["1"] {
		t.Errorf("marked %v in:\n%s", marked, r.Out)
	}
	r = e.MustRun("sessions", "--output", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.Out), &list); err != nil || len(list) != 2 {
		t.Fatalf("json: %v\n%s", err, r.Out)
	}
	for _, s := range list {
		if want := s["id"] == float64(1); s["current"] != want || s["channel"] != "cli" {
			t.Errorf("entry %v", s)
		}
	}
}

func TestSessionsRevokeOthersAndByID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, viewerEmail)
	second, third := otherSession(t, e, viewerEmail), otherSession(t, e, viewerEmail)
	// A bad id is refused before anything is sent.
	r := e.Run("sessions", "revoke", "abc")
	if r.Error == nil || r.Error.Code != ipc.CodeUsage {
		t.Fatalf("bad id: %s", r)
	}
	if r := e.Run("sessions", "revoke", "2", "--others"); r.Error == nil || r.Error.Code != ipc.CodeUsage {
		t.Fatalf("both: %s", r)
	}
	// Revoking is always-MFA: the terminal is asked for a code.
	term := &kittest.Term{Answers: []string{backupCode(t, e, viewerEmail, 0)}}
	r = e.RunWith(term, "sessions", "revoke", "2")
	if r.Error != nil || r.Out != "Revoked session 2\n" || len(r.Prompts) != 1 {
		t.Fatalf("revoke 2: %s (prompts %q)", r, r.Prompts)
	}
	if works(t, e, second) || !works(t, e, third) {
		t.Fatal("session 2 must fail and 3 still work")
	}
	r = e.MustRun("sessions", "revoke", "--others", "--mfa-code", backupCode(t, e, viewerEmail, 1))
	if r.Out != "Revoked session 3\n" || works(t, e, third) {
		t.Fatalf("--others: %s", r)
	}
	if r := e.MustRun("sessions", "revoke", "--others"); r.Out != "No other sessions\n" {
		t.Fatalf("nothing left: %s", r)
	}
}

func TestUsersCreateIsRefusedToADeployerWithoutACode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deployerEmail)
	term := &kittest.Term{Interactive: true}
	r := e.RunWith(term, "users", "create", "new@example.com", "--name", "New", "--role", "viewer")
	if r.Error == nil || r.Error.Code != ipc.CodeForbidden || r.Error.Message != "insufficient permissions" {
		t.Fatalf("deployer create: %s", r)
	}
	if len(r.Prompts) != 0 {
		t.Errorf("asked %q for a refused action", r.Prompts)
	}
	// Unknown roles and missing flags are refused before any request.
	if r := e.Run("users", "create", "new@example.com", "--name", "New", "--role", "wizard"); r.Error == nil ||
		r.Error.Code != ipc.CodeUsage || !strings.Contains(r.Error.Message, `unknown role "wizard"`) {
		t.Fatalf("unknown role: %s", r)
	}
	if r := e.Run("users", "create", "new@example.com", "--role", "viewer"); r.Error == nil || r.Error.Code != ipc.CodeUsage {
		t.Fatalf("no --name: %s", r)
	}
}

func TestUsersAdministration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, adminEmail)
	code := func(i int) string { return backupCode(t, e, adminEmail, i) }
	r := e.MustRun("users", "create", "new@example.com", "--name", "New Person", "--role", "viewer,ops", "--mfa-code", code(0))
	if r.Out != "Created user new@example.com (New Person) with roles: viewer, ops\n" {
		t.Fatalf("create: %s", r)
	}
	r = e.MustRun("users", "list")
	if !regexp.MustCompile(`(?m)^new@example\.com +New Person +viewer,ops +not enrolled +active$`).MatchString(r.Out) {
		t.Fatalf("list:\n%s", r.Out)
	}
	r = e.MustRun("users", "roles", "set", "new@example.com", "deployer", "--mfa-code", code(1))
	if r.Out != "Roles of new@example.com: deployer\n" {
		t.Fatalf("roles set: %s", r)
	}
	victim := otherSession(t, e, deployerEmail)
	r = e.MustRun("users", "lock", "deployer@example.com", "--reason", "laptop lost", "--mfa-code", code(2))
	if !strings.HasPrefix(r.Out, "Locked deployer@example.com") || works(t, e, victim) {
		t.Fatalf("lock: %s", r)
	}
	r = e.MustRun("users", "show", "deployer@example.com")
	if !regexp.MustCompile(`(?m)^Status +locked$`).MatchString(r.Out) || !regexp.MustCompile(`(?m)^Lock Reason +laptop lost$`).MatchString(r.Out) {
		t.Fatalf("show:\n%s", r.Out)
	}
	e.MustRun("users", "unlock", "deployer@example.com", "--mfa-code", code(3))
	// A typo costs no code: the user is looked up first.
	before := e.Sandbox.RequestCount(http.MethodDelete, "/api/v1/users/ghost@example.com")
	if r := e.Run("users", "delete", "ghost@example.com", "--mfa-code", code(4)); r.Error == nil || r.Error.Message != "user not found" {
		t.Fatalf("delete ghost: %s", r)
	}
	if e.Sandbox.RequestCount(http.MethodDelete, "/api/v1/users/ghost@example.com") != before {
		t.Error("the delete was sent for an unknown user")
	}
	r = e.MustRun("users", "sessions", "deployer@example.com")
	if r.Out != "No active sessions\n" {
		t.Fatalf("locked user's sessions: %s", r)
	}
}

func TestAuditLogsAndReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, adminEmail)
	e.MustRun("sessions")
	r := e.MustRun("audit-logs", "--output", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.Out)).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "first_seen" || rows[1][2] != adminEmail || rows[1][5] != "user.sessions.list" {
		t.Fatalf("csv: %v\n%s", err, r.Out)
	}
	r = e.MustRun("audit-logs", "--action-type", "users", "--since", "1h")
	if !regexp.MustCompile(`(?m)^TIME +USER +ACTION +STATUS +EVENTS +RESOURCE\n\S+ +admin@example\.com +user\.sessions\.list +success +1 +admin@example\.com$`).MatchString(r.Out) {
		t.Fatalf("table:\n%s", r.Out)
	}
	if r := e.MustRun("audit-logs", "--status", "denied"); r.Out != "No audit log entries found\n" {
		t.Fatalf("denied: %s", r)
	}
	if r := e.Run("audit-logs", "--since", "yesterday"); r.Error == nil || r.Error.Code != ipc.CodeUsage {
		t.Fatalf("bad --since: %s", r)
	}
	r = e.MustRun("roles")
	if !regexp.MustCompile(`(?m)^ROLE +LABEL +PERMISSIONS +DESCRIPTION\nviewer +Viewer +\d+ +`).MatchString(r.Out) {
		t.Fatalf("roles:\n%s", r.Out)
	}
	if r := e.MustRun("roles", "admin"); !strings.Contains(r.Out, "  - convox:*:*\n") {
		t.Fatalf("roles admin:\n%s", r.Out)
	}
	r = e.MustRun("settings")
	if !regexp.MustCompile(`(?m)^mfa_step_up_window_minutes +10 +default$`).MatchString(r.Out) {
		t.Fatalf("settings:\n%s", r.Out)
	}
	// A viewer reads the directory and roles, not the audit log.
	v := newEnv(t, viewerEmail)
	v.MustRun("users", "list")
	v.MustRun("roles")
	if r := v.Run("audit-logs"); r.Error == nil || r.Error.Message != "insufficient permissions" {
		t.Fatalf("viewer audit-logs: %s", r)
	}
}
