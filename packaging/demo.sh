#!/usr/bin/env bash
# make demo: the main job end to end against the built-in sandbox gateway,
# in a throw-away runtime, state and config directory. Nothing of the
# user's own config, keyring entries or agent is touched.
set -euo pipefail

BIN=$(cd "${1:-bin}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rack-gateway-demo.XXXXXX")
mkdir -m 0700 -p "$tmp/run" "$tmp/state" "$tmp/config"
export XDG_RUNTIME_DIR="$tmp/run" XDG_STATE_HOME="$tmp/state" GATEWAY_CLI_CONFIG_DIR="$tmp/config"
# The demo never opens a real browser; the sandbox plays it below.
export BROWSER=true
# Keep the demo's token out of the user's real keyring.
export RACK_GATEWAY_SECRET_STORE=file
unset RACK_GATEWAY_API_TOKEN RACK_GATEWAY_URL RACK_GATEWAY_RACK

sandbox_pid=
cleanup() {
	"$BIN/rack-gateway" agent stop >/dev/null 2>&1 || true
	[[ -n "$sandbox_pid" ]] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

"$BIN/rack-gateway-sandbox" --listen 127.0.0.1:0 --step-up-window 10m >"$tmp/sandbox.out" 2>"$tmp/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 100); do grep -q '^totp viewer' "$tmp/sandbox.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^url=//p' "$tmp/sandbox.out")
[[ -n "$url" ]] || { echo "sandbox did not start:"; cat "$tmp/sandbox.log"; exit 1; }
echo "Sandbox gateway at $url (users: admin@, deployer@, viewer@example.com)"

step rack-gateway login demo "$url" --no-open --auth-file "$tmp/auth"
"$BIN/rack-gateway" login demo "$url" --no-open --auth-file "$tmp/auth" &
login_pid=$!
for _ in $(seq 200); do grep -q '^AUTH_URL=' "$tmp/auth" 2>/dev/null && break; sleep 0.05; done
auth_url=$(sed -n 's/^AUTH_URL=//p' "$tmp/auth")
echo "(the sandbox plays the browser: admin@example.com signs in and passes MFA)"
"$BIN/rack-gateway-sandbox" browse --user admin@example.com --mfa auto "$auth_url" >/dev/null
wait "$login_pid"

for cmd in "rack" "racks" "test-auth" "agent status"; do
	step rack-gateway $cmd
	# shellcheck disable=SC2086
	"$BIN/rack-gateway" $cmd
done

step rack-gateway logout
"$BIN/rack-gateway" logout
printf '\nDemo finished; everything it created is being removed.\n'
