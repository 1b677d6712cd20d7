# rack-gateway step-up countdown in the fish right prompt.
#
# Install: copy this file to ~/.config/fish/conf.d/rack-gateway.fish, or
#   source /path/to/packaging/shell/rack-gateway.fish
# in ~/.config/fish/config.fish.
#
# It shows "prod 🔓 7m" / "prod 🔒" / nothing before any existing right
# prompt, which keeps working. fish has no builtin clock to compute the
# countdown in the shell, so this runs `rack-gateway prompt` (a few
# milliseconds; it only reads the agent's status file). Set
# RACK_GATEWAY_PROMPT_FORMAT to pass --format (see `rack-gateway prompt
# --help`). To place the segment yourself, call rack_gateway_segment from
# your own prompt function and set RACK_GATEWAY_RPROMPT to manual before
# this file is read.

function rack_gateway_segment --description 'rack-gateway step-up countdown'
    command -q rack-gateway; or return 0
    if set -q RACK_GATEWAY_PROMPT_FORMAT[1]
        command rack-gateway prompt --format "$RACK_GATEWAY_PROMPT_FORMAT" 2>/dev/null
    else
        command rack-gateway prompt 2>/dev/null
    end
    return 0
end

# The marker keeps a second source from wrapping our own wrapper.
if test "$RACK_GATEWAY_RPROMPT" != manual; and not set -q __rack_gateway_rprompt_installed
    set -g __rack_gateway_rprompt_installed 1
    # Keep the user's right prompt (functions -q also autoloads it).
    if functions -q fish_right_prompt
        functions -c fish_right_prompt __rack_gateway_orig_right_prompt
    end
    function fish_right_prompt
        set -l seg (rack_gateway_segment)
        if set -q seg[1]
            echo -n "$seg"
            functions -q __rack_gateway_orig_right_prompt; and echo -n ' '
        end
        functions -q __rack_gateway_orig_right_prompt; and __rack_gateway_orig_right_prompt
    end
end
