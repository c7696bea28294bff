# Makefile -- a thin front door over CMake and scripts/; see README.md.
#
#   make            build build/inferd (installs missing build packages first)
#   make serve      build, then serve examples/models on :8000
#   make test       everything: -Werror build, unit tests, ONNX conformance,
#                   model comparisons with ONNX Runtime, integration tests,
#                   then the same again under ASan+UBSan (scripts/run-tests.sh)
#   make asan       only the ASan+UBSan part of `make test`
#   make fuzz       clang/libFuzzer build, each fuzz target for FUZZ_SECONDS
#   make docs       regenerate docs/ops.md and docs/conformance.md
#   make bench      the engine against ONNX Runtime (bench/engine_vs_ort.py,
#                   a Release build; BENCH_ARGS=--quick for a short run);
#                   writes the table into docs/benchmarks.md
#   make clean      remove the build directories
#   make distclean  also remove the generated test models and the .venv
#
# CMake does the real work; this file only names the directories and calls
# scripts/install-deps.sh so a fresh Debian 12 machine needs nothing by hand.

BUILD_DIR    ?= build
ASAN_DIR     ?= build-asan
FUZZ_DIR     ?= build-fuzz
JOBS         ?= 2
HTTP_PORT    ?= 8000
FUZZ_SECONDS ?= 30
BENCH_DIR    ?= build-release
BENCH_ARGS   ?=

.PHONY: all build deps deps-test serve test asan fuzz docs bench clean distclean

all: build

deps:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

build: deps
	cmake -S . -B $(BUILD_DIR) -DINFERD_WERROR=ON -DINFERD_SANITIZE=OFF -DINFERD_FUZZ=OFF
	cmake --build $(BUILD_DIR) -j$(JOBS)

serve: build
	$(BUILD_DIR)/inferd serve --model-repository examples/models --http-port $(HTTP_PORT)

test: deps-test
	scripts/run-tests.sh

asan: deps-test
	scripts/run-tests.sh asan

fuzz: deps-test
	CC=clang cmake -S . -B $(FUZZ_DIR) -DINFERD_FUZZ=ON -DINFERD_WERROR=OFF
	cmake --build $(FUZZ_DIR) -j$(JOBS)
	scripts/run-fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

docs: build
	scripts/gen-docs.sh $(BUILD_DIR)

bench: deps-test
	cmake -S . -B $(BENCH_DIR) -DCMAKE_BUILD_TYPE=Release -DINFERD_SANITIZE=OFF -DINFERD_FUZZ=OFF
	cmake --build $(BENCH_DIR) -j$(JOBS) --target inferd
	.venv/bin/python bench/engine_vs_ort.py --inferd $(BENCH_DIR)/inferd $(BENCH_ARGS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR) $(BENCH_DIR)

distclean: clean
	rm -rf tests/models .venv .pytest_cache
