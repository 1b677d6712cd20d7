package commands

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

func init() {
	register(&Command{
		Name: "completion", Usage: "completion bash|zsh|fish|powershell", MinArgs: 1, MaxArgs: 1,
		ArgHint: "a shell: bash, zsh, fish or powershell",
		Short:   "Generate the autocompletion script for the specified shell",
		Long: `Generate the autocompletion script for rack-gateway for the specified shell.

  bash:        source <(rack-gateway completion bash)
  zsh:         source <(rack-gateway completion zsh)   (after compinit)
  fish:        rack-gateway completion fish | source
  powershell:  rack-gateway completion powershell | Out-String | Invoke-Expression`,
		Run: natRunCompletion,
	})
}

// natTree is the registry as completion sees it.
type natTree struct {
	top    []string            // first words, sorted
	subs   map[string][]string // group → second words
	flags  map[string][]string // full command name → its flags
	short  map[string]string   // first word or full name → description
	global []string
}

func natBuildTree() natTree {
	tr := natTree{subs: map[string][]string{}, flags: map[string][]string{}, short: map[string]string{}}
	seen := map[string]bool{}
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := registry[n]
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
		if c.Flags != nil {
			c.Flags(fs)
		}
		tr.flags[n] = natFlagNames(fs)
	}
	g := pflag.NewFlagSet("", pflag.ContinueOnError)
	var gf GlobalFlags
	gf.bind(g)
	tr.global = append(natFlagNames(g), "--help", "-h")
	return tr
}

func natFlagNames(fs *pflag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(f *pflag.Flag) {
		out = append(out, "--"+f.Name)
		if f.Shorthand != "" {
			out = append(out, "-"+f.Shorthand)
		}
	})
	return out
}

func natRunCompletion(_ context.Context, x *Ctx) error {
	tr := natBuildTree()
	switch x.Args[0] {
	case "bash":
		natBash(x.Out, tr)
	case "zsh":
		natZsh(x.Out, tr)
	case "fish":
		natFish(x.Out, tr)
	case "powershell":
		natPowerShell(x.Out, tr)
	default:
		return usageErr(x.Cmd, "unsupported shell %q: use bash, zsh, fish or powershell", x.Args[0])
	}
	return nil
}

func natGroups(tr natTree) []string {
	var g []string
	for k := range tr.subs {
		g = append(g, k)
	}
	sort.Strings(g)
	return g
}

func natFlagNamesSorted(tr natTree) []string {
	var n []string
	for k := range tr.flags {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func natBash(w io.Writer, tr natTree) {
	fmt.Fprintf(w, "# bash completion for rack-gateway\n_rack_gateway() {\n")
	fmt.Fprintf(w, "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" w1=\"${COMP_WORDS[1]}\" w2=\"${COMP_WORDS[2]}\"\n")
	fmt.Fprintf(w, "  local global=%q\n", strings.Join(tr.global, " "))
	fmt.Fprintf(w, "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n    COMPREPLY=( $(compgen -W %q -- \"$cur\") )\n    return\n  fi\n", strings.Join(tr.top, " "))
	fmt.Fprintf(w, "  case \"$w1\" in\n")
	for _, g := range natGroups(tr) {
		fmt.Fprintf(w, "    %s) if [ \"$COMP_CWORD\" -eq 2 ]; then COMPREPLY=( $(compgen -W %q -- \"$cur\") ); return; fi;;\n", g, strings.Join(tr.subs[g], " "))
	}
	fmt.Fprintf(w, "  esac\n  local flags=\"\"\n  case \"$w1 $w2\" in\n")
	for _, n := range natFlagNamesSorted(tr) {
		if strings.Contains(n, " ") {
			fmt.Fprintf(w, "    %q) flags=%q;;\n", n, strings.Join(tr.flags[n], " "))
		}
	}
	fmt.Fprintf(w, "    *) case \"$w1\" in\n")
	for _, n := range natFlagNamesSorted(tr) {
		if !strings.Contains(n, " ") {
			fmt.Fprintf(w, "        %s) flags=%q;;\n", n, strings.Join(tr.flags[n], " "))
		}
	}
	fmt.Fprintf(w, "      esac;;\n  esac\n")
	fmt.Fprintf(w, "  if [[ \"$cur\" == -* ]]; then\n    COMPREPLY=( $(compgen -W \"$flags $global\" -- \"$cur\") )\n    return\n  fi\n")
	fmt.Fprintf(w, "  COMPREPLY=( $(compgen -f -- \"$cur\") )\n}\ncomplete -o default -F _rack_gateway rack-gateway\n")
}

func natZsh(w io.Writer, tr natTree) {
	fmt.Fprintf(w, "#compdef rack-gateway\n# zsh completion for rack-gateway\n_rack_gateway() {\n")
	fmt.Fprintf(w, "  local -a global=(%s)\n", strings.Join(tr.global, " "))
	fmt.Fprintf(w, "  if (( CURRENT == 2 )); then\n    local -a cmds=(\n")
	for _, c := range tr.top {
		fmt.Fprintf(w, "      %s\n", natZshQuote(c+":"+natDesc(tr, c)))
	}
	fmt.Fprintf(w, "    )\n    _describe 'command' cmds\n    return\n  fi\n  case \"${words[2]}\" in\n")
	for _, g := range natGroups(tr) {
		fmt.Fprintf(w, "    %s) if (( CURRENT == 3 )); then\n      local -a subs=(\n", g)
		for _, s := range tr.subs[g] {
			fmt.Fprintf(w, "        %s\n", natZshQuote(s+":"+tr.short[g+" "+s]))
		}
		fmt.Fprintf(w, "      )\n      _describe 'subcommand' subs; return\n    fi;;\n")
	}
	fmt.Fprintf(w, "  esac\n  local -a flags=()\n  case \"${words[2]} ${words[3]}\" in\n")
	for _, n := range natFlagNamesSorted(tr) {
		if strings.Contains(n, " ") {
			fmt.Fprintf(w, "    %s) flags=(%s);;\n", natZshQuote(n), strings.Join(tr.flags[n], " "))
		}
	}
	fmt.Fprintf(w, "    *) case \"${words[2]}\" in\n")
	for _, n := range natFlagNamesSorted(tr) {
		if !strings.Contains(n, " ") {
			fmt.Fprintf(w, "        %s) flags=(%s);;\n", n, strings.Join(tr.flags[n], " "))
		}
	}
	fmt.Fprintf(w, "      esac;;\n  esac\n")
	fmt.Fprintf(w, "  if [[ \"${words[CURRENT]}\" == -* ]]; then\n    compadd -- $flags $global\n    return\n  fi\n  _files\n}\n")
	fmt.Fprintf(w, "if [ \"$funcstack[1]\" = \"_rack_gateway\" ]; then\n  _rack_gateway \"$@\"\nelse\n  compdef _rack_gateway rack-gateway\nfi\n")
}

// natGroupShort describes the groups this file's neighbours add, in
// upstream's words; other groups are described by their members.
var natGroupShort = map[string]string{
	"api-token":       "Manage API tokens for the current gateway",
	"deploy-approval": "Manage deploy approval requests",
}

// natDesc is the description of a first word: the command's, or the
// group's members for a group without a command of its own.
func natDesc(tr natTree, first string) string {
	if d := tr.short[first]; d != "" {
		return d
	}
	if d := natGroupShort[first]; d != "" {
		return d
	}
	return strings.Join(tr.subs[first], ", ")
}

func natZshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func natFishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func natFish(w io.Writer, tr natTree) {
	fmt.Fprintf(w, "# fish completion for rack-gateway\ncomplete -c rack-gateway -f\n")
	for _, c := range tr.top {
		fmt.Fprintf(w, "complete -c rack-gateway -n __fish_use_subcommand -a %s -d %s\n", c, natFishQuote(natDesc(tr, c)))
	}
	for _, g := range natGroups(tr) {
		subs := strings.Join(tr.subs[g], " ")
		for _, s := range tr.subs[g] {
			fmt.Fprintf(w, "complete -c rack-gateway -n '__fish_seen_subcommand_from %s; and not __fish_seen_subcommand_from %s' -a %s -d %s\n",
				g, subs, s, natFishQuote(tr.short[g+" "+s]))
		}
	}
	for _, n := range natFlagNamesSorted(tr) {
		cond := "__fish_seen_subcommand_from " + n
		if first, second, ok := strings.Cut(n, " "); ok {
			cond = "__fish_seen_subcommand_from " + first + "; and __fish_seen_subcommand_from " + second
		}
		for _, f := range tr.flags[n] {
			fmt.Fprintf(w, "complete -c rack-gateway -n '%s' %s\n", cond, natFishFlag(f))
		}
	}
	for _, f := range tr.global {
		fmt.Fprintf(w, "complete -c rack-gateway %s\n", natFishFlag(f))
	}
}

func natFishFlag(f string) string {
	if l, ok := strings.CutPrefix(f, "--"); ok {
		return "-l " + l
	}
	return "-s " + strings.TrimPrefix(f, "-")
}

func natPSQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func natPowerShell(w io.Writer, tr natTree) {
	fmt.Fprintf(w, "# powershell completion for rack-gateway\n$__rgTree = @{\n")
	fmt.Fprintf(w, "  '' = @(%s)\n", natPSList(tr.top))
	for _, g := range natGroups(tr) {
		fmt.Fprintf(w, "  %s = @(%s)\n", natPSQuote(g), natPSList(tr.subs[g]))
	}
	fmt.Fprintf(w, "}\n$__rgFlags = @{\n")
	for _, n := range natFlagNamesSorted(tr) {
		fmt.Fprintf(w, "  %s = @(%s)\n", natPSQuote(n), natPSList(tr.flags[n]))
	}
	fmt.Fprintf(w, "}\n$__rgGlobal = @(%s)\n", natPSList(tr.global))
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

func natPSList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = natPSQuote(s)
	}
	return strings.Join(q, ", ")
}
