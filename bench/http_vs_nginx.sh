#!/usr/bin/env bash
# http_vs_nginx.sh -- request rate of inferd's HTTP layer (a fixed 200 from
# bench/http_hello.c) against nginx returning a fixed 200, same machine,
# same wrk run parameters, one after the other.
#
#   bench/http_vs_nginx.sh [BUILD_DIR]     # default build; needs wrk, nginx
#   WRK_ARGS="-t1 -c32 -d5s" bench/http_vs_nginx.sh
#
# Each server gets one core's worth of work: inferd's single I/O thread
# and one nginx worker. Prints requests/s for each and the ratio.
#
# This is the HTTP layer alone; bench/serving_vs_nginx.sh measures the
# whole serving path (`inferd serve` answering y = a + b) against nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WRK_ARGS=${WRK_ARGS:-"-t1 -c32 -d5s"}
PORT_INFERD=${PORT_INFERD:-18080}
PORT_NGINX=${PORT_NGINX:-18081}
for tool in wrk nginx; do
    command -v $tool >/dev/null || PATH=$PATH:/usr/sbin
    command -v $tool >/dev/null || { echo "need $tool (apt-get install -y wrk nginx-light)"; exit 1; }
done
TMP=$(mktemp -d)
trap 'kill $HELLO_PID $NGINX_PID 2>/dev/null || true; rm -rf "$TMP"' EXIT
HELLO_PID= NGINX_PID=

cc -std=c17 -O2 -D_GNU_SOURCE -Isrc bench/http_hello.c "$BUILD/libinferd_server.a" \
   "$BUILD/libinferd_common.a" -lpthread -lm -o "$TMP/http_hello"

cat > "$TMP/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err;
events { worker_connections 4096; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$PORT_NGINX;
        location / { default_type text/plain; return 200 "OK"; }
    }
}
CONF

rate() { wrk $WRK_ARGS "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }

"$TMP/http_hello" $PORT_INFERD ${HELLO_ARGS:-} & HELLO_PID=$!
nginx -c "$TMP/nginx.conf" -p "$TMP" & NGINX_PID=$!
sleep 0.5
curl -sf "http://127.0.0.1:$PORT_INFERD/" >/dev/null
curl -sf "http://127.0.0.1:$PORT_NGINX/" >/dev/null
wrk -t1 -c8 -d1s "http://127.0.0.1:$PORT_INFERD/" >/dev/null  # warm up both
wrk -t1 -c8 -d1s "http://127.0.0.1:$PORT_NGINX/" >/dev/null
R_INFERD=$(rate $PORT_INFERD)
R_NGINX=$(rate $PORT_NGINX)
echo "wrk $WRK_ARGS, fixed 200:"
echo "  inferd http_hello${HELLO_ARGS:+ $HELLO_ARGS}: $R_INFERD req/s"
echo "  nginx (1 worker):   $R_NGINX req/s"
awk -v a="$R_INFERD" -v b="$R_NGINX" 'BEGIN { printf "  ratio inferd/nginx: %.2f\n", a / b }'
