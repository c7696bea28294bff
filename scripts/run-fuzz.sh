#!/usr/bin/env bash
# run-fuzz.sh -- run every libFuzzer target for a while (what `make fuzz` does).
#
#   scripts/run-fuzz.sh [BUILD_DIR [SECONDS]]      # defaults: build-fuzz 30
#
# Each target BUILD_DIR/fuzz_<name> starts from the seeds in
# tests/fuzz/corpus/<name>/ or <name without fuzz_>/ (if any) plus what earlier runs found (kept in
# BUILD_DIR/corpus/<name>/, not in the repo), with tests/fuzz/<name>.dict as
# its dictionary if present. A crash, leak, UB report or timeout leaves its
# input in BUILD_DIR/artifacts/ and fails the run; reproduce it with
#   BUILD_DIR/fuzz_<name> BUILD_DIR/artifacts/<file>
set -uo pipefail

cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
secs=${2:-30}
passed=0 failed=0
mkdir -p "$dir/artifacts"

shopt -s nullglob
targets=("$dir"/fuzz_*)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "run-fuzz: no fuzz targets in $dir (build with -DINFERD_FUZZ=ON, CC=clang)" >&2
    exit 1
fi

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${targets[@]}"; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    name=$(basename "$t")
    short=${name#fuzz_}
    work=$dir/corpus/$short
    mkdir -p "$work"
    args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$dir/artifacts/$short-")
    [ -f "tests/fuzz/$short.dict" ] && args+=(-dict="tests/fuzz/$short.dict")
    seeds=()
    for seed_dir in "tests/fuzz/corpus/$name" "tests/fuzz/corpus/$short"; do
        [ -d "$seed_dir" ] && seeds+=("$seed_dir")
    done
    echo "==> $name for ${secs}s (corpus $work ${seeds[*]:-})"
    if "$t" "${args[@]}" "$work" "${seeds[@]}" > "$dir/$short.log" 2>&1; then
        passed=$((passed + 1))
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$dir/$short.log" | tail -2 | sed 's/^/    /'
    else
        failed=$((failed + 1))
        echo "    FAILED: see $dir/$short.log; inputs in $dir/artifacts/"
        grep -E 'ERROR|SUMMARY|runtime error' "$dir/$short.log" | head -5 | sed 's/^/    /'
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
