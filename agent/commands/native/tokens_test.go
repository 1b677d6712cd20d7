package native_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// createdRE is api-token create's text output.
var createdRE = regexp.MustCompile(`^Created token "([^"]+)" \(id ([0-9a-f-]{36})\)\nToken: (rgw_\S+)\n$`)

// Creating a token is an "always" route: even with a fresh window, the
// terminal is asked for a code once, and the role becomes its permissions.
func TestTokenCreatePromptsForAProof(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	term := &kittest.Term{Answers: []string{newCodes(e, admin).next(t)}}
	r := e.RunWith(term, "api-token", "create", "--name", "ci", "--role", "viewer")
	if r.Error != nil || len(r.Prompts) != 1 || r.MFA != "proof" {
		t.Fatalf("create: %s (prompts %q, mfa %q)", r, r.Prompts, r.MFA)
	}
	m := createdRE.FindStringSubmatch(r.Out)
	if m == nil || m[1] != "ci" {
		t.Fatalf("create output: %q", r.Out)
	}
	r = e.MustRun("api-token", "get", m[2])
	wantOut(t, "get", r, "Public ID: "+m[2]+"\n", "Name: ci\n", "Expires At: never\n", "  - convox:app:list\n", "  - convox:rack:read\n")
	// Without a terminal and without --mfa-code, nothing is created.
	before := e.Sandbox.RequestCount(http.MethodPost, "/api/v1/api-tokens")
	if r := e.Run("api-token", "create", "--name", "ci2", "--role", "viewer"); r.Error == nil {
		t.Fatalf("create without a terminal: %s", r)
	}
	if n := e.Sandbox.RequestCount(http.MethodPost, "/api/v1/api-tokens") - before; n > 1 {
		t.Errorf("%d create requests without a proof", n)
	}
}

// --permission is repeatable and takes lists; --output token prints the
// secret alone and --output json the server's payload with the secret.
func TestTokenCreateOutputsAndPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	c := newCodes(e, admin)
	r := e.MustRun("api-token", "create", "--name", "one", "--permission", "convox:app:list,convox:env:read",
		"--permission", " CONVOX:log:read ", "--output", "token", "--mfa-code", c.next(t))
	if !regexp.MustCompile(`^rgw_\S+\n$`).MatchString(r.Out) || r.MFA == "" {
		t.Fatalf("--output token: %s (mfa %q)", r, r.MFA)
	}
	r = e.MustRun("api-token", "create", "--name", "two", "--role", "viewer", "--permission", "convox:env:read",
		"-o", "JSON", "--expires-at", "2030-01-02T03:04:05Z", "--mfa-code", c.next(t))
	var created struct {
		Token    string `json:"token"`
		APIToken struct {
			PublicID    string   `json:"public_id"`
			Name        string   `json:"name"`
			Permissions []string `json:"permissions"`
		} `json:"api_token"`
	}
	if err := json.Unmarshal([]byte(r.Out), &created); err != nil || !strings.HasPrefix(created.Token, "rgw_") || created.APIToken.Name != "two" {
		t.Fatalf("--output json: %v\n%s", err, r.Out)
	}
	if !strings.HasPrefix(r.Out, "{\n  \"token\": ") {
		t.Errorf("--output json is not indented: %q", r.Out)
	}
	if p := strings.Join(created.APIToken.Permissions, " "); !strings.Contains(p, "convox:env:read") || !strings.Contains(p, "convox:rack:read") {
		t.Errorf("role plus permission: %v", created.APIToken.Permissions)
	}
	r = e.MustRun("api-token", "list", "--output", "json")
	var listed []struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
	}
	if err := json.Unmarshal([]byte(r.Out), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("list --output json: %v\n%s", err, r.Out)
	}
	for _, tk := range listed {
		if tk.Name == "one" && strings.Join(tk.Permissions, " ") != "convox:app:list convox:env:read convox:log:read" {
			t.Errorf("--permission lists: %v", tk.Permissions)
		}
	}
}

// Mistakes in the flags are usage errors found before anything costs a
// proof: the server never sees a create.
func TestTokenCreateRefusesBadFlagsBeforeMFA(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	cases := []struct {
		argv []string
		msg  string
	}{
		{[]string{"--name", "x", "--role", "viewer", "--output", "yaml"}, `unknown output format "yaml": use text, table, json, token`},
		{[]string{"--role", "viewer"}, "--name is required"},
		{[]string{"--name", " ", "--role", "viewer"}, "--name is required"},
		{[]string{"--name", "x", "--role", "viewer", "--expires-at", "tomorrow"}, "invalid --expires-at value (use RFC3339)"},
		{[]string{"--name", "x"}, "--role or --permission is required"},
		{[]string{"--name", "x", "--role", "nope"}, `unknown role "nope"`},
	}
	for _, c := range cases {
		term := &kittest.Term{Interactive: true}
		r := e.RunWith(term, append([]string{"api-token", "create"}, c.argv...)...)
		wantErr(t, strings.Join(c.argv, " "), r, ipc.CodeUsage, c.msg)
		if len(r.Prompts) != 0 {
			t.Errorf("%v: prompted %q", c.argv, r.Prompts)
		}
		if r.Error != nil && !strings.Contains(r.Error.Hint, "rack-gateway api-token create --help") {
			t.Errorf("%v: hint %q", c.argv, r.Error.Hint)
		}
	}
	if n := e.Sandbox.RequestCount(http.MethodPost, "/api/v1/api-tokens"); n != 0 {
		t.Errorf("%d creates sent", n)
	}
}

func TestTokenListAndGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	r := e.MustRun("api-token", "list")
	if r.Out != "No API tokens found\n" {
		t.Errorf("empty list: %q", r.Out)
	}
	if _, err := e.Sandbox.IssueAPIToken(admin, "deploy-bot", "convox:app:list"); err != nil {
		t.Fatal(err)
	}
	r = e.MustRun("api-token", "list")
	lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "UUID ") || !strings.Contains(lines[0], "LAST USED") ||
		!strings.Contains(lines[1], "deploy-bot") || !strings.HasSuffix(strings.TrimSpace(lines[1]), " -") {
		t.Fatalf("list:\n%s", r.Out)
	}
	id := strings.Fields(lines[1])[0]
	// --json and --output json are the server's array, re-indented.
	for _, argv := range [][]string{{"--json"}, {"--output", "json"}, {"-o", " Json "}, {"--json", "--output", "yaml"}} {
		r := e.MustRun(append([]string{"api-token", "list"}, argv...)...)
		if !strings.HasPrefix(r.Out, "[\n  {\n    \"") || !strings.Contains(r.Out, `"public_id": "`+id+`"`) {
			t.Errorf("list %v: %q", argv, r.Out)
		}
	}
	for _, f := range []string{"table", "text", ""} {
		if r := e.MustRun("api-token", "list", "-o", f); !strings.HasPrefix(r.Out, "UUID ") {
			t.Errorf("list -o %q: %q", f, r.Out)
		}
	}
	wantErr(t, "list -o yaml", e.Run("api-token", "list", "-o", "yaml"), ipc.CodeUsage, `unknown output format "yaml"`)

	r = e.MustRun("api-token", "get", id)
	wantOut(t, "get", r, "Public ID: "+id+"\n", "Name: deploy-bot\n", "Owner User ID: ", "Expires At: never\n", "Permissions:\n  - convox:app:list\n")
	r = e.MustRun("api-token", "get", id, "--json")
	var got struct {
		PublicID string `json:"public_id"`
		Name     string `json:"name"`
	}
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || got.PublicID != id || got.Name != "deploy-bot" {
		t.Errorf("get --json: %v\n%s", err, r.Out)
	}
	wantErr(t, "get -o table", e.Run("api-token", "get", id, "-o", "table"), ipc.CodeUsage, `unknown output format "table": use text, json`)
	wantErr(t, "get unknown", e.Run("api-token", "get", "00000000-0000-0000-0000-000000000000"), ipc.CodeNotFound, "")
	wantErr(t, "get without id", e.Run("api-token", "get"), ipc.CodeUsage, "api-token get requires a token id")
}

// Deleting is "always": --mfa-code rides the request, and the code is
// spent (the next delete needs a new one).
func TestTokenDeleteWithMFACode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	c := newCodes(e, admin)
	r := e.MustRun("api-token", "create", "--name", "gone", "--role", "viewer", "--mfa-code", c.next(t))
	m := createdRE.FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("create: %q", r.Out)
	}
	r = e.MustRun("api-token", "delete", m[2], "--mfa-code", c.next(t))
	if r.Out != "Deleted token "+m[2]+"\n" || len(r.Prompts) != 0 {
		t.Fatalf("delete: %s (prompts %q)", r, r.Prompts)
	}
	wantErr(t, "get after delete", e.Run("api-token", "get", m[2]), ipc.CodeNotFound, "token not found")
	// A delete answered on the terminal instead.
	r = e.MustRun("api-token", "create", "--name", "gone2", "--role", "viewer", "--mfa-code", c.next(t))
	m = createdRE.FindStringSubmatch(r.Out)
	term := &kittest.Term{Answers: []string{c.next(t)}}
	if r := e.RunWith(term, "api-token", "delete", m[2]); r.Error != nil || len(r.Prompts) != 1 {
		t.Fatalf("delete on a terminal: %s (prompts %q)", r, r.Prompts)
	}
}

// An API token never needs MFA.
func TestTokenAPITokenMode(t *testing.T) {
	t.Parallel()
	a := newEnv(t, admin)
	tok, err := a.Sandbox.IssueAPIToken(admin, "root", "gateway:*:*", "convox:*:*")
	if err != nil {
		t.Fatal(err)
	}
	r := a.MustRun("--api-token", tok, "api-token", "list")
	wantOut(t, "token-mode list", r, "root")
	r = a.MustRun("api-token", "create", "--name", "by-token", "--role", "viewer", "--output", "token", "--api-token", tok)
	if !strings.HasPrefix(r.Out, "rgw_") || len(r.Prompts) != 0 {
		t.Errorf("token-mode create: %s", r)
	}
}
