#!/usr/bin/env python3
"""batching.py -- dynamic batching on versus off, on a CNN and a transformer
encoder, at concurrency 1, 4, 16 and 64: throughput and p50/p99 latency.

    .venv/bin/python bench/batching.py [--inferd build/inferd] [--seconds 8]
        [--models mobilenet_v2,bert_opset13] [--concurrency 1,4,16,64]

Models: the tests/models cases that tools/models/build_models.py exports
(run it first if they are missing): mobilenet_v2 (torchvision, random
weights, 3x64x64 input) and bert_opset13 (a BERT-style encoder, 2 layers,
hidden 64, 4 heads, sequence 16), both with a dynamic batch dimension.
Any case directory with a model.onnx whose first input dim is dynamic and a
test_data_set_0 works (--models-dir).

Each model is served twice from one repository by one inferd process:
  <model>_off   max_batch_size 16, no dynamic_batching: one request per
                execution, as Triton does without the batcher;
  <model>_on    the same plus `dynamic_batching { }`: Triton's defaults
                (no queue delay; a free worker takes everything queued, up
                to 16 samples, so batches grow with the load).
Both have one instance with the default intra-op threads (cores /
instances). The load is wrk (one thread, keep-alive connections = the
concurrency) POSTing one fixed request in Triton's binary tensor format
(a JSON header, then raw input bytes; outputs asked as binary), so the
client costs little and the server's batching is what changes. wrk shares
the machine with inferd, as a sidecar client would.

Prints a markdown table per model (requests/s, p50, p99 for each mode, the
throughput ratio and the mean executed batch size from /metrics) and the
target check: at concurrency 16, batching on has at least 2x the throughput
of batching off, with p99 under 2x the single-request latency (batching
off, concurrency 1, p50). Modes alternate at each concurrency so that a
noisy neighbour hurts both alike; rerun when the machine is busy.
"""

import argparse
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_BATCH = 16

# ONNX element type -> (KServe datatype, numpy dtype name)
DTYPES = {1: ("FP32", "float32"), 6: ("INT32", "int32"), 7: ("INT64", "int64"),
          9: ("BOOL", "bool"), 11: ("FP64", "float64")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the request ------------------------------------------------------------------

def first_sample(case):
    """The model's inputs and outputs, and one sample (batch 1) from its
    test data: [(name, datatype, shape, bytes)], [output names]."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    model = onnx.load(os.path.join(case, "model.onnx"), load_external_data=False)
    init = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    data_dir = os.path.join(case, "test_data_set_0")
    tensors = []
    for k, vi in enumerate(inputs):
        t = onnx.TensorProto()
        with open(os.path.join(data_dir, "input_%d.pb" % k), "rb") as f:
            t.ParseFromString(f.read())
        arr = numpy_helper.to_array(t)[:1]
        datatype, npname = DTYPES[vi.type.tensor_type.elem_type]
        arr = np.ascontiguousarray(arr.astype(npname))
        tensors.append((vi.name, datatype, list(arr.shape), arr.tobytes()))
    return tensors, [o.name for o in model.graph.output]


def binary_request(tensors, outputs):
    """(body, json header length): Triton's binary tensor data extension."""
    header = {"inputs": [{"name": n, "datatype": dt, "shape": shape,
                          "parameters": {"binary_data_size": len(raw)}}
                         for n, dt, shape, raw in tensors],
              "outputs": [{"name": o, "parameters": {"binary_data": True}} for o in outputs]}
    head = json.dumps(header).encode()
    return head + b"".join(raw for _, _, _, raw in tensors), len(head)


# --- the server ---------------------------------------------------------------------

def make_repo(root, cases):
    for name, case in cases.items():
        for mode in ("off", "on"):
            d = os.path.join(root, "%s_%s" % (name, mode))
            os.makedirs(os.path.join(d, "1"))
            shutil.copy(os.path.join(case, "model.onnx"), os.path.join(d, "1", "model.onnx"))
            with open(os.path.join(d, "config.pbtxt"), "w") as f:
                f.write("max_batch_size: %d\n" % MAX_BATCH)
                if mode == "on":
                    f.write("dynamic_batching { }\n")


def start_server(inferd, repo):
    port, mport = free_port(), free_port()
    log = open(os.path.join(repo, "inferd.log"), "w")
    proc = subprocess.Popen([inferd, "serve", "--model-repository", repo, "--http-port", str(port),
                             "--grpc-port", "-1", "--metrics-port", str(mport)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/v2/health/ready" % port, timeout=1) as r:
                if r.status == 200:
                    return proc, port, mport
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("inferd did not become ready; see %s" % log.name)


def batch_stats(mport, model):
    """(sum, count) of inferd_batch_size for a model: executed samples and
    executions so far."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    out = {}
    for kind in ("sum", "count"):
        m = re.search(r'^inferd_batch_size_%s\{model="%s",version="1"\} (\S+)$' % (kind, model),
                      text, re.M)
        out[kind] = float(m.group(1)) if m else 0.0
    return out["sum"], out["count"]


def check_answer(port, model, body, head_len):
    req = urllib.request.Request("http://127.0.0.1:%d/v2/models/%s/infer" % (port, model), data=body,
                                 headers={"Content-Type": "application/octet-stream",
                                          "Inference-Header-Content-Length": str(head_len)})
    with urllib.request.urlopen(req, timeout=60) as r:
        if r.status != 200:
            sys.exit("%s answered %d" % (model, r.status))
        return r.read()


# --- wrk ---------------------------------------------------------------------------------

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Inference-Header-Content-Length"] = "%d"
local f = assert(io.open("%s", "rb"))
wrk.body = f:read("*a")
f:close()
"""

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def wrk(port, model, script, conns, seconds):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", "--timeout", "30s",
           "-s", script, "http://127.0.0.1:%d/v2/models/%s/infer" % (port, model)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True).stdout.decode()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        sys.exit("wrk on %s saw failures:\n%s" % (model, out))
    return rps, to_ms(lat["50"]), to_ms(lat["99"])


# --- main ------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inferd", default=os.path.join(ROOT, "build", "inferd"))
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "tests", "models"))
    ap.add_argument("--models", default="mobilenet_v2,bert_opset13")
    ap.add_argument("--concurrency", default="1,4,16,64")
    ap.add_argument("--seconds", type=int, default=8)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("need wrk (apt-get install -y wrk)")
    names = args.models.split(",")
    cases = {n: os.path.join(args.models_dir, n) for n in names}
    for n, c in cases.items():
        if not os.path.exists(os.path.join(c, "model.onnx")):
            sys.exit("%s: no model.onnx (run .venv/bin/python tools/models/build_models.py %s)" % (c, n))
    levels = [int(c) for c in args.concurrency.split(",")]

    tmp = tempfile.mkdtemp(prefix="inferd-batching-")
    make_repo(tmp, cases)
    proc, port, mport = start_server(args.inferd, tmp)
    results = {}
    try:
        for name, case in cases.items():
            tensors, outputs = first_sample(case)
            body, head_len = binary_request(tensors, outputs)
            body_path = os.path.join(tmp, name + ".body")
            with open(body_path, "wb") as f:
                f.write(body)
            script = os.path.join(tmp, name + ".lua")
            with open(script, "w") as f:
                f.write(LUA % (head_len, body_path))
            for mode in ("off", "on"):
                check_answer(port, "%s_%s" % (name, mode), body, head_len)
                wrk(port, "%s_%s" % (name, mode), script, 16, 1)   # warm up
            for c in levels:
                for mode in ("off", "on"):
                    model = "%s_%s" % (name, mode)
                    before = batch_stats(mport, model)
                    rps, p50, p99 = wrk(port, model, script, c, args.seconds)
                    after = batch_stats(mport, model)
                    mean = None
                    if before and after and after[1] > before[1]:
                        mean = (after[0] - before[0]) / (after[1] - before[1])
                    results[(name, c, mode)] = (rps, p50, p99, mean)
                    print("  %s c=%d %s: %.1f req/s, p50 %.2f ms, p99 %.2f ms, batch %.1f"
                          % (name, c, mode, rps, p50, p99, mean or 0), file=sys.stderr, flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    print("\ninferd dynamic batching, %d s per run, wrk -t1, %d cores, max_batch_size %d, "
          "queue delay 0\n" % (args.seconds, os.cpu_count(), MAX_BATCH))
    verdicts = []
    for name in names:
        print("### %s\n" % name)
        print("| concurrency | off req/s | off p50 ms | off p99 ms | on req/s | on p50 ms | on p99 ms "
              "| on/off throughput | mean batch (on) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in levels:
            off, on = results[(name, c, "off")], results[(name, c, "on")]
            print("| %d | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f | %.2fx | %s |"
                  % (c, off[0], off[1], off[2], on[0], on[1], on[2], on[0] / off[0],
                     "%.1f" % on[3] if on[3] else "-"))
        print()
        if 16 in levels and 1 in levels:
            single = results[(name, 1, "off")][1]
            ratio = results[(name, 16, "on")][0] / results[(name, 16, "off")][0]
            p99 = results[(name, 16, "on")][2]
            ok = ratio >= 2 and p99 < 2 * single
            verdicts.append("%s: at concurrency 16 batching gives %.2fx the throughput, p99 %.2f ms vs "
                            "single-request latency %.2f ms (p99/single %.2f): target %s"
                            % (name, ratio, p99, single, p99 / single, "met" if ok else "NOT met"))
    for v in verdicts:
        print(v)


if __name__ == "__main__":
    main()
