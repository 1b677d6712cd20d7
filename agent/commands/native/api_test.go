package native_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/agent/commands/kittest"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// A path outside /api/ goes to the rack proxy, one under it to the native
// API; answers are printed re-indented.
func TestAPIGetsBothAPIs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	for _, path := range []string{"/apps", "apps"} {
		r := e.MustRun("api", path)
		if !strings.HasPrefix(r.Out, "[\n  {\n") || !strings.Contains(r.Out, `"demo"`) || !strings.HasSuffix(strings.TrimRight(r.Out, "\n"), "]") {
			t.Errorf("api %s: %q", path, r.Out)
		}
	}
	if n := e.Sandbox.RequestCount(http.MethodGet, "/api/v1/rack-proxy/apps"); n != 2 {
		t.Errorf("%d proxy GETs", n)
	}
	r := e.MustRun("api", "/api/v1/info")
	var info struct {
		User struct {
			Email string `json:"email"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(r.Out), &info); err != nil || info.User.Email != admin {
		t.Errorf("api /api/v1/info: %v\n%s", err, r.Out)
	}
	wantErr(t, "api unknown", e.Run("api", "/api/v1/api-tokens/00000000-0000-0000-0000-000000000000"), ipc.CodeNotFound, "")
	wantErr(t, "api no path", e.Run("api"), ipc.CodeUsage, "api requires a path, such as /apps or /api/v1/info")
}

// -f fields go to the proxy as a form, and a body makes the method POST;
// the open window covers the step-up route.
func TestAPIFieldsAreAFormOnTheProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	r := e.MustRun("api", "/apps", "-f", "name=fresh")
	if len(r.Prompts) != 0 || !strings.Contains(r.Out, `"fresh"`) {
		t.Fatalf("api -f: %s", r)
	}
	if n := e.Sandbox.RequestCount(http.MethodPost, "/api/v1/rack-proxy/apps"); n != 1 {
		t.Errorf("%d proxy POSTs", n)
	}
	wantOut(t, "apps", e.MustRun("api", "/apps"), `"fresh"`)
}

// On the native API, -f fields are a JSON object of strings and -d a JSON
// body as is (from stdin with @-); -X sets the method, in any case.
func TestAPIBodiesOnTheNativeAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	tok := ciToken(t, e)
	const path = "/api/v1/deploy-approval-requests"
	r := e.MustRun(asToken(tok, "api", path, "-f", "message=by fields", "-f", "app=demo", "-f", "git_commit_hash="+sha)...)
	wantOut(t, "api -f", r, `"status": "pending"`, `"message": "by fields"`)

	sha2 := strings.Repeat("d", 40)
	r = e.MustRun(asToken(tok, "api", "-X", "post", path, "-d", `{"message":"by data","app":"demo","git_commit_hash":"`+sha2+`"}`)...)
	wantOut(t, "api -d", r, `"message": "by data"`)

	term := &kittest.Term{In: strings.NewReader(`{"message":"by stdin","app":"demo","git_commit_hash":"` + strings.Repeat("e", 40) + `"}`)}
	r = e.RunWith(term, asToken(tok, "api", path, "-d", "@-")...)
	wantOut(t, "api -d @-", r, `"message": "by stdin"`)
	if n := e.Sandbox.RequestCount(http.MethodPost, path); n != 3 {
		t.Errorf("%d POSTs", n)
	}

	// An "always" route through api: the code rides the request.
	created, err := e.Sandbox.IssueAPIToken(admin, "doomed", "convox:app:list")
	if err != nil || created == "" {
		t.Fatal(err)
	}
	var toks []struct {
		PublicID string `json:"public_id"`
		Name     string `json:"name"`
	}
	if err := json.Unmarshal([]byte(e.MustRun("api", "/api/v1/api-tokens").Out), &toks); err != nil {
		t.Fatal(err)
	}
	var doomed string
	for _, tk := range toks {
		if tk.Name == "doomed" {
			doomed = tk.PublicID
		}
	}
	r = e.MustRun("api", "-X", "DELETE", "/api/v1/api-tokens/"+doomed, "--mfa-code", newCodes(e, admin).next(t))
	if r.MFA == "" {
		t.Errorf("api -X DELETE: no MFA used: %s", r)
	}
	wantErr(t, "deleted", e.Run("api-token", "get", doomed), ipc.CodeNotFound, "")
}

func TestAPIRefusesBadBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin)
	cases := []struct {
		argv []string
		msg  string
	}{
		{[]string{"/apps", "-d", "{}", "-f", "a=b"}, "use either -d or -f, not both"},
		{[]string{"/apps", "-d", "{"}, "-d is not valid JSON"},
		{[]string{"/apps", "-f", "novalue"}, `field "novalue" is not key=value`},
		{[]string{"/apps", "-f", "=v"}, `field "=v" is not key=value`},
	}
	for _, c := range cases {
		r := e.Run(append([]string{"api"}, c.argv...)...)
		wantErr(t, strings.Join(c.argv, " "), r, ipc.CodeUsage, c.msg)
		if r.Error != nil && !strings.Contains(r.Error.Hint, "Usage: rack-gateway api [-X METHOD]") {
			t.Errorf("%v: hint %q", c.argv, r.Error.Hint)
		}
	}
	if n := e.Sandbox.RequestCount(http.MethodPost, "/api/v1/rack-proxy/apps"); n != 0 {
		t.Errorf("%d POSTs sent", n)
	}
}
