package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/sandbox/convoxfake"
)

// The completion scripts driven through the real shells' completion
// functions: bash with COMP_WORDS/COMP_CWORD and COMPREPLY, zsh with
// words/CURRENT and compadd stubbed to print what it is given. Each
// script line "t WORDS..." prints "WORDS -> CANDIDATES".

// bashDriver sources the bash script and defines t.
const bashDriver = `source "$SCRIPT" || exit 1
t() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _rack_gateway; echo "$* -> ${COMPREPLY[*]}"; }
`

// zshDriver stubs what compinit would provide, sources the zsh script
// and defines t.
const zshDriver = `compdef() { :; }
_files() { reply+=(FILES) }
compadd() { while (( $# )) && [[ $1 != -- ]]; do shift; done; shift; reply+=("$@") }
source "$SCRIPT" || exit 1
t() { local -a reply; words=("$@"); CURRENT=${#words}; _rack_gateway; echo "$* -> ${reply[*]}"; }
`

// shellCompletions runs driver and the t lines in shell, in e's
// environment with the built binaries first on PATH and $SCRIPT the
// shell's completion script (written while the agent ran: a completion
// never starts one, the completion command does), and returns each line's
// candidates by its words.
func shellCompletions(t *testing.T, e *env, shell, driver string, lines ...[]string) map[string]string {
	t.Helper()
	bin, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("%s is not installed: its completion is not tested here", shell)
	}
	var script strings.Builder
	script.WriteString(driver)
	for _, l := range lines {
		script.WriteString("t")
		for _, w := range l {
			script.WriteString(" '" + w + "'")
		}
		script.WriteString("\n")
	}
	args := map[string][]string{"bash": {"--norc", "--noprofile", "-c"}, "zsh": {"-f", "-c"}}[shell]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, bin, append(args, script.String())...)
	c.Env = append(e.environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"SCRIPT="+filepath.Join(e.root, "completion."+shell))
	c.Dir = e.root
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", shell, err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		words, cands, ok := strings.Cut(line, " ->")
		if !ok {
			t.Fatalf("%s said something else: %q\n%s", shell, line, out)
		}
		got[words] = strings.TrimSpace(cands)
	}
	return got
}

// TestShellCompletion: rack names from the config, app names, process ids
// and release ids from what the agent saw, commands and flags from the
// build; never file names where a rack is wanted; with no agent running,
// the racks still (and no agent is started).
func TestShellCompletion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ shell, driver string }{{"bash", bashDriver}, {"zsh", zshDriver}} {
		t.Run(c.shell, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.login("prod", admin)
			e.login("staging", natDeployer)
			e.mustRun("switch", "prod")
			// A file a file-name completion would offer.
			if err := os.WriteFile(filepath.Join(e.root, "prod-notes.txt"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			script := e.mustRun("completion", c.shell).Out
			if err := os.WriteFile(filepath.Join(e.root, "completion."+c.shell), []byte(script), 0o600); err != nil {
				t.Fatal(err)
			}
			e.mustRun("apps")
			e.mustRun("ps", "-a", convoxfake.SeedApp)
			e.mustRun("releases", "-a", convoxfake.SeedApp)
			const rg = "rack-gateway"
			got := shellCompletions(t, e, c.shell, c.driver,
				[]string{rg, "switch", ""},
				[]string{rg, "switch", "pro"},
				[]string{rg, "-r", "st"},
				[]string{rg, "apps", "info", ""},
				[]string{rg, "logs", "-a", "d"},
				[]string{rg, "ps", "stop", "-a", convoxfake.SeedApp, "web"},
				[]string{rg, "releases", "rollback", "-a", convoxfake.SeedApp, ""},
				[]string{rg, "sw"},
				[]string{rg, "mfa", "re"},
			)
			want := map[string]string{
				rg + " switch ":    "prod staging",
				rg + " switch pro": "prod",
				rg + " -r st":      "staging",
				rg + " apps info ": convoxfake.SeedApp,
				rg + " logs -a d":  convoxfake.SeedApp,
				rg + " ps stop -a " + convoxfake.SeedApp + " web":        convoxfake.SeedWebPID,
				rg + " releases rollback -a " + convoxfake.SeedApp + " ": convoxfake.SeedReleaseID,
				rg + " sw":     "switch",
				rg + " mfa re": "renew",
			}
			for words, w := range want {
				if g, ok := got[words]; !ok || !strings.Contains(" "+g+" ", " "+w+" ") {
					t.Errorf("%s: %q offers %q, want %q", c.shell, words, g, w)
				}
			}
			if g := got[rg+" switch pro"]; strings.Contains(g, "prod-notes") || strings.Contains(g, "FILES") {
				t.Errorf("%s: switch offers file names: %q", c.shell, g)
			}

			// No agent: the config still answers, nothing is remembered,
			// and no agent is started for a <TAB>.
			e.stopAgent()
			got = shellCompletions(t, e, c.shell, c.driver, []string{rg, "switch", ""}, []string{rg, "apps", "info", ""})
			if g := got[rg+" switch "]; g != "prod staging" {
				t.Errorf("%s without an agent: switch offers %q", c.shell, g)
			}
			if g := got[rg+" apps info "]; g != "" {
				t.Errorf("%s without an agent: apps info offers %q", c.shell, g)
			}
			if _, err := os.Stat(e.socket()); err == nil {
				t.Errorf("%s: a completion started the agent", c.shell)
			}
		})
	}
}

// __complete itself: cobra's convention, and silence on error.
func TestCompleteProtocol(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.login("prod", admin)
	r := e.mustRun("__complete", "switch", "")
	if r.Out != "prod\t"+e.sb.URL+"\n:4\n" || r.Err != "" {
		t.Fatalf("__complete switch '': %s", r)
	}
	// A config that cannot be read: nothing at all.
	if err := os.WriteFile(filepath.Join(e.Config, "config.json"), []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.run("__complete", "switch", ""); r.Code != 0 || r.Out != "" || r.Err != "" {
		t.Fatalf("with a broken config: %s", r)
	}
	// A <TAB> is not a command: the agent's audit log does not get it.
	b, err := os.ReadFile(filepath.Join(e.State, "rack-gateway", "audit.jsonl"))
	if err != nil || !strings.Contains(string(b), `"login"`) || strings.Contains(string(b), "__complete") {
		t.Errorf("the audit log should have the login and no completion (%v):\n%s", err, b)
	}
}
