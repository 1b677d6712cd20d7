# rack-gateway step-up countdown in the zsh right prompt.
#
# Install: in ~/.zshrc,
#   source /path/to/packaging/shell/rack-gateway.zsh
#
# A precmd hook sets RACK_GATEWAY_SEGMENT to "prod 🔓 7m" / "prod 🔒" /
# nothing before each prompt and shows it at the start of RPROMPT (this turns
# on the prompt_subst option). To place it yourself, set
# RACK_GATEWAY_RPROMPT=manual before sourcing and use
# ${__rack_gateway_prompt_text} (already %-escaped) with prompt_subst, or
# RACK_GATEWAY_SEGMENT in your own precmd.
#
# It starts no process: the segment comes from the pure-shell function in
# rack-gateway-segment.sh, with the clock from zsh/datetime. Set
# RACK_GATEWAY_PROMPT_FORMAT (see `rack-gateway prompt --help`) to run
# `rack-gateway prompt --format` instead.

if (( ! $+functions[__rack_gateway_segment_set] )); then
  # ${(%):-%x} is this file, however it was sourced.
  source "${${(%):-%x}:A:h}/rack-gateway-segment.sh"
fi
zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null

__rack_gateway_precmd() {
  local rc=$?
  if [[ -n ${RACK_GATEWAY_PROMPT_FORMAT-} ]]; then
    RACK_GATEWAY_SEGMENT=$(command rack-gateway prompt --format "$RACK_GATEWAY_PROMPT_FORMAT" 2>/dev/null)
  elif ! __rack_gateway_segment_set; then
    RACK_GATEWAY_SEGMENT=$(command rack-gateway prompt 2>/dev/null)
  fi
  # % starts a prompt escape; a rack name must print as itself.
  typeset -g __rack_gateway_prompt_text=${RACK_GATEWAY_SEGMENT//\%/%%}
  return $rc
}

autoload -Uz add-zsh-hook
add-zsh-hook precmd __rack_gateway_precmd

if [[ ${RACK_GATEWAY_RPROMPT-auto} != manual && $RPROMPT != *__rack_gateway_prompt_text* ]]; then
  setopt prompt_subst
  if [[ -n $RPROMPT ]]; then
    RPROMPT='${__rack_gateway_prompt_text:+$__rack_gateway_prompt_text }'$RPROMPT
  else
    RPROMPT='${__rack_gateway_prompt_text}'
  fi
fi
