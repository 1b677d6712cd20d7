#!/usr/bin/env bash
# Run a command with a private, unlocked gnome-keyring Secret Service on a
# private D-Bus session bus, so keyring tests hit a real keyring without
# touching the user's own.
#
#   dbus-run-session -- bash .ci/keyring-session.sh go test ./platform/secrets/ -run Keyring -v
#
# Without a session bus (DBUS_SESSION_BUS_ADDRESS unset) it re-runs itself
# under dbus-run-session. Needs the Debian package gnome-keyring (which pulls
# in dbus for dbus-run-session and dbus-send).
#
# HOME is deliberately left alone: changing it would move the Go module and
# build caches and make every run download and compile from scratch. Only
# XDG_DATA_HOME (where gnome-keyring keeps keyring files) and XDG_RUNTIME_DIR
# (its control socket) point at fresh temporary folders.
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: bash .ci/keyring-session.sh <command> [args...]" >&2
	exit 2
fi

if [[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]]; then
	command -v dbus-run-session >/dev/null || {
		echo "keyring-session: dbus-run-session not found (apt-get install gnome-keyring dbus)" >&2
		exit 1
	}
	exec dbus-run-session -- bash "${BASH_SOURCE[0]}" "$@"
fi

for tool in gnome-keyring-daemon dbus-send; do
	command -v "$tool" >/dev/null || {
		echo "keyring-session: $tool not found (apt-get install gnome-keyring dbus)" >&2
		exit 1
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rack-gateway-keyring.XXXXXX")
mkdir -m 0700 "$tmp/data" "$tmp/runtime"
export XDG_DATA_HOME="$tmp/data"
export XDG_RUNTIME_DIR="$tmp/runtime"

# The daemon forks and keeps running for the life of the bus; dbus-run-session
# kills it when the session ends. Remove the temp folders on the way out (this
# is why the command below is not exec'd: the trap must run).
cleanup() {
	if [[ -n "${GNOME_KEYRING_PID:-}" ]]; then
		kill "$GNOME_KEYRING_PID" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# --unlock reads the login keyring's password from stdin and creates the
# keyring if it does not exist, so no prompt is ever shown. It prints
# GNOME_KEYRING_CONTROL=... lines that must be exported for clients.
if ! out=$(printf pass | gnome-keyring-daemon --unlock --components=secrets 2>"$tmp/daemon.err"); then
	echo "keyring-session: gnome-keyring-daemon failed:" >&2
	cat "$tmp/daemon.err" >&2
	exit 1
fi
while IFS= read -r line; do
	[[ "$line" == *=* ]] && export "${line?}"
done <<<"$out"

# The daemon claims org.freedesktop.secrets asynchronously; wait (bounded)
# until it is on the bus, or tests would race it and see "no Secret Service".
deadline=$((SECONDS + 10))
until dbus-send --session --print-reply --dest=org.freedesktop.DBus \
	/org/freedesktop/DBus org.freedesktop.DBus.ListNames 2>/dev/null |
	grep -q '"org.freedesktop.secrets"'; do
	if ((SECONDS >= deadline)); then
		echo "keyring-session: org.freedesktop.secrets did not appear on the session bus within 10 s" >&2
		cat "$tmp/daemon.err" >&2 || true
		exit 1
	fi
	sleep 0.1
done

export RACK_GATEWAY_KEYRING_TEST=1
"$@"
