package e2e

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/platform/statusfile"
)

// promptShellDir holds the shell snippets under test.
var promptShellDir, _ = filepath.Abs("../../packaging/shell")

// promptStatusPath is where the agent of env e writes its status file.
func (e *env) promptStatusPath() string {
	return filepath.Join(e.Runtime, "rack-gateway", statusfile.FileName)
}

// promptWriteStatus writes e's status file as the agent would.
func (e *env) promptWriteStatus(entries ...statusfile.Entry) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(e.promptStatusPath()), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := statusfile.Write(e.promptStatusPath(), entries); err != nil {
		e.t.Fatal(err)
	}
}

// promptWriteRaw writes the status file byte for byte, for parser cases
// the writer would never produce.
func (e *env) promptWriteRaw(data string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(e.promptStatusPath()), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.promptStatusPath(), []byte(data), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// promptIn returns a time d from now, in whole seconds as the file stores it.
// The half-minute offsets used below keep minute displays stable for 30 s.
func promptIn(d time.Duration) time.Time { return time.Unix(time.Now().Add(d).Unix(), 0) }

func TestPromptShowsTheCountdownFromTheStatusFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.promptWriteStatus(
		statusfile.Entry{Rack: "prod", Expires: promptIn(7*time.Minute + 30*time.Second), Email: "admin@example.com", Current: true},
		statusfile.Entry{Rack: "staging", Email: "deployer@example.com"},
		statusfile.Entry{Rack: "soon", Expires: promptIn(45 * time.Second)},
		statusfile.Entry{Rack: "gone", Expires: promptIn(-time.Minute)},
	)
	cases := []struct {
		args []string
		env  map[string]string
		want string // a regexp for stdout
	}{
		{[]string{"prompt"}, nil, `^prod 🔓 7m\n$`},
		{[]string{"prompt", "--rack", "staging"}, nil, `^staging 🔒\n$`},
		{[]string{"-r", "staging", "prompt"}, nil, `^staging 🔒\n$`},
		{[]string{"prompt"}, map[string]string{"RACK_GATEWAY_RACK": "staging"}, `^staging 🔒\n$`},
		{[]string{"prompt", "--rack=prod"}, map[string]string{"RACK_GATEWAY_RACK": "staging"}, `^prod 🔓 7m\n$`},
		{[]string{"prompt", "-r", "soon"}, nil, `^soon 🔓 [1-4]?[0-9]s\n$`},
		{[]string{"prompt", "-r", "gone"}, nil, `^gone 🔒\n$`},
		{[]string{"prompt", "--format", "[%r|%t|%s|%e|%i|%%]"}, nil, `^\[prod\|7m\|4[45][0-9]\|admin@example\.com\|🔓\|%\]\n$`},
		{[]string{"prompt", "--format=%r:%t:%s:%e", "-r", "staging"}, nil, `^staging::0:deployer@example\.com\n$`},
		// API-token mode runs commands in-process; the prompt still only
		// reads the file.
		{[]string{"prompt"}, map[string]string{"RACK_GATEWAY_API_TOKEN": "rgw_test"}, `^prod 🔓 7m\n$`},
		{[]string{"--no-agent", "prompt"}, nil, `^prod 🔓 7m\n$`},
		// Errors print nothing and succeed.
		{[]string{"prompt", "--rack", "nope"}, nil, `^$`},
		{[]string{"prompt"}, map[string]string{"RACK_GATEWAY_RACK": "nope"}, `^$`},
		{[]string{"prompt", "--bogus"}, nil, `^$`},
		{[]string{"prompt", "--format"}, nil, `^$`},
	}
	for _, c := range cases {
		for k, v := range c.env {
			e.set(k, v)
		}
		r := e.run(c.args...)
		for k := range c.env {
			e.set(k, "")
		}
		if r.Code != 0 || r.Err != "" || !regexp.MustCompile(c.want).MatchString(r.Out) {
			t.Errorf("rack-gateway %s (env %v): want stdout matching %q, exit 0, no stderr; got %s",
				strings.Join(c.args, " "), c.env, c.want, r)
		}
	}
	promptNoAgent(t, e)

	r := e.mustRun("prompt", "--help")
	contains(t, "prompt --help", r.Out, "%r", "%t", "%s", "%e", "%i", "%%", "--rack", "--format")
}

// promptNoAgent checks that nothing was started: no socket, no agent log.
func promptNoAgent(t testing.TB, e *env) {
	t.Helper()
	if _, err := os.Stat(e.socket()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the agent socket exists (%v): prompt must never start the agent", err)
	}
	if _, err := os.Stat(e.logPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the agent log exists (%v): prompt must never start the agent\n%s", err, e.agentLog())
	}
}

func TestPromptIsSilentWithoutStatusFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, args := range [][]string{{"prompt"}, {"prompt", "--rack", "prod"}, {"prompt", "--format", "%r %t"}} {
		r := e.run(args...)
		if r.Code != 0 || r.Out != "" || r.Err != "" {
			t.Errorf("rack-gateway %s with no status file: want nothing and exit 0, got %s", strings.Join(args, " "), r)
		}
		t.Logf("rack-gateway %s: %s", strings.Join(args, " "), r.Took)
	}
	promptNoAgent(t, e)
	// Not even the runtime directory: the reader computes the path only.
	if _, err := os.Stat(filepath.Dir(e.promptStatusPath())); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("prompt created %s (%v)", filepath.Dir(e.promptStatusPath()), err)
	}

	// An empty file and a file of comments are "no entries".
	for _, data := range []string{"", statusfile.Header + "\n# nothing\n"} {
		e.promptWriteRaw(data)
		if r := e.run("prompt"); r.Code != 0 || r.Out != "" || r.Err != "" {
			t.Errorf("status file %q: want nothing, got %s", data, r)
		}
	}

	// Something that is not a regular file must not hang the prompt: a
	// prompt that blocked on the FIFO would be killed at the deadline.
	os.Remove(e.promptStatusPath())
	if err := syscall.Mkfifo(e.promptStatusPath(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := e.runCmd(e.cmd(ctx, "prompt"))
	if r.Code != 0 || r.Out != "" {
		t.Errorf("a FIFO as the status file: want nothing, got %s after %s", r, r.Took)
	}
	promptNoAgent(t, e)
}

// promptShell runs script in a clean bash or zsh (no rc files) in e's
// environment, with the snippets' directory as the working directory. PATH
// is an empty directory unless withPath, so any external program the
// script tried to start would fail loudly on stderr.
func promptShell(t *testing.T, e *env, shell, script string, withPath bool) result {
	t.Helper()
	var args []string
	switch shell {
	case "bash":
		args = []string{"--norc", "--noprofile", "-c", script}
	case "zsh":
		args = []string{"-f", "-c", script}
	case "fish":
		args = []string{"--no-config", "-c", script}
	}
	bin, err := exec.LookPath(shell)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, bin, args...)
	path := t.TempDir()
	if withPath {
		path = binDir + string(os.PathListSeparator) + os.Getenv("PATH")
	}
	// LC_ALL=C exists everywhere, so no shell warns about a missing locale;
	// the segment's UTF-8 passes through as bytes either way.
	c.Env = append(e.environ(), "PATH="+path, "LC_ALL=C")
	c.Dir = promptShellDir
	return e.runCmd(c)
}

// promptShells are the shells the pure-shell function must work in.
func promptShells(t *testing.T) []string {
	shells := []string{"bash"}
	if _, err := exec.LookPath("zsh"); err == nil {
		shells = append(shells, "zsh")
	} else {
		t.Log("zsh is not installed (apt-get install zsh; CI installs it): testing the segment function under bash only")
	}
	return shells
}

// The pure-shell __rack_gateway_segment must print what `rack-gateway
// prompt` prints, in bash and zsh, starting no process.
func TestPromptShellSegmentMatchesTheCommand(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	e := newEnv(t)
	type setup struct {
		name    string
		write   func()
		rackEnv string
		want    string // regexp
	}
	full := func() {
		e.promptWriteStatus(
			statusfile.Entry{Rack: "staging", Email: "deployer@example.com"},
			statusfile.Entry{Rack: "prod", Expires: promptIn(7*time.Minute + 30*time.Second), Email: "admin@example.com", Current: true},
			statusfile.Entry{Rack: "soon", Expires: promptIn(45 * time.Second)},
			statusfile.Entry{Rack: "gone", Expires: promptIn(-time.Minute)},
			statusfile.Entry{Rack: "long", Expires: promptIn(2*time.Hour + 30*time.Second)},
		)
	}
	cases := []setup{
		{"current", full, "", `^prod 🔓 7m\n$`},
		{"env rack without window", full, "staging", `^staging 🔒\n$`},
		{"under a minute", full, "soon", `^soon 🔓 [1-4]?[0-9]s\n$`},
		{"expired", full, "gone", `^gone 🔒\n$`},
		{"hours count as minutes", full, "long", `^long 🔓 120m\n$`},
		{"unknown rack", full, "nope", `^$`},
		{"no current rack: the first", func() {
			e.promptWriteStatus(statusfile.Entry{Rack: "a"}, statusfile.Entry{Rack: "b", Expires: promptIn(90 * time.Second)})
		}, "", `^a 🔒\n$`},
		{"missing file", func() { os.Remove(e.promptStatusPath()) }, "", `^$`},
		// What the Go parser tolerates, the shell must too: CRLF, tabs,
		// comments, malformed lines, fields from a newer version.
		{"hand-written", func() {
			exp := promptIn(3*time.Minute + 30*time.Second).Unix()
			e.promptWriteRaw(statusfile.Header + "\r\n\n# comment 1 x 1\n" +
				"short 1 x\nbadexp 12a x 1\nbadcur 0 x yes\n" +
				"b\t" + strconv.FormatInt(exp, 10) + "   b@x  0\r\n" +
				"c " + strconv.FormatInt(exp, 10) + " - 1 future fields\r\n" +
				"d 0 - 0")
		}, "", `^c 🔓 3m\n$`},
		{"hand-written, env rack on the last line", nil, "d", `^d 🔒\n$`},
		{"hand-written, env rack with tabs", nil, "b", `^b 🔓 3m\n$`},
	}
	shells := promptShells(t)
	for _, c := range cases {
		if c.write != nil {
			c.write()
		}
		e.set("RACK_GATEWAY_RACK", c.rackEnv)
		want := regexp.MustCompile(c.want)
		cmd := e.run("prompt")
		if cmd.Code != 0 || !want.MatchString(cmd.Out) {
			t.Errorf("%s: rack-gateway prompt: want %q, got %s", c.name, c.want, cmd)
		}
		for _, sh := range shells {
			r := promptShell(t, e, sh, ". ./rack-gateway-segment.sh && __rack_gateway_segment", false)
			if r.Code != 0 || r.Err != "" || !want.MatchString(r.Out) {
				t.Errorf("%s: %s __rack_gateway_segment: want %q, no stderr, exit 0; got %s", c.name, sh, c.want, r)
			}
			// Seconds can tick between the two runs; minutes cannot here.
			if !strings.HasSuffix(strings.TrimSpace(r.Out), "s") && r.Out != cmd.Out {
				t.Errorf("%s: %s printed %q, rack-gateway prompt %q", c.name, sh, r.Out, cmd.Out)
			}
		}
	}
	e.set("RACK_GATEWAY_RACK", "")
	full()

	// bash 4.2 to 4.4 have no $EPOCHSECONDS: the printf builtin clock.
	r := promptShell(t, e, "bash", "unset EPOCHSECONDS; . ./rack-gateway-segment.sh && __rack_gateway_segment", false)
	if r.Out != "prod 🔓 7m\n" || r.Err != "" {
		t.Errorf("bash without EPOCHSECONDS: %s", r)
	}
	// set -u must not break it.
	for _, sh := range shells {
		r := promptShell(t, e, sh, "set -u; . ./rack-gateway-segment.sh && __rack_gateway_segment", false)
		if r.Out != "prod 🔓 7m\n" || r.Err != "" {
			t.Errorf("%s with set -u: %s", sh, r)
		}
	}
	promptCountForks(t, e)
	promptNoAgent(t, e)
}

// promptCountForks proves "no process" directly where strace works: the
// function, run in bash and zsh, makes no fork, clone or exec.
func promptCountForks(t *testing.T, e *env) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Log("strace not installed: the empty-PATH runs above are the no-process check")
		return
	}
	for _, sh := range promptShells(t) {
		bin, _ := exec.LookPath(sh)
		flag := "--norc"
		if sh == "zsh" {
			flag = "-f"
		}
		trace := filepath.Join(t.TempDir(), "trace")
		// Sourcing the file and calling both functions: none may fork.
		script := ". ./rack-gateway-segment.sh; __rack_gateway_segment; __rack_gateway_segment_set"
		c := exec.Command(strace, "-f", "-e", "trace=process,write", "-o", trace, bin, flag, "-c", script)
		c.Env = e.environ()
		c.Dir = promptShellDir
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Run(); err != nil {
			t.Logf("strace cannot run here (%v): the empty-PATH runs are the no-process check\n%s", err, out.String())
			return
		}
		data, _ := os.ReadFile(trace)
		var forks []string
		for _, line := range strings.Split(string(data), "\n") {
			for _, sc := range []string{"clone(", "clone3(", "fork(", "vfork(", "execve("} {
				if strings.Contains(line, sc) {
					forks = append(forks, line)
				}
			}
		}
		// The one execve is the shell itself.
		if len(forks) != 1 || !strings.Contains(forks[0], "execve(") {
			t.Errorf("%s: the segment function started processes:\n%s", sh, strings.Join(forks, "\n"))
		}
		if !strings.Contains(out.String(), "prod 🔓 7m") {
			t.Errorf("%s under strace printed %q", sh, out.String())
		}
	}
}

// The bash, zsh and fish snippets put the segment in the prompt, keep $?,
// and fall back to the command when the shell has no clock.
func TestPromptShellSnippets(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	e := newEnv(t)
	e.promptWriteStatus(statusfile.Entry{Rack: "prod", Expires: promptIn(7*time.Minute + 30*time.Second), Current: true})

	r := promptShell(t, e, "bash", `PS1='> '; PROMPT_COMMAND='echo other'
. ./rack-gateway.bash; . ./rack-gateway.bash
printf '%s\n' "$PROMPT_COMMAND"
false; __rack_gateway_prompt_command; echo "rc=$?"
printf '%s\n' "${PS1@P}"
__rack_gateway_segment_set() { return 2; }  # as on bash 3.2: no clock
RACK_GATEWAY_SEGMENT=; __rack_gateway_prompt_command; printf '%s\n' "$RACK_GATEWAY_SEGMENT"
RACK_GATEWAY_PROMPT_FORMAT='%r/%t'; __rack_gateway_prompt_command; printf '%s\n' "$RACK_GATEWAY_SEGMENT"`, true)
	want := "__rack_gateway_prompt_command;echo other\nrc=1\n(prod 🔓 7m) > \nprod 🔓 7m\nprod/7m\n"
	if r.Out != want || r.Err != "" {
		t.Errorf("bash snippet: want\n%s\ngot %s", want, r)
	}

	if _, err := exec.LookPath("zsh"); err != nil {
		t.Log("zsh is not installed (apt-get install zsh; CI installs it): zsh snippet not tested")
	} else {
		r = promptShell(t, e, "zsh", `RPROMPT='%#'
source ./rack-gateway.zsh; source ./rack-gateway.zsh
print -r -- "$precmd_functions"
false; __rack_gateway_precmd; echo "rc=$?"
print -rP -- "$RPROMPT"`, true)
		want := "__rack_gateway_precmd\nrc=1\nprod 🔓 7m #\n"
		if r.Out != want || r.Err != "" {
			t.Errorf("zsh snippet: want\n%s\ngot %s", want, r)
		}
	}

	if _, err := exec.LookPath("fish"); err != nil {
		t.Log("fish is not installed: fish snippet not tested")
	} else {
		r = promptShell(t, e, "fish", `function fish_right_prompt; echo -n RIGHT; end
source ./rack-gateway.fish; source ./rack-gateway.fish
fish_right_prompt; echo`, true)
		if want := "prod 🔓 7m RIGHT\n"; r.Out != want || r.Err != "" {
			t.Errorf("fish snippet: want %q, got %s", want, r)
		}
	}
	promptNoAgent(t, e)
}
