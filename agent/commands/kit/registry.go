// Package kit is what every command package shares: the invocation's
// context (Ctx), the command registry and its grammar, the one output
// helper, the one usage error, the one gateway-error mapping, and the MFA
// and call helpers. Commands run inside the daemon (over the /v1/run relay)
// and in-process under `rack-gateway-agent exec`, and see the user only
// through term.Terminal.
package kit

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
	// Bind creates this invocation's options, binds them to fs (pflag's
	// ...VarP, so nothing reads a flag by name) and returns the function
	// that runs the command with them.
	Bind func(fs *pflag.FlagSet) Runner
	// Run runs a command that has no flags of its own.
	Run Runner
	// DaemonOnly commands talk about the agent itself.
	DaemonOnly bool

	group bool // a stand-in for a word that only groups subcommands
}

// Runner runs one invocation of a command.
type Runner func(ctx context.Context, x *Ctx) error

// DefineFlags adds c's flags to fs, for help, completion and man pages.
func (c *Command) DefineFlags(fs *pflag.FlagSet) { c.define(fs) }

// define adds c's flags to fs and returns the runner for this invocation.
func (c *Command) define(fs *pflag.FlagSet) Runner {
	if c.Bind != nil {
		return c.Bind(fs)
	}
	return c.Run
}

// Result is what a finished command tells its host, for the event stream
// and the audit log.
type Result struct {
	Status int    // the exit status of a command that succeeded
	Rack   string // the rack it acted on, "" when none
	MFA    string // how it met its MFA needs (see stepup.Request.Used)
}

// Registry is the set of commands, filled by each command package's
// Register function (see agent/commands) and read by Run, help and
// completion. It is built once at start and only read after that.
type Registry struct {
	cmds map[string]*Command
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{cmds: map[string]*Command{}} }

// Add registers c; a second command with the same name is a bug.
func (r *Registry) Add(c *Command) {
	if _, dup := r.cmds[c.Name]; dup {
		panic("kit: command registered twice: " + c.Name)
	}
	r.cmds[c.Name] = c
}

// Get returns the command with this name ("env set"), or nil.
func (r *Registry) Get(name string) *Command { return r.cmds[name] }

// Names returns every command name, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.cmds))
	for n := range r.cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

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
	// Registry holds the commands.
	Registry *Registry
}

// parsed is a command line after the grammar: the command, its flags and
// its positional arguments (a remote command among them, for exec and run).
type parsed struct {
	cmd  *Command
	fs   *pflag.FlagSet
	args []string
	help bool // show the command's (or group's) help instead of running it
	run  Runner
}

// Parsed is a command line after the grammar, for tests and tools.
type Parsed struct {
	Cmd   *Command
	Flags *pflag.FlagSet
	Args  []string
	Help  bool
}

// Parse applies the grammar to argv as Run does, without running anything.
func (r *Registry) Parse(argv []string) (*Parsed, error) {
	var g GlobalFlags
	p, err := r.parse(argv, &g)
	if err != nil {
		return nil, err
	}
	return &Parsed{Cmd: p.cmd, Flags: p.fs, Args: p.args, Help: p.help}, nil
}

// parse applies the grammar to argv, binding the global flags to g.
func (r *Registry) parse(argv []string, g *GlobalFlags) (*parsed, error) {
	cmd, rest, err := r.resolve(argv)
	if err != nil {
		return nil, err
	}
	fs := pflag.NewFlagSet(cmd.Name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	g.bind(fs)
	help := fs.BoolP("help", "h", false, "Show help for this command")
	run := cmd.define(fs)
	if err := fs.Parse(rest); err != nil {
		return nil, FlagErr(cmd, err)
	}
	p := &parsed{cmd: cmd, fs: fs, args: fs.Args(), help: *help || cmd.Name == "" || cmd.group, run: run}
	switch {
	case p.help && cmd.Name == "" && len(p.args) > 0:
		return nil, r.unknownCommand(p.args[0])
	case p.help && cmd.group && len(p.args) > 0:
		return nil, r.unknownSub(cmd, p.args[0])
	case !p.help && len(p.args) > 0 && cmd.MaxArgs == 0 && len(r.Subcommands(cmd.Name)) > 0:
		return nil, r.unknownSub(cmd, p.args[0])
	}
	return p, nil
}

// Run parses inv.Argv and runs the command. The result says the exit
// status, the rack and how MFA was met, also when the command failed;
// errors come back as *ipc.Error, for the caller to print and map.
func Run(ctx context.Context, env *Env, inv *ipc.Invocation, t term.Terminal) (Result, error) {
	// Output goes through term.Lines, so an MFA prompt that comes while a
	// step line is open ends that line first and resumes it afterwards.
	lt := term.TrackLines(t)
	x := &Ctx{Env: env, Inv: inv, Term: lt, Out: lt.Stdout(), Err: lt.Stderr()}
	err := x.run(ctx)
	x.result.Status = x.Status
	return x.result, err
}

func (x *Ctx) run(ctx context.Context) error {
	if IsComplete(x.Inv.Argv) {
		x.complete(ctx) // complete.go: never an error, never a prompt
		return nil
	}
	r := x.Env.Registry
	p, err := r.parse(x.Inv.Argv, &x.G)
	if err != nil {
		return err
	}
	cmd := p.cmd
	x.Cmd, x.Args = cmd, p.args
	if p.help {
		r.WriteHelp(x.Out, cmd, p.fs)
		return nil
	}
	if len(x.Args) < cmd.MinArgs {
		hint := cmd.ArgHint
		if hint == "" {
			hint = "more arguments"
		}
		return UsageErr(cmd, "%s requires %s", cmd.Name, hint)
	}
	if cmd.MaxArgs >= 0 && len(x.Args) > cmd.MaxArgs {
		return UsageErr(cmd, "too many arguments for %s: %q", cmd.Name, strings.Join(x.Args[cmd.MaxArgs:], " "))
	}
	if cmd.DaemonOnly && x.Env.Mode != ModeDaemon {
		return ipc.Errorf(ipc.CodeUsage, "%q talks to the agent, which --no-agent and API-token mode do not use", "rack-gateway "+cmd.Name)
	}
	if err := p.run(ctx, x); err != nil {
		x.Status = 0
		if ctx.Err() != nil && !IsTyped(err) {
			return ipc.Interrupted("interrupted")
		}
		// Gateway and rack answers become typed errors here, by one set of
		// rules, whichever path they took up.
		return GatewayErr(nil, err)
	}
	return nil
}

func IsTyped(err error) bool {
	var e *ipc.Error
	return errors.As(err, &e)
}

// Subcommands lists the second words under group, sorted.
func (r *Registry) Subcommands(group string) []string {
	var out []string
	for name := range r.cmds {
		if rest, ok := strings.CutPrefix(name, group+" "); ok {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

func (r *Registry) unknownCommand(name string) *ipc.Error {
	e := ipc.Errorf(ipc.CodeUsage, "unknown command %q for \"rack-gateway\"", name)
	if s := r.suggest(name); s != "" {
		return e.WithHint("Did you mean %q? Run 'rack-gateway --help' for usage.", s)
	}
	return e.WithHint("Run 'rack-gateway --help' for usage.")
}

// suggest returns the closest command name by edit distance, if close.
// Transpositions count as one edit ("logni" is one slip from "login"), and
// ties go to the alphabetically first name so the hint is stable.
func (r *Registry) suggest(name string) string {
	tops := map[string]bool{}
	for n := range r.cmds {
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

func UsageErr(cmd *Command, format string, args ...any) *ipc.Error {
	e := ipc.Errorf(ipc.CodeUsage, format, args...)
	if cmd != nil && cmd.Name != "" {
		return e.WithHint("Usage: rack-gateway %s\nRun 'rack-gateway %s --help' for more.", cmd.Usage, cmd.Name)
	}
	return e.WithHint("Run 'rack-gateway --help' for usage.")
}

var RootCommand = &Command{Name: "", Usage: "<command> [flags]", MaxArgs: -1}

// WriteHelp prints cmd's help (the command list for the root command).
func (r *Registry) WriteHelp(w io.Writer, cmd *Command, fs *pflag.FlagSet) {
	if cmd.Name == "" {
		fmt.Fprint(w, "rack-gateway: a CLI for Convox racks behind rack-gateway, with one shared MFA session per user.\n\n")
		fmt.Fprint(w, "Usage:\n  rack-gateway <command> [flags]\n\nCommands:\n")
		names := make([]string, 0, len(r.cmds))
		for n := range r.cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		writeCommandList(w, names, func(n string) string { return r.cmds[n].Short })
		fmt.Fprint(w, "\nGlobal flags:\n")
		fmt.Fprint(w, GlobalFlagSet().FlagUsages())
		fmt.Fprint(w, "\nRun 'rack-gateway <command> --help' for more about a command.\n")
		return
	}
	fmt.Fprintf(w, "%s\n\nUsage:\n  rack-gateway %s\n", FirstNonEmpty(cmd.Long, cmd.Short), cmd.Usage)
	// The command's own flags come first, then the global ones, as the
	// upstream CLI shows them; one column for the texts of both.
	globals := GlobalFlagSet()
	var own, global []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Deprecated != "" {
			return
		}
		if globals.Lookup(f.Name) != nil || f.Name == "help" {
			global = append(global, f)
		} else {
			own = append(own, f)
		}
	})
	width := 0
	for _, f := range append(append([]*pflag.Flag{}, own...), global...) {
		width = max(width, len(flagLeft(f)))
	}
	if len(own) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		writeFlags(w, own, width)
	}
	if len(global) > 0 {
		fmt.Fprint(w, "\nGlobal Flags:\n")
		writeFlags(w, global, width)
	}
}

// writeCommandList prints one "  name  text" line per name, the texts in
// one column as wide as the longest name needs, so a long name such as
// "deploy-approval approve" never runs into its text.
func writeCommandList(w io.Writer, names []string, short func(string) string) {
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, short(n))
	}
}

// flagLeft is a flag's name column: "  -a, --app string".
func flagLeft(f *pflag.Flag) string {
	left := "      --" + f.Name
	if f.Shorthand != "" {
		left = "  -" + f.Shorthand + ", --" + f.Name
	}
	if name, _ := pflag.UnquoteUsage(f); name != "" {
		left += " " + name
	}
	return left
}

func writeFlags(w io.Writer, flags []*pflag.Flag, width int) {
	for _, f := range flags {
		_, usage := pflag.UnquoteUsage(f)
		switch f.DefValue {
		case "", "false", "0", "[]", "0s":
		default:
			if f.Value.Type() == "string" {
				usage += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		left := flagLeft(f)
		usage = strings.ReplaceAll(usage, "\n", "\n"+strings.Repeat(" ", width+3))
		fmt.Fprintf(w, "%s%s   %s\n", left, strings.Repeat(" ", width-len(left)), usage)
	}
}

func FirstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
