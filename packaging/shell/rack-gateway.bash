# rack-gateway step-up countdown in the bash prompt.
#
# Install: at the end of ~/.bashrc (after PS1 is set),
#   source /path/to/packaging/shell/rack-gateway.bash
#
# Before each prompt (PROMPT_COMMAND) this sets RACK_GATEWAY_SEGMENT to
# "prod 🔓 7m" / "prod 🔒" / nothing, and puts "(segment) " at the start of
# PS1. To place it yourself, set RACK_GATEWAY_PS1=manual before sourcing and
# use ${RACK_GATEWAY_SEGMENT} in PS1 (single-quoted, so it expands at each
# prompt).
#
# It starts no process: the segment comes from the pure-shell function in
# rack-gateway-segment.sh. Set RACK_GATEWAY_PROMPT_FORMAT (see
# `rack-gateway prompt --help`) to run `rack-gateway prompt --format` instead,
# and on bash older than 4.2, which has no builtin clock, that command is
# used automatically.

if ! declare -F __rack_gateway_segment_set >/dev/null; then
  if [[ ${BASH_SOURCE[0]} == */* ]]; then
    . "${BASH_SOURCE[0]%/*}/rack-gateway-segment.sh"
  else
    . ./rack-gateway-segment.sh
  fi
fi

__rack_gateway_prompt_command() {
  # Keep $? for whatever runs after us (PS1 or other PROMPT_COMMAND parts).
  local rc=$?
  if [[ -n ${RACK_GATEWAY_PROMPT_FORMAT-} ]]; then
    RACK_GATEWAY_SEGMENT=$(command rack-gateway prompt --format "$RACK_GATEWAY_PROMPT_FORMAT" 2>/dev/null)
  elif ! __rack_gateway_segment_set; then
    RACK_GATEWAY_SEGMENT=$(command rack-gateway prompt 2>/dev/null)
  fi
  return "$rc"
}

# Idempotent, so sourcing twice (a re-read .bashrc) adds nothing.
case ";${PROMPT_COMMAND-};" in
  *";__rack_gateway_prompt_command;"*) ;;
  *) PROMPT_COMMAND="__rack_gateway_prompt_command${PROMPT_COMMAND:+;$PROMPT_COMMAND}" ;;
esac
if [[ ${RACK_GATEWAY_PS1-auto} != manual && $PS1 != *RACK_GATEWAY_SEGMENT* ]]; then
  # The value is expanded once and never re-parsed, so a rack name cannot
  # inject prompt escapes or commands.
  PS1='${RACK_GATEWAY_SEGMENT:+($RACK_GATEWAY_SEGMENT) }'"${PS1-}"
fi
