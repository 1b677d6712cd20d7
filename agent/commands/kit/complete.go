package kit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rack-gateway/rack-gateway/agent/core"
	"github.com/rack-gateway/rack-gateway/agent/gateway"
	"github.com/rack-gateway/rack-gateway/internal/grammar"
)

// complete: `rack-gateway __complete WORDS... CURRENT`, what the shell
// scripts (completion.go) call on every <TAB>, in cobra's convention: the
// candidates for CURRENT one a line ("value\tdescription"), then a line
// ":N" with N the directive bits below. Command words and flags come from
// the registry, rack names from the config, app names, process ids and
// release ids from what commands last saw of the rack (core.Seen).
// Completion never prompts and says nothing on stderr; on any error it
// prints nothing at all. A name nobody has seen yet may be fetched, in the
// daemon only, with one request of at most completeFetch.

// CompleteCommand is the hidden first word the completion scripts call.
// It is not in the registry, so help, man pages and the scripts' own
// command lists never show it.
const CompleteCommand = "__complete"

// The directive bits (cobra's ShellCompDirective).
const (
	compError      = 1  // completion failed: offer nothing
	compNoSpace    = 2  // no space after the candidate
	compNoFile     = 4  // never fall back to file names
	compFilterDirs = 16 // offer directories only
)

// completeFetch bounds the one request a completion may make.
const completeFetch = 300 * time.Millisecond

// IsComplete reports whether argv asks for completions.
func IsComplete(argv []string) bool { return len(argv) > 0 && argv[0] == CompleteCommand }

// complete answers one completion request on x.Out.
func (x *Ctx) complete(ctx context.Context) {
	// Nothing may reach the terminal but the candidates: not a config
	// notice, not the window's renewal notice.
	x.Err, x.noticed = io.Discard, true
	args := x.Inv.Argv[1:]
	if len(args) == 0 {
		args = []string{""}
	}
	cands, dir, err := x.candidates(ctx, args[:len(args)-1], args[len(args)-1])
	if err != nil {
		return
	}
	var b strings.Builder
	for _, c := range cands {
		// A candidate is one line; a description is cut at its first.
		c, _, _ = strings.Cut(c, "\n")
		b.WriteString(c + "\n")
	}
	fmt.Fprintf(&b, ":%d\n", dir)
	_, _ = io.WriteString(x.Out, b.String())
}

// line is what complete knows of the words before CURRENT.
type line struct {
	cmd    string            // the command words, joined ("" for none)
	own    []*pflag.Flag     // the command's flags and the global ones
	flags  *pflag.FlagSet    // those and the flags of the commands below
	values map[string]string // flag values given, by long name
	args   []string          // positional arguments
	want   *pflag.Flag       // a flag whose value CURRENT is
	dashes bool              // "--" came: CURRENT is a remote command's
}

func (x *Ctx) readLine(words []string) line {
	r := x.Registry
	cmdWords, at := grammar.Split(words, registryNode{r})
	if len(cmdWords) > 0 && cmdWords[0] == "help" {
		cmdWords = cmdWords[1:]
	}
	l := line{cmd: strings.Join(cmdWords, " "), values: map[string]string{}}
	l.flags = pflag.NewFlagSet(l.cmd, pflag.ContinueOnError)
	var g GlobalFlags
	g.bind(l.flags)
	if c := r.cmds[l.cmd]; c != nil {
		c.define(l.flags)
	}
	l.flags.VisitAll(func(f *pflag.Flag) { l.own = append(l.own, f) })
	// A flag may come before the words of the command it belongs to
	// ("-a demo ps stop"): the flags of the commands below count too, the
	// first definition of a name winning.
	for _, n := range r.Names() {
		if n == l.cmd || (l.cmd != "" && !strings.HasPrefix(n, l.cmd+" ")) {
			continue
		}
		fs := pflag.NewFlagSet(n, pflag.ContinueOnError)
		r.cmds[n].define(fs)
		fs.VisitAll(func(f *pflag.Flag) {
			if l.flags.Lookup(f.Name) == nil && (f.Shorthand == "" || l.flags.ShorthandLookup(f.Shorthand) == nil) {
				l.flags.AddFlag(f)
			}
		})
	}
	rest := grammar.Without(words, at)
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case l.dashes:
			l.args = append(l.args, a)
		case a == "--":
			l.dashes = true
		case grammar.IsFlag(a):
			f, val, hasVal := l.lookup(a)
			switch {
			case f == nil || f.NoOptDefVal != "" || hasVal:
				if f != nil && hasVal {
					l.values[f.Name] = val
				}
			case i+1 < len(rest):
				i++
				l.values[f.Name] = rest[i]
			default:
				l.want = f
			}
		default:
			l.args = append(l.args, a)
		}
	}
	return l
}

// lookup finds the flag a word names: "--rack", "--rack=x", "-r" or "-rx".
func (l line) lookup(a string) (f *pflag.Flag, val string, hasVal bool) {
	if name, ok := strings.CutPrefix(a, "--"); ok {
		name, val, hasVal = strings.Cut(name, "=")
		return l.flags.Lookup(name), val, hasVal
	}
	f = l.flags.ShorthandLookup(a[1:2])
	if len(a) > 2 {
		return f, strings.TrimPrefix(a[2:], "="), true
	}
	return f, "", false
}

func (x *Ctx) candidates(ctx context.Context, words []string, cur string) ([]string, int, error) {
	l := x.readLine(words)
	x.G.Rack, x.G.Config, x.G.APIToken = l.values["rack"], l.values["config"], l.values["api-token"]
	switch {
	case l.dashes:
		return nil, 0, nil // a remote command: the shell's own completion
	case l.want != nil:
		return x.flagValues(ctx, l, l.want, cur, "")
	case strings.HasPrefix(cur, "-"):
		if name, val, ok := strings.Cut(cur, "="); ok && strings.HasPrefix(name, "--") {
			f := l.flags.Lookup(name[2:])
			if f == nil {
				return nil, compNoFile, nil
			}
			return x.flagValues(ctx, l, f, val, name+"=")
		}
		return flagCandidates(l, cur), compNoFile, nil
	}
	var out []string
	if len(l.args) == 0 {
		out = prefixed(x.Registry.children(l.cmd), cur)
	}
	c := x.Registry.cmds[l.cmd]
	if c == nil || (c.MaxArgs >= 0 && len(l.args) >= c.MaxArgs) {
		return out, compNoFile, nil
	}
	kind := argKind(l.cmd, len(l.args))
	vals, dir, err := x.kindValues(ctx, l, kind, cur)
	if err != nil {
		return nil, 0, err
	}
	if len(out) > 0 {
		dir |= compNoFile // subcommands first: never files beside them
	}
	return append(out, vals...), dir, nil
}

// children lists the words that may follow the command words name, each
// with its description, sorted.
func (r *Registry) children(name string) []string {
	prefix := name + " "
	if name == "" {
		prefix = ""
	}
	seen := map[string]bool{}
	var out []string
	for n, c := range r.cmds {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok || rest == "" {
			continue
		}
		next, _, deeper := strings.Cut(rest, " ")
		if seen[next] {
			continue
		}
		seen[next] = true
		desc := ""
		switch full := prefix + next; {
		case !deeper:
			desc = c.Short
		case r.cmds[full] != nil:
			desc = r.cmds[full].Short
		case groupShort[full] != "":
			desc = groupShort[full]
		default:
			desc = strings.Join(r.Subcommands(full), ", ")
		}
		out = append(out, next+"\t"+desc)
	}
	sort.Strings(out)
	return out
}

// flagCandidates are the flags of the command (and the global ones) that
// start with cur, long names only unless cur is a short one's start.
func flagCandidates(l line, cur string) []string {
	var out []string
	for _, f := range l.own {
		if f.Hidden || f.Deprecated != "" {
			continue
		}
		if n := "--" + f.Name; strings.HasPrefix(n, cur) {
			out = append(out, n+"\t"+f.Usage)
		}
		if f.Shorthand != "" && cur == "-"+f.Shorthand {
			out = append(out, cur+"\t"+f.Usage)
		}
	}
	if strings.HasPrefix("--help", cur) && l.flags.Lookup("help") == nil {
		out = append(out, "--help\tShow help for this command")
	}
	sort.Strings(out)
	return out
}

// Kinds of values.
const (
	kindNone    = ""
	kindRack    = "rack"
	kindApp     = "app"
	kindPID     = "pid"
	kindRelease = "release"
	kindFile    = "file"
	kindDir     = "dir"
)

// argKinds names what each command's positional arguments are; the last
// kind repeats. Commands not listed take nothing completable.
var argKinds = map[string][]string{
	"switch": {kindRack}, "login": {kindRack, kindNone},
	"apps info": {kindApp}, "apps delete": {kindApp}, "apps lock": {kindApp}, "apps unlock": {kindApp}, "apps params": {kindApp},
	"ps info": {kindPID}, "ps stop": {kindPID}, "exec": {kindPID, kindNone},
	"releases info": {kindRelease}, "releases promote": {kindRelease}, "releases rollback": {kindRelease},
	"build": {kindDir}, "deploy": {kindDir}, "builds import": {kindFile},
}

// argWords are positional arguments from a fixed list.
var argWords = map[string][]string{
	"completion":    {"bash", "zsh", "fish", "powershell"},
	"test-auth":     {"mfa", "totp", "webauthn"},
	"mfa preferred": {"totp", "webauthn", "none"},
}

func argKind(cmd string, n int) string {
	if w := argWords[cmd]; w != nil {
		return "words:" + strings.Join(w, " ")
	}
	kinds := argKinds[cmd]
	switch {
	case len(kinds) == 0:
		return kindNone
	case n < len(kinds):
		return kinds[n]
	}
	return kinds[len(kinds)-1]
}

// flagKinds names the values of flags, by long name.
var flagKinds = map[string]string{
	"rack": kindRack, "app": kindApp, "release": kindRelease,
	"file": kindFile, "manifest": kindFile, "auth-file": kindFile, "qr-png": kindFile, "config": kindDir,
	"mfa-method": "words:totp webauthn",
}

func (x *Ctx) flagValues(ctx context.Context, l line, f *pflag.Flag, cur, prefix string) ([]string, int, error) {
	kind := flagKinds[f.Name]
	if f.Name == "output" {
		kind = "words:" + strings.Join(outputFormats(x.Registry.cmds[l.cmd]), " ")
	}
	vals, dir, err := x.kindValues(ctx, l, kind, cur)
	if prefix != "" {
		for i, v := range vals {
			vals[i] = prefix + v
		}
	}
	return vals, dir, err
}

// outputFormats reads a command's --output values from its usage line
// ("--output text|json|token"); json when it names none.
func outputFormats(c *Command) []string {
	if c != nil {
		if _, rest, ok := strings.Cut(c.Usage, "--output "); ok {
			f, _, _ := strings.Cut(rest, "]")
			if f, _, _ = strings.Cut(f, " "); f != "" {
				return strings.Split(f, "|")
			}
		}
	}
	return []string{"json"}
}

// kindValues lists the values of one kind that start with cur.
func (x *Ctx) kindValues(ctx context.Context, l line, kind, cur string) ([]string, int, error) {
	if w, ok := strings.CutPrefix(kind, "words:"); ok {
		return prefixed(strings.Fields(w), cur), compNoFile, nil
	}
	switch kind {
	case kindFile:
		return nil, 0, nil // the shell's file names
	case kindDir:
		return nil, compFilterDirs, nil
	case kindRack:
		racks, err := x.rackNames()
		return prefixed(racks, cur), compNoFile, err
	case kindApp, kindPID, kindRelease:
		names, err := x.seenNames(ctx, l, kind)
		return prefixed(names, cur), compNoFile, err
	}
	return nil, compNoFile, nil
}

// rackNames are the config's racks, each with its gateway URL.
func (x *Ctx) rackNames() ([]string, error) {
	p, err := x.Profile()
	if err != nil {
		return nil, err
	}
	cfg := p.Config()
	var out []string
	for _, n := range cfg.Names() {
		out = append(out, n+"\t"+cfg.Gateways[n].URL)
	}
	return out, nil
}

// seenNames are the apps (or the app's process or release ids) commands
// last saw on the command line's rack. Nothing seen yet: the daemon asks
// the rack once, for at most completeFetch, and remembers the answer.
func (x *Ctx) seenNames(ctx context.Context, l line, kind string) ([]string, error) {
	t, err := x.ResolveRack()
	if err != nil {
		return nil, err
	}
	key := core.SessionKey(t.Profile.Dir, t.Name)
	seenKind, app, path := core.SeenApps, "", proxyApps
	if kind != kindApp {
		app = x.completionApp(l)
		if app == "" {
			return nil, nil
		}
		seenKind, path = core.SeenProcesses, proxyApps+"/"+url.PathEscape(app)+"/processes"
		if kind == kindRelease {
			seenKind, path = core.SeenReleases, proxyApps+"/"+url.PathEscape(app)+"/releases"
		}
	}
	if names, ok := x.Core.Seen.Get(key, seenKind, app); ok || x.Mode != ModeDaemon {
		// Outside the daemon nothing is remembered, and a token read
		// could reach the keyring: only what is known is offered.
		return names, nil
	}
	tok, err := x.Credential(t)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, completeFetch)
	defer cancel()
	// Straight to the gateway, without the MFA machinery: a read that
	// wanted MFA is simply not completed, and nothing is ever asked.
	req := gateway.Request{Method: http.MethodGet, Path: path, Token: tok}
	raw, err := x.Core.Gateway(t.URL).DoRaw(ctx, req)
	if err != nil {
		return nil, err
	}
	x.noteSeen(t, req, raw)
	names, _ := x.Core.Seen.Get(key, seenKind, app)
	return names, nil
}

// completionApp is the app of the command line: -a, $CONVOX_APP, a
// .convox/app file in the caller's directory or above, then the
// directory's name, as the Convox commands resolve it.
func (x *Ctx) completionApp(l line) string {
	if a := l.values["app"]; a != "" {
		return a
	}
	if a := x.Getenv("CONVOX_APP"); a != "" {
		return a
	}
	dir := x.Inv.Cwd
	if dir == "" {
		return ""
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, ".convox", "app")); err == nil {
			if a := strings.TrimSpace(string(b)); a != "" {
				return a
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if base := filepath.Base(dir); base != string(filepath.Separator) && base != "." {
		return base
	}
	return ""
}

// prefixed keeps the candidates whose value starts with cur.
func prefixed(cands []string, cur string) []string {
	var out []string
	for _, c := range cands {
		v, _, _ := strings.Cut(c, "\t")
		if strings.HasPrefix(v, cur) {
			out = append(out, c)
		}
	}
	return out
}
