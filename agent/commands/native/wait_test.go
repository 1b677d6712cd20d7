package native_test

import (
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// pollRE is the path request --wait polls.
var pollRE = regexp.MustCompile(`^/api/v1/deploy-approval-requests/([0-9a-f-]{36})$`)

// onPoll makes h run act (with the request's id) just before the sandbox
// answers request --wait's second poll, so the first poll sees the request
// pending and the second sees act's decision. act's result comes back on
// the channel.
func onPoll(h *hooked, act func(id string) kittest.Result) <-chan kittest.Result {
	done := make(chan kittest.Result, 1)
	var polls atomic.Int32
	h.set(func(r *http.Request) {
		m := pollRE.FindStringSubmatch(r.URL.Path)
		if r.Method == http.MethodGet && m != nil && polls.Add(1) == 2 {
			done <- act(m[1])
		}
	})
	return done
}

// took returns what a hook's act returned, or fails the test when the hook
// never ran (the hook runs before the answer, so by the time the command
// returns it has run or never will).
func took(t *testing.T, what string, done <-chan kittest.Result, r kittest.Result) kittest.Result {
	t.Helper()
	select {
	case a := <-done:
		return a
	default:
		t.Fatalf("%s: the hook never ran: %s", what, r)
		return kittest.Result{}
	}
}

// request --wait polls until the request is decided, reporting the
// pending status once.
func TestApprovalRequestWaitsForTheDecision(t *testing.T) {
	t.Parallel()
	h := newHooked(t, admin)
	code := newCodes(h.Env, admin).next(t)
	tok := ciToken(t, h.Env)
	approved := onPoll(h, func(id string) kittest.Result {
		return h.Run("deploy-approval", "approve", id, "--mfa-code", code)
	})
	r := h.Run(asToken(tok, "deploy-approval", "request", "-a", "demo", "--message", "m", "--git-commit", sha,
		"--wait", "--poll-interval", "1ms", "--timeout", "0")...)
	if a := took(t, "approve", approved, r); a.Error != nil {
		t.Fatalf("approve: %s", a)
	}
	m := regexp.MustCompile(`^Deploy approval request ([0-9a-f-]{36}) created \(status: pending\)\n` +
		`Waiting for approval \(status: pending\)\nDeploy approval request ([0-9a-f-]{36}) approved\.\n$`).FindStringSubmatch(r.Out)
	if r.Error != nil || m == nil || m[1] != m[2] {
		t.Fatalf("request --wait: %s", r)
	}
	// Asking again for the approved commit: the server hands back the
	// open request, already decided, so the first poll ends the wait.
	r = h.Run(asToken(tok, "deploy-approval", "request", "-a", "demo", "--message", "m", "--git-commit", sha, "--wait", "--poll-interval", "1ms")...)
	want := "Deploy approval request " + m[1] + " already exists for demo (status: approved)\nDeploy approval request " + m[1] + " approved.\n"
	if r.Error != nil || r.Out != want {
		t.Errorf("request --wait for an approved commit: %s", r)
	}
}

// A rejection ends the wait with the approver's notes.
func TestApprovalRequestWaitRejected(t *testing.T) {
	t.Parallel()
	h := newHooked(t, admin)
	code := newCodes(h.Env, admin).next(t)
	tok := ciToken(t, h.Env)
	rejected := onPoll(h, func(id string) kittest.Result {
		return h.Run("api", "-X", "post", "/api/v1/deploy-approval-requests/"+id+"/reject", "-d", `{"notes":"not today"}`, "--mfa-code", code)
	})
	r := h.Run(asToken(tok, "deploy-approval", "request", "-a", "demo", "--message", "m", "--git-commit", sha, "--wait", "--poll-interval", "1ms")...)
	if a := took(t, "reject", rejected, r); a.Error != nil || !strings.Contains(a.Out, `"status": "rejected"`) {
		t.Fatalf("reject: %s", a)
	}
	wantErr(t, "request --wait", r, ipc.CodeGateway, "rejected: not today")
	if !strings.Contains(r.Out, "Waiting for approval (status: pending)\n") {
		t.Errorf("stdout: %q", r.Out)
	}
}

// wait with --approve polls until a matching request appears, then
// approves it with one proof.
func TestApprovalWaitApprovesWhatAppears(t *testing.T) {
	t.Parallel()
	h := newHooked(t, admin)
	tok := ciToken(t, h.Env)
	sha2 := strings.Repeat("b", 40)
	var lists atomic.Int32
	created := make(chan kittest.Result, 1)
	h.set(func(r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/deploy-approval-requests" {
			return
		}
		// After the first round found nothing, CI asks.
		if lists.Add(1) == 2 && r.URL.Query().Get("status") == "approved" {
			created <- h.Run(asToken(tok, "deploy-approval", "request", "-a", "demo", "--message", "second", "--git-commit", sha2)...)
		}
	})
	r := h.Run("deploy-approval", "wait", "--approve", "-a", "demo", "--commit", sha2[:7], "--notes", "go",
		"--poll-interval", "1ms", "--timeout", "1m", "--mfa-code", newCodes(h.Env, admin).next(t))
	cr := took(t, "CI request", created, r)
	id := requestedRE.FindStringSubmatch(cr.Out)
	if id == nil {
		t.Fatalf("CI request: %s", cr)
	}
	wantOut(t, "wait --approve", r,
		"Waiting for pending deploy approval requests on rack prod (apps=demo commit=bbbbbbb)\n",
		"\n📋 Deploy Approval Request Found:\n  ID: "+id[1]+"\n  App: demo\n  Message: second\n  Status: pending\n  Token: circleci\n",
		"\n✅ Deploy approval request "+id[1]+" (demo) approved (expires at ",
		"\nApproved:\n  prod  demo  "+id[1]+"\n")
	if n := lists.Load(); n < 3 {
		t.Errorf("%d list requests: the wait did not poll again", n)
	}
	wantOut(t, "show", h.MustRun("deploy-approval", "show", id[1]), "Status:   approved\n", "Notes:    go\n")
}

// wait without --approve points at approve; an approved request ends the
// wait at once; with nothing to find it times out.
func TestApprovalWaitOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	tok := ciToken(t, e)
	id := request(t, e, tok, sha, "--branch", "main")
	r := e.MustRun("deploy-approval", "wait", "--app", "demo", "--branch", "main", "--poll-interval", "1ms")
	wantOut(t, "wait pending", r, "Waiting for pending deploy approval requests on rack prod (apps=demo branch=main)\n",
		"  ID: "+id+"\n", "\nUse 'rack-gateway deploy-approval approve <id>' to approve this request.\n")
	if len(r.Prompts) != 0 || r.MFA != "" {
		t.Errorf("wait without --approve asked for MFA: %q %q", r.Prompts, r.MFA)
	}

	e.MustRun("deploy-approval", "approve", id, "--mfa-code", newCodes(e, admin).next(t))
	r = e.MustRun("deploy-approval", "wait", "-a", "demo", "--commit", sha[:7])
	if want := "Waiting for pending deploy approval requests on rack prod (apps=demo commit=0123456)\n" +
		"✓ Already approved on rack prod: " + id + " (demo)\n"; r.Out != want {
		t.Errorf("wait approved: %q", r.Out)
	}
	r = e.MustRun("deploy-approval", "wait", "--approve", "-a", "demo", "--commit", sha[:7])
	wantOut(t, "wait --approve approved", r, "✓ Already approved", "\nApproved:\n  prod  demo  "+id+"\n")

	r = e.Run("deploy-approval", "wait", "-a", "demo", "--commit", "fff", "--timeout", "1ns", "--poll-interval", "1ms")
	wantErr(t, "wait timeout", r, ipc.CodeGateway, "timed out waiting for a deploy approval request (apps=demo commit=fff)")
	wantErr(t, "wait both", e.Run("deploy-approval", "wait", "--branch", "b", "--commit", "c"), ipc.CodeUsage, "use either --branch or --commit")
	wantErr(t, "wait interval", e.Run("deploy-approval", "wait", "--commit", "c", "--poll-interval", "-1s"), ipc.CodeUsage, "--poll-interval must be positive")
	// The caller's directory is no git checkout, so there is no commit.
	wantErr(t, "wait no commit", e.Run("deploy-approval", "wait", "-a", "demo"), ipc.CodeUsage,
		"could not determine the current git commit; pass --commit or --branch")
}
