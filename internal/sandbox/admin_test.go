package sandbox

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	adminEmail    = "admin@example.com"
	deployerEmail = "deployer@example.com"
	viewerEmail   = "viewer@example.com"
)

// withCode adds a TOTP proof of email to a session's headers. The clock
// moves a minute first: no two proofs share a step, and five fit in the
// attempt limit's five minutes.
func (e *env) withCode(tok, email string) map[string]string {
	e.clock.Advance(61 * time.Second)
	h := bearer(tok)
	h["X-Mfa-Totp"] = e.code(email)
	return h
}

func sessionIDs(t *testing.T, body []byte) []int64 {
	t.Helper()
	var list []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("sessions %q: %v", body, err)
	}
	var ids []int64
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestAdminRefusalsComeBeforeMFA(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dep := e.session(deployerEmail, true)
	body := `{"email":"new@example.com","name":"New","roles":["viewer"]}`
	// No proof, no code asked: the permission is checked first.
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/users", body: body, header: bearer(dep)}),
		http.StatusForbidden, msgInsufficientPermissions)
	// With a proof the answer is the same and the code is not spent.
	h := e.withCode(dep, deployerEmail)
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/users", body: body, header: h}),
		http.StatusForbidden, msgInsufficientPermissions)
	if n := len(e.user(deployerEmail).attempts); n != 0 {
		t.Errorf("%d MFA attempts recorded for a refused request", n)
	}
	tok, err := e.s.IssueAPIToken(adminEmail, "ci", "convox:*:*", "gateway:*:*")
	if err != nil {
		t.Fatal(err)
	}
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/users", header: bearer(tok)}),
		http.StatusForbidden, msgTokensRefused)
	// Viewers see the team directory and their own sessions, not others'.
	view := e.session(viewerEmail, true)
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/users", header: bearer(view)}), http.StatusOK)
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/users/viewer@example.com/sessions", header: bearer(view)}), http.StatusOK)
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/users/admin@example.com/sessions", header: bearer(view)}),
		http.StatusForbidden, msgInsufficientPermissions)
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/audit-logs", header: bearer(view)}),
		http.StatusForbidden, msgInsufficientPermissions)
}

func TestAdminUserLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adm := e.session(adminEmail, true)
	body := `{"email":"new@example.com","name":"New Person","roles":["viewer"]}`
	rec := e.do(req{method: "POST", path: "/api/v1/users", body: body, header: bearer(adm)})
	wantJSONError(t, rec, http.StatusUnauthorized, "mfa_required")
	if rec.Header().Get("X-MFA-Required") != "always" {
		t.Fatalf("X-MFA-Required = %q", rec.Header().Get("X-MFA-Required"))
	}
	rec = e.do(req{method: "POST", path: "/api/v1/users", body: body, header: e.withCode(adm, adminEmail)})
	wantStatus(t, rec, http.StatusCreated)
	if got := decode(t, rec.Body.Bytes())["created_by_email"]; got != adminEmail {
		t.Errorf("created_by_email = %v", got)
	}
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/users", body: body, header: e.withCode(adm, adminEmail)}),
		http.StatusConflict, "user already exists")
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/users", header: e.withCode(adm, adminEmail),
		body: `{"email":"x@example.com","name":"X","roles":["cicd"]}`}), http.StatusBadRequest, "invalid role: cicd")

	rec = e.do(req{method: "PUT", path: "/api/v1/users/new@example.com", body: `{"roles":["deployer","ops"]}`,
		header: e.withCode(adm, adminEmail)})
	wantStatus(t, rec, http.StatusOK)
	if got := fmt.Sprint(decode(t, rec.Body.Bytes())["roles"]); got != "[deployer ops]" {
		t.Errorf("roles = %s", got)
	}
	wantJSONError(t, e.do(req{method: "PUT", path: "/api/v1/users/admin@example.com", body: `{"roles":["viewer"]}`,
		header: e.withCode(adm, adminEmail)}), http.StatusBadRequest, "cannot change your own roles")

	// Locking revokes the user's sessions; unlocking does not bring them back.
	victim := e.session(deployerEmail, true)
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/users/deployer@example.com/lock", body: `{}`,
		header: e.withCode(adm, adminEmail)}), http.StatusBadRequest, "invalid request")
	wantStatus(t, e.do(req{method: "POST", path: "/api/v1/users/deployer@example.com/lock", body: `{"reason":"away"}`,
		header: e.withCode(adm, adminEmail)}), http.StatusOK)
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(victim)}),
		http.StatusUnauthorized, "authentication failed: session revoked")
	rec = e.do(req{method: "GET", path: "/api/v1/users/deployer@example.com", header: bearer(adm)})
	if m := decode(t, rec.Body.Bytes()); m["locked_reason"] != "away" || m["locked_by_email"] != adminEmail {
		t.Errorf("locked user: %v", m)
	}
	wantStatus(t, e.do(req{method: "POST", path: "/api/v1/users/deployer@example.com/unlock",
		header: e.withCode(adm, adminEmail)}), http.StatusOK)
	if e.user(deployerEmail).lockedAt != nil {
		t.Error("still locked")
	}

	wantJSONError(t, e.do(req{method: "DELETE", path: "/api/v1/users/admin@example.com", header: e.withCode(adm, adminEmail)}),
		http.StatusBadRequest, "cannot delete yourself")
	wantStatus(t, e.do(req{method: "DELETE", path: "/api/v1/users/new@example.com", header: e.withCode(adm, adminEmail)}),
		http.StatusNoContent)
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/users/new@example.com", header: bearer(adm)}),
		http.StatusNotFound, "user not found")
}

func TestAdminSessionRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mine := e.session(viewerEmail, true)
	other := e.session(viewerEmail, true)
	adm := e.session(adminEmail, true)
	rec := e.do(req{method: "GET", path: "/api/v1/users/viewer@example.com/sessions", header: bearer(mine)})
	wantStatus(t, rec, http.StatusOK)
	ids := sessionIDs(t, rec.Body.Bytes())
	if len(ids) != 2 {
		t.Fatalf("sessions %v", ids)
	}
	var m []map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	if meta, _ := m[0]["metadata"].(map[string]any); meta["login_flow"] != "cli" || m[0]["channel"] != "cli" {
		t.Errorf("session view %v", m[0])
	}
	// The admin's session, named through the viewer's account, is not found.
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/users/viewer@example.com/sessions/3/revoke",
		header: e.withCode(mine, viewerEmail)}), http.StatusNotFound, "session not found")
	wantJSONError(t, e.do(req{method: "POST", path: "/api/v1/users/viewer@example.com/sessions/abc/revoke",
		header: e.withCode(mine, viewerEmail)}), http.StatusBadRequest, "invalid session id")
	// The second session (id 2) goes; its token fails from the next request.
	rec = e.do(req{method: "POST", path: "/api/v1/users/viewer@example.com/sessions/2/revoke",
		header: e.withCode(mine, viewerEmail)})
	wantStatus(t, rec, http.StatusOK)
	if decode(t, rec.Body.Bytes())["revoked"] != true {
		t.Errorf("revoke answered %s", rec.Body.String())
	}
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(other)}),
		http.StatusUnauthorized, "authentication failed: session revoked")
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(mine)}), http.StatusOK)
	rec = e.do(req{method: "POST", path: "/api/v1/users/viewer@example.com/sessions/revoke_all",
		header: e.withCode(adm, adminEmail)})
	wantStatus(t, rec, http.StatusOK)
	if n := decode(t, rec.Body.Bytes())["revoked_count"]; n != float64(1) {
		t.Errorf("revoked_count = %v", n)
	}
	wantStatus(t, e.do(req{method: "GET", path: "/api/v1/info", header: bearer(mine)}), http.StatusUnauthorized)
}

func TestAdminAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adm := e.session(adminEmail, true)
	for i := 0; i < 2; i++ {
		wantStatus(t, e.do(req{method: "GET", path: "/api/v1/users/admin@example.com/sessions", header: bearer(adm)}), http.StatusOK)
	}
	wantStatus(t, e.do(req{method: "POST", path: "/api/v1/users/ghost@example.com/lock", body: `{"reason":"x"}`,
		header: e.withCode(adm, adminEmail)}), http.StatusNotFound)
	rec := e.do(req{method: "GET", path: "/api/v1/audit-logs?limit=2", header: bearer(adm)})
	wantStatus(t, rec, http.StatusOK)
	var page struct {
		Logs               []auditRow `json:"logs"`
		Total, Page, Limit int
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	// Listing is not recorded; newest first.
	if page.Total != 3 || len(page.Logs) != 2 || page.Logs[0].Action != "user.lock" || page.Logs[0].Status != "error" {
		t.Fatalf("page %+v", page)
	}
	rec = e.do(req{method: "GET", path: "/api/v1/audit-logs?status=success&action_type=users", header: bearer(adm)})
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Total != 2 {
		t.Fatalf("filtered: %s", rec.Body.String())
	}
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/audit-logs?start=yesterday", header: bearer(adm)}),
		http.StatusBadRequest, "invalid start time")
	future := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	rec = e.do(req{method: "GET", path: "/api/v1/audit-logs?start=" + future, header: bearer(adm)})
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Total != 0 {
		t.Fatalf("since the future: %s", rec.Body.String())
	}
	rec = e.do(req{method: "GET", path: "/api/v1/audit-logs/export", header: bearer(adm)})
	wantStatus(t, rec, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil || len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(auditCSVHeader, ",") {
		t.Fatalf("export %q: %v", rec.Body.String(), err)
	}
}
