# rack-gateway prompt segment for bash (>= 4.2) and zsh, computed without
# starting any process: no date, no cat, no command substitution. It reads
# the agent's status file with a read loop and takes the time from a shell
# builtin, so it costs microseconds on every Enter, like a plain PS1.
#
#   __rack_gateway_segment       prints the segment ("prod 🔓 7m", "prod 🔒"),
#                                exactly what `rack-gateway prompt` prints
#   __rack_gateway_segment_set   sets RACK_GATEWAY_SEGMENT instead of
#                                printing (for prompt hooks: no subshell)
#
# Both print or set nothing when there is no status file, no logged-in rack
# or the rack is unknown. The rack is $RACK_GATEWAY_RACK, else the current
# rack, else the first (as `rack-gateway prompt` without --rack).
#
# The clock, in order: $EPOCHSECONDS (bash >= 5; zsh with zsh/datetime,
# which is loaded here), else bash's builtin `printf '%(%s)T'` (bash 4.2 to
# 4.4). With neither (bash 3.2, the macOS /bin/bash) the functions return 2
# and print nothing; the hooks in rack-gateway.bash and rack-gateway.zsh
# then fall back to running `rack-gateway prompt`.
#
# The file's format and location are the contract documented in the Go
# package platform/statusfile; keep the two in step.

if [ -n "${ZSH_VERSION-}" ]; then
  zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null
fi

__rack_gateway_segment_set() {
  RACK_GATEWAY_SEGMENT=
  # Initialized, so shells running with set -u (nounset) are fine too.
  local f='' now='' want='' rack='' exp='' email='' cur='' rest=''
  local pick='' pexp='' first='' fexp='' left=''
  # Where the agent writes it: see statusfile.Path. macOS ignores
  # XDG_RUNTIME_DIR, and a relative one is ignored everywhere.
  case ${OSTYPE-}:${XDG_RUNTIME_DIR-} in
    darwin*:*) f=${TMPDIR:-/tmp}; f=${f%/}/rack-gateway-$UID/status ;;
    *:/*) f=$XDG_RUNTIME_DIR/rack-gateway/status ;;
    *) f=${TMPDIR:-/tmp}; f=${f%/}/rack-gateway-$UID/status ;;
  esac
  # -f also refuses a FIFO, whose open would block the prompt.
  [ -f "$f" ] && [ -r "$f" ] || return 0

  if [ -n "${EPOCHSECONDS-}" ]; then
    now=$EPOCHSECONDS
  elif [ -n "${BASH_VERSION-}" ]; then
    printf -v now '%(%s)T' -1 2>/dev/null
  fi
  case $now in '' | *[!0-9]*) return 2 ;; esac

  want=${RACK_GATEWAY_RACK-}
  # Lines are "<rack> <expiry> <email> <current>"; like the Go parser, skip
  # comments and anything malformed, and ignore fields after the fourth.
  while IFS=$' \t\r' read -r rack exp email cur rest || [ -n "$rack" ]; do
    case $rack in '' | '#'*) continue ;; esac
    case $exp in '' | *[!0-9]*) continue ;; esac
    case $cur in 0 | 1) ;; *) continue ;; esac
    if [ -n "$want" ]; then
      [ "$rack" = "$want" ] || continue
      pick=$rack pexp=$exp
      break
    fi
    if [ "$cur" = 1 ]; then
      pick=$rack pexp=$exp
      break
    fi
    [ -n "$first" ] || first=$rack fexp=$exp
  done <"$f" 2>/dev/null
  if [ -z "$pick" ]; then
    [ -z "$want" ] || return 0 # an unknown rack shows nothing
    pick=$first pexp=$fexp
  fi
  [ -n "$pick" ] || return 0

  # 10# keeps a leading zero from meaning octal in bash.
  left=$((10#$pexp - now))
  if [ "$left" -ge 60 ]; then
    RACK_GATEWAY_SEGMENT="$pick 🔓 $((left / 60))m"
  elif [ "$left" -gt 0 ]; then
    RACK_GATEWAY_SEGMENT="$pick 🔓 ${left}s"
  else
    RACK_GATEWAY_SEGMENT="$pick 🔒"
  fi
  return 0
}

__rack_gateway_segment() {
  local RACK_GATEWAY_SEGMENT
  __rack_gateway_segment_set || return
  [ -z "$RACK_GATEWAY_SEGMENT" ] || printf '%s\n' "$RACK_GATEWAY_SEGMENT"
}
