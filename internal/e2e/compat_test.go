package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/agent/commands"
)

// The compatibility table (issue 10): testdata/compat/*.txt hold command
// lines, the sandbox state they run in and the exact stdout the upstream
// CLI prints for them. Each file runs against its own sandbox with its own
// agent(s); files run in parallel, a file's steps in order. The format is
// in testdata/compat/README.md.

const compatDir = "testdata/compat"

// compatExempt lists the commands no table row can run, and why. Keep it
// short: everything else must have a row (TestCompatCoverage).
var compatExempt = map[string]string{
	// Interactive: an editor session; internal/e2e/env_edit_test.go.
	"env edit": "runs $EDITOR on a terminal",
	// The browser leg and the code prompt need a pty; the table's login
	// directive runs it headlessly, and login_texts_test.go checks its
	// transcript line for line.
	"login": "needs a browser leg and a terminal",
	// Installs an OS user service; service_test.go runs them in a
	// throw-away HOME with a fake systemctl.
	"agent install":   "installs an OS service",
	"agent uninstall": "removes an OS service",
}

func compatFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(compatDir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no table files in %s: %v", compatDir, err)
	}
	return files
}

func TestCompat(t *testing.T) {
	t.Parallel()
	for _, path := range compatFiles(t) {
		name := filepath.Base(path)
		steps, err := parseCompatFile(path, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimSuffix(name, ".txt"), func(t *testing.T) {
			t.Parallel()
			newCompatRun(t).steps(steps)
		})
	}
}

// compatRun is one table file being run: its sandbox, its environments
// (one per "as" label, each with its own agent) and what rows captured.
type compatRun struct {
	t     *testing.T
	sb    *sandbox
	envs  map[string]*env
	cur   string            // the current environment's label
	user  map[string]string // label → the e-mail it last logged in as
	dir   map[string]string // label → working directory
	vars  map[string]string // {{NAME}} values captured so far
	skips []string
}

func newCompatRun(t *testing.T) *compatRun {
	c := &compatRun{t: t, sb: newSandbox(t), envs: map[string]*env{}, user: map[string]string{},
		dir: map[string]string{}, vars: map[string]string{}}
	c.use("default")
	t.Cleanup(func() {
		if len(c.skips) > 0 {
			t.Logf("%d known difference(s) from upstream (skip: rows):\n%s", len(c.skips), strings.Join(c.skips, "\n"))
		}
	})
	return c
}

func (c *compatRun) use(label string) {
	if c.envs[label] == nil {
		e := newEnv(c.t)
		e.sb = c.sb
		c.envs[label] = e
		c.dir[label] = e.root
	}
	c.cur = label
}

func (c *compatRun) env() *env { return c.envs[c.cur] }

func (c *compatRun) steps(steps []compatStep) {
	for _, s := range steps {
		if c.t.Failed() {
			return // later rows build on earlier ones
		}
		c.step(s)
	}
}

// subst replaces the placeholders a command line or directive may hold:
// captured {{NAME}}s, {{totp}} (a fresh MFA code for the current user),
// {{url}} (the sandbox) and {{dir}} (the environment's root).
func (c *compatRun) subst(s compatStep, text string) string {
	t := c.t
	return placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := placeholderRE.FindStringSubmatch(m)
		if v, ok := c.vars[sub[1]]; ok && sub[2] == "" {
			return v
		}
		switch sub[1] {
		case "totp":
			email := c.user[c.cur]
			if email == "" {
				t.Fatalf("%s: {{totp}} before any login", s.where())
			}
			return totpCodes.next(t, c.sb, email)
		case "url":
			return c.sb.URL
		case "dir":
			return c.env().root
		}
		t.Fatalf("%s: unknown placeholder %s (captured so far: %v)", s.where(), m, keys(c.vars))
		return ""
	})
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *compatRun) step(s compatStep) {
	t := c.t
	t.Helper()
	args := make([]string, len(s.args))
	for i, a := range s.args {
		args[i] = c.subst(s, a)
	}
	need := func(n int, usage string) {
		if len(args) != n {
			t.Fatalf("%s: usage: %s", s.where(), usage)
		}
	}
	switch s.word {
	case "$":
		c.row(s)
	case "as":
		need(1, "as <label>")
		c.use(args[0])
	case "login":
		need(2, "login <rack> <email>")
		c.env().login(args[0], args[1])
		c.user[c.cur] = args[1]
	case "env":
		for _, kv := range args {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("%s: env takes KEY=VALUE words", s.where())
			}
			c.env().set(k, v)
		}
	case "cd":
		need(1, "cd <dir under the environment's root>")
		c.dir[c.cur] = filepath.Join(c.env().root, args[0])
	case "file":
		path, content, _ := strings.Cut(c.subst(s, s.rest), " ")
		if path == "" {
			t.Fatalf("%s: usage: file <path> <content, \\n for a newline>", s.where())
		}
		p := filepath.Join(c.env().root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, `\n`, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	case "sandbox":
		// The body is the rest of the line as written: JSON's quotes are
		// not shell quotes.
		f := strings.SplitN(c.subst(s, s.rest), " ", 3)
		if len(f) < 2 {
			t.Fatalf("%s: usage: sandbox <METHOD> </_sandbox/path> [json body]", s.where())
		}
		var body any
		if len(f) == 3 && strings.TrimSpace(f[2]) != "" {
			if err := json.Unmarshal([]byte(f[2]), &body); err != nil {
				t.Fatalf("%s: sandbox body is not JSON: %v", s.where(), err)
			}
		}
		c.sb.call(t, strings.ToUpper(f[0]), f[1], body, nil)
	default:
		t.Fatalf("%s: unknown directive %q", s.where(), s.word)
	}
}

// row runs one command line and checks its exit status, stdout and stderr.
func (c *compatRun) row(s compatStep) {
	t := c.t
	argv, err := shellSplit(s.cmd)
	if err != nil {
		t.Fatalf("%s: %v", s.where(), err)
	}
	for i := range argv {
		argv[i] = c.subst(s, argv[i])
	}
	e := c.env()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := e.cmd(ctx, argv...)
	cmd.Dir = c.dir[c.cur]
	if len(s.stdin) > 0 {
		cmd.Stdin = strings.NewReader(strings.Join(s.stdin, "\n") + "\n")
	}
	r := e.runCmd(cmd)
	// The sandbox's URL and the environment's root may appear in output.
	c.vars["url"], c.vars["dir"] = c.sb.URL, e.root
	if os.Getenv("COMPAT_SHOW") != "" { // for writing rows: see what a command printed
		t.Logf("%s: $ rack-gateway %s\n%s", s.where(), strings.Join(argv, " "), r)
	}
	if problem := c.check(s, r); problem != "" {
		msg := fmt.Sprintf("%s: $ rack-gateway %s\n%s\n%s", s.where(), s.cmd, problem, r)
		if s.skip != "" {
			c.skips = append(c.skips, fmt.Sprintf("%s (%s): %s", s.where(), s.skip, problem))
			t.Logf("skip (known difference: %s): %s", s.skip, msg)
			return
		}
		t.Error(msg)
		return
	}
	if s.skip != "" {
		t.Logf("%s: a skip: row now passes; drop its skip: %s", s.where(), s.skip)
	}
}

// check returns what is wrong with r, or "", and keeps the values the
// row's placeholders captured.
func (c *compatRun) check(s compatStep, r result) string {
	var problems []string
	if r.Code != s.exit {
		problems = append(problems, fmt.Sprintf("exit %d, want %d", r.Code, s.exit))
	}
	got := strings.Split(r.Out, "\n")
	if strings.HasSuffix(r.Out, "\n") || r.Out == "" {
		got = got[:len(got)-1]
	}
	caps, err := matchLines(s.out, got, c.vars)
	if err != nil {
		problems = append(problems, err.Error())
	}
	errLines := strings.Split(strings.TrimRight(r.Err, "\n"), "\n")
	for _, chk := range s.stderr {
		text := expandVars(chk.text, c.vars, func(v string) string {
			if chk.re {
				return regexp.QuoteMeta(v)
			}
			return v
		})
		found := false
		for _, l := range errLines {
			if chk.re {
				found = found || regexp.MustCompile(text).MatchString(l)
			} else {
				found = found || l == text
			}
		}
		if !found {
			kind := "a line"
			if chk.re {
				kind = "a line matching"
			}
			problems = append(problems, fmt.Sprintf("stderr has no %s %q", kind, text))
		}
	}
	if len(problems) > 0 {
		return strings.Join(problems, "; ")
	}
	for k, v := range caps {
		c.vars[k] = v
	}
	return ""
}

// TestCompatCoverage fails when a registered command has no row: the
// table is the drop-in promise, so a new command comes with its rows.
func TestCompatCoverage(t *testing.T) {
	t.Parallel()
	reg := commands.Registry()
	covered := map[string]int{}
	for _, path := range compatFiles(t) {
		steps, err := parseCompatFile(path, filepath.Base(path))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			if s.word != "$" {
				continue
			}
			if name := compatCommandOf(reg.Names(), s.cmd); name != "" {
				covered[name]++
			}
		}
	}
	var missing []string
	for _, n := range reg.Names() {
		if _, ok := compatExempt[n]; ok {
			continue
		}
		if covered[n] == 0 {
			missing = append(missing, n)
		}
	}
	for n := range compatExempt {
		if reg.Get(n) == nil {
			t.Errorf("compatExempt names %q, which is not a command", n)
		}
	}
	rows := 0
	for _, n := range covered {
		rows += n
	}
	t.Logf("%d commands, %d covered by %d table rows, %d exempt", len(reg.Names()), len(reg.Names())-len(missing)-len(compatExempt), rows, len(compatExempt))
	if len(missing) > 0 {
		t.Errorf("commands without a row in %s/*.txt (add one, or an entry in compatExempt with the reason):\n  %s",
			compatDir, strings.Join(missing, "\n  "))
	}
	var absent []string
	for _, n := range upstreamCommands {
		if reg.Get(n) == nil {
			absent = append(absent, n)
		}
	}
	if len(absent) > 0 {
		t.Errorf("upstream commands this CLI lacks (a drop-in has every one):\n  %s", strings.Join(absent, "\n  "))
	}
}

// upstreamCommands are the upstream CLI's commands and subcommands (its
// command tree, as its public source builds it). Words that only group
// subcommands (api-token, deploy-approval) are not commands of their own.
var upstreamCommands = []string{
	"login", "logout", "switch", "racks", "version", "gateway", "web", "completion", "test-auth",
	"api-token list", "api-token get", "api-token create", "api-token delete",
	"deploy-approval list", "deploy-approval show", "deploy-approval request", "deploy-approval approve", "deploy-approval wait",
	"apps", "apps create", "apps delete", "apps info", "apps cancel", "apps lock", "apps unlock", "apps params", "apps params set",
	"build", "builds", "builds info", "builds export", "builds import", "builds logs", "deploy",
	"releases", "releases info", "releases promote", "releases rollback",
	"ps", "ps info", "ps stop", "exec", "run", "restart", "scale",
	"env", "env edit", "env get", "env set", "env unset",
	"logs",
	"rack", "rack info", "rack logs", "rack params", "rack params set", "rack ps", "rack releases", "rack scale", "rack update",
	"instances", "instances keyroll", "instances terminate",
	"resources", "resources info", "resources url", "resources export",
	"certs", "certs delete", "certs generate", "certs import",
	"registries", "registries add", "registries remove",
}

// compatCommandOf names the command a row's line runs: its longest run of
// leading words (flags skipped) that is a command name. A --help row
// shows help, it does not run the command, so it covers nothing.
func compatCommandOf(names []string, line string) string {
	argv, err := shellSplit(line)
	if err != nil {
		return ""
	}
	var words []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--help" || a == "-h" {
			return ""
		}
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") {
			// A global flag that takes a value hides the next word.
			if !strings.Contains(a, "=") && compatValueFlags[a] {
				i++
			}
			continue
		}
		words = append(words, a)
	}
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	for k := min(len(words), 3); k > 0; k-- {
		if n := strings.Join(words[:k], " "); known[n] {
			return n
		}
	}
	return ""
}

// compatValueFlags are the flags, global or common, whose value is the
// next word, so that "-a demo" is not read as a command word.
var compatValueFlags = map[string]bool{
	"-a": true, "--app": true, "-r": true, "--rack": true, "--api-token": true, "--config": true,
	"--mfa-code": true, "--mfa-method": true, "--output": true, "-o": true,
}
