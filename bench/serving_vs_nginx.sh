#!/usr/bin/env bash
# serving_vs_nginx.sh -- the serving path's own cost (issue 3): `inferd
# serve` answering POST /v2/models/add/infer (y = a + b, examples/models)
# over HTTP/1.1 keep-alive, against nginx returning a fixed 200 with a body
# of the same size, on the same machine in the same run.
#
#   bench/serving_vs_nginx.sh [BUILD_DIR]          # default build; needs wrk, nginx, cc
#   ROUNDS=5 SECS=10 CONNS=32 bench/serving_vs_nginx.sh build
#
# Targets, each driven by wrk (1 thread, CONNS keep-alive connections) with
# a Lua script that sets the method, body and headers:
#
#   nginx json    nginx (1 worker) answering the KServe JSON request with a
#                 fixed 200 the size of inferd's JSON answer;
#   nginx binary  the same for the binary tensor request and answer;
#   http_hello    inferd's HTTP layer alone (bench/http_hello.c: the real
#                 src/http server, a fixed "OK" from the I/O thread);
#   inferd json   the KServe v2 JSON body: {"inputs":[{"name":"a",...}]};
#   inferd binary Triton's binary tensor extension (JSON header + 32 raw
#                 bytes, output asked as binary).
#
# Rounds are interleaved (every target once per round, in that order), so
# a noisy neighbour hits all of them; the ratio of each target to nginx is
# taken within a round. Besides requests/s the table gives the server's
# CPU time per request (user + system of the server process, all threads,
# from /proc/PID/stat): it depends much less on what else runs on the
# machine than the request rate does. Prints a markdown table to paste
# into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
CONNS=${CONNS:-32}
PORT_INFERD=${PORT_INFERD:-18090}
PORT_HELLO=${PORT_HELLO:-18091}
PORT_NGINX=${PORT_NGINX:-18092}
for tool in wrk nginx cc curl; do
    command -v $tool >/dev/null || PATH=$PATH:/usr/sbin
    command -v $tool >/dev/null || { echo "need $tool (apt-get install -y wrk nginx-light gcc curl)"; exit 1; }
done
[ -x "$BUILD/inferd" ] || { echo "no $BUILD/inferd: build first"; exit 1; }
for p in $PORT_INFERD $PORT_HELLO $PORT_NGINX; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "port $p is in use: set PORT_INFERD, PORT_HELLO, PORT_NGINX"; exit 1
    fi
done

TMP=$(mktemp -d)
INFERD_PID= HELLO_PID= NGINX_PID=
cleanup() {
    for p in $INFERD_PID $HELLO_PID $NGINX_PID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- the requests and the answers nginx imitates ------------------------------
JSON_BODY='{"inputs":[{"name":"a","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]},{"name":"b","datatype":"FP32","shape":[1,4],"data":[10,20,30,40]}]}'
BIN_HEAD='{"inputs":[{"name":"a","datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":16}},{"name":"b","datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":16}}],"outputs":[{"name":"y","parameters":{"binary_data":true}}]}'
printf '%s' "$BIN_HEAD" > "$TMP/bin.body"
# a = 1 2 3 4, b = 10 20 30 40 as little-endian float32
printf '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40' >> "$TMP/bin.body"
printf '\x00\x00\x20\x41\x00\x00\xa0\x41\x00\x00\xf0\x41\x00\x00\x20\x42' >> "$TMP/bin.body"
printf '%s' "$JSON_BODY" > "$TMP/json.body"

cat > "$TMP/json.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("$TMP/json.body", "rb"))
wrk.body = f:read("*a")
f:close()
LUA
cat > "$TMP/binary.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Inference-Header-Content-Length"] = "${#BIN_HEAD}"
local f = assert(io.open("$TMP/bin.body", "rb"))
wrk.body = f:read("*a")
f:close()
LUA

# --- the servers -----------------------------------------------------------------
cc -std=c17 -O2 -D_GNU_SOURCE -Isrc bench/http_hello.c "$BUILD/libinferd_server.a" \
   "$BUILD/libinferd_common.a" -lpthread -lm -o "$TMP/http_hello"
"$TMP/http_hello" $PORT_HELLO & HELLO_PID=$!

"$BUILD/inferd" serve --model-repository examples/models --http-address 127.0.0.1 \
    --http-port $PORT_INFERD --grpc-port -1 --metrics-port -1 ${INFERD_ARGS:-} \
    > "$TMP/inferd.log" 2>&1 & INFERD_PID=$!

for i in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT_INFERD/v2/health/ready" >/dev/null && break
    kill -0 $INFERD_PID 2>/dev/null || { cat "$TMP/inferd.log"; exit 1; }
    sleep 0.1
done
post() { # path, body file, extra curl args...: the answer, checked for 200
    local path=$1 file=$2; shift 2
    curl -sf --data-binary @"$file" "$@" "http://127.0.0.1:$PORT_INFERD$path"
}
JSON_ANSWER=$(post /v2/models/add/infer "$TMP/json.body" -H 'Content-Type: application/json')
case $JSON_ANSWER in *'"data":[11,22,33,44]'*) ;; *) echo "wrong answer: $JSON_ANSWER"; exit 1;; esac
BIN_LEN=$(post /v2/models/add/infer "$TMP/bin.body" -H 'Content-Type: application/octet-stream' \
          -H "Inference-Header-Content-Length: ${#BIN_HEAD}" | wc -c)

# nginx answers with bodies of the sizes inferd's answers have.
pad() { head -c "$1" /dev/zero | tr '\0' x; }
cat > "$TMP/nginx.conf" <<CONF
worker_processes ${NGINX_WORKERS:-1};
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP;
    server {
        listen 127.0.0.1:$PORT_NGINX;
        location /json { default_type application/json; return 200 '$(pad ${#JSON_ANSWER})'; }
        location /binary {
            default_type application/octet-stream;
            add_header Inference-Header-Content-Length 134;
            return 200 '$(pad $BIN_LEN)';
        }
    }
}
CONF
nginx -c "$TMP/nginx.conf" -p "$TMP" & NGINX_PID=$!
for i in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT_NGINX/json" && break
    sleep 0.1
done
NGINX_WORKER=$(pgrep -P $NGINX_PID | head -1)

# --- measuring -----------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# run NAME PID URL LUA: one wrk run; appends "name rps p50 p99 cpu_us_per_req"
run() {
    local name=$1 pid=$2 url=$3 lua=$4 out t0 t1
    t0=$(cpu_ticks "$pid")
    out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" --latency ${lua:+-s "$lua"} "$url")
    t1=$(cpu_ticks "$pid")
    if grep -q -e 'Non-2xx' -e 'Socket errors' <<<"$out"; then
        echo "$name: wrk saw failures:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk -v name="$name" -v dt=$((t1 - t0)) -v hz="$TICKS" '
        function ms(s) {
            if (s ~ /us$/) return substr(s, 1, length(s) - 2) / 1000
            if (s ~ /ms$/) return substr(s, 1, length(s) - 2) + 0
            if (s ~ /s$/) return substr(s, 1, length(s) - 1) * 1000
            return s
        }
        / requests in / { n = $1 }
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        END { printf "%s %.0f %.3f %.3f %.1f\n", name, rps, p50, p99, dt / hz * 1e6 / n }
    ' <<<"$out" >> "$TMP/results"
    tail -1 "$TMP/results" | awk '{printf "  %-14s %8d req/s  p50 %.3f ms  p99 %.3f ms  %.1f us CPU/req\n", $1, $2, $3, $4, $5}' >&2
}

NGINX_URL=http://127.0.0.1:$PORT_NGINX
INFERD_URL=http://127.0.0.1:$PORT_INFERD/v2/models/add/infer
# warm up every target
for u in "$NGINX_URL/json" "http://127.0.0.1:$PORT_HELLO/" "$INFERD_URL"; do
    wrk -t1 -c8 -d1s -s "$TMP/json.lua" "$u" >/dev/null
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$TMP/results"
for r in $(seq "$ROUNDS"); do
    echo "round $r/$ROUNDS" >&2
    run "nginx-json" "$NGINX_WORKER" "$NGINX_URL/json" "$TMP/json.lua"
    run "inferd-json" "$INFERD_PID" "$INFERD_URL" "$TMP/json.lua"
    run "nginx-binary" "$NGINX_WORKER" "$NGINX_URL/binary" "$TMP/binary.lua"
    run "inferd-binary" "$INFERD_PID" "$INFERD_URL" "$TMP/binary.lua"
    run "http_hello" "$HELLO_PID" "http://127.0.0.1:$PORT_HELLO/" "$TMP/json.lua"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table -------------------------------------------------------------------------
echo
echo "wrk -t1 -c$CONNS -d${SECS}s, $ROUNDS interleaved rounds, $(nproc) CPUs, nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') with ${NGINX_WORKERS:-1} worker(s);"
echo "load average (1/5/15 min) $LOAD_BEFORE before, $LOAD_AFTER after. Cells: median (min-max) over"
echo "the rounds; the ratio is taken within each round against nginx answering the same request."
echo
awk -v rounds="$ROUNDS" '
    { i = ++cnt[$1]; rps[$1, i] = $2; p50[$1, i] = $3; p99[$1, i] = $4; cpu[$1, i] = $5 }
    function sortv(v, n,   i, j, t) { # insertion sort of v[1..n]
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    }
    # "median (min-max)" over the rounds of one column
    function stat(n, fmt,   med) {
        sortv(v, n)
        med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        return n == 1 ? sprintf(fmt, med) : sprintf(fmt " (" fmt "-" fmt ")", med, v[1], v[n])
    }
    function col(arr, name, fmt,   i) { for (i = 1; i <= rounds; i++) v[i] = arr[name, i]; return stat(rounds, fmt) }
    function ratio(name, base,   i) { for (i = 1; i <= rounds; i++) v[i] = rps[name, i] / rps[base, i]; return stat(rounds, "%.2f") }
    function row(label, name, base) {
        printf "| %s | %s | %s | %s | %s | %s |\n", label, col(rps, name, "%d"),
               base == "" ? "1" : ratio(name, base), col(p50, name, "%.2f"),
               col(p99, name, "%.2f"), col(cpu, name, "%.1f")
    }
    END {
        print "| server, request | req/s | ratio to nginx | p50 ms | p99 ms | server CPU us/req |"
        print "|---|---|---|---|---|---|"
        row("nginx, fixed 200 (JSON-sized)", "nginx-json", "")
        row("**inferd serve, KServe JSON**", "inferd-json", "nginx-json")
        row("nginx, fixed 200 (binary-sized)", "nginx-binary", "")
        row("**inferd serve, binary tensors**", "inferd-binary", "nginx-binary")
        row("inferd HTTP layer only (http_hello)", "http_hello", "nginx-json")
    }
' "$TMP/results"
