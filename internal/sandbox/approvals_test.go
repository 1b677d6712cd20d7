package sandbox

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

const approvalSHA = "5f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"

func (e *env) createApproval(tok, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/api/v1/deploy-approval-requests", body: body, header: bearer(tok)})
}

// approve approves id as a verified admin session with a fresh TOTP proof
// ("always" MFA), moving the clock a step so each call has a new code.
func (e *env) approve(admin, id string) map[string]any {
	e.t.Helper()
	e.clock.Advance(30 * time.Second)
	rec := e.do(req{method: "POST", path: "/api/v1/deploy-approval-requests/" + id + "/approve", body: `{"notes":"ship it"}`,
		header: withHeader(admin, "X-Mfa-Totp", e.code("admin@example.com"))})
	wantStatus(e.t, rec, 200)
	return decode(e.t, rec.Body.Bytes())
}

func TestDeployApprovalGatingForCICDToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ci, _ := e.s.IssueAPIToken("deployer@example.com", "ci", rolePerms["cicd"]...)
	admin := e.session("admin@example.com", true)
	upload := func() *httptest.ResponseRecorder { return e.proxy("POST", "/apps/demo/objects/tmp/src.tgz", ci, nil) }

	// No approval: gated actions are refused with the usual texts.
	wantText(t, upload(), 403, "permission denied")
	wantStatus(t, e.proxy("GET", "/apps/demo", ci, nil), 200) // ungated: cicd has app:read

	body := `{"message":"deploy demo","app":"demo","git_commit_hash":"` + approvalSHA + `","git_branch":"main","ci_metadata":{"job":7}}`
	rec := e.createApproval(ci, body)
	wantStatus(t, rec, 201)
	d := decode(t, rec.Body.Bytes())
	id := d["public_id"].(string)
	if d["status"] != "pending" || d["created_by_api_token_name"] != "ci" || d["target_api_token_name"] != "ci" || d["app"] != "demo" {
		t.Fatalf("created %v", d)
	}
	rec = e.createApproval(ci, body)
	if wantStatus(t, rec, 409); decode(t, rec.Body.Bytes())["public_id"] != id {
		t.Fatalf("conflict body %s", rec.Body.String())
	}
	wantJSONError(t, e.createApproval(ci, `{"message":"m","app":"nope","git_commit_hash":"x"}`), 404, "app 'nope' not found")
	wantJSONError(t, e.createApproval(ci, `{"app":"demo","git_commit_hash":"x"}`), 400, "message is required")
	wantJSONError(t, e.createApproval(admin, `{"message":"m","app":"demo","git_commit_hash":"x"}`), 400, "target_api_token_id or target_api_token is required")
	wantText(t, upload(), 403, "permission denied") // still pending

	// Approving is "always" MFA and for approvers only.
	approvePath := "/api/v1/deploy-approval-requests/" + id + "/approve"
	wantJSONError(t, e.do(req{method: "POST", path: approvePath, header: bearer(admin)}), 401, "mfa_required")
	deployer := e.session("deployer@example.com", true)
	e.clock.Advance(30 * time.Second)
	wantJSONError(t, e.do(req{method: "POST", path: approvePath, header: withHeader(deployer, "X-Mfa-Totp", e.code("deployer@example.com"))}), 403, "insufficient permissions")
	d = e.approve(admin, id)
	if d["status"] != "approved" || d["approved_by_email"] != "admin@example.com" || d["approval_notes"] != "ship it" ||
		d["approval_expires_at"] != e.clock.Now().Add(15*time.Minute).Format(time.RFC3339) {
		t.Fatalf("approved %v", d)
	}

	// One upload and one build per approval, matched by commit.
	rec = upload()
	wantStatus(t, rec, 200)
	objURL := decode(t, rec.Body.Bytes())["url"].(string)
	wantText(t, upload(), 409, "an archive has already been uploaded for this deploy approval request")
	build := func(sha string) *httptest.ResponseRecorder {
		return e.proxy("POST", "/apps/demo/builds", ci, url.Values{"url": {objURL}, "git-sha": {sha}})
	}
	wantJSONError(t, build("deadbeef"), 500, "deployment approval required for git commit deadbeef")
	rec = build(approvalSHA)
	wantStatus(t, rec, 200)
	buildID := decode(t, rec.Body.Bytes())["id"].(string)
	wantText(t, build(approvalSHA[:12]), 409, "a build has already been created for this deploy approval request")

	// Reads follow the approval's build and release.
	wantText(t, e.proxy("GET", "/apps/demo/builds/"+convoxfake.SeedBuildID, ci, nil), 403, "permission denied")
	e.proxy("GET", "/apps/demo/builds/"+buildID, ci, nil)
	b := decode(t, e.proxy("GET", "/apps/demo/builds/"+buildID, ci, nil).Body.Bytes())
	relID := b["release"].(string)
	if b["status"] != "complete" || relID == "" {
		t.Fatalf("build %v", b)
	}
	rel := decode(t, e.proxy("GET", "/apps/demo/releases/"+relID, ci, nil).Body.Bytes())
	if strings.Contains(rel["env"].(string), "=bar") {
		t.Fatalf("a token without env:read saw values: %v", rel["env"])
	}
	wantText(t, e.proxy("GET", "/apps/demo/releases/"+convoxfake.SeedReleaseID, ci, nil), 403, "permission denied")

	// Processes: sleep 3600 or an app-approved command, on the release.
	wantText(t, e.proxy("POST", "/apps/demo/services/web/processes", ci, nil, "Command", "sleep 3600"), 403, "You don't have permission to run processes.")
	wantJSONError(t, e.proxy("POST", "/apps/demo/services/web/processes", ci, nil, "Command", "rm -rf /", "Release", relID), 500, "command not approved: rm -rf /")
	rec = e.proxy("POST", "/apps/demo/services/web/processes", ci, nil, "Command", "bin/migrate", "Release", relID)
	wantStatus(t, rec, 200)
	pid := decode(t, rec.Body.Bytes())["id"].(string)
	wantText(t, e.proxy("DELETE", "/apps/demo/processes/"+convoxfake.SeedWebPID, ci, nil), 403, "You don't have permission to stop processes.")
	wantText(t, e.proxy("DELETE", "/apps/demo/processes/"+pid, ci, nil), 200, "ok\n")

	// Promote marks the approval deployed; a second promote conflicts.
	promote := "/apps/demo/releases/" + relID + "/promote"
	wantText(t, e.proxy("POST", promote, ci, nil), 200, "ok\n")
	wantText(t, e.proxy("POST", promote, ci, nil), 409, "this deploy approval request has already been deployed")
	rec = e.do(req{method: "GET", path: "/api/v1/deploy-approval-requests/" + id, header: bearer(ci)})
	wantStatus(t, rec, 200)
	d = decode(t, rec.Body.Bytes())
	if d["status"] != "deployed" || d["object_url"] != objURL || d["build_id"] != buildID || d["release_id"] != relID ||
		len(d["process_ids"].([]any)) != 1 || d["release_promoted_by_api_token_id"] == nil {
		t.Fatalf("deployed approval %v", d)
	}

	// Listing is for approvers; filters apply.
	wantJSONError(t, e.do(req{method: "GET", path: "/api/v1/deploy-approval-requests", header: bearer(deployer)}), 403, "insufficient permissions")
	rec = e.do(req{method: "GET", path: "/api/v1/deploy-approval-requests?status=deployed&git_commit=" + approvalSHA[:7], header: bearer(admin)})
	if list := decode(t, rec.Body.Bytes())["deploy_approval_requests"].([]any); len(list) != 1 {
		t.Fatalf("list %s", rec.Body.String())
	}
	rec = e.do(req{method: "GET", path: "/api/v1/deploy-approval-requests?only_open=true", header: bearer(admin)})
	if list := decode(t, rec.Body.Bytes())["deploy_approval_requests"].([]any); len(list) != 0 {
		t.Fatalf("open list %s", rec.Body.String())
	}
}

func TestDeployApprovalExpiryRejectAndToggle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ci, _ := e.s.IssueAPIToken("deployer@example.com", "ci", rolePerms["cicd"]...)
	admin := e.session("admin@example.com", true)
	upload := func() *httptest.ResponseRecorder { return e.proxy("POST", "/apps/demo/objects/tmp/a.tgz", ci, nil) }
	rec := e.createApproval(ci, `{"message":"m","app":"demo","git_commit_hash":"`+approvalSHA+`"}`)
	id := decode(t, rec.Body.Bytes())["public_id"].(string)
	e.approve(admin, id)
	e.clock.Advance(15*time.Minute + time.Second)
	wantText(t, upload(), 403, "permission denied")
	rec = e.do(req{method: "GET", path: "/api/v1/deploy-approval-requests/" + id, header: bearer(admin)})
	if decode(t, rec.Body.Bytes())["status"] != "expired" {
		t.Fatalf("expired %s", rec.Body.String())
	}
	// An expired request is no longer open, so the commit can be asked again.
	rec = e.createApproval(ci, `{"message":"again","app":"demo","git_commit_hash":"`+approvalSHA+`"}`)
	wantStatus(t, rec, 201)
	id2 := decode(t, rec.Body.Bytes())["public_id"].(string)
	e.clock.Advance(30 * time.Second)
	rec = e.do(req{method: "POST", path: "/api/v1/deploy-approval-requests/" + id2 + "/reject",
		header: withHeader(admin, "X-Mfa-Totp", e.code("admin@example.com"))})
	if wantStatus(t, rec, 200); decode(t, rec.Body.Bytes())["status"] != "rejected" {
		t.Fatalf("reject %s", rec.Body.String())
	}
	e.clock.Advance(30 * time.Second)
	rec = e.do(req{method: "POST", path: "/api/v1/deploy-approval-requests/" + id2 + "/approve",
		header: withHeader(admin, "X-Mfa-Totp", e.code("admin@example.com"))})
	wantJSONError(t, rec, 404, "deploy approval request not found")

	// With approvals disabled the gated actions are simply allowed.
	rec = e.do(req{method: "PUT", path: "/_sandbox/deploy-approvals", body: `{"enabled":false}`, remote: "127.0.0.1:1"})
	if decode(t, rec.Body.Bytes())["enabled"] != false {
		t.Fatalf("knob %s", rec.Body.String())
	}
	wantStatus(t, upload(), 200)
	wantJSONError(t, e.createApproval(ci, `{"message":"m","app":"demo","git_commit_hash":"x"}`), 404, "deploy approvals feature is disabled")
	// Tokens without deploy_with_approval never reach the gate.
	plain, _ := e.s.IssueAPIToken("deployer@example.com", "plain", "convox:app:read")
	wantText(t, e.proxy("POST", "/apps/demo/objects/tmp/a.tgz", plain, nil), 403, "permission denied")
}
