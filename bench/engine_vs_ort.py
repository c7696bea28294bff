#!/usr/bin/env python3
"""engine_vs_ort.py -- inferd's engine next to ONNX Runtime, same machine, same run.

Builds the benchmark models itself (torchvision architectures and
transformer encoders with random weights, through tools/models/), plus any
ONNX file given with --model, then for every (model, threads, batch) runs
`inferd bench` and ONNX Runtime alternately, each in its own process (so
peak RSS is each one's own), and writes a markdown table to
docs/benchmarks.md under "Engine vs ONNX Runtime".

    .venv/bin/python bench/engine_vs_ort.py              # everything (long)
    .venv/bin/python bench/engine_vs_ort.py --quick      # a subset, few iterations
    .venv/bin/python bench/engine_vs_ort.py --models resnet50,minilm --threads 2
    .venv/bin/python bench/engine_vs_ort.py --model my.onnx --shape ids=1x64

Both sides get the same deterministic inputs: the xorshift sequence of
`inferd bench` (floats uniform in [-1, 1), integers alternating 0/1, bools
true). ONNX Runtime runs with all graph optimizations, intra-op threads =
--threads, inter-op 1, sequential execution. GFLOP/s counts Conv, MatMul,
Gemm and LSTM only, from shapes given by onnx.shape_inference (ONNX Runtime fills the
shapes inference leaves unknown).
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))

CNNS = ["resnet50", "resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
        "densenet121", "squeezenet1_1"]
ALL_MODELS = CNNS + ["bert_base", "minilm", "lstm", "mlp"]
QUICK_MODELS = ["resnet50", "resnet18", "mobilenet_v2", "squeezenet1_1", "minilm", "lstm", "mlp"]
SEQ = 128


# --- building the models ------------------------------------------------------

def _export(model, args, path, inputs, outputs):
    import zoo
    axes = {n: {0: "batch"} for n in inputs + outputs}
    zoo.export_torch(model, args, path, inputs, outputs, opset=13, dynamic_axes=axes)


def _write_cnn(name, path):
    import torch
    import torchvision
    import zoo
    torch.manual_seed(zoo.seed_for(name))
    model = getattr(torchvision.models, name)(weights=None)
    zoo.randomize_batchnorm(model, zoo.seed_for(name) + 1)
    _export(model.eval(), (torch.randn(1, 3, 224, 224),), path, ["input"], ["logits"])


def _write_encoder(name, path, layers, hidden, heads, intermediate, vocab, seq=SEQ):
    """tools/models/transformer.py's BERT, resized; only the batch dim is
    symbolic (sequence fixed at seq) so both runtimes see the same shapes."""
    import torch
    import transformer
    import zoo
    saved = {k: getattr(transformer, k) for k in
             ("VOCAB", "HIDDEN", "HEADS", "LAYERS", "INTERMEDIATE", "MAX_POSITIONS")}
    transformer.VOCAB, transformer.HIDDEN, transformer.HEADS = vocab, hidden, heads
    transformer.LAYERS, transformer.INTERMEDIATE, transformer.MAX_POSITIONS = layers, intermediate, 512
    try:  # the module reads its globals while tracing too
        torch.manual_seed(zoo.seed_for(name))
        model = transformer._bert().eval()
        ids = torch.randint(0, vocab, (1, seq))
        mask = torch.ones(1, seq, dtype=torch.int64)
        types = torch.zeros(1, seq, dtype=torch.int64)
        _export(model, (ids, mask, types), path, ["input_ids", "attention_mask", "token_type_ids"],
                ["last_hidden_state", "pooler_output"])
    finally:
        for k, v in saved.items():
            setattr(transformer, k, v)


def _write_lstm(name, path):
    """A 2-layer LSTM text classifier: 64 steps of 256 features, hidden 512."""
    import torch
    import torch.nn as nn
    import zoo
    torch.manual_seed(zoo.seed_for(name))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(256, 512, num_layers=2, batch_first=True)
            self.fc = nn.Linear(512, 10)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.fc(y[:, -1, :])

    _export(Model().eval(), (torch.randn(1, 64, 256),), path, ["x"], ["logits"])


def _write_mlp(name, path):
    import torch
    import torch.nn as nn
    import zoo
    torch.manual_seed(zoo.seed_for(name))
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    _export(model.eval(), (torch.randn(1, 784),), path, ["x"], ["logits"])


WRITERS = {
    **{n: (lambda n: lambda p: _write_cnn(n, p))(n) for n in CNNS},
    "bert_base": lambda p: _write_encoder("bert_base", p, 12, 768, 12, 3072, 30522),
    "minilm": lambda p: _write_encoder("minilm", p, 6, 384, 12, 1536, 30522),
    "minilm_seq16": lambda p: _write_encoder("minilm", p, 6, 384, 12, 1536, 30522, seq=16),
    "bert_base_seq16": lambda p: _write_encoder("bert_base", p, 12, 768, 12, 3072, 30522, seq=16),
    "bert_base_seq8": lambda p: _write_encoder("bert_base", p, 12, 768, 12, 3072, 30522, seq=8),
    "alexnet": lambda p: _write_cnn("alexnet", p),
    "lstm": lambda p: _write_lstm("lstm", p),
    "mlp": lambda p: _write_mlp("mlp", p),
}
DESCRIPTIONS = {
    **{n: "torchvision %s, 3x224x224" % n for n in CNNS},
    "bert_base": "BERT-base-like encoder: 12 layers, 768 wide, 12 heads, seq %d" % SEQ,
    "minilm": "MiniLM-like encoder: 6 layers, 384 wide, 12 heads, seq %d" % SEQ,
    "minilm_seq16": "the MiniLM-like encoder at seq 16 (short queries)",
    "bert_base_seq16": "the BERT-base-like encoder at seq 16 (short queries)",
    "bert_base_seq8": "the BERT-base-like encoder at seq 8 (search queries)",
    "alexnet": "torchvision alexnet, 3x224x224 (234 MB of fully connected weights)",
    "lstm": "2-layer LSTM 256->512, 64 steps, + Linear",
    "mlp": "MLP 784-512-512-10",
}


def ensure_model(name, cache):
    path = os.path.join(cache, name + ".onnx")
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    tmp = path + ".tmp"
    print("building %s -> %s" % (name, path), flush=True)
    WRITERS[name](tmp)
    os.replace(tmp, path)
    return path


# --- inputs ---------------------------------------------------------------------

def input_shapes(model_path, batch, overrides):
    """{name: shape} with the rules of `inferd bench`: --shape wins, a
    symbolic first dim is the batch, any other symbolic dim is an error."""
    import onnx
    m = onnx.load(model_path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    shapes = {}
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        if vi.name in overrides:
            shapes[vi.name] = overrides[vi.name]
            continue
        dims = []
        for d, dim in enumerate(vi.type.tensor_type.shape.dim):
            if dim.HasField("dim_value"):
                dims.append(dim.dim_value)
            elif d == 0:
                dims.append(batch)
            else:
                sys.exit("%s: input %s dim %d is symbolic: give --shape %s=D1xD2x..."
                         % (model_path, vi.name, d, vi.name))
        shapes[vi.name] = dims
    return shapes


def make_feed(sess, shapes):
    """The inputs `inferd bench` makes (src/cli/cmd_bench.c fill_input)."""
    import numpy as np
    types = {"tensor(float)": np.float32, "tensor(double)": np.float64,
             "tensor(float16)": np.float16, "tensor(int64)": np.int64,
             "tensor(int32)": np.int32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
             "tensor(bool)": np.bool_}
    feed = {}
    for i, inp in enumerate(sess.get_inputs()):
        shape = shapes[inp.name]
        dt = types[inp.type]
        n = int(np.prod(shape)) if shape else 1
        if dt in (np.float32, np.float64, np.float16):
            feed[inp.name] = _xorshift_floats(i + 1, n).astype(dt).reshape(shape)
        elif dt == np.bool_:
            feed[inp.name] = np.ones(shape, np.bool_)
        else:
            feed[inp.name] = (np.arange(n) & 1).astype(dt).reshape(shape)
    return feed


def write_feed(model_path, shapes, cache, name, batch):
    """The inputs as an .npz next to the models, made once per shape."""
    import numpy as np
    import onnxruntime as ort
    key = "_".join("x".join(map(str, shapes[k])) for k in sorted(shapes))
    path = os.path.join(cache, "%s.feed.%s.npz" % (name, key))
    if not os.path.exists(path):
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        os.makedirs(cache, exist_ok=True)
        np.savez(path + ".tmp.npz", **make_feed(sess, shapes))
        os.replace(path + ".tmp.npz", path)
    return path


def _xorshift_floats(seed, n):
    import numpy as np
    mask = (1 << 64) - 1
    x = (seed * 0x9E3779B97F4A7C15 + 1) & mask
    out = np.empty(n, np.float64)
    for i in range(n):
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        out[i] = (x >> 11) / 9007199254740992.0 * 2 - 1
    return out


# --- FLOPs ------------------------------------------------------------------------

def count_flops(model_path, shapes):
    """2*MACs of Conv, MatMul and Gemm at the given input shapes."""
    import onnx
    from onnx import shape_inference
    m = onnx.load(model_path)
    for vi in m.graph.input:
        if vi.name in shapes:
            dims = vi.type.tensor_type.shape.dim
            for d, v in zip(dims, shapes[vi.name]):
                d.ClearField("dim_param")
                d.dim_value = v
    m = shape_inference.infer_shapes(m, data_prop=True)
    known = {}
    for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            known[vi.name] = [d.dim_value for d in dims]
    for t in m.graph.initializer:
        known[t.name] = list(t.dims)
    nodes = [n for n in m.graph.node if n.op_type in ("Conv", "MatMul", "Gemm", "LSTM")]
    names = {x for n in nodes for x in list(n.input[:2]) + [n.output[0]]}
    missing = sorted(x for x in names if x and x not in known)
    if missing:
        known.update(_shapes_from_ort(model_path, shapes, missing))
    total = 0
    for n in nodes:
        a, b, y = (known.get(x) for x in (n.input[0], n.input[1], n.output[0]))
        if a is None or b is None or y is None:
            continue
        if n.op_type == "LSTM":  # X [T,B,I], W [D,4H,I]: 4 gates' input + recurrent GEMMs
            d, h4, i = b
            total += 2 * a[0] * a[1] * d * h4 * (i + h4 // 4)
        elif n.op_type == "Conv":
            total += 2 * math.prod(y) * math.prod(b[1:])
        elif n.op_type == "MatMul":
            k = a[-1]
            total += 2 * math.prod(y) * k
        else:
            trans_a = next((at.i for at in n.attribute if at.name == "transA"), 0)
            k = a[0] if trans_a else a[1]
            total += 2 * math.prod(y) * k
    return total


def _shapes_from_ort(model_path, shapes, names):
    import onnx
    import onnxruntime as ort
    m = onnx.load(model_path)
    have = {o.name for o in m.graph.output}
    for name in names:
        if name not in have:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outs = sess.run(names, make_feed(sess, shapes))
    return {n: list(o.shape) for n, o in zip(names, outs)}


# --- running ----------------------------------------------------------------------

class Launcher:
    """Starts the measured processes from a small Python that never loaded
    torch, onnx or numpy. Linux carries a parent's peak RSS into a child's
    ru_maxrss across fork and exec, so children of this (large) process would
    all report at least its size."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--launcher"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, cmd):
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def launcher_loop():
    for line in sys.stdin:
        r = subprocess.run(json.loads(line), capture_output=True, text=True)
        sys.stdout.write(json.dumps({"rc": r.returncode, "stdout": r.stdout,
                                     "stderr": r.stderr}) + "\n")
        sys.stdout.flush()


def _last_json(r):
    if r["rc"]:
        return {"error": (r["stderr"].strip().splitlines() or ["exit %d" % r["rc"]])[-1]}
    return json.loads(r["stdout"].strip().splitlines()[-1])


def run_inferd(launcher, inferd, path, shapes, threads, batch, iters, warmup):
    cmd = [inferd, "bench", path, "--threads", str(threads), "--batch", str(batch),
           "--iterations", str(iters), "--warmup", str(warmup), "--json"]
    for name, dims in shapes.items():
        cmd += ["--shape", "%s=%s" % (name, "x".join(str(d) for d in dims))]
    return _last_json(launcher.run(cmd))


def run_ort(launcher, path, feed_path, threads, iters, warmup):
    cmd = [sys.executable, os.path.abspath(__file__), "--ort-worker",
           json.dumps({"model": path, "feed": feed_path, "threads": threads,
                       "iterations": iters, "warmup": warmup})]
    return _last_json(launcher.run(cmd))


def measure_pair(launcher, args, path, shapes, feed_path, threads, batch, iters, warmup):
    """inferd then ORT, --rounds times; each side's result is the round with
    its median p50 (rounds spread a load spike over both runtimes)."""
    rounds = args.rounds or (1 if args.quick else 3)
    ra, ro = [], []
    for _ in range(rounds):
        ra.append(run_inferd(launcher, args.inferd, path, shapes, threads, batch, iters, warmup))
        ro.append(run_ort(launcher, path, feed_path, threads, iters, warmup))

    def median(rs):
        ok = sorted((r for r in rs if "p50_ms" in r), key=lambda r: r["p50_ms"])
        return ok[len(ok) // 2] if ok else rs[0]
    return median(ra), median(ro)


def ort_worker(spec):
    """One ONNX Runtime measurement in this process; prints one JSON line."""
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = spec["threads"]
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    t0 = time.perf_counter()
    sess = ort.InferenceSession(spec["model"], so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    with np.load(spec["feed"]) as z:
        feed = {k: z[k] for k in z.files}
    t0 = time.perf_counter()
    sess.run(None, feed)
    first_run_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(spec["warmup"]):
        sess.run(None, feed)
    lat = []
    for _ in range(spec["iterations"]):
        t0 = time.perf_counter()
        sess.run(None, feed)
        lat.append((time.perf_counter() - t0) * 1e3)
    lat.sort()
    print(json.dumps({"p50_ms": lat[len(lat) // 2], "min_ms": lat[0], "load_ms": load_ms,
                      "first_run_ms": first_run_ms,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      "iterations": len(lat), "mean_ms": float(np.mean(lat))}))


def iterations_for(flops, quick):
    """Enough runs for ~target seconds at an assumed 40 GFLOP/s."""
    target = 1.0 if quick else 6.0
    est_s = max(flops / 40e9, 2e-5)
    n = int(target / est_s)
    lo, hi = (3, 300) if quick else (10, 2000)
    n = max(lo, min(hi, n))
    return n, max(1, n // 5)


# --- the report -------------------------------------------------------------------

SECTION = "## Engine vs ONNX Runtime"


def fmt(v, spec="%.2f"):
    return "–" if v is None else spec % v


def to_first(m):
    """Model load to the first result, ms: load plus the first run."""
    if m.get("load_ms") is None or m.get("first_run_ms") is None:
        return None
    return m["load_ms"] + m["first_run_ms"]


def render(rows, args, load_before, load_after, ort_version, command):
    lines = [SECTION, ""]
    lines.append("Command: `%s`" % command)
    lines.append("")
    lines.append("Run %s UTC on %s (%d CPUs), ONNX Runtime %s. Load average (1/5/15 min) "
                 "%.2f/%.2f/%.2f before and %.2f/%.2f/%.2f after the run%s."
                 % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), os.uname().nodename,
                    os.cpu_count(), ort_version, *load_before, *load_after,
                    ": the machine was shared, so absolute figures are noisy; the ratio "
                    "(both measured back to back) is the figure to read"
                    if load_before[0] > 1.0 else ""))
    lines.append("")
    lines.append("ratio = inferd p50 / ORT p50 (below 1 is inferd faster). GFLOP/s counts "
                 "Conv/MatMul/Gemm/LSTM FLOPs at p50. RSS is each process's peak. "
                 "load+1st: from opening the file (ORT: creating the session) to the end "
                 "of the first inference (where inferd builds its oneDNN primitives).")
    lines.append("")
    lines.append("| model | threads | batch | inferd p50 ms | ORT p50 ms | ratio | inferd GFLOP/s "
                 "| ORT GFLOP/s | inferd RSS MB | ORT RSS MB | inferd load+1st ms | ORT load+1st ms |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ratios, ratios_t2 = [], []
    for r in rows:
        a, o = r["inferd"], r["ort"]
        ip, op = a.get("p50_ms"), o.get("p50_ms")
        ratio = ip / op if ip and op else None
        if ratio:
            ratios.append(ratio)
            if r["threads"] == 2:
                ratios_t2.append(ratio)
        gf = lambda p: r["flops"] / (p * 1e6) if p and r["flops"] else None  # noqa: E731
        err = a.get("error") or o.get("error")
        lines.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["model"], r["threads"], r["batch"],
            fmt(ip, "%.3f") if ip else "error: " + str(a.get("error", ""))[:80],
            fmt(op, "%.3f") if op else "error: " + str(o.get("error", ""))[:80],
            fmt(ratio), fmt(gf(ip), "%.1f"), fmt(gf(op), "%.1f"),
            fmt(a.get("peak_rss_mb"), "%.0f"), fmt(o.get("peak_rss_mb"), "%.0f"),
            fmt(to_first(a), "%.0f"), fmt(to_first(o), "%.0f")) if not err or ip or op
            else "| %s | %d | %d | error: %s |||||||||" % (r["model"], r["threads"], r["batch"], err))
    geo = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None  # noqa: E731
    lines.append("")
    lines.append("Geometric mean of the ratios: %s over %d rows; at 2 threads: %s over %d rows."
                 % (fmt(geo(ratios)), len(ratios), fmt(geo(ratios_t2)), len(ratios_t2)))
    lines.append("")
    lines.append("Models (random weights, opset 13, built into %s by the script):"
                 % os.path.relpath(args.cache, ROOT))
    lines.append("")
    for name in dict.fromkeys(r["model"] for r in rows):
        lines.append("- %s: %s" % (name, DESCRIPTIONS.get(name, "given with --model")))
    lines.append("")
    return "\n".join(lines)


def write_section(path, text):
    """Replaces the section (up to the next '## ') or appends it."""
    old = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    start = old.find(SECTION)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + ("\n" + old[end + 1:] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(new)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a subset of models, few iterations")
    p.add_argument("--models", help="comma-separated, default all of: %s; also known: %s"
                   % (",".join(ALL_MODELS), ",".join(n for n in WRITERS if n not in ALL_MODELS)))
    p.add_argument("--model", action="append", default=[], metavar="PATH",
                   help="also benchmark this ONNX file (repeatable)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=D1xD2x...",
                   help="input shape for --model files with symbolic dims besides the batch")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--rounds", type=int, help="inferd/ORT pairs per row, median kept "
                   "(default 3, 1 with --quick)")
    p.add_argument("--iterations", type=int, help="timed runs (default: from the model's FLOPs)")
    p.add_argument("--inferd", default=os.path.join(ROOT, "build", "inferd"))
    p.add_argument("--cache", default=os.path.join(HERE, "models"))
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    p.add_argument("--ort-worker", help=argparse.SUPPRESS)
    p.add_argument("--launcher", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    if args.launcher:
        launcher_loop()
        return 0
    if args.ort_worker:
        ort_worker(json.loads(args.ort_worker))
        return 0
    launcher = Launcher()  # first, while this process is small
    import onnxruntime
    if not os.access(args.inferd, os.X_OK):
        sys.exit("%s not found: build first (cmake -S . -B build && cmake --build build -j2) "
                 "or give --inferd" % args.inferd)
    names = args.models.split(",") if args.models else (QUICK_MODELS if args.quick else ALL_MODELS)
    for n in names:
        if n not in WRITERS:
            sys.exit("unknown model %s (known: %s)" % (n, ",".join(WRITERS)))
    overrides = {}
    for s in args.shape:
        k, _, v = s.partition("=")
        overrides[k] = [int(d) for d in v.split("x")]
    models = [(n, ensure_model(n, args.cache)) for n in names]
    models += [(os.path.splitext(os.path.basename(p))[0], os.path.abspath(p)) for p in args.model]
    threads = [int(t) for t in args.threads.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    load_before = os.getloadavg()
    rows = []
    for name, path in models:
        for batch in batches:
            shapes = input_shapes(path, batch, overrides)
            try:
                flops = count_flops(path, shapes)
            except Exception as e:  # a FLOP count is a nicety, not a requirement
                print("  %s: no FLOP count (%s)" % (name, e), flush=True)
                flops = 0
            feed_path = write_feed(path, shapes, args.cache, name, batch)
            iters, warmup = iterations_for(flops, args.quick)
            if args.iterations:
                iters, warmup = args.iterations, max(1, args.iterations // 5)
            for t in threads:
                print("%s threads %d batch %d: %d iterations ..." % (name, t, batch, iters),
                      end="", flush=True)
                a, o = measure_pair(launcher, args, path, shapes, feed_path, t, batch, iters,
                                    warmup)
                ip, op = a.get("p50_ms"), o.get("p50_ms")
                print(" inferd %s ms, ORT %s ms, ratio %s" % (
                    fmt(ip, "%.3f") if ip else a.get("error"),
                    fmt(op, "%.3f") if op else o.get("error"),
                    fmt(ip / op if ip and op else None)), flush=True)
                rows.append({"model": name, "threads": t, "batch": batch, "flops": flops,
                             "inferd": a, "ort": o})
    launcher.close()
    load_after = os.getloadavg()
    command = " ".join([".venv/bin/python", "bench/engine_vs_ort.py"] + argv)
    text = render(rows, args, load_before, load_after, onnxruntime.__version__, command)
    write_section(args.out, text)
    print("\n" + text)
    print("written to %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
