#!/usr/bin/env bash
# run-tests.sh -- inferd's whole test suite, stage by stage, with one summary.
#
#   scripts/run-tests.sh                  # every stage (what `make test` runs)
#   scripts/run-tests.sh asan             # only the ASan+UBSan stages
#   scripts/run-tests.sh build unit       # the named stages, in suite order
#
# Stages, in order:
#   build              CMake build into build/ with -Werror
#   unit               ctest (C unit tests)
#   conformance-DIR    build/onnx_conformance over each ONNX backend test-data
#                      directory (node, simple, pytorch-converted,
#                      pytorch-operator), with tests/conformance/known_failures.txt
#   models             pytest tests/model_compare tests/op_cases: our own
#                      exported models, and generated per-operator cases,
#                      against ONNX Runtime
#   integration        pytest tests/integration: the real build/inferd process
#                      with curl and tritonclient
#   deploy             pytest tests/deploy: the Helm chart linted, rendered and
#                      schema-validated (helm/kubeconform from tests/deploy/tools.sh),
#                      promtool on the alerts, queries and dashboard, and
#                      build/inferd x3 behind real nginx + Prometheus (rolling restart)
#   image              tests/deploy/image_test.sh: podman builds
#                      deploy/docker/Dockerfile and runs the image
#   asan-build, asan-unit, asan-conformance-DIR, asan-models, asan-integration
#                      the same in build-asan/ with -DINFERD_SANITIZE=ON
#                      (conformance dirs: $ASAN_CONFORMANCE_DIRS)
#   `asan` names all of these.
#
# Each stage's output is printed and kept in $TEST_LOG_DIR/<stage>.log. The
# last line is "N passed, N failed", summed over the stages; the exit status
# is 1 if anything failed. A stage that exits non-zero without reporting a
# failure (a crash, a timeout) counts as one failure. Stages whose build
# failed are not run and say so.
#
# Expects the packages and .venv from `scripts/install-deps.sh test`.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

JOBS=${JOBS:-2}
TEST_LOG_DIR=${TEST_LOG_DIR:-$ROOT/build/test-logs}
STAGE_TIMEOUT=${STAGE_TIMEOUT:-1500}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
ONNX_DATA=${ONNX_DATA:-/usr/share/libonnx-testdata/data}
CONFORMANCE_DIRS=${CONFORMANCE_DIRS:-"node simple pytorch-converted pytorch-operator"}
ASAN_CONFORMANCE_DIRS=${ASAN_CONFORMANCE_DIRS:-"node simple pytorch-converted pytorch-operator"}
KNOWN_FAILURES=${KNOWN_FAILURES:-$ROOT/tests/conformance/known_failures.txt}

ALL_STAGES="build unit conformance models integration deploy image asan-build asan-unit asan-conformance asan-models asan-integration"

mkdir -p "$TEST_LOG_DIR"

# --- bookkeeping ------------------------------------------------------------

SUMMARY=()
TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0
declare -A BUILD_OK=()

record() { # stage passed failed skipped seconds note
    local stage=$1 p=$2 f=$3 s=$4 secs=$5 note=${6:-}
    TOTAL_PASSED=$((TOTAL_PASSED + p))
    TOTAL_FAILED=$((TOTAL_FAILED + f))
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + s))
    local line
    line=$(printf '%-34s %5d passed %5d failed %5d skipped %5ds' "$stage" "$p" "$f" "$s" "$secs")
    [ -n "$note" ] && line="$line  ($note)"
    SUMMARY+=("$line")
    printf '<== %s\n\n' "$line"
}

not_run() { # stage reason
    SUMMARY+=("$(printf '%-34s not run: %s' "$1" "$2")")
    printf '<== %s: not run (%s)\n\n' "$1" "$2"
}

# Runs a command with a time limit, output to the terminal and to the log.
# Sets RC and SECS.
run_logged() { # log cmd...
    local log=$1; shift
    local start=$SECONDS
    printf '$ %s\n' "$*" | tee "$log"
    timeout -k 20 "$STAGE_TIMEOUT" "$@" 2>&1 | tee -a "$log"
    RC=${PIPESTATUS[0]}
    SECS=$((SECONDS - start))
    [ "$RC" -eq 124 ] && printf 'run-tests: timed out after %ss\n' "$STAGE_TIMEOUT" | tee -a "$log"
    return 0
}

# Every parser sets P F S (passed, failed, skipped) from a stage's log.

parse_ctest() { # log
    local line
    P=0 F=0 S=0
    line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1)
    if [ -n "$line" ]; then
        local failed total
        failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
        total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
        P=$((total - failed)) F=$failed
    fi
    S=$(grep -cE '\*\*\*(Not Run|Skipped)' "$1" || true)
}

# The conformance runner's last "N passed, N failed" line. Its per-directory
# lines ("node  N passed, N failed, N errors, N unsupported, N total") give
# the total; cases neither passed nor failed (unsupported operators, known
# failures) count as skipped.
parse_plain() { # log
    local line total
    P=0 F=0 S=0
    line=$(grep -E '^[A-Za-z:_ -]*[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
    [ -z "$line" ] && return
    P=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
    F=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
    total=$(grep -E ' [0-9]+ total$' "$1" | grep -oE '[0-9]+ total$' | grep -oE '[0-9]+' |
            awk '{s += $1} END {print s + 0}')
    [ "$total" -gt $((P + F)) ] && S=$((total - P - F))
}

parse_junit() { # xml
    P=0 F=0 S=0
    [ -s "$1" ] || return
    read -r P F S < <(/usr/bin/python3 - "$1" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = e = s = 0
for su in suites:
    t += int(su.get("tests", 0)); f += int(su.get("failures", 0))
    e += int(su.get("errors", 0)); s += int(su.get("skipped", 0))
print(t - f - e - s, f + e, s)
PYEOF
)
}

# A stage that failed without counting a failure still fails once.
finish_stage() { # stage note
    local note=${2:-}
    if [ "$RC" -ne 0 ] && [ "$F" -eq 0 ]; then
        F=1
        note="${note:+$note; }exit status $RC"
    fi
    record "$1" "$P" "$F" "$S" "$SECS" "$note"
}

# --- stages -------------------------------------------------------------------

stage_build() { # stage builddir cmake-args...
    local stage=$1 dir=$2; shift 2
    printf '==> %s\n' "$stage"
    local log=$TEST_LOG_DIR/$stage.log secs
    run_logged "$log" cmake -S . -B "$dir" -DINFERD_WERROR=ON "$@"
    secs=$SECS
    if [ "$RC" -eq 0 ]; then
        run_logged "$log.tmp" cmake --build "$dir" -j"$JOBS"
        cat "$log.tmp" >> "$log" && rm -f "$log.tmp"
        secs=$((secs + SECS))
    fi
    P=0 F=0
    if [ "$RC" -eq 0 ]; then P=1; BUILD_OK[$dir]=1; else F=1; fi
    record "$stage" "$P" "$F" 0 "$secs"
}

stage_ctest() { # stage builddir
    local stage=$1 dir=$2
    [ -n "${BUILD_OK[$dir]:-}" ] || { not_run "$stage" "$dir did not build"; return; }
    printf '==> %s\n' "$stage"
    local log=$TEST_LOG_DIR/$stage.log
    run_logged "$log" ctest --test-dir "$dir" --output-on-failure -j"$JOBS" --timeout 120
    parse_ctest "$log"
    finish_stage "$stage"
}

stage_conformance() { # stage-prefix builddir dirs
    local prefix=$1 dir=$2 sub
    for sub in $3; do
        local stage=$prefix-$sub
        [ -n "${BUILD_OK[$dir]:-}" ] || { not_run "$stage" "$dir did not build"; continue; }
        # A missing runner or missing test data is a failure, not a skip.
        [ -x "$dir/onnx_conformance" ] || { record "$stage" 0 1 0 0 "$dir/onnx_conformance missing"; continue; }
        [ -d "$ONNX_DATA/$sub" ] || { record "$stage" 0 1 0 0 "$ONNX_DATA/$sub missing"; continue; }
        printf '==> %s\n' "$stage"
        local log=$TEST_LOG_DIR/$stage.log args=()
        [ -f "$KNOWN_FAILURES" ] && args+=(--known-failures "$KNOWN_FAILURES")
        run_logged "$log" "$dir/onnx_conformance" "${args[@]}" "$ONNX_DATA/$sub"
        parse_plain "$log"
        finish_stage "$stage"
    done
}

stage_pytest() { # stage builddir testdir
    local stage=$1 dir=$2 tests=$3
    [ -n "${BUILD_OK[$dir]:-}" ] || { not_run "$stage" "$dir did not build"; return; }
    printf '==> %s\n' "$stage"
    local log=$TEST_LOG_DIR/$stage.log xml=$TEST_LOG_DIR/$stage.xml
    rm -f "$xml"
    INFERD_BIN=$ROOT/$dir/inferd INFERD_CONFORMANCE=$ROOT/$dir/onnx_conformance \
        run_logged "$log" "$PYTHON" -m pytest -q -rfEs -p no:cacheprovider \
        --junitxml="$xml" $tests
    parse_junit "$xml"
    # pytest exits 5 when it collected nothing: no tests is not a failure here.
    [ "$RC" -eq 5 ] && RC=0
    finish_stage "$stage"
}

stage_script() { # stage script: a script ending in "N passed, N failed, N skipped"
    local stage=$1 script=$2
    printf '==> %s\n' "$stage"
    local log=$TEST_LOG_DIR/$stage.log
    run_logged "$log" "$script"
    parse_plain "$log"
    S=$(grep -oE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -1 |
        grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || true)
    S=${S:-0}
    finish_stage "$stage"
}

# Sanitizer settings for every process the asan stages start, including the
# server the integration tests spawn.
sanitizer_env() {
    # No detect_stack_use_after_return: its fake stack frames are only 32-byte
    # aligned, and the AVX-512 kernel clones keep 64-byte-aligned locals that
    # the compiler stores with aligned instructions (a false SEGV).
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:check_initialization_order=1:strict_init_order=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    [ -f "$ROOT/tests/lsan.supp" ] && export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}
    export INFERD_SANITIZED=1
}

# --- which stages ---------------------------------------------------------

want=" ${*:-$ALL_STAGES} "
want=${want// asan / asan-build asan-unit asan-conformance asan-models asan-integration }
wants() { [[ $want == *" $1 "* ]]; }

# Stages that need a build get it even when only they were asked for.
if wants unit || wants conformance || wants models || wants integration || wants deploy; then
    want="$want build "
fi
if wants asan-unit || wants asan-conformance || wants asan-models || wants asan-integration; then
    want="$want asan-build "
fi

suite_start=$SECONDS

wants build            && stage_build build build -DINFERD_SANITIZE=OFF -DINFERD_FUZZ=OFF
wants unit             && stage_ctest unit build
wants conformance      && stage_conformance conformance build "$CONFORMANCE_DIRS"
wants models           && stage_pytest models build "tests/model_compare tests/op_cases"
wants integration      && stage_pytest integration build tests/integration
wants deploy           && stage_pytest deploy build tests/deploy
wants image            && stage_script image tests/deploy/image_test.sh

wants asan-build && stage_build asan-build build-asan -DINFERD_SANITIZE=ON -DINFERD_FUZZ=OFF
if wants asan-unit || wants asan-conformance || wants asan-models || wants asan-integration; then
    sanitizer_env
    wants asan-unit        && stage_ctest asan-unit build-asan
    wants asan-conformance && stage_conformance asan-conformance build-asan "$ASAN_CONFORMANCE_DIRS"
    wants asan-models      && stage_pytest asan-models build-asan "tests/model_compare tests/op_cases"
    wants asan-integration && stage_pytest asan-integration build-asan tests/integration
fi

printf '==> summary (%ds, logs in %s)\n' "$((SECONDS - suite_start))" "$TEST_LOG_DIR"
for line in "${SUMMARY[@]}"; do
    printf '  %s\n' "$line"
done
[ "$TOTAL_SKIPPED" -gt 0 ] && printf '  (%d skipped)\n' "$TOTAL_SKIPPED"
printf '%d passed, %d failed\n' "$TOTAL_PASSED" "$TOTAL_FAILED"
[ "$TOTAL_FAILED" -eq 0 ]
