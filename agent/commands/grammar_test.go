package commands

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// TestGrammar pins the command line grammar: flags before, between and
// after command words and arguments, "--" ending them, and the remote
// command of exec and run.
func TestGrammar(t *testing.T) {
	t.Parallel()
	type flags map[string]string
	cases := []struct {
		argv  string
		cmd   string
		flags flags
		args  []string
		help  bool
		err   string // a usage error containing this
	}{
		// Flags before, between and after command words.
		{argv: "-a demo env", cmd: "env", flags: flags{"app": "demo"}},
		{argv: "env -a demo", cmd: "env", flags: flags{"app": "demo"}},
		{argv: "env -a demo get FOO", cmd: "env get", flags: flags{"app": "demo"}, args: []string{"FOO"}},
		{argv: "env get -a demo FOO", cmd: "env get", flags: flags{"app": "demo"}, args: []string{"FOO"}},
		{argv: "env get FOO -a demo --unmask", cmd: "env get", flags: flags{"app": "demo", "unmask": "true"}, args: []string{"FOO"}},
		{argv: "--app=demo env get FOO", cmd: "env get", flags: flags{"app": "demo"}, args: []string{"FOO"}},
		{argv: "-r prod env set A=1 B=2 --promote", cmd: "env set", flags: flags{"rack": "prod", "promote": "true"}, args: []string{"A=1", "B=2"}},
		{argv: "env set --promote -a demo A=1", cmd: "env set", flags: flags{"app": "demo", "promote": "true"}, args: []string{"A=1"}},
		{argv: "env unset A -r staging", cmd: "env unset", flags: flags{"rack": "staging"}, args: []string{"A"}},
		{argv: "--rack prod apps", cmd: "apps", flags: flags{"rack": "prod"}},
		{argv: "apps --output json", cmd: "apps", flags: flags{"output": "json"}},
		{argv: "apps info demo -r prod", cmd: "apps info", flags: flags{"rack": "prod"}, args: []string{"demo"}},
		{argv: "-r prod apps delete demo", cmd: "apps delete", flags: flags{"rack": "prod"}, args: []string{"demo"}},
		{argv: "ps -a demo", cmd: "ps", flags: flags{"app": "demo"}},
		{argv: "ps stop p-1 -a demo", cmd: "ps stop", flags: flags{"app": "demo"}, args: []string{"p-1"}},
		{argv: "releases -a demo", cmd: "releases", flags: flags{"app": "demo"}},
		{argv: "releases promote R1 -a demo", cmd: "releases promote", flags: flags{"app": "demo"}, args: []string{"R1"}},
		{argv: "--mfa-code 123456 releases rollback R1", cmd: "releases rollback", flags: flags{"mfa-code": "123456"}, args: []string{"R1"}},
		{argv: "builds logs B1 -a demo", cmd: "builds logs", flags: flags{"app": "demo"}, args: []string{"B1"}},
		{argv: "logs -f -a demo --since 5m", cmd: "logs", flags: flags{"follow": "true", "app": "demo", "since": "5m0s"}},
		{argv: "logs --filter error -a demo", cmd: "logs", flags: flags{"filter": "error", "app": "demo"}},
		{argv: "build . -a demo --description hi", cmd: "build", flags: flags{"app": "demo", "description": "hi"}, args: []string{"."}},
		{argv: "-a demo deploy ./app", cmd: "deploy", flags: flags{"app": "demo"}, args: []string{"./app"}},
		{argv: "scale web --count 3 -a demo", cmd: "scale", flags: flags{"count": "3", "app": "demo"}, args: []string{"web"}},
		{argv: "restart -a demo", cmd: "restart", flags: flags{"app": "demo"}},
		{argv: "rack info -r prod", cmd: "rack info", flags: flags{"rack": "prod"}},
		{argv: "rack", cmd: "rack"},
		{argv: "switch staging", cmd: "switch", args: []string{"staging"}},
		{argv: "--config /tmp/c racks", cmd: "racks", flags: flags{"config": "/tmp/c"}},
		{argv: "test-auth mfa --mfa-method totp", cmd: "test-auth", flags: flags{"mfa-method": "totp"}, args: []string{"mfa"}},
		{argv: "--no-agent version", cmd: "version", flags: flags{"no-agent": "true"}},
		{argv: "agent status", cmd: "agent status"},
		{argv: "deploy-approval list -r prod", cmd: "deploy-approval list", flags: flags{"rack": "prod"}},
		// exec and run: the remote command is the arguments after the pid
		// or service, quoted or after "--"; our flags may stand anywhere.
		{argv: "exec p-1 -- ls -la", cmd: "exec", args: []string{"p-1", "ls", "-la"}},
		{argv: "exec -a demo p-1 -- ls -la", cmd: "exec", flags: flags{"app": "demo"}, args: []string{"p-1", "ls", "-la"}},
		{argv: "exec p-1 -a demo -- sh -c 'echo hi'", cmd: "exec", flags: flags{"app": "demo"}, args: []string{"p-1", "sh", "-c", "echo hi"}},
		{argv: "run web --app api 'echo hi'", cmd: "run", flags: flags{"app": "api"}, args: []string{"web", "echo hi"}},
		{argv: "run web --app X --release R 'cmd'", cmd: "run", flags: flags{"app": "X", "release": "R"}, args: []string{"web", "cmd"}},
		{argv: "run web 'echo hi' --app X --release R", cmd: "run", flags: flags{"app": "X", "release": "R"}, args: []string{"web", "echo hi"}},
		{argv: "run --release R web -- rake db:migrate --trace", cmd: "run", flags: flags{"release": "R"}, args: []string{"web", "rake", "db:migrate", "--trace"}},
		{argv: "exec p-1 ls -la", err: `unknown shorthand flag: 'l' in -la`},
		{argv: "env get FOO --nope", err: "unknown flag: --nope"},
		// Help in all its forms.
		{argv: "help env", cmd: "env", help: true},
		{argv: "help env get", cmd: "env get", help: true},
		{argv: "env get --help", cmd: "env get", help: true},
		{argv: "deploy-approval", cmd: "deploy-approval", help: true},
		{argv: "deploy-approval --help", cmd: "deploy-approval", help: true},
		{argv: "help deploy-approval", cmd: "deploy-approval", help: true},
		{argv: "", cmd: "", help: true},
		{argv: "deploy-approval frob", err: `unknown command "frob" for "rack-gateway deploy-approval"`},
		{argv: "env frob", err: `unknown command "frob" for "rack-gateway env"`},
		{argv: "nosuch", err: `unknown command "nosuch"`},
	}
	for _, c := range cases {
		argv := splitArgv(c.argv)
		p, err := Registry().Parse(argv)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || ipc.AsError(err).Code != ipc.CodeUsage {
				t.Errorf("%q: err %v, want a usage error with %q", c.argv, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.argv, err)
			continue
		}
		if p.Cmd.Name != c.cmd || p.Help != c.help {
			t.Errorf("%q: command %q (help %v), want %q (help %v)", c.argv, p.Cmd.Name, p.Help, c.cmd, c.help)
		}
		if !c.help && !reflect.DeepEqual(nonNil(p.Args), nonNil(c.args)) {
			t.Errorf("%q: args %q, want %q", c.argv, p.Args, c.args)
		}
		for name, want := range c.flags {
			f := p.Flags.Lookup(name)
			if f == nil || f.Value.String() != want {
				t.Errorf("%q: --%s = %v, want %q", c.argv, name, f, want)
			}
		}
	}
	if len(cases) < 40 {
		t.Fatalf("only %d argv forms", len(cases))
	}
}

// splitArgv splits on spaces, keeping 'single-quoted' words whole when they
// contain no "'" inside (enough for the table).
func splitArgv(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '\'' {
			if end := strings.Index(s[1:], "'"); end >= 0 && !strings.Contains(s[1:end+1], " -") {
				w := s[1 : end+1]
				if rest := s[end+2:]; rest == "" || rest[0] == ' ' {
					out = append(out, w)
					s = rest
					continue
				}
			}
		}
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			i = len(s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
