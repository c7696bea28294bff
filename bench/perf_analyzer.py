#!/usr/bin/env python3
"""perf_analyzer.py -- issue 4's protocol table: throughput and p99 latency
of gRPC, HTTP with binary tensors and HTTP with JSON tensors, on a small
CNN with an image-sized input and on the tiny y = a + b model, at
concurrency 1 and 16.

    .venv/bin/python bench/perf_analyzer.py [--inferd build/inferd] [--window-ms 2000]
        [--wrk-seconds 5] [--rounds 1] [--concurrency 1,16]

Models (written into a temporary repository):
  small_cnn  x FP32 [1, 3, 224, 224] -> probs [1, 10]: two stride-2 3x3
             convolutions, global average pool, a linear layer
             (tests/integration/models.py small_cnn; max_batch_size 8 with
             dynamic batching); 588 KiB of input per request;
  add        examples/models/add: a, b FP32 [1, 4] -> y = a + b.

Clients:
  gRPC, HTTP binary   Triton's perf_analyzer (tools/perf_analyzer.sh, from
                      scripts/install-deps.sh test) in its default sync
                      mode, one connection per concurrent request, random
                      input data; the figures are its stable measurement
                      (three windows of --window-ms within 10%) from its
                      CSV report; when a busy machine does not settle in
                      10 windows, the level is rerun with -s 50, then
                      -s 1000, and the table marks the figure with "*".
  HTTP JSON           perf_analyzer 2.34's HTTP client always sends binary
                      tensors (no option selects JSON), so JSON tensors are
                      measured with wrk (-t1, keep-alive connections = the
                      concurrency) POSTing one pre-encoded request; wrk also
                      sends the same request in binary form, and the
                      "binary / JSON" column is the ratio of those two wrk
                      runs: the same client, only the encoding differs.
                      Pre-encoded bodies leave the client's own encoding
                      out (which costs tritonclient far more than the
                      server: see bench/rest_binary_vs_json.py).

The configurations alternate within each round, so that a noisy neighbour
hurts all of them alike; with --rounds > 1 the table shows medians. The
load average before and after goes with the table: on a shared machine
rerun before quoting absolute figures.
"""

import argparse
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import models  # noqa: E402  (the test models: small_cnn, and add copied from examples)

PERF_ANALYZER = os.path.join(ROOT, "tools", "perf_analyzer.sh")

# name -> (inputs as (name, shape), output name, perf_analyzer shape flags)
MODELS = {
    "small_cnn": ([("x", [1, 3, 224, 224])], "probs", []),
    "add": ([("a", [1, 4]), ("b", [1, 4])], "y", ["--shape", "a:1,4", "--shape", "b:1,4"]),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg():
    with open("/proc/loadavg") as f:
        return "/".join(f.read().split()[:3])


# --- the server --------------------------------------------------------------------

class Inferd:
    def __init__(self, binary, repo):
        self.http, self.grpc = free_port(), free_port()
        self.log = open(os.path.join(repo, "inferd.log"), "w")
        env = dict(os.environ, INFERD_DRAIN_DELAY_SECS="0")
        self.proc = subprocess.Popen(
            [binary, "serve", "--model-repository", repo, "--http-port", str(self.http),
             "--grpc-port", str(self.grpc), "--metrics-port", "-1"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit("inferd exited; see %s" % self.log.name)
            try:
                url = "http://127.0.0.1:%d/v2/health/ready" % self.http
                if urllib.request.urlopen(url, timeout=1).status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        sys.exit("inferd did not become ready; see %s" % self.log.name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --- perf_analyzer -----------------------------------------------------------------

# perf_analyzer's stability criterion (-s): the default first; on a busy
# machine looser ones, so that a run gives figures rather than nothing. A
# figure that needed a looser one is marked in the table.
STABILITY = [[], ["-s", "50"], ["-s", "1000"]]


def perf_analyzer(server, model, protocol, concurrency, window_ms, tmp):
    """{concurrency: (infer/s, p99 ms, settled at the default 10%)} from
    perf_analyzer's CSV report, one run per level."""
    report = os.path.join(tmp, "pa-%s-%s.csv" % (model, protocol))
    url = "127.0.0.1:%d" % (server.grpc if protocol == "grpc" else server.http)
    results = {}
    for c in concurrency:
        cmd = [PERF_ANALYZER, "-m", model, "-i", protocol, "-u", url,
               "--concurrency-range", str(c), "-p", str(window_ms), "-f", report] + MODELS[model][2]
        for i, extra in enumerate(STABILITY):
            p = subprocess.run(cmd + extra, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            if p.returncode == 0 or "Failed to obtain stable measurement" not in p.stdout:
                break
            print("  %s %s c=%d: not stable within 10 windows at %s" %
                  (model, protocol, c, " ".join(extra) or "-s 10"), file=sys.stderr)
        if p.returncode != 0:
            sys.exit("perf_analyzer failed:\n$ %s\n%s" % (" ".join(cmd + extra), p.stdout))
        with open(report) as f:
            row = next(csv.DictReader(f))
        results[c] = (float(row["Inferences/Second"]), float(row["p99 latency"]) / 1000.0, i == 0)
    return results


# --- wrk with pre-encoded bodies ---------------------------------------------------

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "%s"
%s
local f = assert(io.open("%s", "rb"))
wrk.body = f:read("*a")
f:close()
"""

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def write_bodies(model, tmp):
    """(json script, binary script) for one request of random inputs, with
    the output asked for in the same encoding."""
    rng = np.random.default_rng(1)
    inputs, out_name, _ = MODELS[model]
    arrays = [(n, rng.standard_normal(shape).astype(np.float32)) for n, shape in inputs]
    js = {"inputs": [{"name": n, "datatype": "FP32", "shape": list(a.shape),
                      "data": a.flatten().tolist()} for n, a in arrays],
          "outputs": [{"name": out_name, "parameters": {"binary_data": False}}]}
    head = {"inputs": [{"name": n, "datatype": "FP32", "shape": list(a.shape),
                        "parameters": {"binary_data_size": a.nbytes}} for n, a in arrays],
            "outputs": [{"name": out_name, "parameters": {"binary_data": True}}]}
    head_bytes = json.dumps(head).encode()
    scripts = []
    for kind, body, ctype, extra in (
            ("json", json.dumps(js).encode(), "application/json", ""),
            ("binary", head_bytes + b"".join(a.tobytes() for _, a in arrays),
             "application/octet-stream",
             'wrk.headers["Inference-Header-Content-Length"] = "%d"' % len(head_bytes))):
        body_path = os.path.join(tmp, "%s.%s.body" % (model, kind))
        with open(body_path, "wb") as f:
            f.write(body)
        script = os.path.join(tmp, "%s.%s.lua" % (model, kind))
        with open(script, "w") as f:
            f.write(LUA % (ctype, extra, body_path))
        scripts.append((script, len(body)))
    return scripts


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def wrk(server, model, script, conns, seconds):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", "--timeout", "30s",
           "-s", script, "http://127.0.0.1:%d/v2/models/%s/infer" % (server.http, model)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M)
    if not m or not p99 or re.search(r"Non-2xx or 3xx responses|Socket errors", out):
        sys.exit("wrk failed on %s:\n$ %s\n%s" % (model, " ".join(cmd), out))
    return float(m.group(1)), to_ms(p99.group(1))


# --- main --------------------------------------------------------------------------

def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def fmt_rate(x):
    return "%.0f" % x if x >= 100 else "%.1f" % x


def fmt_ms(x):
    return "%.2f" % x if x < 10 else "%.1f" % x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inferd", default=os.path.join(ROOT, "build", "inferd"))
    ap.add_argument("--window-ms", type=int, default=2000, help="perf_analyzer -p")
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--concurrency", default="1,16")
    ap.add_argument("--models", default="small_cnn,add")
    args = ap.parse_args()
    conc = [int(c) for c in args.concurrency.split(",")]
    names = args.models.split(",")
    if not os.access(args.inferd, os.X_OK):
        sys.exit("%s is not built" % args.inferd)
    if subprocess.run([PERF_ANALYZER, "--version"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 127:
        sys.exit("perf_analyzer is missing: run scripts/install-deps.sh test")
    if not shutil.which("wrk"):
        sys.exit("need wrk for the JSON rows (apt-get install -y wrk)")

    tmp = tempfile.mkdtemp(prefix="inferd-pa-bench-")
    models.make_repo(tmp, names)
    server = Inferd(args.inferd, tmp)
    load_before = loadavg()
    # runs[(model, client, c)] = [(rate, p99), ...] over rounds
    runs = {}
    try:
        scripts = {m: write_bodies(m, tmp) for m in names}
        for r in range(args.rounds):
            print("round %d/%d" % (r + 1, args.rounds), file=sys.stderr)
            for m in names:
                for protocol in ("grpc", "http"):
                    for c, v in perf_analyzer(server, m, protocol, conc, args.window_ms, tmp).items():
                        runs.setdefault((m, "pa-" + protocol, c), []).append(v)
                for c in conc:
                    for kind, (script, _) in zip(("json", "binary"), scripts[m]):
                        runs.setdefault((m, "wrk-" + kind, c), []).append(
                            wrk(server, m, script, c, args.wrk_seconds))
    finally:
        server.stop()
    load_after = loadavg()

    def cell(m, client, c):
        rs = runs[(m, client, c)]
        return median([x[0] for x in rs]), median([x[1] for x in rs])

    def pa_cells(m, client, c):
        rate, p99 = cell(m, client, c)
        mark = "" if all(x[2] for x in runs[(m, client, c)]) else "*"
        return fmt_rate(rate) + mark, fmt_ms(p99) + mark

    print()
    print("Load average (1/5/15 min): %s before, %s after; %d CPUs; %d round(s); "
          "perf_analyzer -p %d, wrk -t1 -d%ds." % (load_before, load_after, os.cpu_count(),
                                                    args.rounds, args.window_ms, args.wrk_seconds))
    print()
    print("| model | concurrency | gRPC infer/s | gRPC p99 ms | HTTP binary infer/s | HTTP binary p99 ms "
          "| HTTP JSON req/s (wrk) | HTTP JSON p99 ms | HTTP binary req/s (wrk) | HTTP binary p99 ms (wrk) "
          "| binary / JSON |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for m in names:
        for c in conc:
            g, h = pa_cells(m, "pa-grpc", c), pa_cells(m, "pa-http", c)
            j, b = cell(m, "wrk-json", c), cell(m, "wrk-binary", c)
            print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.1fx |" % (
                m, c, g[0], g[1], h[0], h[1],
                fmt_rate(j[0]), fmt_ms(j[1]), fmt_rate(b[0]), fmt_ms(b[1]), b[0] / j[0]))
    print()
    if any(not x[2] for k, rs in runs.items() if k[1].startswith("pa-") for x in rs):
        print("* perf_analyzer did not settle within 10%% in 10 windows of %d ms in at least one "
              "round (a busy machine); these are from a looser -s." % args.window_ms)
        print()
    for m in names:
        (_, jb), (_, bb) = [(s, n) for s, n in scripts[m]]
        print("%s request body: JSON %d bytes, binary %d bytes" % (m, jb, bb))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
