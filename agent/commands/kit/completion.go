package kit

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// completion: shell completion scripts built from the command registry, so
// they always list the commands and flags this build really has.

// RegisterCompletion adds the completion command, whose scripts are built
// from the registry the command runs with.
func RegisterCompletion(r *Registry) {
	r.Add(&Command{
		Name: "completion", Usage: "completion bash|zsh|fish|powershell", MinArgs: 1, MaxArgs: 1,
		ArgHint: "a shell: bash, zsh, fish or powershell",
		Short:   "Generate the autocompletion script for the specified shell",
		Long: `Generate the autocompletion script for rack-gateway for the specified shell.

  bash:        source <(rack-gateway completion bash)
  zsh:         source <(rack-gateway completion zsh)   (after compinit)
  fish:        rack-gateway completion fish | source
  powershell:  rack-gateway completion powershell | Out-String | Invoke-Expression`,
		Run: runCompletion,
	})
}

// complTree is the registry as completion sees it.
type complTree struct {
	top    []string            // first words, sorted
	subs   map[string][]string // group → second words
	flags  map[string][]string // full command name → its flags
	short  map[string]string   // first word or full name → description
	global []string
}

func buildTree(r *Registry) complTree {
	tr := complTree{subs: map[string][]string{}, flags: map[string][]string{}, short: map[string]string{}}
	seen := map[string]bool{}
	names := make([]string, 0, len(r.cmds))
	for n := range r.cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := r.cmds[n]
		first, second, group := strings.Cut(n, " ")
		if !seen[first] {
			seen[first] = true
			tr.top = append(tr.top, first)
		}
		if group {
			tr.subs[first] = append(tr.subs[first], second)
		} else {
			tr.short[first] = c.Short
		}
		tr.short[n] = c.Short
		fs := pflag.NewFlagSet(n, pflag.ContinueOnError)
		c.DefineFlags(fs)
		tr.flags[n] = flagNames(fs)
	}
	tr.global = append(flagNames(GlobalFlagSet()), "--help", "-h")
	return tr
}

func flagNames(fs *pflag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(f *pflag.Flag) {
		out = append(out, "--"+f.Name)
		if f.Shorthand != "" {
			out = append(out, "-"+f.Shorthand)
		}
	})
	return out
}

func runCompletion(_ context.Context, x *Ctx) error {
	if err := WriteCompletion(x.Out, x.Env.Registry, x.Args[0]); err != nil {
		return UsageErr(x.Cmd, "%v", err)
	}
	return nil
}

// WriteCompletion writes the completion script for shell, built from r:
// what `rack-gateway completion SHELL` prints.
func WriteCompletion(w io.Writer, r *Registry, shell string) error {
	tr := buildTree(r)
	switch shell {
	case "bash":
		bash(w, tr)
	case "zsh":
		zsh(w, tr)
	case "fish":
		fish(w, tr)
	case "powershell":
		powerShell(w, tr)
	default:
		return fmt.Errorf("unsupported shell %q: use bash, zsh, fish or powershell", shell)
	}
	return nil
}

func groups(tr complTree) []string {
	var g []string
	for k := range tr.subs {
		g = append(g, k)
	}
	sort.Strings(g)
	return g
}

func flagNamesSorted(tr complTree) []string {
	var n []string
	for k := range tr.flags {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func bash(w io.Writer, tr complTree) {
	fmt.Fprintf(w, "# bash completion for rack-gateway\n_rack_gateway() {\n")
	fmt.Fprintf(w, "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" w1=\"${COMP_WORDS[1]}\" w2=\"${COMP_WORDS[2]}\"\n")
	fmt.Fprintf(w, "  local global=%q\n", strings.Join(tr.global, " "))
	fmt.Fprintf(w, "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n    COMPREPLY=( $(compgen -W %q -- \"$cur\") )\n    return\n  fi\n", strings.Join(tr.top, " "))
	fmt.Fprintf(w, "  case \"$w1\" in\n")
	for _, g := range groups(tr) {
		fmt.Fprintf(w, "    %s) if [ \"$COMP_CWORD\" -eq 2 ]; then COMPREPLY=( $(compgen -W %q -- \"$cur\") ); return; fi;;\n", g, strings.Join(tr.subs[g], " "))
	}
	fmt.Fprintf(w, "  esac\n  local flags=\"\"\n  case \"$w1 $w2\" in\n")
	for _, n := range flagNamesSorted(tr) {
		if strings.Contains(n, " ") {
			fmt.Fprintf(w, "    %q) flags=%q;;\n", n, strings.Join(tr.flags[n], " "))
		}
	}
	fmt.Fprintf(w, "    *) case \"$w1\" in\n")
	for _, n := range flagNamesSorted(tr) {
		if !strings.Contains(n, " ") {
			fmt.Fprintf(w, "        %s) flags=%q;;\n", n, strings.Join(tr.flags[n], " "))
		}
	}
	fmt.Fprintf(w, "      esac;;\n  esac\n")
	fmt.Fprintf(w, "  if [[ \"$cur\" == -* ]]; then\n    COMPREPLY=( $(compgen -W \"$flags $global\" -- \"$cur\") )\n    return\n  fi\n")
	fmt.Fprintf(w, "  COMPREPLY=( $(compgen -f -- \"$cur\") )\n}\ncomplete -o default -F _rack_gateway rack-gateway\n")
}

func zsh(w io.Writer, tr complTree) {
	fmt.Fprintf(w, "#compdef rack-gateway\n# zsh completion for rack-gateway\n_rack_gateway() {\n")
	fmt.Fprintf(w, "  local -a global=(%s)\n", strings.Join(tr.global, " "))
	fmt.Fprintf(w, "  if (( CURRENT == 2 )); then\n    local -a cmds=(\n")
	for _, c := range tr.top {
		fmt.Fprintf(w, "      %s\n", zshQuote(c+":"+desc(tr, c)))
	}
	fmt.Fprintf(w, "    )\n    _describe 'command' cmds\n    return\n  fi\n  case \"${words[2]}\" in\n")
	for _, g := range groups(tr) {
		fmt.Fprintf(w, "    %s) if (( CURRENT == 3 )); then\n      local -a subs=(\n", g)
		for _, s := range tr.subs[g] {
			fmt.Fprintf(w, "        %s\n", zshQuote(s+":"+tr.short[g+" "+s]))
		}
		fmt.Fprintf(w, "      )\n      _describe 'subcommand' subs; return\n    fi;;\n")
	}
	fmt.Fprintf(w, "  esac\n  local -a flags=()\n  case \"${words[2]} ${words[3]}\" in\n")
	for _, n := range flagNamesSorted(tr) {
		if strings.Contains(n, " ") {
			fmt.Fprintf(w, "    %s) flags=(%s);;\n", zshQuote(n), strings.Join(tr.flags[n], " "))
		}
	}
	fmt.Fprintf(w, "    *) case \"${words[2]}\" in\n")
	for _, n := range flagNamesSorted(tr) {
		if !strings.Contains(n, " ") {
			fmt.Fprintf(w, "        %s) flags=(%s);;\n", n, strings.Join(tr.flags[n], " "))
		}
	}
	fmt.Fprintf(w, "      esac;;\n  esac\n")
	fmt.Fprintf(w, "  if [[ \"${words[CURRENT]}\" == -* ]]; then\n    compadd -- $flags $global\n    return\n  fi\n  _files\n}\n")
	fmt.Fprintf(w, "if [ \"$funcstack[1]\" = \"_rack_gateway\" ]; then\n  _rack_gateway \"$@\"\nelse\n  compdef _rack_gateway rack-gateway\nfi\n")
}

// groupShort describes the groups this file's neighbours add, in
// upstream's words; other groups are described by their members.
var groupShort = map[string]string{
	"api-token":       "Manage API tokens for the current gateway",
	"deploy-approval": "Manage deploy approval requests",
}

// desc is the description of a first word: the command's, or the
// group's members for a group without a command of its own.
func desc(tr complTree, first string) string {
	if d := tr.short[first]; d != "" {
		return d
	}
	if d := groupShort[first]; d != "" {
		return d
	}
	return strings.Join(tr.subs[first], ", ")
}

func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func fish(w io.Writer, tr complTree) {
	fmt.Fprintf(w, "# fish completion for rack-gateway\ncomplete -c rack-gateway -f\n")
	for _, c := range tr.top {
		fmt.Fprintf(w, "complete -c rack-gateway -n __fish_use_subcommand -a %s -d %s\n", c, fishQuote(desc(tr, c)))
	}
	for _, g := range groups(tr) {
		subs := strings.Join(tr.subs[g], " ")
		for _, s := range tr.subs[g] {
			fmt.Fprintf(w, "complete -c rack-gateway -n '__fish_seen_subcommand_from %s; and not __fish_seen_subcommand_from %s' -a %s -d %s\n",
				g, subs, s, fishQuote(tr.short[g+" "+s]))
		}
	}
	for _, n := range flagNamesSorted(tr) {
		cond := "__fish_seen_subcommand_from " + n
		if first, second, ok := strings.Cut(n, " "); ok {
			cond = "__fish_seen_subcommand_from " + first + "; and __fish_seen_subcommand_from " + second
		}
		for _, f := range tr.flags[n] {
			fmt.Fprintf(w, "complete -c rack-gateway -n '%s' %s\n", cond, fishFlag(f))
		}
	}
	for _, f := range tr.global {
		fmt.Fprintf(w, "complete -c rack-gateway %s\n", fishFlag(f))
	}
}

func fishFlag(f string) string {
	if l, ok := strings.CutPrefix(f, "--"); ok {
		return "-l " + l
	}
	return "-s " + strings.TrimPrefix(f, "-")
}

func pSQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func powerShell(w io.Writer, tr complTree) {
	fmt.Fprintf(w, "# powershell completion for rack-gateway\n$__rgTree = @{\n")
	fmt.Fprintf(w, "  '' = @(%s)\n", pSList(tr.top))
	for _, g := range groups(tr) {
		fmt.Fprintf(w, "  %s = @(%s)\n", pSQuote(g), pSList(tr.subs[g]))
	}
	fmt.Fprintf(w, "}\n$__rgFlags = @{\n")
	for _, n := range flagNamesSorted(tr) {
		fmt.Fprintf(w, "  %s = @(%s)\n", pSQuote(n), pSList(tr.flags[n]))
	}
	fmt.Fprintf(w, "}\n$__rgGlobal = @(%s)\n", pSList(tr.global))
	fmt.Fprint(w, `Register-ArgumentCompleter -Native -CommandName rack-gateway -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() } | Where-Object { $_ -notlike '-*' -and $_ -ne $wordToComplete })
  $candidates = @()
  if ($wordToComplete -like '-*') {
    $key = ($words | Select-Object -First 2) -join ' '
    if (-not $__rgFlags.ContainsKey($key)) { $key = ($words | Select-Object -First 1) -join ' ' }
    if ($__rgFlags.ContainsKey($key)) { $candidates += $__rgFlags[$key] }
    $candidates += $__rgGlobal
  } elseif ($words.Count -eq 0) {
    $candidates = $__rgTree['']
  } elseif ($words.Count -eq 1 -and $__rgTree.ContainsKey($words[0])) {
    $candidates = $__rgTree[$words[0]]
  }
  $candidates | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
  }
}
`)
}

func pSList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = pSQuote(s)
	}
	return strings.Join(q, ", ")
}
