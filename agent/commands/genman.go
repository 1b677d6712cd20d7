package commands

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/commands/kit"
	"github.com/rack-gateway/rack-gateway/ipc"
)

// Man pages and completion scripts for packages (packaging/genman writes
// them at release time and for make install). Everything comes from the
// registry, the same Usage, Short, Long and flag text that --help prints,
// so the pages cannot drift from the commands this build has.

// ManInfo is what a man page needs beyond the registry.
type ManInfo struct {
	Version string // in the page footer, e.g. "v1.2.0"
	Date    string // in the page footer, YYYY-MM-DD
	// AgentUsage is the help of the rack-gateway-agent program itself; it
	// goes on the "agent" page, which man finds as rack-gateway-agent(1).
	AgentUsage string
}

// ManPages renders rack-gateway(1) and one rack-gateway-WORD(1) page per
// top-level command word ("agent" covers agent status, agent stop, …). The
// map goes from file name (rack-gateway-login.1) to roff source.
func ManPages(info ManInfo) map[string][]byte {
	r := Registry()
	groups := manGroups(r)
	out := map[string][]byte{"rack-gateway.1": manRoot(info, groups)}
	for _, g := range groups {
		out["rack-gateway-"+g.word+".1"] = manGroupPage(info, g)
	}
	return out
}

// CompletionScript writes what `rack-gateway completion SHELL` prints.
func CompletionScript(w io.Writer, shell string) error {
	return kit.WriteCompletion(w, Registry(), shell)
}

// manGroup is one top-level word and the commands under it, sorted by name.
type manGroup struct {
	r    *kit.Registry
	word string
	cmds []*kit.Command
}

func manGroups(r *kit.Registry) []manGroup {
	by := map[string][]*kit.Command{}
	for _, name := range r.Names() {
		c := r.Get(name)
		word, _, _ := strings.Cut(name, " ")
		by[word] = append(by[word], c)
	}
	words := make([]string, 0, len(by))
	for w := range by {
		words = append(words, w)
	}
	sort.Strings(words)
	groups := make([]manGroup, 0, len(words))
	for _, w := range words {
		cmds := by[w]
		sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
		groups = append(groups, manGroup{r: r, word: w, cmds: cmds})
	}
	return groups
}

// summary is the group's one-line description: the command's own Short, or
// for a pure group ("agent") the list of its subcommands.
func (g manGroup) summary() string {
	if c := g.r.Get(g.word); c != nil && c.Short != "" {
		return c.Short
	}
	subs := g.r.Subcommands(g.word)
	return "rack-gateway " + g.word + " commands: " + strings.Join(subs, ", ")
}

func manHeader(b *bytes.Buffer, title string, info ManInfo) {
	version := "rack-gateway"
	if info.Version != "" {
		version += " " + info.Version
	}
	fmt.Fprintf(b, ".TH %s 1 %s %s %s\n", roffQuote(strings.ToUpper(title)), roffQuote(info.Date), roffQuote(version), roffQuote("rack-gateway manual"))
}

func manRoot(info ManInfo, groups []manGroup) []byte {
	var b bytes.Buffer
	manHeader(&b, "rack-gateway", info)
	// The root help's first line is the program's one-line description.
	var help bytes.Buffer
	kit.NewRegistry().WriteHelp(&help, kit.RootCommand, pflag.NewFlagSet("", pflag.ContinueOnError))
	desc, _, _ := strings.Cut(help.String(), "\n")
	name, rest, _ := strings.Cut(desc, ": ")
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", roffText(name), roffText(strings.TrimSuffix(rest, ".")))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B rack\\-gateway\n.I command\n[\\fIflags\\fR]\n")
	fmt.Fprintf(&b, ".SH DESCRIPTION\n\\fB%s\\fR is %s\n", roffText(name), roffText(rest))
	b.WriteString(".PP\nEach command runs in the per-user agent, rack\\-gateway\\-agent, which the CLI starts on demand;\n" +
		"with an API token or \\fB\\-\\-no\\-agent\\fR it runs in-process instead.\n" +
		"Every command takes \\fB\\-\\-help\\fR.\n")
	b.WriteString(".SH COMMANDS\n")
	for _, g := range groups {
		for _, c := range g.cmds {
			fmt.Fprintf(&b, ".TP\n\\fBrack\\-gateway %s\\fR\n%s\n", roffText(c.Usage), roffLine(c.Short))
		}
	}
	b.WriteString(".SH GLOBAL FLAGS\n")
	manFlags(&b, kit.GlobalFlagSet())
	b.WriteString(".SH EXIT STATUS\n")
	for _, s := range []struct {
		code int
		text string
	}{
		{ipc.ExitOK, "success"},
		{ipc.ExitError, "the command failed"},
		{ipc.ExitUsage, "usage: unknown command, missing argument, bad flag or URL"},
		{ipc.ExitStepUp, "step-up MFA is needed but there is no terminal to ask"},
		{ipc.ExitAuth, "not logged in, or the session expired"},
		{ipc.ExitUnavailable, "the agent cannot be reached or started"},
		{ipc.ExitInterrupted, "interrupted"},
	} {
		fmt.Fprintf(&b, ".TP\n.B %d\n%s\n", s.code, roffText(s.text))
	}
	b.WriteString(".PP\n\\fBexec\\fR and \\fBrun\\fR exit with the remote command's status instead.\n")
	b.WriteString(".SH SEE ALSO\n")
	refs := make([]string, 0, len(groups))
	for _, g := range groups {
		refs = append(refs, "\\fBrack\\-gateway\\-"+roffText(g.word)+"\\fR(1)")
	}
	b.WriteString(strings.Join(refs, ",\n") + "\n")
	return b.Bytes()
}

func manGroupPage(info ManInfo, g manGroup) []byte {
	var b bytes.Buffer
	manHeader(&b, "rack-gateway-"+g.word, info)
	fmt.Fprintf(&b, ".SH NAME\nrack\\-gateway\\-%s \\- %s\n", roffText(g.word), roffText(strings.TrimSuffix(g.summary(), ".")))
	b.WriteString(".SH SYNOPSIS\n")
	for i, c := range g.cmds {
		if i > 0 {
			b.WriteString(".br\n")
		}
		fmt.Fprintf(&b, "\\fBrack\\-gateway %s\\fR\n", roffText(c.Usage))
	}
	b.WriteString(".SH DESCRIPTION\n")
	for _, c := range g.cmds {
		if len(g.cmds) > 1 {
			fmt.Fprintf(&b, ".SS %s\n", roffQuote("rack-gateway "+c.Name))
		}
		manParagraphs(&b, kit.FirstNonEmpty(c.Long, c.Short))
		fs := pflag.NewFlagSet(c.Name, pflag.ContinueOnError)
		c.DefineFlags(fs)
		if fs.HasFlags() {
			b.WriteString(".PP\nFlags:\n")
			manFlags(&b, fs)
		}
	}
	if g.word == "agent" && info.AgentUsage != "" {
		b.WriteString(".SH THE AGENT PROGRAM\n")
		manParagraphs(&b, info.AgentUsage)
	}
	b.WriteString(".SH GLOBAL FLAGS\nEvery command also takes the global flags listed in \\fBrack\\-gateway\\fR(1), and \\fB\\-h\\fR, \\fB\\-\\-help\\fR.\n")
	b.WriteString(".SH SEE ALSO\n\\fBrack\\-gateway\\fR(1)\n")
	return b.Bytes()
}

// manFlags lists a flag set as tagged paragraphs, the way --help lists it:
// pflag's value name from the usage's `backquotes`, and non-zero defaults.
func manFlags(b *bytes.Buffer, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name := "\\fB\\-\\-" + roffText(f.Name) + "\\fR"
		if f.Shorthand != "" {
			name = "\\fB\\-" + roffText(f.Shorthand) + "\\fR, " + name
		}
		varname, usage := pflag.UnquoteUsage(f)
		if varname != "" {
			name += " \\fI" + roffText(varname) + "\\fR"
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" && d != "0s" {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		fmt.Fprintf(b, ".TP\n%s\n%s\n", name, roffLine(usage))
	})
}

// manParagraphs turns help text into roff: blank lines separate
// paragraphs, and indented lines (examples, tables) stay as written.
func manParagraphs(b *bytes.Buffer, text string) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	inPara, inPre := false, false
	for _, l := range lines {
		indented := strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")
		switch {
		case strings.TrimSpace(l) == "":
			if inPre {
				b.WriteString(".fi\n.RE\n")
				inPre = false
			}
			inPara = false
		case indented:
			if !inPre {
				b.WriteString(".PP\n.RS 4\n.nf\n")
				inPre, inPara = true, false
			}
			b.WriteString(roffLine(strings.TrimPrefix(l, "  ")) + "\n")
		default:
			if inPre {
				b.WriteString(".fi\n.RE\n")
				inPre = false
			}
			if !inPara {
				b.WriteString(".PP\n")
				inPara = true
			}
			b.WriteString(roffLine(l) + "\n")
		}
	}
	if inPre {
		b.WriteString(".fi\n.RE\n")
	}
}

// roffText escapes text for roff: backslashes, and hyphens as \- so that
// flags copied from the page are real minus signs.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// roffLine is roffText for whole output lines: a leading "." or "'" would
// be read as a request, so \& guards it.
func roffLine(s string) string {
	lines := strings.Split(roffText(s), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// roffQuote makes a macro argument: quoted, with quotes doubled.
func roffQuote(s string) string {
	return `"` + strings.ReplaceAll(roffText(s), `"`, `""`) + `"`
}
