package commands

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
)

func TestManPagesCoverTheRegistry(t *testing.T) {
	t.Parallel()
	pages := ManPages(ManInfo{Version: "v1.2.3", Date: "2026-01-02"})
	root := string(pages["rack-gateway.1"])
	if root == "" {
		t.Fatal("no rack-gateway.1")
	}
	r := Registry()
	for _, name := range r.Names() {
		c := r.Get(name)
		word, _, _ := strings.Cut(name, " ")
		page := string(pages["rack-gateway-"+word+".1"])
		if page == "" {
			t.Errorf("%q: no page rack-gateway-%s.1", name, word)
			continue
		}
		usage := `\fBrack\-gateway ` + roffText(c.Usage) + `\fR`
		if !strings.Contains(page, usage) {
			t.Errorf("rack-gateway-%s.1 lacks the synopsis %q", word, usage)
		}
		if !strings.Contains(root, usage) {
			t.Errorf("rack-gateway.1 lacks %q", usage)
		}
		if !strings.Contains(root, `\fBrack\-gateway\-`+roffText(word)+`\fR(1)`) {
			t.Errorf("rack-gateway.1 does not refer to rack-gateway-%s(1)", word)
		}
		fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
		c.DefineFlags(fs)
		fs.VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !strings.Contains(page, `\fB\-\-`+roffText(f.Name)+`\fR`) {
				t.Errorf("rack-gateway-%s.1 lacks --%s", word, f.Name)
			}
		})
		first, _, _ := strings.Cut(kit.FirstNonEmpty(c.Long, c.Short), "\n")
		if !strings.Contains(page, roffLine(first)) {
			t.Errorf("rack-gateway-%s.1 lacks the help text %q", word, first)
		}
	}
	kit.GlobalFlagSet().VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(root, `\fB\-\-`+roffText(f.Name)+`\fR`) {
			t.Errorf("rack-gateway.1 lacks the global flag --%s", f.Name)
		}
	})
}

// Every line that starts with "." or "'" must be a request we meant to
// write: help text that happens to start with a dot must be escaped.
func TestManPagesUseOnlyKnownRequests(t *testing.T) {
	t.Parallel()
	known := map[string]bool{".TH": true, ".SH": true, ".SS": true, ".PP": true, ".TP": true,
		".B": true, ".I": true, ".br": true, ".RS": true, ".RE": true, ".nf": true, ".fi": true}
	for name, page := range ManPages(ManInfo{AgentUsage: "Usage:\n  x run\n"}) {
		if !bytes.HasPrefix(page, []byte(`.TH "`+strings.ToUpper(roffText(strings.TrimSuffix(name, ".1")))+`" 1 `)) {
			t.Errorf("%s does not start with its .TH line: %.60q", name, page)
		}
		for i, l := range strings.Split(string(page), "\n") {
			if strings.HasPrefix(l, "'") {
				t.Errorf("%s:%d: unescaped quote: %q", name, i+1, l)
			}
			if req, _, _ := strings.Cut(l, " "); strings.HasPrefix(l, ".") && !known[req] {
				t.Errorf("%s:%d: unexpected request %q", name, i+1, l)
			}
		}
	}
}

func TestManPagesFooterAndAgentProgram(t *testing.T) {
	t.Parallel()
	pages := ManPages(ManInfo{Version: "v9.8.7", Date: "2026-03-04", AgentUsage: "Usage:\n  rack-gateway-agent run   run it\n"})
	want := `.TH "RACK\-GATEWAY\-AGENT" 1 "2026\-03\-04" "rack\-gateway v9.8.7" "rack\-gateway manual"`
	agent := string(pages["rack-gateway-agent.1"])
	if !strings.HasPrefix(agent, want+"\n") {
		t.Errorf("agent page header:\n%.120s\nwant %s", agent, want)
	}
	if !strings.Contains(agent, ".SH THE AGENT PROGRAM\n.PP\nUsage:\n.PP\n.RS 4\n.nf\nrack\\-gateway\\-agent run   run it\n.fi\n.RE\n") {
		t.Errorf("agent page lacks the agent program's usage:\n%s", agent)
	}
	if strings.Contains(string(pages["rack-gateway-login.1"]), "THE AGENT PROGRAM") {
		t.Error("the agent program's usage is on the login page")
	}
}

func TestManParagraphs(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	manParagraphs(&b, "First line\nsame paragraph -x.\n\n.dotted and 'quoted' \\ text\n  example --flag\n\n  second\nafter\n")
	want := ".PP\nFirst line\nsame paragraph \\-x.\n" +
		".PP\n\\&.dotted and 'quoted' \\e text\n" +
		".PP\n.RS 4\n.nf\nexample \\-\\-flag\n.fi\n.RE\n" +
		".PP\n.RS 4\n.nf\nsecond\n.fi\n.RE\n" +
		".PP\nafter\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestCompletionScript(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash":       "complete -F _rack_gateway rack-gateway",
		"zsh":        "#compdef rack-gateway",
		"fish":       "complete -c rack-gateway",
		"powershell": "rack-gateway",
	} {
		var b bytes.Buffer
		if err := CompletionScript(&b, shell); err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		// The scripts list nothing themselves: they ask the program.
		if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), " __complete ") {
			t.Errorf("%s completion lacks %q or the call back (__complete):\n%.300s", shell, want, b.String())
		}
	}
	if err := CompletionScript(&bytes.Buffer{}, "tcsh"); err == nil {
		t.Error("tcsh: no error")
	}
}
