package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// The administration commands with the real binaries: sessions, users and
// the audit log (docs/gateway-protocol.md, "Sessions and administration").

// currentSession is the id `sessions --output json` marks current in e.
func currentSession(t *testing.T, e *env) (int64, []int64) {
	t.Helper()
	r := e.mustRun("sessions", "--output", "json")
	var list []struct {
		ID      int64 `json:"id"`
		Current bool  `json:"current"`
	}
	if err := json.Unmarshal([]byte(r.Out), &list); err != nil {
		t.Fatalf("sessions --output json: %v\n%s", err, r)
	}
	var cur int64
	var all []int64
	for _, s := range list {
		all = append(all, s.ID)
		if s.Current {
			if cur != 0 {
				t.Fatalf("two sessions marked current:\n%s", r.Out)
			}
			cur = s.ID
		}
	}
	if cur == 0 {
		t.Fatalf("no session marked current:\n%s", r.Out)
	}
	return cur, all
}

// One person logged in twice: each terminal's `sessions` marks its own
// session, and revoking the other one makes that login's token fail at
// its next request.
func TestAdminSessionsRevokeAnother(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	laptop, desktop := newEnv(t), newEnv(t)
	laptop.sb, desktop.sb = sb, sb
	laptop.login("prod", natViewer)
	desktop.login("prod", natViewer)

	mine, all := currentSession(t, desktop)
	theirs, _ := currentSession(t, laptop)
	if mine == theirs || len(all) != 2 {
		t.Fatalf("desktop %d, laptop %d, sessions %v", mine, theirs, all)
	}
	// The table marks the same one with *.
	r := desktop.mustRun("sessions")
	row := regexp.MustCompile(`(?m)^\*\s+(\d+)\s+cli\s`).FindStringSubmatch(r.Out)
	if row == nil || row[1] != strconv.FormatInt(mine, 10) || strings.Count(r.Out, "*") != 1 {
		t.Fatalf("sessions table marks the wrong row (want %d):\n%s", mine, r.Out)
	}

	laptop.mustRun("sessions") // works before
	r = desktop.mustRun("sessions", "revoke", strconv.FormatInt(theirs, 10), "--mfa-code", totpCodes.next(t, sb, natViewer))
	if want := "Revoked session " + strconv.FormatInt(theirs, 10) + "\n"; r.Out != want {
		t.Fatalf("revoke: want %q: %s", want, r)
	}
	r = laptop.run("sessions")
	if r.Code != ipc.ExitStatus(ipc.CodeSessionExpired) {
		t.Fatalf("the revoked login still works or fails oddly: %s", r)
	}
	contains(t, "revoked login's stderr", r.Err, "session revoked", "rack-gateway login prod")
	// The revoking terminal is unaffected and now alone.
	if _, all := currentSession(t, desktop); len(all) != 1 {
		t.Errorf("sessions after the revoke: %v", all)
	}
}

// A deployer's `users create` is the gateway's permission text, with no
// MFA prompt and nothing created.
func TestAdminDeployerCannotCreateUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.login("prod", natDeployer)
	r := e.run("users", "create", "intruder@example.com", "--name", "Intruder", "--role", "admin")
	if r.Code != ipc.ExitStatus(ipc.CodeForbidden) || !strings.Contains(r.Err, "Error: insufficient permissions\n") {
		t.Fatalf("deployer users create: %s", r)
	}
	if strings.Contains(strings.ToLower(r.Err), "code") {
		t.Errorf("an MFA code was asked for a refused action:\n%s", r.Err)
	}
	if r := e.run("users", "show", "intruder@example.com"); !strings.Contains(r.Err, "insufficient permissions") {
		t.Errorf("users show of another user as a deployer: %s", r)
	}
}

// audit-logs --output csv has the gateway's export columns; --follow
// prints an entry made after it started, and Ctrl-C ends it with exit 0.
func TestAdminAuditLogsCSVAndFollow(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	e.login("prod", admin)
	e.mustRun("sessions") // an entry: user.sessions.list of admin@

	r := e.mustRun("audit-logs", "--output", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.Out)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %v\n%s", err, r)
	}
	if got := strings.Join(rows[0], ","); got != "first_seen,last_seen,user_email,user_name,action_type,action,command,resource,status,event_count,min_response_ms,max_response_ms,avg_response_ms,ip_address,user_agent" {
		t.Fatalf("csv header %q", got)
	}
	if rows[1][2] != admin || rows[1][5] != "user.sessions.list" || rows[1][7] != admin || rows[1][8] != "success" {
		t.Fatalf("csv row %q", rows[1])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := e.cmd(ctx, "audit-logs", "--follow", "--poll-interval", "50ms", "--action-type", "users")
	out, _, wait := e.start(c)
	waitFor(t, "the existing entry", 15*time.Second, func() bool { return strings.Contains(out.String(), "user.sessions.list") })
	e.mustRun("users", "sessions", natViewer) // a new entry, made while following
	newLine := regexp.MustCompile(`(?m)^\S+\s+admin@example\.com\s+user\.sessions\.list\s+success\s+1\s+viewer@example\.com$`)
	waitFor(t, "the new entry in the followed log", 15*time.Second, func() bool { return newLine.MatchString(out.String()) })
	if err := c.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	res := wait()
	if res.Code != 0 {
		t.Fatalf("Ctrl-C should end --follow with exit 0: %s", res)
	}
	lines := strings.Split(strings.TrimSpace(res.Out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME ") {
		t.Fatalf("followed log: header, the old entry and the new one, each once:\n%s", res.Out)
	}
}
