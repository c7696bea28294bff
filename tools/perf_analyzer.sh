#!/bin/sh
# perf_analyzer.sh -- runs Triton's perf_analyzer as installed by
# `scripts/install-deps.sh test` (.tools/perf_analyzer: the binary from the
# tritonclient 2.34.0 wheel and the libcudart.so.12 it links, which loads
# without a GPU). Arguments are passed through:
#
#     tools/perf_analyzer.sh -m add -u localhost:8000 --shape a:1,4 --shape b:1,4
#     tools/perf_analyzer.sh -m add -i grpc -u localhost:8001 --concurrency-range 1:4
#
# PERF_ANALYZER_DIR overrides where it looks.
dir=${PERF_ANALYZER_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.tools/perf_analyzer}
if [ ! -x "$dir/bin/perf_analyzer" ]; then
    echo "perf_analyzer.sh: $dir/bin/perf_analyzer is missing: run scripts/install-deps.sh test" >&2
    exit 127
fi
LD_LIBRARY_PATH=$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec "$dir/bin/perf_analyzer" "$@"
