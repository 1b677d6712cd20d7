#!/usr/bin/env bash
# CI check of the release packages (issue 11, "Packages"): make dist, then
# install the amd64 .deb, run the installed programs against the sandbox
# gateway (version, a headless login, the prompt snippet), remove the
# package and check that nothing of it is left; and list the .rpm. .ci/run
# calls it as root before make test. It leaves nothing installed or running.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
start=$SECONDS
say() { printf '\n== packages: %s (%ds)\n' "$*" $((SECONDS - start)); }
fail() {
	echo "packages: FAIL: $*" >&2
	exit 1
}

[[ $(id -u) == 0 ]] || fail "run as root: it installs and removes the .deb"
status=$(dpkg-query -W -f='${db:Status-Status}' rack-gateway 2>/dev/null || true)
[[ -z $status || $status == not-installed ]] || fail "rack-gateway is already installed ($status); not touching it"
[[ ! -e /usr/bin/rack-gateway ]] || fail "/usr/bin/rack-gateway exists but belongs to no package; not touching it"

# Builds first, with the real HOME: the Go build and module caches are shared
# with make test.
say "make dist"
make dist
say "make build (for the sandbox)"
make build

shopt -s nullglob
debs=(dist/rack-gateway_*_amd64.deb)
rpms=(dist/rack-gateway-*.x86_64.rpm)
shopt -u nullglob
((${#debs[@]} == 1)) || fail "want one amd64 .deb in dist/, got: ${debs[*]:-none}"
((${#rpms[@]} == 1)) || fail "want one x86_64 .rpm in dist/, got: ${rpms[*]:-none}"
deb=${debs[0]} rpm=${rpms[0]}
for f in dist/*_checksums.txt dist/homebrew/Formula/rack-gateway.rb \
	dist/rack-gateway_*_linux_amd64.tar.gz dist/rack-gateway_*_linux_arm64.tar.gz \
	dist/rack-gateway_*_darwin_amd64.tar.gz dist/rack-gateway_*_darwin_arm64.tar.gz \
	dist/rack-gateway_*_windows_amd64.zip; do
	[[ -f $f ]] || fail "make dist made no $f"
done
grep -q '^  service do' dist/homebrew/Formula/rack-gateway.rb || fail "the Homebrew formula has no service block"
(cd dist && sha256sum --quiet -c ./*_checksums.txt) || fail "checksums do not match"

# What both packages must hold (the rpm puts the zsh completion in
# site-functions, where Fedora's zsh looks).
want_common=(
	/usr/bin/rack-gateway
	/usr/bin/rack-gateway-agent
	/usr/lib/systemd/user/rack-gateway-agent.service
	/usr/share/bash-completion/completions/rack-gateway
	/usr/share/fish/vendor_completions.d/rack-gateway.fish
	/usr/share/man/man1/rack-gateway.1.gz
	/usr/share/man/man1/rack-gateway-login.1.gz
	/usr/share/man/man1/rack-gateway-agent.1.gz
	/usr/share/rack-gateway/shell/rack-gateway-segment.sh
	/usr/share/rack-gateway/shell/rack-gateway.bash
	/usr/share/rack-gateway/shell/rack-gateway.zsh
	/usr/share/rack-gateway/shell/rack-gateway.fish
	/usr/share/rack-gateway/shell/starship.toml
)
deb_files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}' | sort)
rpm_files=$(rpm -qlp "$rpm" 2>/dev/null | sort)
for f in "${want_common[@]}" /usr/share/zsh/vendor-completions/_rack-gateway; do
	grep -qxF "$f" <<<"$deb_files" || fail "$deb lacks $f"
done
for f in "${want_common[@]}" /usr/share/zsh/site-functions/_rack-gateway; do
	grep -qxF "$f" <<<"$rpm_files" || fail "rpm -qlp $rpm lacks $f"
done
[[ $(sed 's|/zsh/vendor-completions/|/zsh/site-functions/|' <<<"$deb_files" | sort) == "$rpm_files" ]] ||
	fail "the .deb and .rpm hold different files: $(diff <(echo "$deb_files") <(echo "$rpm_files") || true)"
say "rpm -qlp lists the $(wc -l <<<"$rpm_files") expected files"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rack-gateway-packages.XXXXXX")
installed= sandbox_pid= login_pid= agent_pid=
cleanup() {
	local rc=$?
	set +e
	# Any CLI can ask the agent to stop; bin/ outlives the package.
	bin/rack-gateway agent stop >/dev/null 2>&1
	[[ -n $login_pid ]] && kill "$login_pid" 2>/dev/null && wait "$login_pid" 2>/dev/null
	[[ -n $sandbox_pid ]] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
	if [[ -n $agent_pid ]]; then
		for _ in $(seq 100); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.05; done
		kill -0 "$agent_pid" 2>/dev/null && { echo "packages: the agent (pid $agent_pid) did not stop; killing it" >&2; kill -9 "$agent_pid"; rc=1; }
	fi
	[[ -n $installed ]] && dpkg -r rack-gateway >/dev/null
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT

say "dpkg -i $deb"
installed=1
dpkg -i "$deb" >/dev/null
for f in "${want_common[@]}" /usr/share/zsh/vendor-completions/_rack-gateway; do
	[[ -f $f ]] || fail "dpkg -i installed no $f"
done
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify --man=no /usr/lib/systemd/user/rack-gateway-agent.service || fail "systemd-analyze verify rejects the unit"
fi
if command -v zsh >/dev/null; then
	zsh -fc 'print -l $fpath' | grep -qx /usr/share/zsh/vendor-completions || fail "Debian's zsh does not look in /usr/share/zsh/vendor-completions"
fi
bash -c 'source /usr/share/bash-completion/completions/rack-gateway && complete -p rack-gateway' >/dev/null ||
	fail "the bash completion does not load"

# From here on the installed programs run in a throw-away home, runtime,
# state and config directory, with the token in a file, as make demo does.
mkdir -m 0700 -p "$tmp/home" "$tmp/run" "$tmp/state" "$tmp/config"
export HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/run" XDG_STATE_HOME="$tmp/state" \
	XDG_CONFIG_HOME="$tmp/home/.config" GATEWAY_CLI_CONFIG_DIR="$tmp/config" \
	RACK_GATEWAY_SECRET_STORE=file BROWSER=true
unset RACK_GATEWAY_API_TOKEN RACK_GATEWAY_URL RACK_GATEWAY_RACK DBUS_SESSION_BUS_ADDRESS

say "/usr/bin/rack-gateway version"
version=$(/usr/bin/rack-gateway version) || fail "rack-gateway version failed: $version"
echo "$version"
pkgver=$(dpkg-deb -f "$deb" Version)
grep -qF "${pkgver//\~/-}" <<<"$version" || fail "rack-gateway version does not name the package's version $pkgver"

say "sandbox login with the installed programs"
bin/rack-gateway-sandbox --listen 127.0.0.1:0 --step-up-window 10m >"$tmp/sandbox.out" 2>"$tmp/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 200); do grep -q '^totp viewer' "$tmp/sandbox.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^url=//p' "$tmp/sandbox.out")
[[ -n $url ]] || fail "the sandbox did not start: $(cat "$tmp/sandbox.log")"
/usr/bin/rack-gateway login demo "$url" --no-open --auth-file "$tmp/auth" &
login_pid=$!
for _ in $(seq 400); do grep -q '^AUTH_URL=' "$tmp/auth" 2>/dev/null && break; sleep 0.05; done
auth_url=$(sed -n 's/^AUTH_URL=//p' "$tmp/auth")
[[ -n $auth_url ]] || fail "login wrote no AUTH_URL"
bin/rack-gateway-sandbox browse --user admin@example.com --mfa auto "$auth_url" >/dev/null
wait "$login_pid" || fail "rack-gateway login failed"
login_pid=
/usr/bin/rack-gateway test-auth || fail "test-auth failed after login"
agent_pid=$(/usr/bin/rack-gateway agent status | sed -n 's/.*(pid \([0-9]*\).*/\1/p' | head -n1)
[[ $agent_pid =~ ^[0-9]+$ ]] || fail "agent status shows no pid"
exe=$(readlink "/proc/$agent_pid/exe")
[[ $exe == /usr/bin/rack-gateway-agent ]] || fail "the agent runs $exe, not the installed /usr/bin/rack-gateway-agent"
segment=$(bash -c 'source /usr/share/rack-gateway/shell/rack-gateway.bash && __rack_gateway_prompt_command && printf %s "$RACK_GATEWAY_SEGMENT"')
[[ $segment == "demo "* ]] || fail "the installed bash prompt snippet shows \"$segment\", not the demo rack"
echo "prompt segment: $segment"
# The installed completions call the installed program back on each TAB:
# switch offers the rack just logged in to.
racks=$(bash --norc -c 'source /usr/share/bash-completion/completions/rack-gateway &&
	COMP_WORDS=(rack-gateway switch "") COMP_CWORD=2 && _rack_gateway && printf "%s\n" "${COMPREPLY[@]}"') ||
	fail "the installed bash completion does not run"
[[ $racks == demo ]] || fail "the installed bash completion offers \"$racks\" for switch, not the demo rack"
if command -v zsh >/dev/null; then
	racks=$(zsh -f -c 'compdef() { :; }; compadd() { while (( $# )) && [[ $1 != -- ]]; do shift; done; shift; print -rl -- "$@"; }
		source /usr/share/zsh/vendor-completions/_rack-gateway && words=(rack-gateway switch "") CURRENT=3 && _rack_gateway') ||
		fail "the installed zsh completion does not run"
	[[ $racks == demo ]] || fail "the installed zsh completion offers \"$racks\" for switch, not the demo rack"
fi
echo "completion: switch offers $racks"
/usr/bin/rack-gateway logout >/dev/null || fail "logout failed"
/usr/bin/rack-gateway agent stop >/dev/null || fail "agent stop failed"

say "dpkg -r rack-gateway"
dpkg -r rack-gateway >/dev/null
installed=
status=$(dpkg-query -W -f='${db:Status-Status}' rack-gateway 2>/dev/null || true)
[[ -z $status || $status == not-installed ]] || fail "after dpkg -r, rack-gateway is $status"
for f in "${want_common[@]}" /usr/share/zsh/vendor-completions/_rack-gateway /usr/share/rack-gateway; do
	[[ ! -e $f ]] || fail "dpkg -r left $f behind"
done
say "ok"
