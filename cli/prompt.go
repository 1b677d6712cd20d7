package cli

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/grammar"
	"github.com/rack-gateway/rack-gateway/platform/statusfile"
)

// promptUsage is `rack-gateway prompt --help`. The command is handled in the
// CLI process, so its help is here rather than in the agent's command table.
const promptUsage = `Usage: rack-gateway prompt [--format FMT] [--rack NAME]

Print a short shell-prompt segment for one rack's MFA step-up window, for
example "prod 🔓 7m" while the window is open and "prod 🔒" when it is not.

It only reads the agent's status file (` + "`$XDG_RUNTIME_DIR/rack-gateway/status`" + `):
it never contacts or starts the agent, gives up silently after 50 ms, and on
any problem (no file, not logged in, unknown rack) prints nothing and exits 0,
so it is safe to run on every prompt.

The rack is --rack NAME (or -r), else $RACK_GATEWAY_RACK, else the current
rack, else the first logged-in rack.

Flags:
  -f, --format FMT   output format (default "%r %i %t", without the trailing
                     space when no window is open)
  -r, --rack NAME    rack to show
  -h, --help         show this help

Format placeholders:
  %r   rack name
  %i   icon: 🔓 while the step-up window is open, 🔒 otherwise
  %t   time left, rounded down: "7m", "45s"; empty when no window is open
  %s   seconds left as a number; 0 when no window is open
  %e   the logged-in email; empty when unknown
  %%   a literal %
Anything else is printed as is.

Shell snippets for bash, zsh, fish and starship are in packaging/shell/.
`

// Icons for the segment: open while the step-up window is, closed otherwise.
const (
	iconOpen   = "🔓"
	iconClosed = "🔒"
)

// promptBudget is how long `rack-gateway prompt` may spend after its main
// starts before it gives up and exits silently: a shell waits for it on
// every Enter, and a stuck filesystem must not freeze the terminal. A
// variable so tests on slow machines can raise it.
var promptBudget = 50 * time.Millisecond

// promptOptions are the parsed flags of `rack-gateway prompt`.
type promptOptions struct {
	format string // "" means the default segment
	rack   string // "" means $RACK_GATEWAY_RACK, then current, then first
	help   bool
}

// isPromptCommand reports whether args run `rack-gateway prompt`.
func isPromptCommand(args []string) bool {
	w := commandWords(args, 1)
	return len(w) == 1 && w[0] == "prompt"
}

// runPrompt is `rack-gateway prompt`. It always returns 0: a prompt hook
// that fails would print errors or a failure marker on every Enter.
func runPrompt(args []string, s Streams) int {
	opts, err := parsePromptArgs(args)
	if err != nil {
		return 0
	}
	if opts.help {
		_, _ = io.WriteString(s.Out, promptUsage)
		return 0
	}
	// Whoever claims first decides: either the segment is printed whole,
	// or the watchdog exits having printed nothing. Never half a segment.
	var claimed atomic.Bool
	watchdog := time.AfterFunc(promptBudget, func() {
		if claimed.CompareAndSwap(false, true) {
			os.Exit(0)
		}
	})
	seg := promptSegment(opts, os.Getenv, time.Now())
	if claimed.CompareAndSwap(false, true) {
		watchdog.Stop()
		if seg != "" {
			_, _ = io.WriteString(s.Out, seg+"\n")
		}
	}
	return 0
}

// errPromptUsage is any flag problem; it is never shown (see runPrompt).
var errPromptUsage = errors.New("prompt: bad usage")

// parsePromptArgs reads the prompt's own flags from the whole command line.
// The CLI's global flags may appear too (`rack-gateway -r prod prompt`):
// -r/--rack counts, the others are skipped with their values.
func parsePromptArgs(args []string) (promptOptions, error) {
	var o promptOptions
	sawCommand := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := a, "", false
		if strings.HasPrefix(a, "--") {
			name, val, hasVal = strings.Cut(a, "=")
		}
		var err error
		switch {
		case a == "prompt" && !sawCommand:
			sawCommand = true
		case a == "-h" || a == "--help":
			o.help = true
		case name == "-f" || name == "--format":
			o.format, err = flagValue(args, &i, val, hasVal)
		case name == "-r" || name == "--rack":
			o.rack, err = flagValue(args, &i, val, hasVal)
		case grammar.TakesNext(name, grammar.GlobalLookup) || hasVal:
			_, err = flagValue(args, &i, val, hasVal)
		case name == "--no-agent":
		default:
			err = errPromptUsage
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// flagValue returns a flag's value: the part after "=" when there was one,
// else the next argument (advancing *i past it).
func flagValue(args []string, i *int, val string, hasVal bool) (string, error) {
	if hasVal {
		return val, nil
	}
	if *i+1 >= len(args) {
		return "", errPromptUsage
	}
	*i++
	return args[*i], nil
}

// promptSegment reads the status file and renders the chosen rack's
// segment; "" when there is nothing to show or anything goes wrong.
func promptSegment(o promptOptions, getenv func(string) string, now time.Time) string {
	path, err := statusfile.Path()
	if err != nil {
		return ""
	}
	entries, err := statusfile.Read(path)
	if err != nil {
		return ""
	}
	rack := o.rack
	if rack == "" {
		rack = getenv("RACK_GATEWAY_RACK")
	}
	e, ok := pickEntry(entries, rack)
	if !ok {
		return ""
	}
	return renderPrompt(o.format, e, now)
}

// pickEntry chooses the rack to show, in the same order the agent resolves
// a command's rack: the named one (which must exist), else the current
// one, else the first.
func pickEntry(entries []statusfile.Entry, rack string) (statusfile.Entry, bool) {
	if rack != "" {
		for _, e := range entries {
			if e.Rack == rack {
				return e, true
			}
		}
		return statusfile.Entry{}, false
	}
	for _, e := range entries {
		if e.Current {
			return e, true
		}
	}
	if len(entries) > 0 {
		return entries[0], true
	}
	return statusfile.Entry{}, false
}

// remaining is the window's whole seconds left at now, 0 when closed. Both
// times are truncated to seconds first, as the shell function does with
// $EPOCHSECONDS, so the two always print the same thing.
func remaining(expires, now time.Time) int64 {
	if expires.IsZero() {
		return 0
	}
	if r := expires.Unix() - now.Unix(); r > 0 {
		return r
	}
	return 0
}

// countdown renders seconds left: whole minutes rounded down ("7m"), or
// seconds under a minute ("45s"); "" when closed.
func countdown(secs int64) string {
	switch {
	case secs >= 60:
		return strconv.FormatInt(secs/60, 10) + "m"
	case secs > 0:
		return strconv.FormatInt(secs, 10) + "s"
	}
	return ""
}

// renderPrompt expands format for e (see promptUsage); "" selects the
// default segment.
func renderPrompt(format string, e statusfile.Entry, now time.Time) string {
	secs := remaining(e.Expires, now)
	icon := iconClosed
	if secs > 0 {
		icon = iconOpen
	}
	if format == "" {
		if secs > 0 {
			return e.Rack + " " + icon + " " + countdown(secs)
		}
		return e.Rack + " " + icon
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'r':
			b.WriteString(e.Rack)
		case 'i':
			b.WriteString(icon)
		case 't':
			b.WriteString(countdown(secs))
		case 's':
			b.WriteString(strconv.FormatInt(secs, 10))
		case 'e':
			b.WriteString(e.Email)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
