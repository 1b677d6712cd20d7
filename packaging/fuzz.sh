#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each, one after the
# other (go test's -fuzz takes one target per run), and prints each
# target's last progress line (its exec count) and a summary.
#
#   bash packaging/fuzz.sh [FUZZTIME]     # default 10s; "6m", "500x" work too
#
# Targets are found, not listed here: every package with a "func Fuzz" in a
# test file is asked for its targets with go test -list, so a new target
# runs without touching this script. -parallel 1 keeps one fuzzing worker,
# leaving the other cores to whatever else runs. A failing target prints
# its output (the crasher is saved under the package's testdata/fuzz/) and
# the script goes on with the others, then exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
go=${GO:-go}

mapfile -t dirs < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . |
	grep -v '/testdata/' | xargs -r -n1 dirname | sort -u)
if ((${#dirs[@]} == 0)); then
	echo "fuzz: no targets found" >&2
	exit 1
fi

targets=()
for d in "${dirs[@]}"; do
	# A package that does not build must fail the run, not lose its targets.
	if ! names=$("$go" test -list '^Fuzz' "$d"); then
		echo "fuzz: cannot list the targets of $d (see above)" >&2
		exit 1
	fi
	for name in $names; do
		if [[ $name == Fuzz* ]]; then targets+=("$d $name"); fi
	done
done
echo "fuzz: ${#targets[@]} targets, $fuzztime each"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
summary=()
start=$SECONDS
for t in "${targets[@]}"; do
	read -r d name <<<"$t"
	t0=$SECONDS
	if "$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 3s -parallel 1 "$d" >"$log" 2>&1; then
		status=ok
	elif ! grep -q 'Failing input written' "$log" && grep -q 'context deadline exceeded' "$log"; then
		# go test's coordinator can fail a run whose -fuzztime ran out while
		# a worker was still busy (minimizing a new input), with no input
		# that fails. Nothing crashed, so this is not a failure; it is shown
		# as "deadline" so a real slow input still gets noticed.
		status=deadline
	else
		status=FAIL
		failed+=("$d $name")
	fi
	line=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n1 || true)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$line")
	printf '%-4s %-22s %-30s %s\n' "$status" "$name" "$d" "${line:-no progress line}"
	summary+=("$(printf '%-22s %10s execs %4ss  %s' "$name" "${execs:-?}" $((SECONDS - t0)) "$status")")
	if [[ $status == FAIL ]]; then
		sed 's/^/    /' "$log"
	fi
done

echo
echo "fuzz summary ($fuzztime per target, $((SECONDS - start))s in all):"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
	echo "fuzz: ${#failed[@]} target(s) failed:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
