// Package grammar is rack-gateway's command-line grammar, shared by the
// thin CLI (which looks at the command words for the few decisions it makes
// before it reaches the agent) and the agent (which parses the whole
// command line). It is the upstream CLI's grammar: flags may come before,
// between and after command words and arguments, "--" ends the flags, and
// "--flag=value" and "--flag value" are the same.
//
// It uses only the standard library: the CLI imports it and must stay
// small.
package grammar

import "strings"

// Flag is one flag as the grammar needs it: its names and whether it takes
// a value.
type Flag struct {
	Long  string // without the dashes
	Short string // one letter, or ""
	Value bool   // takes a value ("--rack prod"); false for a switch
	Usage string
}

// Globals are the flags every command takes. The agent binds them to its
// options; the CLI reads them to tell flags from command words.
var Globals = []Flag{
	{Long: "rack", Short: "r", Value: true, Usage: "Rack to use (default: $RACK_GATEWAY_RACK, then the current rack)"},
	{Long: "config", Value: true, Usage: "Config directory (default: $GATEWAY_CLI_CONFIG_DIR or ~/.config/rack-gateway)"},
	{Long: "api-token", Value: true, Usage: "API token to use instead of the session (or $RACK_GATEWAY_API_TOKEN)"},
	{Long: "mfa-code", Value: true, Usage: "MFA code to use as this command's proof"},
	{Long: "mfa-method", Value: true, Usage: "MFA method to use: totp or webauthn"},
	{Long: "no-agent", Usage: "Run in-process without the agent"},
	{Long: "help", Short: "h", Usage: "Show help for this command"},
	{Long: "version", Usage: "Show the versions, as the version command does"},
}

// VersionArgs turns a command line with --version (before any "--") into
// the version command, keeping the global flags and their values (the rack
// whose versions to show); other lines come back as they are. After the
// words "rack update", --version is that command's own flag, the version
// to update to, as in the upstream CLI.
func VersionArgs(args []string) []string {
	found := false
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if a == "--version" || a == "--version=true" {
			found = len(words) < 2 || words[0] != "rack" || words[1] != "update"
			break
		}
		if !IsFlag(a) {
			words = append(words, a)
		} else if value, known := GlobalLookup(a); known && value && TakesNext(a, GlobalLookup) {
			i++
		}
	}
	if !found {
		return args
	}
	out := []string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(a, "=")
		if !IsFlag(a) || name == "--version" || name == "--help" || name == "-h" {
			continue
		}
		value, known := GlobalLookup(name)
		if !known {
			continue
		}
		out = append(out, a)
		if value && !strings.Contains(a, "=") && i+1 < len(args) {
			out = append(out, args[i+1])
			i++
		}
	}
	return append(out, "version")
}

// Lookup tells, for a flag name as typed ("-a", "--app"), whether it takes
// a value, and whether it is known at all.
type Lookup func(name string) (value, known bool)

// GlobalLookup knows only the global flags.
func GlobalLookup(name string) (value, known bool) { return lookupIn(Globals, name) }

// LookupIn returns a Lookup over flags.
func LookupIn(flags []Flag) Lookup {
	return func(name string) (bool, bool) { return lookupIn(flags, name) }
}

func lookupIn(flags []Flag, name string) (value, known bool) {
	switch {
	case strings.HasPrefix(name, "--"):
		n := name[2:]
		for _, f := range flags {
			if f.Long == n {
				return f.Value, true
			}
		}
	case strings.HasPrefix(name, "-") && len(name) == 2:
		n := name[1:]
		for _, f := range flags {
			if f.Short == n {
				return f.Value, true
			}
		}
	}
	return false, false
}

// IsFlag reports whether a word is a flag rather than an argument. A lone
// "-" is an argument (it conventionally means stdin).
func IsFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// TakesNext reports whether the flag word a consumes the next word as its
// value: a value flag written without "=". A flag the lookup does not know
// is assumed to take a value when it is spelt as one (no "="), as the
// upstream CLI's parser assumes; only a known switch never does. Short
// flags written together ("-fa") or with their value attached ("-aweb")
// never take the next word.
func TakesNext(a string, lookup Lookup) bool {
	if !IsFlag(a) || a == "--" || strings.Contains(a, "=") {
		return false
	}
	if !strings.HasPrefix(a, "--") && len(a) > 2 {
		return false
	}
	value, known := lookup(a)
	return value || !known
}

// Node answers, for the command words found so far, whether one more word
// continues a command name, and which flags are known at that point.
type Node interface {
	// Continues reports whether words+next names a command or a group.
	Continues(words []string, next string) bool
	// Flags is the lookup to use after words (the global flags plus those
	// of the commands under words).
	Flags(words []string) Lookup
}

// Split finds the command words in argv, wherever flags stand between
// them, and returns them with the indexes they had. Finding stops at the
// first argument that continues no command name, and at "--".
func Split(argv []string, n Node) (words []string, at []int) {
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			break
		}
		if IsFlag(a) {
			if TakesNext(a, n.Flags(words)) {
				i++
			}
			continue
		}
		if !n.Continues(words, a) {
			break
		}
		words = append(words, a)
		at = append(at, i)
	}
	return words, at
}

// Without returns argv without the words at the given indexes.
func Without(argv []string, at []int) []string {
	out := make([]string, 0, len(argv))
	skip := make(map[int]bool, len(at))
	for _, i := range at {
		skip[i] = true
	}
	for i, a := range argv {
		if !skip[i] {
			out = append(out, a)
		}
	}
	return out
}

// FirstWords returns up to max leading non-flag words of argv, skipping
// flags and the values of the global value flags. It is what the CLI uses:
// it knows no command tree, only whether the first words are one of its
// own few commands, so a flag it does not know counts as a switch (a
// command's "--no-open" must not hide the word after it).
func FirstWords(argv []string, max int) []string {
	var out []string
	for i := 0; i < len(argv) && len(out) < max; i++ {
		a := argv[i]
		if a == "--" {
			break
		}
		if IsFlag(a) {
			if value, known := GlobalLookup(a); known && value && TakesNext(a, GlobalLookup) {
				i++
			}
			continue
		}
		out = append(out, a)
	}
	return out
}
