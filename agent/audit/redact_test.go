package audit

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Secrets shaped like the real ones (docs/gateway-protocol.md, "Credentials"): a session token is
// 43 base64url characters, an API token is rgw_ plus 44 padded ones.
const (
	session  = "Zk3q_9vLx-2mPa7QeRt0uYb5NcWd8HjKs1oIgFhAl4E"
	apiToken = "rgw_Q2hhbmdlTWVJbXNBVGVzdFRva2VuT25seS0xMjM0NTY3OA="
)

func TestRedact(t *testing.T) {
	r := Redacted
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		// Rule 1: secret flags, both forms, anywhere.
		{"api-token separate", []string{"racks", "--api-token", "abc"}, []string{"racks", "--api-token", r}},
		{"api-token inline", []string{"racks", "--api-token=abc"}, []string{"racks", "--api-token=" + r}},
		{"mfa-code separate", []string{"apps", "delete", "x", "--mfa-code", "123456"}, []string{"apps", "delete", "x", "--mfa-code", r}},
		{"mfa-code inline", []string{"--mfa-code=123456", "apps", "delete", "x"}, []string{"--mfa-code=" + r, "apps", "delete", "x"}},
		{"password both", []string{"x", "--password", "hunter2", "--password=hunter3"}, []string{"x", "--password", r, "--password=" + r}},
		{"token both", []string{"x", "--token", "t1", "--token=t2"}, []string{"x", "--token", r, "--token=" + r}},
		{"empty inline value kept", []string{"racks", "--api-token="}, []string{"racks", "--api-token="}},
		{"value that looks like a flag", []string{"racks", "--mfa-code", "-123456x"}, []string{"racks", "--mfa-code", r}},
		{"secret flag last", []string{"racks", "--api-token"}, []string{"racks", "--api-token"}},
		{"target token id is not a token", []string{"deploy-approval", "request", "--target-api-token-id", "tok_12"},
			[]string{"deploy-approval", "request", "--target-api-token-id", "tok_12"}},

		// Rule 2: body flags.
		{"data long separate", []string{"api", "/x", "--data", `{"a":1}`}, []string{"api", "/x", "--data", r}},
		{"data long inline", []string{"api", "/x", `--data={"a":1}`}, []string{"api", "/x", "--data=" + r}},
		{"data short separate", []string{"api", "/x", "-d", `{"a":1}`}, []string{"api", "/x", "-d", r}},
		{"data short attached", []string{"api", "/x", `-d{"a":1}`}, []string{"api", "/x", "-d" + r}},
		{"data short equals", []string{"api", "/x", `-d={"a":1}`}, []string{"api", "/x", "-d=" + r}},
		{"data from stdin", []string{"api", "/x", "-d", "@-"}, []string{"api", "/x", "-d", r}},
		{"field long separate", []string{"api", "/x", "--field", "name=secret"}, []string{"api", "/x", "--field", "name=" + r}},
		{"field long inline", []string{"api", "/x", "--field=name=secret"}, []string{"api", "/x", "--field=name=" + r}},
		{"field short separate", []string{"api", "/x", "-f", "count=3", "-f", "env=A=B"},
			[]string{"api", "/x", "-f", "count=" + r, "-f", "env=" + r}},
		{"field short attached", []string{"api", "/x", "-fname=v"}, []string{"api", "/x", "-fname=" + r}},
		{"field short equals", []string{"api", "/x", "-f=name=v"}, []string{"api", "/x", "-f=name=" + r}},
		{"field without key", []string{"api", "/x", "-f", "opaque"}, []string{"api", "/x", "-f", r}},
		{"method and path kept", []string{"api", "-X", "POST", "/apps/web/releases?limit=1"},
			[]string{"api", "-X", "POST", "/apps/web/releases?limit=1"}},

		// Rule 3: assignments.
		{"env set several pairs", []string{"env", "set", "FOO=bar", "DATABASE_URL=postgres://u:p@h/db", "EMPTY=", "-a", "myapp", "--promote"},
			[]string{"env", "set", "FOO=" + r, "DATABASE_URL=" + r, "EMPTY=", "-a", "myapp", "--promote"}},
		{"env set after global flags", []string{"-r", "prod", "env", "set", "A=1", "B=two=2"},
			[]string{"-r", "prod", "env", "set", "A=" + r, "B=" + r}},
		{"env set after dashes", []string{"env", "set", "-a", "app", "--", "A=1", "--weird=2"},
			[]string{"env", "set", "-a", "app", "--", "A=" + r, "--weird=2"}},
		{"env set misparsed", []string{"env", "-a", "app", "set", "A=1"}, []string{"env", "-a", "app", "set", "A=" + r}},
		{"env set typo", []string{"evn", "set", "A=1"}, []string{"evn", "set", "A=" + r}},
		{"params set", []string{"apps", "params", "set", "Autoscale=Yes"}, []string{"apps", "params", "set", "Autoscale=" + r}},
		{"env get and unset keep keys", []string{"env", "unset", "FOO", "BAR", "-a", "app"}, []string{"env", "unset", "FOO", "BAR", "-a", "app"}},

		// exec/run: the remote command is kept, its secrets are not.
		{"exec remote kept", []string{"exec", "web-123", "-a", "myapp", "--", "bin/rails", "db:migrate", "-f", "x", "-d", "2024-01-01", "FOO=bar"},
			[]string{"exec", "web-123", "-a", "myapp", "--", "bin/rails", "db:migrate", "-f", "x", "-d", "2024-01-01", "FOO=bar"}},
		{"run remote mfa code", []string{"run", "web", "-a", "app", "--", "tool", "--mfa-code", "654321", "--mfa-code=111111"},
			[]string{"run", "web", "-a", "app", "--", "tool", "--mfa-code", r, "--mfa-code=" + r}},
		{"run remote password", []string{"run", "web", "--", "mysql", "--password=hunter2", "-u", "root"},
			[]string{"run", "web", "--", "mysql", "--password=" + r, "-u", "root"}},
		{"run remote script", []string{"run", "web", "--", "bash", "-c", "DB_PASSWORD=s3cret API_KEY='a b' ./migrate --token abc && echo ok"},
			[]string{"run", "web", "--", "bash", "-c", "DB_PASSWORD=" + r + " API_KEY=" + r + " ./migrate --token " + r + " && echo ok"}},
		{"run remote header", []string{"run", "web", "--", "curl", "-H", "Authorization: Bearer abc.def", "-H", "X-MFA-TOTP: 123456", "https://x/y"},
			[]string{"run", "web", "--", "curl", "-H", "Authorization: Bearer " + r, "-H", "X-MFA-TOTP: " + r, "https://x/y"}},
		{"run remote json", []string{"run", "web", "--", "curl", "-d", `{"user":"a","password":"p w","api_key":"k"}`},
			[]string{"run", "web", "--", "curl", "-d", `{"user":"a","password":"` + r + `","api_key":"` + r + `"}`}},
		{"only the first dashes count", []string{"exec", "p", "--", "a", "--", "B=1"}, []string{"exec", "p", "--", "a", "--", "B=1"}},

		// Rule 4: tokens anywhere.
		{"session token positional", []string{"login", session}, []string{"login", r}},
		{"api token alone", []string{"login", apiToken}, []string{"login", r}},
		{"api token positional", []string{"run", "web", "--", "deploy", apiToken}, []string{"run", "web", "--", "deploy", r}},
		{"api token inside text", []string{"run", "web", "--", "sh", "-c", "export T=" + apiToken + "; go"},
			[]string{"run", "web", "--", "sh", "-c", "export T=" + r + "; go"}},
		{"token with mfa suffix", []string{"run", "w", "--", "x", "Bearer:" + session + ".totp.123456"},
			[]string{"run", "w", "--", "x", "Bearer:" + r}},
		{"webauthn suffix", []string{"x", "y/" + session + ".webauthn.eyJhIjoi+/b==", "z"}, []string{"x", "y/" + r, "z"}},
		{"token as flag value", []string{"switch", "--rack", session}, []string{"switch", "--rack", r}},
		{"token in inline flag value", []string{"x", "--header=Authorization: Bearer " + session}, []string{"x", "--header=Authorization: Bearer " + r}},
		{"hex key", []string{"x", strings.Repeat("0a1b2c3d", 8)}, []string{"x", r}},
		{"rgw prefix mid-word", []string{"x", "key:rgw_abc="}, []string{"x", "key:" + r}},
		{"url password", []string{"login", "prod", "https://me:pa55@gw.example.com/path"},
			[]string{"login", "prod", "https://me:" + r + "@gw.example.com/path"}},
		{"url password embedded", []string{"run", "w", "--", "psql", "postgres://u:p%40ss@db:5432/x?sslmode=require"},
			[]string{"run", "w", "--", "psql", "postgres://u:" + r + "@db:5432/x?sslmode=require"}},
		{"url query token", []string{"api", "/api/v1/x?token=abc&limit=5"}, []string{"api", "/api/v1/x?token=" + r + "&limit=5"}},

		// Kept: words, names, flags, ordinary values.
		{"plain command", []string{"apps", "info", "myapp", "-r", "prod", "--mfa-method", "totp", "-n", "-1"},
			[]string{"apps", "info", "myapp", "-r", "prod", "--mfa-method", "totp", "-n", "-1"}},
		{"notes kept", []string{"deploy-approval", "approve", "--notes", "looks good", "--commit", "0123456789abcdef0123456789abcdef01234567"},
			[]string{"deploy-approval", "approve", "--notes", "looks good", "--commit", "0123456789abcdef0123456789abcdef01234567"}},
		{"url without password", []string{"login", "prod", "https://gw.example.com:8443/x@y"}, []string{"login", "prod", "https://gw.example.com:8443/x@y"}},
		{"long lowercase slug", []string{"apps", "create", "a-very-long-application-name-for-our-staging-env"},
			[]string{"apps", "create", "a-very-long-application-name-for-our-staging-env"}},
		{"uuid", []string{"builds", "info", "123e4567-e89b-12d3-a456-426614174000"}, []string{"builds", "info", "123e4567-e89b-12d3-a456-426614174000"}},
		{"short rgw word", []string{"x", "rgw_"}, []string{"x", "rgw_"}},
		{"six digits alone kept", []string{"ps", "info", "123456"}, []string{"ps", "info", "123456"}},
		{"empty", []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got := Redact(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if !reflect.DeepEqual(tt.in, in) {
				t.Errorf("Redact modified its input: %q", tt.in)
			}
			if again := Redact(got); !reflect.DeepEqual(again, got) {
				t.Errorf("Redact is not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestRedactNil(t *testing.T) {
	if Redact(nil) != nil {
		t.Fatal("Redact(nil) != nil")
	}
}

// TestRedactLeavesNoSecret runs every secret through many positions and
// checks that no fragment of it reaches the output.
func TestRedactLeavesNoSecret(t *testing.T) {
	secrets := []string{session, apiToken, strings.TrimSuffix(apiToken, "=")}
	shapes := [][]string{
		{"%s"},
		{"--api-token", "%s"}, {"--api-token=%s"},
		{"-r", "%s"}, {"--rack=%s"},
		{"env", "set", "K=%s"},
		{"--", "echo", "%s"},
		{"--", "sh", "-c", "curl -H 'Authorization: Bearer %s' x"},
		{"--", "x", "https://u:%s@h"},
		{"--", "x", "a/%s/b"},
		{"--", "x", "%s.totp.123456"},
	}
	for _, s := range secrets {
		for _, shape := range shapes {
			argv := []string{"run", "web"}
			for _, w := range shape {
				argv = append(argv, strings.ReplaceAll(w, "%s", s))
			}
			out := strings.Join(Redact(argv), " ")
			if strings.Contains(out, s[4:20]) || strings.Contains(out, "123456") {
				t.Errorf("Redact(%q) leaks: %q", argv, out)
			}
		}
	}
}
