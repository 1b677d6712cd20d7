// Package commands implements every rack-gateway command. The same code runs
// inside the daemon (over the /v1/run relay) and in-process under
// `rack-gateway-agent exec`; it sees the user only through term.Terminal.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/term"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Command describes one command line verb.
type Command struct {
	Name    string // words, e.g. "agent status"
	Usage   string // shown after "rack-gateway "
	Short   string
	Long    string
	MinArgs int
	MaxArgs int // -1 for any
	// ArgHint names the missing argument in the usage error.
	ArgHint string
	Flags   func(fs *pflag.FlagSet)
	Run     func(ctx context.Context, x *Ctx) error
	// DaemonOnly commands talk about the agent itself.
	DaemonOnly bool

	group bool // a stand-in for a word that only groups subcommands
}

var registry = map[string]*Command{}

func register(c *Command) { registry[c.Name] = c }

// Mode says where a command runs.
type Mode int

// The modes.
const (
	ModeDaemon Mode = iota // inside the long-running agent
	ModeExec               // in-process under `rack-gateway-agent exec`
)

// Env is what the host (daemon or exec) provides to commands.
type Env struct {
	Core *core.Core
	Mode Mode
	// Socket is the agent's socket path (daemon mode).
	Socket string
	// Shutdown asks the daemon to stop after the current command replies.
	Shutdown func()
	// Rack is set to the rack the command acted on, for events and audit.
	Rack string
	// MFA says how the command met its MFA needs, for the audit log.
	MFA string
}

// parsed is a command line after the grammar: the command, its flags and
// its positional arguments (a remote command among them, for exec and run).
type parsed struct {
	cmd  *Command
	fs   *pflag.FlagSet
	args []string
	help bool // show the command's (or group's) help instead of running it
}

// parse applies the grammar to argv, binding the global flags to g.
func parse(argv []string, g *GlobalFlags) (*parsed, error) {
	cmd, rest, err := resolve(argv)
	if err != nil {
		return nil, err
	}
	fs := pflag.NewFlagSet(cmd.Name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	g.bind(fs)
	help := fs.BoolP("help", "h", false, "Show help for this command")
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	if err := fs.Parse(rest); err != nil {
		return nil, flagErr(cmd, err)
	}
	p := &parsed{cmd: cmd, fs: fs, args: fs.Args(), help: *help || cmd.Name == "" || cmd.group}
	switch {
	case p.help && cmd.Name == "" && len(p.args) > 0:
		return nil, unknownCommand(p.args[0])
	case p.help && cmd.group && len(p.args) > 0:
		return nil, unknownSub(cmd, p.args[0])
	case !p.help && len(p.args) > 0 && cmd.MaxArgs == 0 && len(subcommands(cmd.Name)) > 0:
		return nil, unknownSub(cmd, p.args[0])
	}
	return p, nil
}

// Run parses inv.Argv, runs the command and returns the exit status. Errors
// come back as *ipc.Error; the caller prints them and maps the status.
func Run(ctx context.Context, env *Env, inv *ipc.Invocation, t term.Terminal) (int, error) {
	// Output goes through term.Lines, so an MFA prompt that comes while a
	// step line is open ends that line first and resumes it afterwards.
	lt := term.TrackLines(t)
	x := &Ctx{Env: env, Inv: inv, Term: lt, Out: lt.Stdout(), Err: lt.Stderr()}
	p, err := parse(inv.Argv, &x.G)
	if err != nil {
		return 0, err
	}
	cmd := p.cmd
	x.Cmd, x.Flags, x.Args = cmd, p.fs, p.args
	if p.help {
		writeHelp(x.Out, cmd, p.fs)
		return 0, nil
	}
	if len(x.Args) < cmd.MinArgs {
		hint := cmd.ArgHint
		if hint == "" {
			hint = "more arguments"
		}
		return 0, usageErr(cmd, "%s requires %s", cmd.Name, hint)
	}
	if cmd.MaxArgs >= 0 && len(x.Args) > cmd.MaxArgs {
		return 0, usageErr(cmd, "too many arguments for %s: %q", cmd.Name, strings.Join(x.Args[cmd.MaxArgs:], " "))
	}
	if cmd.DaemonOnly && env.Mode != ModeDaemon {
		return 0, ipc.Errorf(ipc.CodeUsage, "%q talks to the agent, which --no-agent and API-token mode do not use", "rack-gateway "+cmd.Name)
	}
	if err := cmd.Run(ctx, x); err != nil {
		if ctx.Err() != nil && !isTyped(err) {
			return 0, ipc.Interrupted("interrupted")
		}
		// Gateway and rack answers become typed errors here, by one set of
		// rules, whichever path they took up.
		return 0, gatewayErr(nil, err)
	}
	return x.Status, nil
}

func isTyped(err error) bool {
	var e *ipc.Error
	return errors.As(err, &e)
}

func subcommands(group string) []string {
	var out []string
	for name := range registry {
		if rest, ok := strings.CutPrefix(name, group+" "); ok {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

func unknownCommand(name string) *ipc.Error {
	e := ipc.Errorf(ipc.CodeUsage, "unknown command %q for \"rack-gateway\"", name)
	if s := suggest(name); s != "" {
		return e.WithHint("Did you mean %q? Run 'rack-gateway --help' for usage.", s)
	}
	return e.WithHint("Run 'rack-gateway --help' for usage.")
}

// suggest returns the closest command name by edit distance, if close.
// Transpositions count as one edit ("logni" is one slip from "login"), and
// ties go to the alphabetically first name so the hint is stable.
func suggest(name string) string {
	tops := map[string]bool{}
	for n := range registry {
		top, _, _ := strings.Cut(n, " ")
		tops[top] = true
	}
	names := make([]string, 0, len(tops))
	for n := range tops {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := distance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the optimal-string-alignment edit distance.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := 0; j <= len(b); j++ {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func usageErr(cmd *Command, format string, args ...any) *ipc.Error {
	e := ipc.Errorf(ipc.CodeUsage, format, args...)
	if cmd != nil && cmd.Name != "" {
		return e.WithHint("Usage: rack-gateway %s\nRun 'rack-gateway %s --help' for more.", cmd.Usage, cmd.Name)
	}
	return e.WithHint("Run 'rack-gateway --help' for usage.")
}

var rootCommand = &Command{Name: "", Usage: "<command> [flags]", MaxArgs: -1}

func writeHelp(w io.Writer, cmd *Command, fs *pflag.FlagSet) {
	if cmd.Name == "" {
		fmt.Fprint(w, "rack-gateway: a CLI for Convox racks behind rack-gateway, with one shared MFA session per user.\n\n")
		fmt.Fprint(w, "Usage:\n  rack-gateway <command> [flags]\n\nCommands:\n")
		names := make([]string, 0, len(registry))
		for n := range registry {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-16s %s\n", n, registry[n].Short)
		}
		fmt.Fprint(w, "\nGlobal flags:\n")
		g := pflag.NewFlagSet("", pflag.ContinueOnError)
		var gf GlobalFlags
		gf.bind(g)
		fmt.Fprint(w, g.FlagUsages())
		fmt.Fprint(w, "\nRun 'rack-gateway <command> --help' for more about a command.\n")
		return
	}
	fmt.Fprintf(w, "%s\n\nUsage:\n  rack-gateway %s\n", firstNonEmpty(cmd.Long, cmd.Short), cmd.Usage)
	if u := fs.FlagUsages(); u != "" {
		fmt.Fprintf(w, "\nFlags:\n%s", u)
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
