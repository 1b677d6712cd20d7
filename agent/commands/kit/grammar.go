package kit

import (
	"sort"
	"strings"
	"sync"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/internal/grammar"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// registryNode is the command tree as internal/grammar walks it.
type registryNode struct{ r *Registry }

// Continues implements grammar.Node. A leading "help" is a word of its
// own: "help env get" names "env get".
func (n registryNode) Continues(words []string, next string) bool {
	if len(words) == 0 && next == "help" {
		return true
	}
	words = withoutHelp(words)
	name := strings.Join(append(append([]string(nil), words...), next), " ")
	for c := range n.r.cmds {
		if c == name || strings.HasPrefix(c, name+" ") {
			return true
		}
	}
	return false
}

func (n registryNode) Flags(words []string) grammar.Lookup {
	prefix := strings.Join(withoutHelp(words), " ")
	flags := append([]grammar.Flag(nil), grammar.Globals...)
	for name, c := range n.r.cmds {
		if prefix == "" || name == prefix || strings.HasPrefix(name, prefix+" ") {
			flags = append(flags, c.grammarFlags()...)
		}
	}
	return lookupConflicts(flags)
}

func withoutHelp(words []string) []string {
	if len(words) > 0 && words[0] == "help" {
		return words[1:]
	}
	return words
}

// lookupConflicts is a lookup over flags in which a name that is a value
// flag for one command and a switch for another counts as unknown: which
// one it is depends on the command, not yet known.
func lookupConflicts(flags []grammar.Flag) grammar.Lookup {
	base := grammar.LookupIn(flags)
	return func(name string) (bool, bool) {
		value, known := base(name)
		if !known {
			return false, false
		}
		for _, f := range flags {
			if ("--"+f.Long == name || (f.Short != "" && "-"+f.Short == name)) && f.Value != value {
				return false, false
			}
		}
		return value, true
	}
}

var flagCache sync.Map // *Command → []grammar.Flag

// grammarFlags lists c's own flags for the grammar.
func (c *Command) grammarFlags() []grammar.Flag {
	if v, ok := flagCache.Load(c); ok {
		return v.([]grammar.Flag)
	}
	var out []grammar.Flag
	if c.Bind != nil {
		fs := pflag.NewFlagSet(c.Name, pflag.ContinueOnError)
		c.define(fs)
		fs.VisitAll(func(f *pflag.Flag) {
			out = append(out, grammar.Flag{Long: f.Name, Short: f.Shorthand, Value: f.NoOptDefVal == "", Usage: f.Usage})
		})
	}
	flagCache.Store(c, out)
	return out
}

// resolve finds the command in argv, whose words may stand anywhere among
// the flags, and returns it with argv minus those words.
func (r *Registry) resolve(argv []string) (*Command, []string, error) {
	words, at := grammar.Split(argv, registryNode{r})
	rest := grammar.Without(argv, at)
	switch {
	case len(words) > 0 && words[0] == "help":
		// "help <words>" is "<words> --help".
		if len(words) > 1 {
			return r.lookup(words[1:], []string{"--help"})
		}
		if more := grammar.FirstWords(rest, 1); len(more) == 1 {
			return nil, nil, r.unknownCommand(more[0])
		}
		return RootCommand, []string{"--help"}, nil
	case len(words) == 0:
		return RootCommand, rest, nil
	}
	return r.lookup(words, rest)
}

// lookup returns the command named by words. A group without a command of
// its own (or asked for help) answers with its help.
func (r *Registry) lookup(words []string, rest []string) (*Command, []string, error) {
	name := strings.Join(words, " ")
	if c := r.cmds[name]; c != nil {
		return c, rest, nil
	}
	return r.groupCommand(name), rest, nil
}

// groupCommand is a stand-in for a word that only groups subcommands
// ("deploy-approval"): it shows the group's help.
func (r *Registry) groupCommand(group string) *Command {
	subs := r.Subcommands(group)
	var b strings.Builder
	b.WriteString("Subcommands of rack-gateway " + group + ":\n")
	names := append([]string(nil), subs...)
	sort.Strings(names)
	writeCommandList(&b, names, func(n string) string { return r.cmds[group+" "+n].Short })
	return &Command{Name: group, Usage: group + " <command> [flags]", Short: "Commands for " + group, Long: strings.TrimRight(b.String(), "\n"), MaxArgs: -1, group: true}
}

// unknownSub words an argument that stands where a subcommand would.
func (r *Registry) unknownSub(cmd *Command, arg string) *ipc.Error {
	return ipc.Errorf(ipc.CodeUsage, "unknown command %q for \"rack-gateway %s\"", arg, cmd.Name).
		WithHint("Available: %s\nRun 'rack-gateway %s --help' for more.", strings.Join(r.Subcommands(cmd.Name), ", "), cmd.Name)
}

// FlagErr words a command line pflag refused. An unknown flag is most
// often meant for a remote command (exec, run) or is an argument that
// starts with a dash: "--" is the way to pass it.
func FlagErr(cmd *Command, err error) *ipc.Error {
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown flag") || strings.HasPrefix(msg, "unknown shorthand flag") {
		token := msg[strings.LastIndex(msg, " ")+1:]
		return ipc.Errorf(ipc.CodeUsage, "%s", msg).
			WithHint("To pass %s as an argument (to a remote command, say), put it after \"--\": rack-gateway %s ... -- %s\nRun 'rack-gateway %s --help' for this command's flags.",
				token, cmd.Name, token, cmd.Name)
	}
	return UsageErr(cmd, "%v", err)
}
