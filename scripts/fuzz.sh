#!/usr/bin/env bash
# Runs the cargo-fuzz targets on stable Rust (--sanitizer none) and prints a table of
# executions per target.
#   scripts/fuzz.sh                  # 10 million executions of every target (the issue's bar)
#   scripts/fuzz.sh --runs 100000    # a fixed number of executions
#   scripts/fuzz.sh --seconds 20     # a fixed time per target (CI's smoke run)
#   scripts/fuzz.sh --seconds 60 netconf cpuset
# Seeds come from the real samples under */tests/fixtures; the growing corpus stays in
# fuzz/corpus (not committed). A crash stops the run and leaves its input in fuzz/artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-runs=10000000)
case "${1:-}" in
--runs) limit=("-runs=$2"); shift 2 ;;
--seconds) limit=("-max_total_time=$2"); shift 2 ;;
esac

all=(netconf downward_annotations mountinfo cpuset ovsdb_stream vpp_message)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
	cargo install cargo-fuzz --locked --version 0.13.2
fi

fx=sdk/tests/fixtures
seeds_for() {
	case "$1" in
	netconf) echo "$fx/wire" ;;
	downward_annotations) echo "$fx/podinfo" ;;
	mountinfo) echo "$fx/mountinfo" ;;
	*) echo "fuzz/seeds/$1" ;;
	esac
}

(cd fuzz && cargo fuzz build -s none)

rows=()
for t in "${targets[@]}"; do
	corpus="fuzz/corpus/$t"
	mkdir -p "$corpus" "fuzz/artifacts/$t"
	seeds=$(seeds_for "$t")
	[ -d "$seeds" ] || seeds=""
	log=$(mktemp)
	start=$(date +%s)
	if ! (cd fuzz && cargo fuzz run -s none "$t" "../$corpus" ${seeds:+"../$seeds"} -- \
		"${limit[@]}" -max_len=8192 -print_final_stats=1) >"$log" 2>&1; then
		tail -40 "$log"
		echo "fuzz target $t failed; the input is in fuzz/artifacts/$t" >&2
		exit 1
	fi
	secs=$(($(date +%s) - start))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	rows+=("$(printf '%-22s %14s %8s %10s' "$t" "${runs:-?}" "${secs}s" "${cov:-?}")")
	echo "${rows[-1]}" >&2 # as each target finishes, so a long run shows progress
	rm -f "$log"
done

printf '%-22s %14s %8s %10s\n' target executions time coverage
printf '%s\n' "${rows[@]}"
