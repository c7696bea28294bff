#!/usr/bin/env bash
# image_test.sh -- build deploy/docker/Dockerfile with podman and test the image.
#
#   tests/deploy/image_test.sh            # build (cached layers reused) and test
#   INFERD_IMAGE_NOBUILD=1 tests/deploy/image_test.sh   # test an image already built
#
# What it proves: the Dockerfile users build (FROM debian:bookworm, then FROM
# scratch) builds here, the image runs as a non-root numeric user with a
# read-only root filesystem and the example models mounted read-only at
# /models, answers readiness and an inference over HTTP (and gRPC when the
# server has --grpc-port and a gRPC client is installed), its HEALTHCHECK
# passes, it holds nothing but inferd and its libraries, and SIGTERM makes it
# drain and exit 0 promptly.
#
# No Docker engine or registry is reachable here: podman (Debian) runs as root
# with runc and vfs storage (see shared/containers.md), and the
# debian:bookworm base is made once with debootstrap and kept as a tarball in
# $INFERD_TEST_CACHE (default /var/cache/inferd-test), so a second run imports
# it in seconds. podman keeps the builder's layers too, so a rerun with an
# unchanged src/ builds nothing.
#
# Needs root; installs what is missing of podman, runc, debootstrap and curl
# with `scripts/install-deps.sh deploy`. Prints one "ok"/"FAIL"/"skip" line
# per check and ends with "N passed, N failed, N skipped".
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD

CACHE=${INFERD_TEST_CACHE:-/var/cache/inferd-test}
BASE=docker.io/library/debian:bookworm
IMAGE=${INFERD_TEST_IMAGE:-localhost/inferd:test}
NAME=inferd-image-test-$$
MAX_IMAGE_MB=${MAX_IMAGE_MB:-120}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PY=/usr/bin/python3

PASSED=0 FAILED=0 SKIPPED=0
ok()   { PASSED=$((PASSED + 1));   printf 'ok    %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1));   printf 'FAIL  %s\n' "$*"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'skip  %s\n' "$*"; }
check() { # description command...
    local what=$1; shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
    printf '%d passed, %d failed, %d skipped\n' "$PASSED" "$FAILED" "$SKIPPED"
    [ "$FAILED" -eq 0 ]
    exit
}

# podman as shared/containers.md describes: runc (crun fails on these
# cgroups), vfs storage, cgroupfs, no default ulimits.
CONF_DIR=$(mktemp -d)
printf '[containers]\ndefault_ulimits = []\n' > "$CONF_DIR/containers.conf"
export CONTAINERS_CONF=$CONF_DIR/containers.conf
P=(podman --runtime runc --storage-driver vfs --cgroup-manager cgroupfs --events-backend file)

cleanup() {
    "${P[@]}" rm -f -t 0 "$NAME" >/dev/null 2>&1
    rm -rf "$CONF_DIR"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { fail "running as root (podman here needs it)"; finish; }
# podman, runc and debootstrap as shared/containers.md says: from Debian, by
# scripts/install-deps.sh (a no-op when they are there).
for tool in podman runc debootstrap curl; do
    command -v "$tool" >/dev/null || { scripts/install-deps.sh deploy || true; break; }
done
for tool in podman runc debootstrap curl; do
    command -v "$tool" >/dev/null || { fail "$tool is installed (scripts/install-deps.sh deploy)"; finish; }
done

# --- the debian:bookworm base, made once ------------------------------------

ensure_base() {
    "${P[@]}" image exists "$BASE" && return 0
    local tarball=$CACHE/debian-bookworm-minbase.tar
    if [ ! -s "$tarball" ]; then
        echo "image-test: debootstrap bookworm into $CACHE (first run only, a few minutes)"
        mkdir -p "$CACHE"
        local dir=$CACHE/rootfs.tmp
        rm -rf "$dir"
        debootstrap --variant=minbase bookworm "$dir" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
            { tail -20 "$CACHE/debootstrap.log"; return 1; }
        # apt inside the build talks to the same mirror.
        printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$MIRROR" "$MIRROR" \
            > "$dir/etc/apt/sources.list"
        rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
        tar -C "$dir" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball" && rm -rf "$dir"
    fi
    "${P[@]}" import -q --change 'CMD ["/bin/bash"]' "$tarball" "$BASE" >/dev/null
}

start=$SECONDS
check "debian:bookworm base image present (debootstrap, cached in $CACHE)" ensure_base
"${P[@]}" image exists "$BASE" || finish
echo "image-test: base ready after $((SECONDS - start))s"

# --- build ------------------------------------------------------------------

# The builder stage is built and tagged first ($BUILD_IMAGE): a tagged image
# and its parents survive `podman image prune`, so the apt-get layer and, with
# src/ unchanged, the compile stay cached for the next run, while the layers
# of earlier builds that nothing uses any more are pruned (vfs storage keeps a
# full copy of the root filesystem per layer).
BUILD_IMAGE=${IMAGE%:*}-build:${IMAGE##*:}
image_id() { "${P[@]}" image inspect --format '{{.Id}}' "$1" 2>/dev/null; }
if [ -z "${INFERD_IMAGE_NOBUILD:-}" ]; then
    build_start=$SECONDS
    old_ids="$(image_id "$BUILD_IMAGE") $(image_id "$IMAGE")"
    : > "$CACHE/build.log"
    # Both builds read one snapshot of the build context (what .dockerignore
    # lets in, plus the Dockerfile), so a file edited in between cannot make
    # them disagree.
    CONTEXT=$CONF_DIR/context
    mkdir -p "$CONTEXT"
    ctx=(CMakeLists.txt src scripts/install-deps.sh .dockerignore deploy/docker/Dockerfile)
    [ -d proto ] && ctx+=(proto)
    tar -c "${ctx[@]}" | tar -x -C "$CONTEXT"
    # --format docker keeps HEALTHCHECK (the OCI image format has no field for it).
    if "${P[@]}" build --network host --format docker --layers --force-rm --target build \
            -t "$BUILD_IMAGE" -f "$CONTEXT/deploy/docker/Dockerfile" "$CONTEXT" >> "$CACHE/build.log" 2>&1 &&
       "${P[@]}" build --network host --format docker --layers --force-rm \
            --build-arg REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
            --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
            -t "$IMAGE" -f "$CONTEXT/deploy/docker/Dockerfile" "$CONTEXT" >> "$CACHE/build.log" 2>&1; then
        ok "podman build -f deploy/docker/Dockerfile . ($((SECONDS - build_start))s)"
    else
        tail -40 "$CACHE/build.log"
        fail "podman build -f deploy/docker/Dockerfile . (log: $CACHE/build.log)"
        finish
    fi
    [ "$old_ids" = "$(image_id "$BUILD_IMAGE") $(image_id "$IMAGE")" ] ||
        "${P[@]}" image prune -f >/dev/null 2>&1
fi

# --- static properties --------------------------------------------------------

inspect() { "${P[@]}" image inspect --format "$1" "$IMAGE"; }

size=$(inspect '{{.Size}}')
size_mb=$(( size / 1000000 ))
echo "image-test: image size $size bytes (${size_mb} MB)"
check "image size ${size_mb} MB <= ${MAX_IMAGE_MB} MB" test "$size_mb" -le "$MAX_IMAGE_MB"
check "image user is numeric non-root 65532:65532" test "$(inspect '{{.Config.User}}')" = 65532:65532
check "entrypoint is [/inferd serve]" test "$(inspect '{{json .Config.Entrypoint}}')" = '["/inferd","serve"]'
check "default command is [--model-repository /models]" \
    test "$(inspect '{{json .Config.Cmd}}')" = '["--model-repository","/models"]'
ports=$(inspect '{{json .Config.ExposedPorts}}')
check "exposes 8000 8001 8002 ($ports)" \
    bash -c '[[ $1 == *8000/tcp* && $1 == *8001/tcp* && $1 == *8002/tcp* ]]' _ "$ports"
health=$(inspect '{{json .Config.Healthcheck}}' 2>/dev/null)
[ -z "$health" ] || [ "$health" = null ] && health=$(inspect '{{json .HealthCheck}}' 2>/dev/null)
check "HEALTHCHECK runs inferd health ($health)" grep -qF '"/inferd","health"' <<<"$health"
labels=$(inspect '{{json .Labels}}')
check "OCI labels (title, version, revision)" bash -c \
    '[[ $1 == *org.opencontainers.image.title* && $1 == *org.opencontainers.image.version* && $1 == *org.opencontainers.image.revision* ]]' _ "$labels"

# The root filesystem holds inferd, its libraries, passwd/group and the two
# mount points: no shell, no package manager.
files=$("${P[@]}" create --name "$NAME-fs" "$IMAGE" >/dev/null &&
        "${P[@]}" export "$NAME-fs" | tar -t | sed 's|^\./||' | sort)
"${P[@]}" rm -f "$NAME-fs" >/dev/null 2>&1
echo "image-test: files in the image:" $(grep -v '/$' <<<"$files" | tr '\n' ' ')
check "root filesystem has /inferd, /etc/passwd and libdnnl" bash -c \
    'grep -qx inferd <<<"$1" && grep -qx etc/passwd <<<"$1" && grep -q "libdnnl.so" <<<"$1"' _ "$files"
check "no shell or package manager in the image" bash -c \
    '! grep -qE "(^|/)(sh|bash|dash|apt|apt-get|dpkg|curl)$" <<<"$1"' _ "$files"

# --- run ------------------------------------------------------------------------

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
help=$("${P[@]}" run --rm --network host "$IMAGE" --help 2>&1)
has_flag() { grep -q -- "$1" <<<"$help"; }

HTTP_PORT=$(free_port)
env_args=(-e INFERD_HTTP_PORT="$HTTP_PORT" -e INFERD_URL="http://127.0.0.1:$HTTP_PORT/v2/health/ready")
GRPC_PORT="" METRICS_PORT=""
if has_flag --grpc-port; then GRPC_PORT=$(free_port); env_args+=(-e INFERD_GRPC_PORT="$GRPC_PORT"); fi
if has_flag --metrics-port; then METRICS_PORT=$(free_port); env_args+=(-e INFERD_METRICS_PORT="$METRICS_PORT"); fi
has_flag --drain-delay-secs && env_args+=(-e INFERD_DRAIN_DELAY_SECS=2)
has_flag --exit-timeout-secs && env_args+=(-e INFERD_EXIT_TIMEOUT_SECS=10)

# --network host: the test reaches the ports on 127.0.0.1 (no CNI here); the
# ports are picked free so parallel test runs do not collide.
# (podman's complaint that it cannot schedule the periodic health check
# without systemd is expected here; `podman healthcheck run` below runs it.)
if ! "${P[@]}" run -d --name "$NAME" --network host --read-only \
        -v "$ROOT/examples/models:/models:ro" "${env_args[@]}" "$IMAGE" >/dev/null 2>"$CONF_DIR/run.err"; then
    cat "$CONF_DIR/run.err"
    fail "podman run --read-only -v examples/models:/models:ro"
    finish
fi
ok "podman run --read-only -v examples/models:/models:ro (HTTP on $HTTP_PORT)"
URL=http://127.0.0.1:$HTTP_PORT

ready=0
for _ in $(seq 1 150); do
    if curl -sf -o /dev/null "$URL/v2/health/ready"; then ready=1; break; fi
    [ "$("${P[@]}" inspect --format '{{.State.Running}}' "$NAME")" = true ] || break
    sleep 0.2
done
if [ "$ready" -eq 1 ]; then ok "GET /v2/health/ready answers 200"; else
    fail "GET /v2/health/ready answers 200"; "${P[@]}" logs "$NAME" | tail -20; finish
fi

check "container has a read-only root filesystem" \
    test "$("${P[@]}" inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$NAME")" = true
pid=$("${P[@]}" inspect --format '{{.State.Pid}}' "$NAME")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
check "server process runs as uid 65532 (got ${uid:-?})" test "$uid" = 65532

# Like the engine, allow the check's own retries (3) on a loaded machine.
healthcheck() { local i; for i in 1 2 3; do "${P[@]}" healthcheck run "$NAME" && return 0; sleep 1; done; return 1; }
check "HEALTHCHECK passes (podman healthcheck run)" healthcheck

answer=$(curl -sf -d @examples/requests/digits.json "$URL/v2/models/digits/infer")
label=$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1])["outputs"][0]["data"]; print(d.index(max(d)))' "$answer" 2>/dev/null)
check "HTTP infer on digits answers the handwritten 3 (got ${label:-no answer})" test "$label" = 3
answer=$(curl -sf -d '{"inputs":[{"name":"a","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]},{"name":"b","shape":[1,4],"datatype":"FP32","data":[10,20,30,40]}]}' \
         "$URL/v2/models/add/infer")
check "HTTP infer on add answers [11, 22, 33, 44]" grep -qE '"data":\[11(\.0)?,22(\.0)?,33(\.0)?,44(\.0)?\]' <<<"$answer"

if [ -z "$GRPC_PORT" ]; then
    skip "gRPC infer: this inferd has no --grpc-port yet (issue 4)"
elif ! "$ROOT/.venv/bin/python" -c 'import tritonclient.grpc' 2>/dev/null; then
    skip "gRPC infer: no gRPC client installed (tritonclient[grpc] in .venv)"
else
    check "gRPC ServerReady and ModelInfer on digits (port $GRPC_PORT)" \
        "$ROOT/.venv/bin/python" - "127.0.0.1:$GRPC_PORT" <<'PYEOF'
import json, sys
import numpy as np
import tritonclient.grpc as g
c = g.InferenceServerClient(sys.argv[1])
assert c.is_server_ready()
x = np.array([json.load(open("examples/requests/digits.json"))["inputs"][0]["data"]], dtype=np.float32)
i = g.InferInput("image", list(x.shape), "FP32")
i.set_data_from_numpy(x)
out = c.infer("digits", [i]).as_numpy("probabilities")
assert int(out.argmax()) == 3, out
PYEOF
fi

if [ -n "$METRICS_PORT" ]; then
    metrics=$(curl -sf "http://127.0.0.1:$METRICS_PORT/metrics")
    check "GET /metrics on $METRICS_PORT counts the requests" \
        bash -c 'grep -q "^inferd_requests_total{.*model=\"digits\"" <<<"$1"' _ "$metrics"
else
    skip "metrics: this inferd has no --metrics-port yet (issue 3)"
fi

# --- SIGTERM -------------------------------------------------------------------

t0=$(date +%s%N)
"${P[@]}" kill --signal TERM "$NAME" >/dev/null
if has_flag --drain-delay-secs; then
    # During the drain delay readiness must already say 503 while the server
    # still answers, so load balancers take it out before it stops listening.
    for _ in $(seq 1 20); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/health/ready")
        [ "$code" = 503 ] && break
        sleep 0.05
    done
    check "readiness is 503 right after SIGTERM (got $code)" test "$code" = 503
    answer=$(curl -sf -d @examples/requests/digits.json "$URL/v2/models/digits/infer")
    check "still answers inferences during the drain delay" grep -q '"outputs"' <<<"$answer"
fi
timeout 60 "${P[@]}" wait "$NAME" >/dev/null 2>&1
code=$("${P[@]}" inspect --format '{{.State.ExitCode}}' "$NAME")
running=$("${P[@]}" inspect --format '{{.State.Running}}' "$NAME")
# When inferd itself exited (conmon's record), not when podman got round to
# reporting it: a loaded machine can make podman slow.
finished=$("${P[@]}" inspect --format '{{.State.FinishedAt.UnixNano}}' "$NAME")
secs=$("$PY" -c "print(round(($finished - $t0) / 1e9, 2))" 2>/dev/null || echo '?')
check "SIGTERM: container exits (running=$running) with status 0 (got $code)" \
    test "$running" = false -a "$code" = 0
limit=5
has_flag --drain-delay-secs && limit=8
check "SIGTERM: inferd exits within ${limit}s (took ${secs}s)" \
    "$PY" -c "import sys; sys.exit(0 if '$secs' != '?' and $secs <= $limit else 1)"

echo "image-test: total $((SECONDS - start))s"
finish
