#!/usr/bin/env python3
"""load_while_serving.py -- latency of model A while model B loads.

Issue 3's target: loading (and unloading) another model must not move
model A's p99 latency by more than 20%. inferd runs in explicit mode with A
loaded; closed-loop clients send A requests (binary tensor extension,
keep-alive) for --seconds, alternating phases:

    idle     nothing else happens
    loading  a background loop loads B through POST .../B/load (parse, plan,
             instances, warmup), then unloads it (drain, free), over and over

Phases alternate (idle, loading, idle, loading, ...) so machine noise hits
both alike. Prints p50/p90/p99 per phase and the p99 ratio.

    .venv/bin/python bench/load_while_serving.py                   # A mobilenet_v2, B resnet18
    .venv/bin/python bench/load_while_serving.py --model-a squeezenet1_1 --model-b resnet18 \
        --concurrency 2 --seconds 10 --rounds 3 --inferd build/inferd
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body=b"{}", timeout=300):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def binary_request(meta):
    """An infer body with every input as zeros in the binary extension."""
    inputs, blobs = [], []
    for i in meta["inputs"]:
        shape = [d if d > 0 else 1 for d in i["shape"]]
        assert i["datatype"] == "FP32", "this bench feeds FP32 inputs"
        blob = np.zeros(shape, np.float32).tobytes()
        inputs.append({"name": i["name"], "shape": shape, "datatype": "FP32",
                       "parameters": {"binary_data_size": len(blob)}})
        blobs.append(blob)
    outputs = [{"name": o["name"], "parameters": {"binary_data": True}} for o in meta["outputs"]]
    head = json.dumps({"inputs": inputs, "outputs": outputs}).encode()
    return head + b"".join(blobs), {"Content-Type": "application/octet-stream",
                                    "Inference-Header-Content-Length": str(len(head))}


def client(port, model, body, headers, stop, out):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        t0 = time.perf_counter()
        c.request("POST", "/v2/models/%s/infer" % model, body=body, headers=headers)
        r = c.getresponse()
        r.read()
        dt = time.perf_counter() - t0
        if r.status != 200:
            raise SystemExit("model A answered %d" % r.status)
        out.append(dt)
    c.close()


def churn(port, model, stop, stats):
    """Loads and unloads model B until stop."""
    while not stop.is_set():
        t0 = time.perf_counter()
        st, body = post(port, "/v2/repository/models/%s/load" % model)
        if st != 200:
            raise SystemExit("loading B failed: %d %s" % (st, body[:300]))
        stats["load_s"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        st, body = post(port, "/v2/repository/models/%s/unload" % model)
        if st != 200:
            raise SystemExit("unloading B failed: %d %s" % (st, body[:300]))
        stats["unload_s"].append(time.perf_counter() - t0)


def phase(port, model_a, body, headers, seconds, concurrency, churn_model=None):
    stop, lat, stats = threading.Event(), [], {"load_s": [], "unload_s": []}
    threads = [threading.Thread(target=client, args=(port, model_a, body, headers, stop, lat))
               for _ in range(concurrency)]
    if churn_model:
        threads.append(threading.Thread(target=churn, args=(port, churn_model, stop, stats)))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return lat, stats


def pct(xs, p):
    return float(np.percentile(np.array(xs) * 1000.0, p))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inferd", default=os.path.join(ROOT, "build", "inferd"))
    ap.add_argument("--model-a", default="mobilenet_v2", help="a directory of tests/models")
    ap.add_argument("--model-b", default="resnet18", help="a directory of tests/models")
    ap.add_argument("--seconds", type=float, default=10.0, help="per phase")
    ap.add_argument("--rounds", type=int, default=3, help="idle+loading pairs")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--extra", default="", help="more inferd serve flags")
    args = ap.parse_args()

    repo = tempfile.mkdtemp(prefix="inferd-bench-")
    proc = None
    try:
        for name in (args.model_a, args.model_b):
            src = os.path.join(ROOT, "tests", "models", name, "model.onnx")
            if not os.path.exists(src):
                raise SystemExit("%s missing: build it with tests/model_compare (make models)" % src)
            os.makedirs(os.path.join(repo, name, "1"))
            shutil.copy(src, os.path.join(repo, name, "1", "model.onnx"))
        port = free_port()
        cmd = [args.inferd, "serve", "--model-repository", repo, "--http-port", str(port),
               "--grpc-port", "-1", "--metrics-port", "-1", "--model-control-mode", "explicit",
               "--load-model", args.model_a, "--log-format", "text", "--drain-delay-secs", "0"] + args.extra.split()
        log = open(os.path.join(repo, "inferd.log"), "w")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                if get(port, "/v2/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        meta = json.loads(get(port, "/v2/models/%s" % args.model_a)[1])
        body, headers = binary_request(meta)
        phase(port, args.model_a, body, headers, 2.0, args.concurrency)  # warm up

        idle, loading, stats = [], [], {"load_s": [], "unload_s": []}
        for r in range(args.rounds):
            lat, _ = phase(port, args.model_a, body, headers, args.seconds, args.concurrency)
            idle += lat
            lat, st = phase(port, args.model_a, body, headers, args.seconds, args.concurrency,
                            churn_model=args.model_b)
            loading += lat
            for k in stats:
                stats[k] += st[k]
            print("round %d: idle p99 %.2f ms, loading p99 %.2f ms (%d loads)"
                  % (r + 1, pct(idle, 99), pct(loading, 99), len(stats["load_s"])),
                  file=sys.stderr)

        print("model A: %s, model B: %s, concurrency %d, %d x %.0f s per phase"
              % (args.model_a, args.model_b, args.concurrency, args.rounds, args.seconds))
        print("%-8s %9s %8s %8s %8s %8s" % ("phase", "requests", "p50 ms", "p90 ms", "p99 ms",
                                            "max ms"))
        for name, lat in (("idle", idle), ("loading", loading)):
            print("%-8s %9d %8.2f %8.2f %8.2f %8.2f" % (name, len(lat), pct(lat, 50), pct(lat, 90),
                                                      pct(lat, 99), pct(lat, 100)))
        print("B: %d load/unload cycles; load p50 %.0f ms, unload p50 %.0f ms"
              % (len(stats["load_s"]), pct(stats["load_s"], 50), pct(stats["unload_s"], 50)))
        print("p99 loading / idle: %.2f (target <= 1.20)" % (pct(loading, 99) / pct(idle, 99)))
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=60)
        shutil.rmtree(repo, ignore_errors=True)


if __name__ == "__main__":
    main()
