package commands

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/ipc"
)

// FuzzParse runs the whole grammar (internal/grammar's Split over the real
// command tree, then pflag) on any command line: it never panics, refuses
// only with a usage error that says something, keeps every argument it
// returns from argv in order, and can write help for what it resolved.
func FuzzParse(f *testing.F) {
	for _, c := range []string{
		"-a demo env get FOO",
		"env set --promote -a demo A=1 B=two=2",
		"exec web-1 -a demo -- bash -c 'ls -la'",
		"run web --detach -- rails console",
		"help env get",
		"help nosuch",
		"deploy-approval",
		"deploy-approval nosuch",
		"apps --output",
		"logs -f --since 5m --filter error",
		"scale web --count x",
		"--no-agent --version",
		"-r -- apps",
		"--mfa-code=123456 releases rollback R1 extra",
		"test-auth mfa --mfa-method webauthn",
		"completion bash",
		"__complete env s",
		"-h",
		"",
	} {
		f.Add(strings.ReplaceAll(c, " ", "\x00"))
	}
	r := Registry()
	f.Fuzz(func(t *testing.T, s string) {
		var argv []string
		if s != "" {
			argv = strings.Split(s, "\x00")
		}
		p, err := r.Parse(argv)
		if err != nil {
			var ie *ipc.Error
			if !errors.As(err, &ie) || ie.Code != ipc.CodeUsage || ie.Message == "" {
				t.Fatalf("Parse(%q): %#v, want a usage error", argv, err)
			}
			return
		}
		if p.Cmd == nil || p.Flags == nil {
			t.Fatalf("Parse(%q) resolved nothing", argv)
		}
		// Every argument comes from argv, in order.
		i := 0
		for _, a := range p.Args {
			for i < len(argv) && argv[i] != a && !strings.HasSuffix(argv[i], "="+a) {
				i++
			}
			if i == len(argv) {
				t.Fatalf("Parse(%q) returned arguments %q not in argv", argv, p.Args)
			}
			i++
		}
		var help bytes.Buffer
		r.WriteHelp(&help, p.Cmd, p.Flags)
		if help.Len() == 0 {
			t.Fatalf("no help for %q", p.Cmd.Name)
		}
	})
}
