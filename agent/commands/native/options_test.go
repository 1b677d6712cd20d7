package native

import (
	"reflect"
	"testing"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
)

// Each verb's flags land in its typed options: defaults when not given,
// shorthands and long names alike, repeatable flags in order.
func TestOptionsBindTheirFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		argv []string
		got  kit.Verb // a fresh options value to bind
		want kit.Verb
	}{
		{"api defaults", nil, &apiOptions{}, &apiOptions{}},
		{"api", []string{"-X", "put", "-f", "a=1", "--field", "b=2", "-f", "a=3", "-d", "@-"}, &apiOptions{},
			&apiOptions{method: "put", fields: []string{"a=1", "b=2", "a=3"}, data: "@-"}},
		{"api-token list", []string{"--json", "-o", "JSON"}, &tokenListOptions{},
			&tokenListOptions{out: listingOutput{json: true, output: "JSON"}}},
		{"api-token get", []string{"--output", "text"}, &tokenGetOptions{}, &tokenGetOptions{out: listingOutput{output: "text"}}},
		{"api-token create defaults", nil, &tokenCreateOptions{}, &tokenCreateOptions{output: "text"}},
		{"api-token create", []string{"--name", "ci", "--user", "u@example.com", "--permission", "a,b", "--permission", "c",
			"--role", "cicd", "--expires-at", "2030-01-01T00:00:00Z", "-o", "token"}, &tokenCreateOptions{},
			&tokenCreateOptions{name: "ci", user: "u@example.com", permissions: []string{"a", "b", "c"}, role: "cicd",
				expiresAt: "2030-01-01T00:00:00Z", output: "token"}},
		{"deploy-approval list defaults", nil, &listOptions{}, &listOptions{limit: 50}},
		{"deploy-approval list", []string{"-s", "pending", "--open", "-l", "3", "-o", "json", "-a", "demo", "--commit", "abc"},
			&listOptions{}, &listOptions{status: "pending", open: true, limit: 3, output: "json", app: "demo", commit: "abc"}},
		{"deploy-approval show", []string{"--app", "demo", "--branch", "main", "-o", "json"}, &showOptions{},
			&showOptions{search: searchFlags{app: "demo", branch: "main"}, output: "json"}},
		{"deploy-approval request defaults", nil, &requestOptions{}, &requestOptions{pollInterval: "5s", timeout: "20m"}},
		{"deploy-approval request", []string{"-a", "demo", "--wait", "--poll-interval", "1ms", "--timeout", "0", "--git-commit", "abc",
			"--branch", "main", "--ci-metadata", "{}", "--message", "m", "--target-api-token-id", "tid"}, &requestOptions{},
			&requestOptions{app: "demo", wait: true, pollInterval: "1ms", timeout: "0", gitCommit: "abc", branch: "main",
				ciMetadata: "{}", message: "m", targetToken: "tid"}},
		{"deploy-approval approve", []string{"--commit", "abc", "--notes", "ok"}, &approveOptions{},
			&approveOptions{search: searchFlags{commit: "abc"}, notes: "ok"}},
		{"deploy-approval wait defaults", nil, &waitOptions{}, &waitOptions{pollInterval: "1s", timeout: "30m"}},
		{"deploy-approval wait", []string{"-a", "demo", "--approve", "--notes", "n", "--poll-interval", "2s", "--timeout", "1m"},
			&waitOptions{}, &waitOptions{search: searchFlags{app: "demo"}, approve: true, notes: "n", pollInterval: "2s", timeout: "1m"}},
	}
	for _, c := range cases {
		fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
		c.got.Bind(fs)
		if err := fs.Parse(c.argv); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s %q:\n got %+v\nwant %+v", c.name, c.argv, c.got, c.want)
		}
	}
}

// Every command with flags binds them to options of its own: each
// invocation gets a new value, so two runs never share flags.
func TestEveryInvocationHasItsOwnOptions(t *testing.T) {
	t.Parallel()
	r := kit.NewRegistry()
	Register(r)
	for _, n := range r.Names() {
		c := r.Get(n)
		if c.Bind == nil {
			fs := pflag.NewFlagSet(n, pflag.ContinueOnError)
			c.DefineFlags(fs)
			if fs.HasFlags() {
				t.Errorf("%s has flags but no Bind", n)
			}
			continue
		}
		first, second := pflag.NewFlagSet(n, pflag.ContinueOnError), pflag.NewFlagSet(n, pflag.ContinueOnError)
		c.Bind(first)
		c.Bind(second)
		first.VisitAll(func(f *pflag.Flag) {
			g := second.Lookup(f.Name)
			if g == nil {
				t.Errorf("%s --%s: bound once only", n, f.Name)
				return
			}
			if reflect.ValueOf(f.Value).Pointer() == reflect.ValueOf(g.Value).Pointer() {
				t.Errorf("%s --%s: two invocations share one value", n, f.Name)
			}
		})
	}
}

// waitFor turns the duration flags into waits: zero (when allowed) and
// anything past the ceiling are the ceiling.
func TestWaitForDurations(t *testing.T) {
	t.Parallel()
	cmd := &kit.Command{Name: "deploy-approval wait", Usage: "deploy-approval wait"}
	for _, c := range []struct {
		raw       string
		allowZero bool
		want      string
	}{
		{"1ms", false, "1ms"}, {" 2s ", false, "2s"}, {"0", true, "24h0m0s"}, {"48h", true, "24h0m0s"},
		{"0", false, "error"}, {"-1s", true, "error"}, {"soon", true, "error"},
	} {
		d, err := waitFor(cmd, "timeout", c.raw, c.allowZero)
		got := d.String()
		if err != nil {
			got = "error"
		}
		if got != c.want {
			t.Errorf("waitFor(%q, %v) = %s (%v), want %s", c.raw, c.allowZero, got, err, c.want)
		}
	}
}
