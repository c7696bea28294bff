#!/usr/bin/env python3
"""batching.py -- dynamic batching on versus off, on a CNN and a transformer
encoder, at concurrency 1, 4, 16 and 64: throughput and p50/p99 latency.

    .venv/bin/python bench/batching.py [--inferd build/inferd] [--seconds 8]
        [--rounds 3] [--models mobilenet_v2,bert_opset13] [--concurrency 1,4,16,64]
        [--variants off:1,off:2,on:1:2000,on:2:2000]

Models: a name is either a tests/models case that tools/models/build_models.py
exports (run it first if they are missing) -- mobilenet_v2 (torchvision,
random weights, 3x64x64 input), bert_opset13 (a BERT-style encoder, 2
layers, hidden 64, 4 heads, sequence 16), or any case directory with a
model.onnx whose first input dim is dynamic and a test_data_set_0
(--models-dir) -- or one of the models bench/engine_vs_ort.py builds into
bench/models (built on first use, inputs as `inferd bench` makes them):
alexnet, resnet50, minilm_seq16 (MiniLM at sequence 16), minilm, ...

Each model is served in several configurations ("variants"), each variant
by its own inferd process (see make_repo for why), all with
max_batch_size 16:

  off:N         no dynamic_batching: one request per execution, as Triton
                does without the batcher, N instances;
  on:N[:D[:P]]  dynamic_batching with max_queue_delay_microseconds D
                (default 0: a free worker takes everything queued, up to 16
                samples, so batches grow with the load) and preferred batch
                sizes P ("4+8"), N instances.

Each instance gets the default intra-op threads, cores / instances, so
every variant uses the whole machine and none oversubscribes it: on 2
cores, N=1 is one instance of 2 threads and N=2 two instances of 1 thread.
Both are offered for "off" because which one is faster depends on the
model (small convolutions parallelise badly over 2 threads at batch 1), and
the target is checked against the best of them: batching must beat a fair
no-batching baseline, not a crippled one.

The default "on" variants wait up to 2 ms for a batch to fill
(max_queue_delay_microseconds 2000). With no delay a free worker takes
whatever is queued, and at concurrency 16 that is a few requests: the
answers of one batch come back and their clients' next requests arrive
one by one, so the batch after it would start small. Waiting lets all 16
gather (the batcher sends at once when max_batch_size is reached, so the
delay only bounds the wait). The price is up to 2 ms more latency when
fewer than 16 requests are in flight (concurrency 1 and 4). Two instances
of one thread batch better than one of two: one gathers while the other
runs, and one-thread kernels leave the other core to the HTTP thread and
the client.

The load is wrk (one thread, keep-alive connections = the concurrency)
POSTing one fixed request in Triton's binary tensor format (a JSON header,
then raw input bytes; outputs asked as binary), so the client costs little
and the server's batching is what changes. wrk shares the machine with
inferd, as a sidecar client would.

Prints a markdown table per model (requests/s, p50, p99 and the mean
executed batch size from /metrics, per variant and concurrency) and a
table of issue 3's target at concurrency 16, for each "on" variant against
the "off" variant with the same instances (batching toggled, nothing else)
and against the best "off" variant at that concurrency:

  throughput on/off   target >= 2;
  p99 on / single     single = the single-request latency, the lowest p50
                      of the "off" variants at concurrency 1; target < 2;
  p99 on / p99 off    the restated latency target (docs/benchmarks.md):
                      batching must not cost tail latency at the same load.

Variants alternate within each concurrency level (in a different order
every round when --rounds > 1) so that a noisy neighbour hurts all alike;
with several rounds the table shows the median and the range. Rerun when
the machine is busy.
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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_vs_ort  # noqa: E402  (the benchmark models and their inputs)
MAX_BATCH = 16
DEFAULT_VARIANTS = "off:1,off:2,on:1:2000,on:2:2000"

# ONNX element type -> (KServe datatype, numpy dtype name)
DTYPES = {1: ("FP32", "float32"), 6: ("INT32", "int32"), 7: ("INT64", "int64"),
          9: ("BOOL", "bool"), 11: ("FP64", "float64")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the request ------------------------------------------------------------------

def resolve_model(name, models_dir):
    """The ONNX file for a model name: a tests/models case, else one of
    engine_vs_ort.py's models (built into bench/models when missing)."""
    case = os.path.join(models_dir, name)
    if os.path.exists(os.path.join(case, "model.onnx")):
        return os.path.join(case, "model.onnx")
    if name in engine_vs_ort.WRITERS:
        return engine_vs_ort.ensure_model(name, os.path.join(ROOT, "bench", "models"))
    sys.exit("%s: no model.onnx, and not one of bench/engine_vs_ort.py's models (%s); for a "
             "tests/models case run .venv/bin/python tools/models/build_models.py %s"
             % (case, ",".join(engine_vs_ort.WRITERS), name))


def sample_inputs(path, count):
    """One sample (batch 1) per input: the case's test_data_set_0 next to
    the model when there is one, else the inputs `inferd bench` makes."""
    import onnx
    from onnx import numpy_helper
    data_dir = os.path.join(os.path.dirname(path), "test_data_set_0")
    if not os.path.isdir(data_dir):
        import onnxruntime as ort
        shapes = engine_vs_ort.input_shapes(path, 1, {})
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = engine_vs_ort.make_feed(sess, shapes)
        return [feed[i.name] for i in sess.get_inputs()]
    arrays = []
    for k in range(count):
        t = onnx.TensorProto()
        with open(os.path.join(data_dir, "input_%d.pb" % k), "rb") as f:
            t.ParseFromString(f.read())
        arrays.append(numpy_helper.to_array(t)[:1])
    return arrays


def first_sample(path):
    """The model's inputs and outputs, and one sample (batch 1):
    [(name, datatype, shape, bytes)], [output names]."""
    import numpy as np
    import onnx
    model = onnx.load(path, load_external_data=False)
    init = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    tensors = []
    for vi, arr in zip(inputs, sample_inputs(path, len(inputs))):
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

def parse_variant(spec):
    """'off:2' or 'on:1:500:4+8' -> dict(batching, instances, delay_us, preferred)."""
    parts = spec.split(":")
    if parts[0] not in ("off", "on") or len(parts) > (2 if parts[0] == "off" else 4):
        sys.exit("bad variant %r: off:INSTANCES or on:INSTANCES[:DELAY_US[:PREF+PREF]]" % spec)
    try:
        v = {"spec": spec, "batching": parts[0] == "on",
             "instances": int(parts[1]) if len(parts) > 1 else 1,
             "delay_us": int(parts[2]) if len(parts) > 2 and parts[2] else 0,
             "preferred": [int(x) for x in parts[3].split("+")] if len(parts) > 3 else []}
    except ValueError:
        sys.exit("bad variant %r: numbers expected" % spec)
    v["name"] = spec.replace(":", "_").replace("+", "p")
    return v


def config_text(v):
    text = "max_batch_size: %d\n" % MAX_BATCH
    text += "instance_group [ { count: %d kind: KIND_CPU } ]\n" % v["instances"]
    if v["batching"]:
        text += "dynamic_batching { max_queue_delay_microseconds: %d" % v["delay_us"]
        if v["preferred"]:
            text += " preferred_batch_size: [ %s ]" % ", ".join(map(str, v["preferred"]))
        text += " }\n"
    return text


def make_repo(root, models, variants):
    """One repository per variant (root/VARIANT/MODEL_VARIANT): each variant
    is served by its own process, as a deployment serves one model per pod,
    so that no variant's idle threads share the process of the one measured."""
    for name, path in models.items():
        for v in variants:
            d = os.path.join(root, v["name"], "%s_%s" % (name, v["name"]))
            os.makedirs(os.path.join(d, "1"))
            shutil.copy(path, os.path.join(d, "1", "model.onnx"))
            with open(os.path.join(d, "config.pbtxt"), "w") as f:
                f.write(config_text(v))


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
    lat = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.M))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors or len(lat) != 2:
        sys.exit("wrk on %s at %d connections: failures or no latency percentiles:\n%s"
                 % (model, conns, out))
    return rps, to_ms(lat["50"]), to_ms(lat["99"])


# --- main ------------------------------------------------------------------------------------

def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def cell(xs, fmt):
    """The median, with the range when there are several rounds."""
    if len(xs) == 1:
        return fmt % xs[0]
    return (fmt + " (" + fmt + "-" + fmt + ")") % (median(xs), min(xs), max(xs))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def measure(args, models, variants, levels, servers, tmp):
    """{(model, concurrency, variant name): [(rps, p50, p99, mean batch), ...]}"""
    results = {}
    for name, path in models.items():
        tensors, outputs = first_sample(path)
        body, head_len = binary_request(tensors, outputs)
        body_path = os.path.join(tmp, name + ".body")
        with open(body_path, "wb") as f:
            f.write(body)
        script = os.path.join(tmp, name + ".lua")
        with open(script, "w") as f:
            f.write(LUA % (head_len, body_path))
        for v in variants:
            model = "%s_%s" % (name, v["name"])
            port = servers[v["name"]][1]
            check_answer(port, model, body, head_len)
            wrk(port, model, script, 16, 1)   # warm up
        for c in levels:
            for rnd in range(args.rounds):
                order = variants if rnd % 2 == 0 else variants[::-1]
                for v in order:
                    model = "%s_%s" % (name, v["name"])
                    _, port, mport = servers[v["name"]]
                    before = batch_stats(mport, model)
                    rps, p50, p99 = wrk(port, model, script, c, args.seconds)
                    after = batch_stats(mport, model)
                    mean = None
                    if before and after and after[1] > before[1]:
                        mean = (after[0] - before[0]) / (after[1] - before[1])
                    results.setdefault((name, c, v["name"]), []).append((rps, p50, p99, mean))
                    print("  %s c=%d %s: %.1f req/s, p50 %.2f ms, p99 %.2f ms, batch %.1f"
                          % (name, c, v["spec"], rps, p50, p99, mean or 0), file=sys.stderr,
                          flush=True)
    return results


def print_model_table(name, results, variants, levels):
    print("### %s\n" % name)
    print("| concurrency | variant | req/s | p50 ms | p99 ms | mean batch |")
    print("|---:|---|---:|---:|---:|---:|")
    for c in levels:
        for v in variants:
            runs = results[(name, c, v["name"])]
            batches = [r[3] for r in runs if r[3]]
            print("| %d | %s | %s | %s | %s | %s |"
                  % (c, v["spec"], cell([r[0] for r in runs], "%.1f"),
                     cell([r[1] for r in runs], "%.2f"), cell([r[2] for r in runs], "%.2f"),
                     "%.1f" % median(batches) if batches else "-"))
    print()


def target_rows(name, results, variants, c):
    """Issue 3's target at concurrency c for each "on" variant, against the
    best "off" variant there (medians over the rounds)."""
    med = lambda key, i: median([r[i] for r in results[key]])
    offs = [v for v in variants if not v["batching"]]
    ons = [v for v in variants if v["batching"]]
    single = min(med((name, 1, v["name"]), 1) for v in offs)
    best_off = max(offs, key=lambda v: med((name, c, v["name"]), 0))
    off_rps, off_p99 = med((name, c, best_off["name"]), 0), med((name, c, best_off["name"]), 2)
    rows = []
    for v in ons:
        rps, p99 = med((name, c, v["name"]), 0), med((name, c, v["name"]), 2)
        same = [o for o in offs if o["instances"] == v["instances"]]
        toggle = "%.2fx" % (rps / med((name, c, same[0]["name"]), 0)) if same else "-"
        rows.append((name, v["spec"], toggle, best_off["spec"], rps / off_rps, single, p99,
                     p99 / single, p99 / off_p99))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inferd", default=os.path.join(ROOT, "build", "inferd"))
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "tests", "models"))
    ap.add_argument("--models", default="mobilenet_v2,bert_opset13")
    ap.add_argument("--concurrency", default="1,4,16,64")
    ap.add_argument("--variants", default=DEFAULT_VARIANTS,
                    help="comma-separated: off:INSTANCES, on:INSTANCES[:DELAY_US[:PREF+PREF]] "
                         "(default %(default)s)")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1, help="runs of each variant per level")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("need wrk (apt-get install -y wrk)")
    names = args.models.split(",")
    models = {n: resolve_model(n, args.models_dir) for n in names}
    levels = [int(c) for c in args.concurrency.split(",")]
    variants = [parse_variant(v) for v in args.variants.split(",")]
    if not any(v["batching"] for v in variants) or all(v["batching"] for v in variants):
        sys.exit("--variants needs at least one 'off' and one 'on' variant")

    tmp = tempfile.mkdtemp(prefix="inferd-batching-")
    make_repo(tmp, models, variants)
    load_before = loadavg()
    servers = {}
    try:
        for v in variants:
            servers[v["name"]] = start_server(args.inferd, os.path.join(tmp, v["name"]))
        results = measure(args, models, variants, levels, servers, tmp)
    finally:
        for proc, _, _ in servers.values():
            proc.send_signal(signal.SIGTERM)
        for proc, _, _ in servers.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = loadavg()

    print("\ninferd dynamic batching: `%s`\n" % " ".join(["bench/batching.py"] + sys.argv[1:]))
    print("%d s per run, %d round(s), wrk -t1 with binary tensors, %d CPUs, max_batch_size %d; "
          "load average (1/5/15 min) %s before, %s after.%s\n"
          % (args.seconds, args.rounds, os.cpu_count(), MAX_BATCH, load_before, load_after,
             " Cells: median (min-max)." if args.rounds > 1 else ""))
    print("Variants: " + "; ".join("%s = %s" % (v["spec"], config_text(v).strip().replace("\n", " "))
                                   for v in variants) + "\n")
    for name in names:
        print_model_table(name, results, variants, levels)
    if 16 in levels and 1 in levels:
        print("Issue 3's target at concurrency 16: throughput on/off >= 2 against the best "
              "no-batching variant, and p99 under 2x the single-request latency (the lowest "
              "p50 of the no-batching variants at concurrency 1); restated: p99 with batching "
              "no worse than without at the same load.\n")
        print("| model | batching | on/off, same instances | best off | on / best off "
              "| single-request ms | p99 on ms | p99 on / single | p99 on / p99 best off |")
        print("|---|---|---:|---|---:|---:|---:|---:|---:|")
        for name in names:
            for row in target_rows(name, results, variants, 16):
                print("| %s | %s | %s | %s | **%.2fx** | %.2f | %.2f | %.1f | %.2f |" % row)


if __name__ == "__main__":
    main()
