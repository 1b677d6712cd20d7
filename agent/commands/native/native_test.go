package native_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/agent/commands/native"
)

// The native commands run in-process against an httptest sandbox (see
// kittest). Each test has its own sandbox, so each stays within the
// server's 5 MFA verifications per user per 5 minutes on its own.

const (
	admin    = "admin@example.com"
	deployer = "deployer@example.com"
	viewer   = "viewer@example.com"
	sha      = "0123456789abcdef0123456789abcdef01234567"
)

// cicdPerms are the sandbox's cicd role: a CI token that may ask for
// deploy approvals.
var cicdPerms = []string{
	"convox:app:list", "convox:app:read", "gateway:deploy_approval_request:create",
	"gateway:deploy_approval_request:read", "convox:deploy:deploy_with_approval",
}

// newEnv is email logged in to a fresh sandbox, with an open step-up
// window, and the native commands.
func newEnv(t *testing.T, email string) *kittest.Env {
	t.Helper()
	return kittest.New(t, email, true, native.Register)
}

// codes hands out email's backup codes in order, one per MFA proof.
type codes struct {
	all []string
}

func newCodes(e *kittest.Env, email string) *codes {
	return &codes{all: e.Sandbox.BackupCodes(email)}
}

func (c *codes) next(t *testing.T) string {
	t.Helper()
	if len(c.all) == 0 {
		t.Fatal("no backup codes left")
	}
	code := c.all[0]
	c.all = c.all[1:]
	return code
}

// ciToken is a CI API token owned by admin, for --api-token.
func ciToken(t *testing.T, e *kittest.Env) string {
	t.Helper()
	tok, err := e.Sandbox.IssueAPIToken(admin, "circleci", cicdPerms...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// hooked is an environment whose gateway URL passes every request to a
// hook before the sandbox answers it, so a test can act between two of a
// command's requests (a poll, say) without sleeping.
type hooked struct {
	*kittest.Env
	mu   sync.Mutex
	hook func(r *http.Request)
}

func newHooked(t *testing.T, email string) *hooked {
	t.Helper()
	h := &hooked{Env: kittest.New(t, "", false, native.Register)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		hook := h.hook
		h.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		h.Sandbox.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	h.Login(email, true)
	return h
}

// set makes fn the hook; it runs on the server's goroutine.
func (h *hooked) set(fn func(r *http.Request)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hook = fn
}

// wantOut fails unless r succeeded with every part on stdout.
func wantOut(t *testing.T, what string, r kittest.Result, parts ...string) {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("%s: %s", what, r)
	}
	for _, p := range parts {
		if !strings.Contains(r.Out, p) {
			t.Errorf("%s: stdout lacks %q:\n%s", what, p, r.Out)
		}
	}
}

// wantErr fails unless r failed with code and a message containing msg.
func wantErr(t *testing.T, what string, r kittest.Result, code, msg string) {
	t.Helper()
	if r.Error == nil {
		t.Fatalf("%s: want %s %q, got success:\n%s", what, code, msg, r)
	}
	if r.Error.Code != code || !strings.Contains(r.Error.Message, msg) {
		t.Errorf("%s: got %s %q, want %s %q", what, r.Error.Code, r.Error.Message, code, msg)
	}
}
