#!/usr/bin/env bash
# install-deps.sh -- install whatever inferd needs that this machine lacks.
#
#   scripts/install-deps.sh build   # compiler, CMake, oneDNN: enough for `make`
#   scripts/install-deps.sh test    # + clang/libFuzzer, ONNX test data, Python
#                                   #   (torch, onnx, sklearn) and a .venv with
#                                   #   onnxruntime, tritonclient, pytest; and
#                                   #   grpc-health-probe + grpcurl (go install)
#                                   #   and perf_analyzer (tritonclient 2.34 wheel)
#   scripts/install-deps.sh deploy  # only the deployment tests' packages (below);
#                                   #   `test` installs them too
#
# Idempotent and quiet when nothing is missing: apt is not touched (not even
# `apt-get update`) unless dpkg says a package is absent, and the venv is
# rebuilt only when tests/requirements.txt changed. Works as root or through
# sudo. Everything comes from Debian's packages and PyPI; nothing else is
# downloaded.
set -euo pipefail

cd "$(dirname "$0")/.."
mode=${1:-build}

# Packages for `make`: the C toolchain, CMake + pkg-config, oneDNN (sgemm and
# convolution primitives; it pulls in libgomp, which the engine's OpenMP uses),
# the gRPC C core with protobuf-c and its compiler for the gRPC frontend, and
# libcrypto (libssl-dev) for the SHA-256 of sha256sums checks.
APT_BUILD=(build-essential cmake pkg-config libdnnl-dev
           libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libssl-dev)

# Packages for `make test`: clang + its runtimes for the libFuzzer build (and
# libomp because the engine is built with OpenMP), curl for the integration
# tests, the ONNX backend test data for the conformance runner, Debian's
# Python stack for building the comparison models (torch/torchvision with
# random weights, onnx for writing test cases, sklearn for the digits data),
# and libb64 (a shared library perf_analyzer links against; see below).
APT_TEST=(clang libclang-rt-14-dev libomp-14-dev curl libonnx-testdata
          python3 python3-onnx python3-numpy python3-torch python3-torchvision
          python3-sklearn python3-venv python3-pip libb64-0d)

# --- deploy (tests/deploy, docs/deploy.md) -----------------------------------
# Packages for the deployment tests: podman + runc + debootstrap build and run
# deploy/docker/Dockerfile without a Docker engine or registry; nginx and
# prometheus (with promtool) run the Compose topology's own config files;
# PyYAML and jsonschema read the chart's output and check compose.yaml. helm
# and kubeconform are not packaged in Debian 12: tests/deploy/tools.sh builds
# them with `go install` (Go >= 1.22 must be on PATH) and caches them.
APT_DEPLOY=(podman runc debootstrap nginx prometheus curl python3-yaml python3-jsonschema)
# ------------------------------------------------------------------------------

say() { printf 'install-deps: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        say "need root to run: $*  (no sudo found)" >&2
        exit 1
    fi
}

missing_packages() {
    local p
    for p in "$@"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
            printf '%s\n' "$p"
        fi
    done
}

apt_ensure() {
    local missing
    mapfile -t missing < <(missing_packages "$@")
    if [ "${#missing[@]}" -eq 0 ]; then
        say "apt: all ${#@} packages present"
        return
    fi
    say "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The venv sees Debian's numpy/torch/onnx (--system-site-packages) and adds
# the PyPI-only test clients. The constraint pins numpy to the system's
# version so pip can never shadow it with a build torch was not compiled for.
venv_ensure() {
    local venv=.venv req=tests/requirements.txt stamp=.venv/.requirements.sha256
    local want have=""
    want=$(sha256sum "$req" | cut -d' ' -f1)
    [ -f "$stamp" ] && have=$(cat "$stamp")
    if [ -x "$venv/bin/python" ] && [ "$want" = "$have" ] &&
       "$venv/bin/python" -c 'import onnxruntime, tritonclient.http, pytest, numpy, onnx' 2>/dev/null; then
        say "venv: .venv up to date"
        return
    fi
    if [ ! -x "$venv/bin/python" ]; then
        say "venv: creating .venv (with system site packages)"
        /usr/bin/python3 -m venv --system-site-packages "$venv"
    fi
    local numpy_version constraints
    numpy_version=$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')
    constraints=$(mktemp)
    printf 'numpy==%s\n' "$numpy_version" > "$constraints"
    say "venv: pip install -r $req (numpy held at $numpy_version)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$req" -c "$constraints"
    rm -f "$constraints"
    printf '%s\n' "$want" > "$stamp"
}

# --- gRPC test tools (tests/integration/test_grpc.py) -------------------------
# grpc-health-probe and grpcurl are not packaged in Debian 12: built with
# `go install` from the Go module proxy at pinned versions into .tools/bin
# (gitignored), with a copy in $INFERD_TEST_CACHE/tools so a fresh clone on
# the same machine copies instead of rebuilding (grpcurl takes minutes).
GRPC_TOOLS=("grpc-health-probe github.com/grpc-ecosystem/grpc-health-probe v0.4.61"
            "grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl v1.9.4")

grpc_tools_ensure() {
    local entry name pkg version bin stamp cached go
    local cache=${INFERD_TEST_CACHE:-/var/cache/inferd-test}/tools
    mkdir -p .tools/bin
    mkdir -p "$cache" 2>/dev/null || cache=.tools/cache
    mkdir -p "$cache"
    go=$(command -v go || echo /usr/local/go/bin/go)
    for entry in "${GRPC_TOOLS[@]}"; do
        read -r name pkg version <<<"$entry"
        bin=.tools/bin/$name stamp=.tools/bin/.$name.version cached=$cache/$name-$version
        if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
            continue
        fi
        if [ -x "$cached" ]; then
            cp "$cached" "$bin"
        elif [ -x "$go" ]; then
            say "grpc tools: go install $pkg@$version (first run only)"
            GOBIN=$PWD/.tools/bin "$go" install "$pkg@$version"
            cp "$bin" "$cached.tmp" && mv "$cached.tmp" "$cached"
        else
            say "grpc tools: no go on PATH; cannot build $name (its tests will fail)"
            continue
        fi
        printf '%s\n' "$version" > "$stamp"
    done
}

# --- perf_analyzer (tests/integration/test_perf_analyzer.py, bench/perf_analyzer.py)
# Triton's load generator is a C++ binary shipped inside the tritonclient
# wheel up to 2.34.0 (later wheels dropped it; PyPI's perf-analyzer is an
# empty placeholder). The venv's tritonclient is newer and stays so: only
# the binary is taken, unpacked from the pinned wheel into
# .tools/perf_analyzer/bin. It links libb64 (APT_TEST) and libcudart.so.12,
# which loads without a GPU and comes from NVIDIA's nvidia-cuda-runtime-cu12
# wheel into .tools/perf_analyzer/lib; tools/perf_analyzer.sh runs it with
# that on LD_LIBRARY_PATH. The wheels are checked against pinned SHA-256s
# and kept in $INFERD_TEST_CACHE/wheels, so reruns and fresh clones on the
# same machine work offline.
PA_WHEELS=("tritonclient-2.34.0-py3-none-manylinux1_x86_64.whl ce5845f94f8a014f6de1ca13e07049c31b4bdffca594bbe0654a6db58eb2ce4b tritonclient==2.34.0"
           "nvidia_cuda_runtime_cu12-12.9.79-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl 25bba2dfb01d48a9b59ca474a1ac43c6ebf7011f1b0b8cc44f54eb6ac48a96c3 nvidia-cuda-runtime-cu12==12.9.79")
PA_DIR=.tools/perf_analyzer
PA_VERSION="tritonclient-2.34.0 cudart-12.9.79"

# Unpacks one member of a wheel (a zip) to a path, keeping it executable.
wheel_extract() { # wheel member dest
    /usr/bin/python3 - "$@" <<'PYEOF'
import os, shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest + ".tmp", "wb") as out:
    shutil.copyfileobj(src, out)
os.chmod(dest + ".tmp", 0o755)
os.replace(dest + ".tmp", dest)
PYEOF
}

perf_analyzer_ensure() {
    local cache=${INFERD_TEST_CACHE:-/var/cache/inferd-test}/wheels
    local stamp=$PA_DIR/.version entry file sha spec
    if [ -x "$PA_DIR/bin/perf_analyzer" ] && [ -f "$PA_DIR/lib/libcudart.so.12" ] &&
       [ "$(cat "$stamp" 2>/dev/null)" = "$PA_VERSION" ]; then
        return
    fi
    mkdir -p "$cache" 2>/dev/null || cache=.tools/cache/wheels
    mkdir -p "$cache" "$PA_DIR/bin" "$PA_DIR/lib"
    for entry in "${PA_WHEELS[@]}"; do
        read -r file sha spec <<<"$entry"
        if ! echo "$sha  $cache/$file" | sha256sum --quiet -c - >/dev/null 2>&1; then
            say "perf_analyzer: pip download $spec (first run only)"
            rm -f "$cache/$file"
            .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps \
                --only-binary=:all: --dest "$cache" "$spec"
            echo "$sha  $cache/$file" | sha256sum --quiet -c - ||
                { say "perf_analyzer: $file does not have the pinned sha256" >&2; exit 1; }
        fi
    done
    read -r file _ <<<"${PA_WHEELS[0]}"
    wheel_extract "$cache/$file" tritonclient-2.34.0.data/data/bin/perf_analyzer "$PA_DIR/bin/perf_analyzer"
    read -r file _ <<<"${PA_WHEELS[1]}"
    wheel_extract "$cache/$file" nvidia/cuda_runtime/lib/libcudart.so.12 "$PA_DIR/lib/libcudart.so.12"
    printf '%s\n' "$PA_VERSION" > "$stamp"
    say "perf_analyzer: installed in $PA_DIR (run it through tools/perf_analyzer.sh)"
}

case "$mode" in
    build)
        apt_ensure "${APT_BUILD[@]}"
        ;;
    test)
        apt_ensure "${APT_BUILD[@]}" "${APT_TEST[@]}" "${APT_DEPLOY[@]}"
        venv_ensure
        grpc_tools_ensure
        perf_analyzer_ensure
        ;;
    deploy)
        apt_ensure "${APT_DEPLOY[@]}"
        command -v go >/dev/null || say "deploy: no go on PATH; tests/deploy/tools.sh needs Go >= 1.22 to build helm and kubeconform"
        ;;
    *)
        echo "usage: $0 build|test|deploy" >&2
        exit 2
        ;;
esac
