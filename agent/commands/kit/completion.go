package kit

import (
	"context"
	"fmt"
	"io"
)

// completion: the shell completion scripts. They hold no list of their
// own: every <TAB> asks the program (`rack-gateway __complete WORDS...
// CURRENT`, complete.go), so they always offer the commands and flags of
// the build that answers, the racks of the config and the names the
// agent has seen.

// RegisterCompletion adds the completion command.
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

func runCompletion(_ context.Context, x *Ctx) error {
	if err := WriteCompletion(x.Out, x.Env.Registry, x.Args[0]); err != nil {
		return UsageErr(x.Cmd, "%v", err)
	}
	return nil
}

// WriteCompletion writes the completion script for shell: what
// `rack-gateway completion SHELL` prints. The script is the same for
// every registry (it asks the program), r is for the callers' symmetry.
func WriteCompletion(w io.Writer, _ *Registry, shell string) error {
	script, ok := scripts[shell]
	if !ok {
		return fmt.Errorf("unsupported shell %q: use bash, zsh, fish or powershell", shell)
	}
	_, err := io.WriteString(w, script)
	return err
}

// groupShort describes the groups this file's neighbours add, in
// upstream's words; other groups are described by their members.
var groupShort = map[string]string{
	"api-token":       "Manage API tokens for the current gateway",
	"deploy-approval": "Manage deploy approval requests",
}

// The protocol every script speaks, in cobra's convention: the words
// before the cursor and the word at it go to `__complete`, which prints
// the candidates one a line ("value<TAB>description"), then ":N", N the
// directive bits (1: offer nothing; 2: no space after the value; 4: no
// file names; 16: directories only). No output at all (an error) offers
// nothing, never file names.
var scripts = map[string]string{"bash": bashScript, "zsh": zshScript, "fish": fishScript, "powershell": powerShellScript}

const bashScript = `# bash completion for rack-gateway
# Each <TAB> asks rack-gateway itself (rack-gateway __complete ...).
_rack_gateway() {
  local cur cword out last directive c v i glue=0 tok=${COMP_WORDS[COMP_CWORD]}
  local -a words cands=()
  COMPREPLY=()
  if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
    _get_comp_words_by_ref -n =: -c cur -w words -i cword
  else
    # bash breaks "--rack=prod" into three words; the program wants one.
    for (( i = 0; i <= COMP_CWORD; i++ )); do
      c=${COMP_WORDS[i]}
      if (( glue )); then
        words[${#words[@]}-1]+=$c glue=0
      elif [[ $c == = && ${#words[@]} -gt 1 && ${words[${#words[@]}-1]} == -* ]]; then
        words[${#words[@]}-1]+='=' glue=1
      else
        words+=("$c")
      fi
    done
    cword=$(( ${#words[@]} - 1 )) cur=${words[${#words[@]}-1]}
  fi
  out=$("${words[0]}" __complete "${words[@]:1:cword-1}" "$cur" 2>/dev/null) || return 0
  [[ -n $out ]] || return 0
  last=${out##*$'\n'}
  [[ $last == :* ]] || return 0
  directive=${last#:}
  if [[ $out == *$'\n'* ]]; then out=${out%$'\n'*}; else out=; fi
  (( directive & 1 )) && return 0
  if (( directive & 16 )); then
    compopt -o filenames 2>/dev/null
    while IFS= read -r c; do COMPREPLY+=("$c"); done < <(compgen -d -- "$cur")
    return 0
  fi
  while IFS= read -r c; do
    [[ -n $c ]] && cands+=("${c%%$'\t'*}")
  done <<<"$out"
  if (( ${#cands[@]} == 0 )); then
    if (( !(directive & 4) )); then
      compopt -o filenames 2>/dev/null
      while IFS= read -r c; do COMPREPLY+=("$c"); done < <(compgen -f -- "$cur")
    fi
    return 0
  fi
  for v in "${cands[@]}"; do
    [[ $v == "$cur"* ]] || continue
    # bash replaces only its own word: what follows the "=", or the "=".
    if [[ $cur != "$tok" && $cur == *=* ]]; then
      v=${v#"${cur%%=*}="}
      [[ $tok == = ]] && v="=$v"
    fi
    COMPREPLY+=("$v")
  done
  (( directive & 2 )) && compopt -o nospace 2>/dev/null
  return 0
}
complete -F _rack_gateway rack-gateway
`

const zshScript = `#compdef rack-gateway
# zsh completion for rack-gateway
# Each <TAB> asks rack-gateway itself (rack-gateway __complete ...).
_rack_gateway() {
  local out directive line v
  local -a lines vals descs
  out=$(${words[1]} __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null) || return 1
  lines=("${(@f)out}")
  [[ ${lines[-1]} == :<-> ]] || return 1
  directive=${lines[-1]#:}
  lines=("${(@)lines[1,-2]}")
  (( directive & 1 )) && return 1
  if (( directive & 16 )); then
    _files -/
    return
  fi
  for line in "${lines[@]}"; do
    [[ -n $line ]] || continue
    v=${line%%$'\t'*}
    vals+=("$v")
    if [[ $line == *$'\t'* ]]; then descs+=("$v  -- ${line#*$'\t'}"); else descs+=("$v"); fi
  done
  if (( ${#vals} == 0 )); then
    (( directive & 4 )) || _files
    return
  fi
  if (( directive & 2 )); then
    compadd -S '' -l -d descs -- "${vals[@]}"
  else
    compadd -l -d descs -- "${vals[@]}"
  fi
}
if [ "$funcstack[1]" = "_rack_gateway" ]; then
  _rack_gateway "$@"
else
  compdef _rack_gateway rack-gateway
fi
`

const fishScript = `# fish completion for rack-gateway
# Each <TAB> asks rack-gateway itself (rack-gateway __complete ...).
function __rack_gateway_complete
    set -l args (commandline -opc)
    set -l prog $args[1]
    set -e args[1]
    set -l cur (commandline -ct)
    set -l out (command $prog __complete $args "$cur" 2>/dev/null)
    or return
    test (count $out) -gt 0; or return
    string match -qr '^:[0-9]+$' -- $out[-1]; or return
    set -l directive (string sub -s 2 -- $out[-1])
    set -e out[-1]
    test (math "$directive % 2") -eq 1; and return
    if test (math "floor($directive / 16) % 2") -eq 1
        __fish_complete_directories $cur
        return
    end
    if test (count $out) -eq 0
        test (math "floor($directive / 4) % 2") -eq 0; and __fish_complete_path $cur
        return
    end
    printf '%s\n' $out
end
complete -c rack-gateway -f -a '(__rack_gateway_complete)'
`

const powerShellScript = `# powershell completion for rack-gateway
# Each <TAB> asks rack-gateway itself (rack-gateway __complete ...).
Register-ArgumentCompleter -Native -CommandName rack-gateway -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $words = @($commandAst.CommandElements | Where-Object { $_.Extent.EndOffset -le $cursorPosition } | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
  if ($wordToComplete -ne '' -and $words.Count -gt 0) { $words = @($words | Select-Object -SkipLast 1) }
  $prog = $commandAst.CommandElements[0].ToString()
  $out = @(& $prog __complete @words $wordToComplete 2>$null)
  if ($out.Count -eq 0 -or $out[-1] -notmatch '^:(\d+)$') { return }
  $directive = [int]$Matches[1]
  if ($directive -band 1) { return }
  $out | Select-Object -SkipLast 1 | ForEach-Object {
    $value, $desc = $_ -split "` + "`" + `t", 2
    if (-not $desc) { $desc = $value }
    if ($value -like "$wordToComplete*") {
      [System.Management.Automation.CompletionResult]::new($value, $value, 'ParameterValue', $desc)
    }
  }
}
`
