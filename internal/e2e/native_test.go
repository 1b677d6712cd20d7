package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Native gateway commands (api-token, deploy-approval, gateway,
// completion) run by the real binaries against private sandboxes. Each
// test stays within the sandbox's 5 TOTP-class verifications per user per
// 5 minutes.

const (
	natDeployer = "deployer@example.com"
	natViewer   = "viewer@example.com"
	natSHA      = "0123456789abcdef0123456789abcdef01234567"
)

// natBackupCode is a seeded user's i-th backup code: the sandbox derives
// them from the e-mail (internal/sandbox/backupcodes.go). Using one avoids
// waiting for a fresh TOTP step when a test needs a fourth proof.
func natBackupCode(email string, i int) string {
	sum := sha256.Sum256([]byte("rack-gateway-sandbox backup code/" + email + "/" + strconv.Itoa(i)))
	return strings.ToUpper(hex.EncodeToString(sum[:6]))
}

func natFail(t *testing.T, r result, wantErr string) {
	t.Helper()
	if r.Code == 0 {
		t.Fatalf("want a failure with %q, got success:\n%s", wantErr, r)
	}
	if !strings.Contains(r.Err, "Error: "+wantErr) {
		t.Errorf("stderr lacks %q:\n%s", "Error: "+wantErr, r)
	}
}

func TestNativeAPITokenLifecycle(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	e := newEnv(t)
	e.sb = sb
	e.login("prod", admin)

	// Creating is "always": a prompt in a terminal, even with a fresh login.
	p := e.startPTY("create", "api-token", "create", "--name", "ci-pty", "--role", "viewer")
	p.waitText("TOTP code", 10*time.Second)
	p.typeSecret(totpCodes.next(t, sb, admin))
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("create exit %d:\n%s", code, p.Output())
	}
	contains(t, "create", p.Output(), `Created token "ci-pty" (id `, "Token: rgw_")

	// --output json is the server's token + api_token.
	r := e.mustRun("api-token", "create", "--name", "ci-json", "--permission", "convox:app:list",
		"--permission", "convox:app:read", "--output", "json", "--mfa-code", totpCodes.next(t, sb, admin))
	var created map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Out), &created); err != nil {
		t.Fatalf("create --output json: %v\n%s", err, r)
	}
	if len(created) != 2 || created["token"] == nil || created["api_token"] == nil {
		t.Fatalf("want exactly token and api_token:\n%s", r.Out)
	}
	var secret string
	var tok struct {
		PublicID    string   `json:"public_id"`
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
	}
	_ = json.Unmarshal(created["token"], &secret)
	_ = json.Unmarshal(created["api_token"], &tok)
	if !strings.HasPrefix(secret, "rgw_") || tok.Name != "ci-json" || tok.PublicID == "" ||
		strings.Join(tok.Permissions, ",") != "convox:app:list,convox:app:read" {
		t.Errorf("unexpected token: %q %+v", secret, tok)
	}

	// --output token prints only the secret, for scripts.
	r = e.mustRun("api-token", "create", "--name", "ci-secret", "--role", "cicd", "--output", "token",
		"--mfa-code", totpCodes.next(t, sb, admin))
	if !regexp.MustCompile(`^rgw_\S+\n$`).MatchString(r.Out) {
		t.Errorf("--output token: %q", r.Out)
	}

	r = e.mustRun("api-token", "list")
	contains(t, "list", r.Out, "UUID", "NAME", "OWNER", "LAST USED", "ci-pty", "ci-json", "ci-secret", tok.PublicID, admin)
	r = e.mustRun("api-token", "list", "--output", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.Out), &list); err != nil || len(list) != 3 {
		t.Fatalf("list --output json: %v (%d)\n%s", err, len(list), r.Out)
	}

	r = e.mustRun("api-token", "get", tok.PublicID)
	contains(t, "get", r.Out, "Public ID: "+tok.PublicID, "Name: ci-json", "Expires At: never",
		"Permissions:\n  - convox:app:list\n  - convox:app:read\n")
	r = e.mustRun("api-token", "get", tok.PublicID, "--output", "json")
	if !strings.Contains(r.Out, `"public_id": "`+tok.PublicID+`"`) {
		t.Errorf("get --output json:\n%s", r.Out)
	}

	// A malformed role is refused client-side from the server's role list,
	// before any proof is spent.
	natFail(t, e.run("api-token", "create", "--name", "x", "--role", "nope"), `unknown role "nope"`)

	r = e.mustRun("api-token", "delete", tok.PublicID, "--mfa-code", natBackupCode(admin, 0))
	if r.Out != "Deleted token "+tok.PublicID+"\n" {
		t.Errorf("delete: %q", r.Out)
	}
	natFail(t, e.run("api-token", "get", tok.PublicID), "token not found")
	if n := sb.replays(t); n != 0 {
		t.Errorf("%d TOTP replays", n)
	}
}

// TestNativeCIDeployApprovalFlow is the CI story: an admin makes a cicd
// token; CI, holding only that token, asks for approval and waits; the
// admin approves with a code; CI sees it approved.
func TestNativeCIDeployApprovalFlow(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	adm := newEnv(t)
	adm.sb = sb
	adm.login("prod", admin)
	r := adm.mustRun("api-token", "create", "--name", "circleci", "--role", "cicd", "--output", "token",
		"--mfa-code", totpCodes.next(t, sb, admin))
	secret := strings.TrimSpace(r.Out)
	r = adm.mustRun("api-token", "list", "--output", "json")
	var toks []struct {
		PublicID    string   `json:"public_id"`
		Permissions []string `json:"permissions"`
	}
	if err := json.Unmarshal([]byte(r.Out), &toks); err != nil || len(toks) != 1 {
		t.Fatalf("token list: %v\n%s", err, r.Out)
	}
	if !strings.Contains(strings.Join(toks[0].Permissions, " "), "convox:deploy:deploy_with_approval") {
		t.Errorf("cicd token lacks deploy_with_approval: %v", toks[0].Permissions)
	}

	// CI: API-token mode, no config, no login.
	ci := newEnv(t)
	ci.sb = sb
	ci.set("RACK_GATEWAY_API_TOKEN", secret)
	ci.set("RACK_GATEWAY_URL", sb.URL)
	ci.set("RACK_GATEWAY_RACK", "prod")
	req := []string{"deploy-approval", "request", "--app", "demo", "--message", "Deploy demo 0123456 to prod",
		"--git-commit", natSHA, "--branch", "main", "--ci-metadata", `{"workflow_id":"wf-1"}`}
	r = ci.mustRun(req...)
	m := regexp.MustCompile(`^Deploy approval request ([0-9a-f-]{36}) created \(status: pending\)\n$`).FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("request output: %s", r)
	}
	id := m[1]

	// The same request again, waiting: the server's 409 hands back the open
	// request, which CI then waits on.
	var wg sync.WaitGroup
	var waited result
	wg.Add(1)
	go func() {
		defer wg.Done()
		waited = ci.run(append(req, "--wait", "--poll-interval", "100ms", "--timeout", "25s")...)
	}()

	// The admin sees it pending and approves it with a code.
	waitFor(t, "the pending request", 10*time.Second, func() bool {
		return strings.Contains(adm.mustRun("deploy-approval", "list", "--status", "pending").Out, id)
	})
	r = adm.mustRun("deploy-approval", "show", id)
	contains(t, "show", r.Out, "ID:       "+id, "Status:   pending", "App:      demo", "Commit:   "+natSHA, "Branch:   main", "Token:    circleci")
	natFail(t, ci.run("deploy-approval", "approve", id), "API tokens can't approve deploy requests")
	r = adm.mustRun("deploy-approval", "approve", id, "--notes", "ship it", "--mfa-code", totpCodes.next(t, sb, admin))
	contains(t, "approve", r.Out, "✅ Deploy approval request "+id+" approved (expires at ")

	wg.Wait()
	if waited.Code != 0 {
		t.Fatalf("request --wait: %s", waited)
	}
	contains(t, "request --wait", waited.Out, "Deploy approval request "+id+" already exists for demo (status: pending)",
		"Waiting for approval (status: pending)", "Deploy approval request "+id+" approved.")

	// The token's own view of its request.
	r = ci.mustRun("deploy-approval", "show", id, "--output", "json")
	var got struct {
		Status        string         `json:"status"`
		ApprovalNotes string         `json:"approval_notes"`
		CIMetadata    map[string]any `json:"ci_metadata"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil {
		t.Fatalf("show --output json: %v\n%s", err, r.Out)
	}
	if got.Status != "approved" || got.ApprovalNotes != "ship it" || got.CIMetadata["workflow_id"] != "wf-1" {
		t.Errorf("CI sees %+v", got)
	}
	r = ci.mustRun("deploy-approval", "show", id)
	contains(t, "ci show", r.Out, "Status:   approved", "Notes:    ship it", "Approved: ", "Expires:  ")

	r = adm.mustRun("deploy-approval", "list", "--output", "json")
	var listed struct {
		Requests []struct {
			PublicID string `json:"public_id"`
			Status   string `json:"status"`
		} `json:"deploy_approval_requests"`
	}
	if err := json.Unmarshal([]byte(r.Out), &listed); err != nil || len(listed.Requests) != 1 || listed.Requests[0].Status != "approved" {
		t.Errorf("list --output json: %v\n%s", err, r.Out)
	}
	r = adm.mustRun("deploy-approval", "list")
	contains(t, "list", r.Out, "ID", "STATUS", "MESSAGE", id, "approved", "0123456", "Deploy demo 0123456 to prod")
	// Searching by commit finds the approved request; approving it again
	// is a no-op that needs no proof.
	r = adm.mustRun("deploy-approval", "approve", "--app", "demo", "--commit", natSHA[:7])
	contains(t, "approve by search", r.Out, "ID:       "+id, "All requests are already approved.")
	r = adm.mustRun("deploy-approval", "wait", "--app", "demo", "--commit", natSHA[:7], "--timeout", "5s")
	contains(t, "wait", r.Out, "Waiting for pending deploy approval requests on rack prod (apps=demo commit=0123456)",
		"✓ Already approved on rack prod: "+id+" (demo)")

	// wait --approve: CI asks for a second commit; the admin's waiter finds
	// it and approves it with one proof.
	sha2 := strings.Repeat("b", 40)
	ci.mustRun("deploy-approval", "request", "--app", "demo", "--message", "second", "--git-commit", sha2)
	r = adm.mustRun("deploy-approval", "wait", "--approve", "--app", "demo", "--commit", sha2[:7],
		"--poll-interval", "100ms", "--timeout", "10s", "--mfa-code", totpCodes.next(t, sb, admin))
	contains(t, "wait --approve", r.Out, "📋 Deploy Approval Request Found:", "  Message: second", "  Token: circleci",
		") approved (expires at ", "\nApproved:\n  prod  demo  ")
	if n := sb.replays(t); n != 0 {
		t.Errorf("%d TOTP replays", n)
	}
}

// TestNativeRolesAndErrors checks that each role meets the server's own
// refusal, shown in the server's words.
func TestNativeRolesAndErrors(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	viewer := newEnv(t)
	viewer.sb = sb
	viewer.login("prod", natViewer)
	deployer := newEnv(t)
	deployer.sb = sb
	deployer.login("prod", natDeployer)

	for _, e := range []*env{viewer, deployer} {
		natFail(t, e.run("deploy-approval", "list"), "insufficient permissions")
	}
	req := []string{"deploy-approval", "request", "--app", "demo", "--message", "m", "--git-commit", natSHA}
	natFail(t, viewer.run(req...), "you do not have permission to request a deploy approval")
	// The deployer may request, but a session must name the target token.
	natFail(t, deployer.run(req...), "target_api_token_id or target_api_token is required")
	natFail(t, deployer.run(append(req, "--target-api-token-id", "00000000-0000-0000-0000-000000000000")...), "api token not found")
	natFail(t, deployer.run("deploy-approval", "show", "not-a-uuid"), "invalid deploy approval request ID format: must be a valid UUID")
	natFail(t, deployer.run("deploy-approval", "request", "--app", "demo", "--git-commit", natSHA), "--message is required")

	r := viewer.mustRun("gateway")
	contains(t, "gateway", r.Out, "Gateway URL:     "+sb.URL+"\n", "Rack Name:       ", "Logged in as:    "+natViewer+"\n", "Roles:           viewer")
	r = deployer.mustRun("gateway")
	contains(t, "gateway", r.Out, "Logged in as:    "+natDeployer+"\n", "Roles:           deployer")
}

func TestNativeCompletionAndWeb(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.mustRun("completion", "bash")
	// The scripts list nothing: each TAB asks the program (completion_test.go).
	contains(t, "completion bash", r.Out, "complete -F _rack_gateway rack-gateway", " __complete ")
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", "-c", r.Out).CombinedOutput(); err != nil {
			t.Errorf("bash -n: %v\n%s", err, out)
		}
	}
	for _, sh := range []string{"zsh", "fish", "powershell"} {
		r := e.mustRun("completion", sh)
		contains(t, "completion "+sh, r.Out, "rack-gateway", " __complete ")
	}
	natFail(t, e.run("completion", "tcsh"), `unsupported shell "tcsh"`)

	// web needs no session, only the rack's URL; BROWSER=true plays the
	// browser.
	e.set("RACK_GATEWAY_URL", sandboxURL)
	r = e.mustRun("web")
	contains(t, "web", r.Out, "Opening "+sandboxURL+"/app in your browser...")
}
