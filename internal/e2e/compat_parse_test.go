package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// The compatibility table's file format (testdata/compat/README.md
// describes it for the people who add rows): a file is a list of steps
// run in order, each either a directive that sets up state or a row that
// runs one command line and checks its exit status, stdout and stderr.

// compatStep is one directive or row of a table file.
type compatStep struct {
	file string
	line int
	// word is the directive ("login", "as", "sandbox", "env", "file",
	// "cd") or "$" for a row.
	word string
	args []string // a directive's words, after shell-like splitting
	rest string   // a directive's text after the word, unsplit (file, sandbox)

	// A row's parts.
	cmd    string   // the command line after "$ rack-gateway "
	out    []string // expected stdout lines: literal, "~ regex", "...", "<blank>"
	exit   int
	stderr []stderrCheck
	stdin  []string
	skip   string // a known difference: the row runs, a mismatch is only logged
}

// stderrCheck is one "stderr:" (a line equal to text) or "stderr~"
// (a line matching the regex) check.
type stderrCheck struct {
	re   bool
	text string
}

func (s compatStep) where() string { return fmt.Sprintf("%s:%d", s.file, s.line) }

// compatDirectives are the words a line may start with outside a row's
// expectations.
var compatDirectives = map[string]bool{"login": true, "as": true, "sandbox": true, "env": true, "file": true, "cd": true}

// parseCompatFile reads one table file.
func parseCompatFile(path, name string) ([]compatStep, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var (
		steps   []compatStep
		row     *compatStep // the row whose expectations are being read
		skip    string      // a skip: waiting for its row
		skipAt  int
		flush   = func() { row = nil }
		errorAt = func(n int, format string, a ...any) error {
			return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, a...))
		}
	)
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.TrimSpace(line) == "":
			flush()
			continue
		case strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "$ "):
			cmd, ok := strings.CutPrefix(strings.TrimSpace(line[2:]), "rack-gateway")
			if !ok || (cmd != "" && cmd[0] != ' ') {
				return nil, errorAt(n, "a row runs rack-gateway: %q", line)
			}
			steps = append(steps, compatStep{file: name, line: n, word: "$", cmd: strings.TrimSpace(cmd), skip: skip})
			row, skip = &steps[len(steps)-1], ""
			continue
		case strings.HasPrefix(line, "skip:"):
			if row != nil {
				return nil, errorAt(n, "skip: goes before the row it marks")
			}
			skip, skipAt = strings.TrimSpace(strings.TrimPrefix(line, "skip:")), n
			if skip == "" {
				return nil, errorAt(n, "skip: needs a reason")
			}
			continue
		}
		if row != nil {
			switch {
			case strings.HasPrefix(line, "! exit "):
				code, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "! exit ")))
				if err != nil {
					return nil, errorAt(n, "bad exit status: %q", line)
				}
				row.exit = code
			case strings.HasPrefix(line, "stderr: "):
				row.stderr = append(row.stderr, stderrCheck{text: strings.TrimPrefix(line, "stderr: ")})
			case strings.HasPrefix(line, "stderr~ "):
				text := strings.TrimPrefix(line, "stderr~ ")
				if _, err := regexp.Compile(text); err != nil {
					return nil, errorAt(n, "stderr~: %v", err)
				}
				row.stderr = append(row.stderr, stderrCheck{re: true, text: text})
			case strings.HasPrefix(line, "stdin: "):
				row.stdin = append(row.stdin, strings.TrimPrefix(line, "stdin: "))
			default:
				if re, ok := strings.CutPrefix(line, "~ "); ok {
					if _, err := regexp.Compile(re); err != nil {
						return nil, errorAt(n, "~: %v", err)
					}
				}
				if len(row.stderr) > 0 || row.exit != 0 {
					return nil, errorAt(n, "stdout lines come before ! exit and stderr checks")
				}
				row.out = append(row.out, line)
			}
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		if !compatDirectives[word] {
			return nil, errorAt(n, "unknown directive %q (a row starts with \"$ rack-gateway\")", word)
		}
		var args []string
		if word != "file" && word != "sandbox" { // these take the rest of the line as written
			if args, err = shellSplit(rest); err != nil {
				return nil, errorAt(n, "%v", err)
			}
		}
		if skip != "" {
			return nil, errorAt(skipAt, "skip: must be followed by a row")
		}
		steps = append(steps, compatStep{file: name, line: n, word: word, args: args, rest: strings.TrimSpace(rest)})
	}
	if skip != "" {
		return nil, errorAt(skipAt, "skip: must be followed by a row")
	}
	return steps, nil
}

// shellSplit splits a command line as a POSIX shell would, for the
// quoting people write: 'single', "double" (with \" and \\), and \x.
// There is no expansion; {{...}} placeholders are replaced before.
func shellSplit(s string) ([]string, error) {
	var (
		out  []string
		cur  strings.Builder
		have bool // cur is a word, even if empty ('')
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			have = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\' || s[i+1] == '$') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			have = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			have = true
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}

// compatKinds are the {{kind}} placeholders an expected line may hold:
// the volatile parts of an output (new ids, times) as regular expressions.
var compatKinds = map[string]string{
	"release":  `R[A-Z0-9]{10}`,
	"build":    `B[A-Z0-9]{10}`,
	"pid":      `[a-z0-9]+-[a-z0-9]+`,
	"ago":      `(?:now|(?:\d+|an?|about an?) (?:second|minute|hour|day|week|month|year)s? ago)`,
	"duration": `(?:\d+[a-zµ]+)+(?:\.\d+[a-zµ]+)?|\d+(?:\.\d+)?[a-zµ]+`,
	"time":     `\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S*`,
	"uuid":     `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
	"num":      `\d+`,
	"word":     `\S+`,
	"any":      `.*`,
}

var placeholderRE = regexp.MustCompile(`\{\{([A-Za-z_][A-Za-z0-9_]*)(?:=([a-z]+))?\}\}`)

// compatLine turns one expected stdout line into an anchored regexp and
// the variable names its capture groups fill, in order. vars holds the
// values captured by earlier rows: {{NAME}} is replaced by one literally.
// In a loose line (one of a row where some line has a placeholder) a run
// of two or more blanks matches any such run: a table's column widths
// follow its volatile cells, in every line of it.
func compatLine(line string, vars map[string]string, loose bool) (*regexp.Regexp, []string, error) {
	if re, ok := strings.CutPrefix(line, "~ "); ok {
		rx, err := regexp.Compile("^(?:" + expandVars(re, vars, regexp.QuoteMeta) + ")$")
		return rx, nil, err
	}
	if line == "<blank>" {
		return regexp.MustCompile(`^$`), nil, nil
	}
	var (
		b     strings.Builder
		names []string
		last  int
	)
	lit := func(s string) string { return regexp.QuoteMeta(s) }
	for _, m := range placeholderRE.FindAllStringSubmatchIndex(line, -1) {
		b.WriteString(lit(line[last:m[0]]))
		last = m[1]
		name := line[m[2]:m[3]]
		if m[4] >= 0 { // {{NAME=kind}}
			kind := line[m[4]:m[5]]
			re, ok := compatKinds[kind]
			if !ok {
				return nil, nil, fmt.Errorf("unknown placeholder kind %q", kind)
			}
			b.WriteString("(" + re + ")")
			names = append(names, name)
			continue
		}
		if v, ok := vars[name]; ok {
			b.WriteString(lit(v))
			continue
		}
		re, ok := compatKinds[name]
		if !ok {
			return nil, nil, fmt.Errorf("{{%s}} is neither a placeholder kind nor a captured variable", name)
		}
		b.WriteString("(?:" + re + ")")
	}
	b.WriteString(lit(line[last:]))
	pat := b.String()
	if loose {
		pat = regexp.MustCompile(`  +`).ReplaceAllString(pat, " {2,}")
	}
	rx, err := regexp.Compile("^" + pat + "$")
	return rx, names, err
}

// expandVars replaces {{NAME}} by a captured value (through quote) and
// leaves any other {{...}} alone.
func expandVars(s string, vars map[string]string, quote func(string) string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := placeholderRE.FindStringSubmatch(m)
		if v, ok := vars[sub[1]]; ok && sub[2] == "" {
			return quote(v)
		}
		return m
	})
}

// matchLines matches actual stdout lines against the expected ones, where
// "..." stands for any number of lines, and returns what the placeholders
// captured. It explains the first difference when they do not match.
func matchLines(want []string, got []string, vars map[string]string) (map[string]string, error) {
	type pat struct {
		gap   bool
		rx    *regexp.Regexp
		names []string
		src   string
	}
	loose := false
	for _, w := range want {
		loose = loose || placeholderRE.MatchString(expandVars(w, vars, func(string) string { return "" }))
	}
	pats := make([]pat, 0, len(want))
	for _, w := range want {
		if w == "..." {
			pats = append(pats, pat{gap: true, src: w})
			continue
		}
		rx, names, err := compatLine(w, vars, loose)
		if err != nil {
			return nil, fmt.Errorf("expected line %q: %v", w, err)
		}
		pats = append(pats, pat{rx: rx, names: names, src: w})
	}
	// best is the furthest point a failed match got to, for the message.
	bestP, bestG := -1, -1
	var walk func(p, g int, caps map[string]string) map[string]string
	walk = func(p, g int, caps map[string]string) map[string]string {
		if p > bestP || (p == bestP && g > bestG) {
			bestP, bestG = p, g
		}
		if p == len(pats) {
			if g == len(got) {
				return caps
			}
			return nil
		}
		if pats[p].gap {
			for k := g; k <= len(got); k++ {
				if c := walk(p+1, k, caps); c != nil {
					return c
				}
			}
			return nil
		}
		if g == len(got) {
			return nil
		}
		m := pats[p].rx.FindStringSubmatch(got[g])
		if m == nil {
			return nil
		}
		next := caps
		if len(pats[p].names) > 0 {
			next = map[string]string{}
			for k, v := range caps {
				next[k] = v
			}
			for i, n := range pats[p].names {
				next[n] = m[i+1]
			}
		}
		return walk(p+1, g+1, next)
	}
	if caps := walk(0, 0, map[string]string{}); caps != nil {
		return caps, nil
	}
	switch {
	case bestP >= len(pats):
		return nil, fmt.Errorf("unexpected stdout line %d: %q", bestG+1, got[bestG])
	case bestG >= len(got):
		return nil, fmt.Errorf("stdout ended before expected line %q", pats[bestP].src)
	default:
		return nil, fmt.Errorf("stdout line %d %q does not match expected %q", bestG+1, got[bestG], pats[bestP].src)
	}
}
