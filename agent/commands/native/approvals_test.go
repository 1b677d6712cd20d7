package native_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

var requestedRE = regexp.MustCompile(`^Deploy approval request ([0-9a-f-]{36}) created \(status: pending\)\n$`)

// asToken prefixes argv with --api-token tok: a CI job's command line.
func asToken(tok string, argv ...string) []string {
	return append([]string{"--api-token", tok}, argv...)
}

// request asks for an approval of commit for app demo as the CI token and
// returns the new request's id.
func request(t *testing.T, e *kittest.Env, tok, commit string, more ...string) string {
	t.Helper()
	argv := asToken(tok, append([]string{"deploy-approval", "request", "--app", "demo", "--message", "Deploy " + commit[:7], "--git-commit", commit}, more...)...)
	r := e.MustRun(argv...)
	m := requestedRE.FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("request output: %s", r)
	}
	return m[1]
}

// CI asks; asking again for the same commit hands back the open request;
// an approver lists and shows it, by id and by search.
func TestApprovalRequestListShow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	tok := ciToken(t, e)
	id := request(t, e, tok, sha, "--branch", "main", "--ci-metadata", `{"workflow_id":"wf-1"}`)
	r := e.MustRun(asToken(tok, "deploy-approval", "request", "-a", "demo", "--message", "again", "--git-commit", sha)...)
	if r.Out != "Deploy approval request "+id+" already exists for demo (status: pending)\n" {
		t.Errorf("second request: %q", r.Out)
	}

	r = e.MustRun("deploy-approval", "list", "--status", "pending")
	lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasSuffix(lines[0], "MESSAGE") ||
		!strings.HasPrefix(lines[1], id+"  pending") || !strings.Contains(lines[1], " 0123456 ") ||
		!strings.Contains(lines[1], "circleci") || !strings.HasSuffix(lines[1], "Deploy 0123456") {
		t.Errorf("list:\n%s", r.Out)
	}
	for _, argv := range [][]string{{"-s", "approved"}, {"-a", "other"}, {"--commit", "fff"}} {
		if r := e.MustRun(append([]string{"deploy-approval", "list"}, argv...)...); r.Out != "No deploy approval requests found.\n" {
			t.Errorf("list %v: %q", argv, r.Out)
		}
	}
	for _, argv := range [][]string{{"--open"}, {"-l", "1"}, {"--app", " demo ", "--commit", "0123"}} {
		if r := e.MustRun(append([]string{"deploy-approval", "list"}, argv...)...); !strings.Contains(r.Out, id) {
			t.Errorf("list %v: %q", argv, r.Out)
		}
	}
	r = e.MustRun("deploy-approval", "list", "--output", "json")
	var listed struct {
		Requests []struct {
			PublicID   string         `json:"public_id"`
			CIMetadata map[string]any `json:"ci_metadata"`
			CreatedBy  string         `json:"created_by_api_token_name"`
		} `json:"deploy_approval_requests"`
	}
	if err := json.Unmarshal([]byte(r.Out), &listed); err != nil || len(listed.Requests) != 1 ||
		listed.Requests[0].CIMetadata["workflow_id"] != "wf-1" || listed.Requests[0].CreatedBy != "circleci" {
		t.Errorf("list --output json (every field the server sent): %v\n%s", err, r.Out)
	}
	wantErr(t, "list -o table", e.Run("deploy-approval", "list", "-o", "table"), ipc.CodeUsage, `unknown output format "table": use json`)

	details := []string{"ID:       " + id + "\n", "Status:   pending\n", "Message:  Deploy 0123456\n", "App:      demo\n",
		"Token:    circleci (", "Commit:   " + sha + "\n", "Branch:   main\n"}
	wantOut(t, "show id", e.MustRun("deploy-approval", "show", id), details...)
	wantOut(t, "show by commit", e.MustRun("deploy-approval", "show", "-a", "demo", "--commit", sha[:7]), details...)
	wantOut(t, "show by branch", e.MustRun("deploy-approval", "show", "--app", "demo", "--branch", "main"), details...)
	wantOut(t, "ci show", e.MustRun(asToken(tok, "deploy-approval", "show", id)...), details...)
	for _, argv := range [][]string{{id, "-o", "json"}, {"--app", "demo", "--commit", sha[:7], "--output", "json"}} {
		r := e.MustRun(append([]string{"deploy-approval", "show"}, argv...)...)
		var got struct {
			PublicID   string         `json:"public_id"`
			Status     string         `json:"status"`
			GitBranch  string         `json:"git_branch"`
			CIMetadata map[string]any `json:"ci_metadata"`
		}
		if err := json.Unmarshal([]byte(r.Out), &got); err != nil || got.PublicID != id || got.Status != "pending" ||
			got.GitBranch != "main" || got.CIMetadata["workflow_id"] != "wf-1" || !strings.HasPrefix(r.Out, "{\n  \"") {
			t.Errorf("show %v: %v\n%s", argv, err, r.Out)
		}
	}

	wantErr(t, "show not a uuid", e.Run("deploy-approval", "show", "not-a-uuid"), ipc.CodeUsage,
		"invalid deploy approval request ID format: must be a valid UUID")
	wantErr(t, "show empty id", e.Run("deploy-approval", "show", " "), ipc.CodeUsage, "deploy approval request ID cannot be empty")
	wantErr(t, "show unknown", e.Run("deploy-approval", "show", "00000000-0000-0000-0000-000000000000"), ipc.CodeNotFound,
		"deploy approval request 00000000-0000-0000-0000-000000000000 not found")
	wantErr(t, "show no match", e.Run("deploy-approval", "show", "-a", "demo", "--commit", "fff"), ipc.CodeNotFound,
		`no deploy approval request found for app "demo" commit "fff"`)
	wantErr(t, "show no branch", e.Run("deploy-approval", "show", "-a", "demo", "--branch", "dev"), ipc.CodeNotFound,
		`no deploy approval request found for app "demo" branch "dev"`)
	wantErr(t, "show both", e.Run("deploy-approval", "show", "--branch", "main", "--commit", sha), ipc.CodeUsage,
		"use either --branch or --commit, not both")
	wantErr(t, "show -o yaml", e.Run("deploy-approval", "show", id, "-o", "yaml"), ipc.CodeUsage, `unknown output format "yaml"`)

	// Only approvers list; the server's words come through.
	d := newEnv(t, deployer)
	wantErr(t, "deployer list", d.Run("deploy-approval", "list"), ipc.CodeForbidden, "insufficient permissions")
}

// The app comes from --app, else .convox/app, else the directory's name;
// flag mistakes are usage errors found before anything is sent.
func TestApprovalRequestAppAndFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	tok := ciToken(t, e)
	if err := os.MkdirAll(filepath.Join(e.Cwd, ".convox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.Cwd, ".convox", "app"), []byte("demo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.MustRun(asToken(tok, "deploy-approval", "request", "--message", "m", "--git-commit", sha)...)
	id := requestedRE.FindStringSubmatch(r.Out)
	if id == nil {
		t.Fatalf("request: %s", r)
	}
	wantOut(t, "show", e.MustRun("deploy-approval", "show", id[1]), "App:      demo\n")
	// Without .convox/app the directory's name is the app, unknown here.
	if err := os.Remove(filepath.Join(e.Cwd, ".convox", "app")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "no app", e.Run(asToken(tok, "deploy-approval", "request", "--message", "m", "--git-commit", sha)...),
		ipc.CodeNotFound, "app '"+filepath.Base(e.Cwd)+"' not found")

	posts := e.Sandbox.RequestCount(http.MethodPost, "/api/v1/deploy-approval-requests")
	req := []string{"deploy-approval", "request", "-a", "demo", "--message", "m", "--git-commit", sha}
	cases := []struct {
		argv []string
		msg  string
	}{
		{[]string{"deploy-approval", "request", "-a", "demo", "--git-commit", sha}, "--message is required"},
		{[]string{"deploy-approval", "request", "-a", "demo", "--message", "m", "--git-commit", " "}, "--git-commit is required"},
		{append(req, "--ci-metadata", "{"), "invalid --ci-metadata JSON"},
		{append(req, "--poll-interval", "soon"), "invalid --poll-interval"},
		{append(req, "--poll-interval", "0"), "--poll-interval must be positive"},
		{append(req, "--timeout", "-1s"), "--timeout must be positive"},
	}
	for _, c := range cases {
		wantErr(t, strings.Join(c.argv, " "), e.Run(asToken(tok, c.argv...)...), ipc.CodeUsage, c.msg)
	}
	if n := e.Sandbox.RequestCount(http.MethodPost, "/api/v1/deploy-approval-requests") - posts; n != 0 {
		t.Errorf("%d requests sent for bad flags", n)
	}
	// A session must name the target token.
	wantErr(t, "session request", e.Run(req...), ipc.CodeGateway, "target_api_token_id or target_api_token is required")
	wantErr(t, "unknown target", e.Run(append(req, "--target-api-token-id", "00000000-0000-0000-0000-000000000000")...),
		ipc.CodeNotFound, "api token not found")
}

// Approving needs a new proof each time; tokens cannot approve; a
// request found by search is shown first and, from a terminal, confirmed.
func TestApprovalApprove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	c := newCodes(e, admin)
	tok := ciToken(t, e)
	id := request(t, e, tok, sha)
	wantErr(t, "token approves", e.Run(asToken(tok, "deploy-approval", "approve", id)...), ipc.CodeForbidden,
		"API tokens can't approve deploy requests")
	wantErr(t, "bad id", e.Run("deploy-approval", "approve", "nope"), ipc.CodeUsage, "must be a valid UUID")

	r := e.MustRun("deploy-approval", "approve", id, "--notes", " ship it ", "--mfa-code", c.next(t))
	if !regexp.MustCompile(`^\n✅ Deploy approval request ` + id + ` approved \(expires at \S+Z\)\n$`).MatchString(r.Out) {
		t.Errorf("approve: %q", r.Out)
	}
	wantOut(t, "show", e.MustRun("deploy-approval", "show", id), "Status:   approved\n", "Notes:    ship it\n", "Approved: ", "Expires:  ")
	// The server answers 404 for a request that is no longer pending.
	wantErr(t, "approve twice", e.Run("deploy-approval", "approve", id, "--mfa-code", c.next(t)), ipc.CodeNotFound,
		"deploy approval request "+id+" not found")
	// Found by search and already approved: shown, and nothing to do.
	r = e.MustRun("deploy-approval", "approve", "-a", "demo", "--commit", sha[:7])
	wantOut(t, "approve approved", r, "ID:       "+id+"\n", "\nAll requests are already approved.\n")

	// A pending request found by search, from a terminal: Enter, then a code.
	sha2 := strings.Repeat("b", 40)
	id2 := request(t, e, tok, sha2)
	term := &kittest.Term{TTYs: ipc.TTYState{Stdin: true, Stdout: true}, Answers: []string{"", c.next(t)}}
	r = e.RunWith(term, "deploy-approval", "approve", "--app", "demo", "--commit", sha2[:7])
	if r.Error != nil || len(r.Prompts) != 2 || !strings.Contains(r.Prompts[0], "Press Enter to approve demo on rack prod") {
		t.Fatalf("approve on a terminal: %s (prompts %q)", r, r.Prompts)
	}
	wantOut(t, "approve on a terminal", r, "ID:       "+id2+"\n", "Status:   pending\n", "✅ Deploy approval request "+id2+" approved")
	// Ctrl-C at the confirmation approves nothing.
	id3 := request(t, e, tok, strings.Repeat("c", 40))
	term = &kittest.Term{TTYs: ipc.TTYState{Stdin: true}, Interactive: true}
	wantErr(t, "abort", e.RunWith(term, "deploy-approval", "approve", "-a", "demo", "--commit", "ccccccc"), ipc.CodeInterrupted, "aborted")
	wantOut(t, "still pending", e.MustRun("deploy-approval", "show", id3), "Status:   pending\n")
}
