"""Differential test cases for the elementwise, activation, reduction,
softmax, Cast, ArgMax/ArgMin and CumSum operators, against ONNX Runtime.

Writes about 3500 single-node models in the ONNX backend-test layout
(CASE/model.onnx, CASE/test_data_set_0/{input,output}_N.pb) whose expected
outputs are ONNX Runtime's, covering what the ONNX node tests do not: every
dtype each op takes, broadcasting shapes that hit each fast path and the
general one, reductions over every axis combination (including ones that need
a transpose), softmax along inner and outer axes, legacy opsets, tensors big
enough to split over threads, and empty tensors. Cases ONNX Runtime itself
cannot run are skipped and listed.

    .venv/bin/python tests/conformance/gen_ops_cases.py build/ops_cases
    build/onnx_conformance --threads 2 build/ops_cases

Needs numpy, onnx and onnxruntime. Deterministic (fixed seed).
"""
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper as h
from onnx import numpy_helper as nh
from onnx import TensorProto as TP

OUT = sys.argv[1] if len(sys.argv) > 1 else "ops_cases"
RNG = np.random.default_rng(7)
FLOATS = [np.float32, np.float64, np.float16]
INTS = [np.int32, np.int64, np.int8, np.uint8, np.int16, np.uint16, np.uint32, np.uint64]
MS = [("com.microsoft", 1)]
written, skipped = 0, []


def tensor_type(dt):
    return TP.STRING if dt == object else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(dt)]


def rand(shape, dt, lo=-3, hi=3):
    """Uniform values in [lo, hi] (x10 for integers, clipped to the type)."""
    if dt == np.bool_:
        return RNG.random(shape) > 0.5
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        return RNG.integers(max(lo * 10, info.min), min(hi * 10, info.max) + 1,
                            size=shape).astype(dt)
    return (RNG.random(shape) * (hi - lo) + lo).astype(dt)


def case(name, op, inputs, opset=13, domains=(), **attrs):
    """One model with a single node `op` over the named inputs; the node's
    input list may hold "" for an omitted optional input."""
    global written
    names = [n for n, _ in inputs]
    node_inputs = attrs.pop("node_inputs", names)
    domain = attrs.pop("domain", "")
    node = h.make_node(op, node_inputs, ["y"], domain=domain, **attrs)
    graph = h.make_graph(
        [node], name,
        [h.make_tensor_value_info(n, tensor_type(a.dtype), a.shape) for n, a in inputs],
        [onnx.ValueInfoProto(name="y")])
    opsets = [h.make_opsetid("", opset)] + [h.make_opsetid(d, v) for d, v in domains]
    model = h.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    try:
        sess = ort.InferenceSession(model.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        (result,) = sess.run(None, dict(inputs))
    except Exception as e:  # ONNX Runtime lacks this (op, type): not a test
        skipped.append((name, str(e).splitlines()[0][:120]))
        return
    graph.output[0].type.tensor_type.elem_type = tensor_type(result.dtype)
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, (n, a) in enumerate(inputs):
        with open(os.path.join(d, "test_data_set_0", "input_%d.pb" % i), "wb") as f:
            f.write(nh.from_array(a, n).SerializeToString())
    with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "wb") as f:
        f.write(nh.from_array(result, "y").SerializeToString())
    written += 1


def tname(dt):
    return np.dtype(dt).name


# Shapes for binary ops: same, suffix, both sides broadcasting, scalars,
# per-channel, bias rows, big (threads), empty.
SHAPES = [([2, 3, 4], [4]), ([2, 1, 4], [3, 1]), ([1], [2, 3]), ([], [2, 3]),
          ([2, 3, 4, 5], [3, 1, 1]), ([5, 1, 3], [1, 4, 1]), ([4, 5], [4, 5]),
          ([2, 3, 4, 5], [2, 3, 1, 1]), ([3, 1], [1]), ([64, 1024], [1024]),
          ([8, 64, 32, 32], [64, 1, 1]), ([0, 3], [3]), ([2, 0, 3], [1, 1, 3])]


def binary_cases():
    ops = ["Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Mod", "Sum", "Mean", "Equal",
           "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]
    for op in ops:
        for si, (sa, sb) in enumerate(SHAPES):
            for dt in FLOATS + INTS:
                if si > 3 and dt not in (np.float32, np.int64, np.float16):
                    continue
                if (op == "Mean" and dt in INTS) or \
                        (op == "Pow" and dt not in (np.float32, np.float64, np.int32, np.int64)):
                    continue
                a, b = rand(sa, dt), rand(sb, dt)
                attrs = {}
                if op in ("Div", "Mod") and dt in INTS:
                    b[b == 0] = 1
                if op == "Pow":
                    if dt in INTS:
                        a, b = rand(sa, dt, -3, 3) // 5, np.abs(rand(sb, dt, 0, 3)) % 5
                    else:
                        a = np.abs(a) + 0.1
                if op == "Mod":
                    attrs["fmod"] = 1 if dt in FLOATS else int(RNG.integers(0, 2))
                    if dt in FLOATS:
                        b[b == 0] = 1
                opset = 16 if op in ("LessOrEqual", "GreaterOrEqual") else 14
                case("%s_%d_%s" % (op, si, tname(dt)), op, [("a", a), ("b", b)], opset, **attrs)
    for op in ["Max", "Min", "Sum", "Mean"]:
        for dt in [np.float32, np.float16, np.int32]:
            if op == "Mean" and dt == np.int32:
                continue
            case("%s3_%s" % (op, tname(dt)), op, [("a", rand([3, 1, 4], dt)),
                                                  ("b", rand([2, 1, 1, 4], dt)),
                                                  ("c", rand([5, 1], dt))])
        case("%s1" % op, op, [("a", rand([3, 4], np.float32))])
    for da, db in [(np.float32, np.int64), (np.float32, np.int32), (np.int64, np.float32),
                   (np.int32, np.float64), (np.float64, np.float32)]:
        base = (np.abs(rand([3, 4], da)) + (1 if da in INTS else 0.1)).astype(da)
        exponent = (np.abs(rand([4], db)) % 4).astype(db)
        case("PowMixed_%s_%s" % (tname(da), tname(db)), "Pow", [("a", base), ("b", exponent)], 15)
    case("Add6_axis", "Add",
         [("a", rand([2, 3, 4, 5], np.float32)), ("b", rand([3, 4], np.float32))], 6,
         broadcast=1, axis=1)


def logical_cases():
    for op in ["And", "Or", "Xor"]:
        for si, (sa, sb) in enumerate(SHAPES[:6]):
            case("%s_%d" % (op, si), op, [("a", rand(sa, np.bool_)), ("b", rand(sb, np.bool_))])
    case("Not", "Not", [("a", rand([3, 5], np.bool_))])
    case("Equal_bool", "Equal", [("a", rand([3, 5], np.bool_)), ("b", rand([5], np.bool_))])
    for dt in [np.uint8, np.uint16, np.uint32, np.uint64]:
        for d in ["LEFT", "RIGHT"]:
            case("BitShift_%s_%s" % (d, tname(dt)), "BitShift",
                 [("a", rand([3, 4], dt, 0, 12)), ("b", (np.arange(4) * 3).astype(dt))], 11,
                 direction=d)
    shapes = [([3, 4], [3, 4], [3, 4]), ([4], [3, 1], [1]), ([2, 1, 4], [3, 1], [2, 3, 4]),
              ([1], [2, 3], [3])]
    for si, (sc, sx, sy) in enumerate(shapes):
        for dt in [np.float32, np.int64, np.float16, np.uint8, np.bool_]:
            case("Where_%d_%s" % (si, tname(dt)), "Where",
                 [("c", rand(sc, np.bool_)), ("x", rand(sx, dt)), ("z", rand(sy, dt))], 16)
    special = np.array([np.inf, -np.inf, 1, np.nan], np.float32)
    case("IsInf_pos", "IsInf", [("a", special)], detect_negative=0)
    case("IsInf_neg", "IsInf", [("a", special)], detect_positive=0)


def unary_cases():
    ops = ["Abs", "Neg", "Sign", "Reciprocal", "Sqrt", "Exp", "Log", "Ceil", "Floor", "Round",
           "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
           "Erf", "IsNaN", "IsInf", "Relu", "Sigmoid", "Tanh", "Softplus", "Softsign",
           "HardSwish", "Elu", "Selu", "Celu", "LeakyRelu", "HardSigmoid", "ThresholdedRelu",
           "Mish", "Shrink"]
    ranges = {"Sqrt": (0.1, 5), "Log": (0.1, 5), "Reciprocal": (0.1, 5), "Asin": (-0.95, 0.95),
              "Acos": (-0.95, 0.95), "Atanh": (-0.95, 0.95), "Acosh": (1.05, 5)}
    for op in ops:
        for dt in FLOATS:
            x = rand([3, 1000], dt, *ranges.get(op, (-4, 4)))
            if op in ("IsNaN", "IsInf", "Round"):
                x.ravel()[:6] = [np.nan, np.inf, -np.inf, 0.5, 1.5, -2.5]
            case("%s_%s" % (op, tname(dt)), op, [("a", x)], 18 if op == "Mish" else 14)
    for op in ["Abs", "Neg", "Sign", "Relu"]:
        unsigned = [np.uint8, np.uint32] if op in ("Abs", "Sign") else []
        for dt in [np.int8, np.int32, np.int64] + unsigned:
            case("%s_%s" % (op, tname(dt)), op, [("a", rand([4, 7], dt))], 14)


def activation_cases():
    x = lambda: [("a", rand([40], np.float32))]
    case("LeakyRelu_a", "LeakyRelu", x(), alpha=0.3)
    case("Elu_a", "Elu", x(), alpha=0.5)
    case("Selu_a", "Selu", x(), alpha=1.2, gamma=2.1)
    case("Celu_a", "Celu", x(), alpha=2.0)
    case("HardSigmoid_a", "HardSigmoid", x(), alpha=0.3, beta=0.4)
    case("ThresholdedRelu_a", "ThresholdedRelu", x(), alpha=0.7)
    case("Shrink_a", "Shrink", x(), lambd=1.0, bias=0.5)
    case("Shrink_int", "Shrink", [("a", rand([40], np.int32))], lambd=1.0, bias=2.0)
    for dt in [np.float32, np.float16]:
        for ss in [[3], [1, 3, 1, 1], [1], [2, 3, 4, 5]]:
            xs = [2, 3, 4, 5] if len(ss) > 1 else [2, 4, 3]
            case("PRelu_%s_%s" % ("x".join(map(str, ss)), tname(dt)), "PRelu",
                 [("a", rand(xs, dt)), ("s", rand(ss, dt))], 16)
    case("PRelu_int", "PRelu", [("a", rand([2, 3], np.int32)), ("s", rand([3], np.int32))], 16)
    for approx in ["none", "tanh"]:
        for dt in FLOATS:
            case("Gelu20_%s_%s" % (approx, tname(dt)), "Gelu", [("a", rand([5, 300], dt))], 20,
                 approximate=approx)
    big = lambda: rand([5, 300], np.float32)
    # Biases stay small: below about -3.5 ONNX Runtime's float FastGelu loses
    # relative accuracy to cancellation and inferd's does not.
    bias = lambda: rand([300], np.float32, -0.5, 0.5)
    case("MsGelu", "Gelu", [("a", big())], domains=MS, domain="com.microsoft")
    case("MsFastGelu", "FastGelu", [("a", big()), ("b", bias())], domains=MS,
         domain="com.microsoft")
    case("MsFastGelu_nobias", "FastGelu", [("a", big())], domains=MS, domain="com.microsoft")
    case("MsBiasGelu", "BiasGelu", [("a", big()), ("b", bias())], domains=MS,
         domain="com.microsoft")
    case("MsQuickGelu", "QuickGelu", [("a", big())], domains=MS, domain="com.microsoft",
         alpha=1.5)


def clip_cases():
    for dt in [np.float32, np.float16, np.int8, np.int32, np.int64, np.uint8, np.uint64,
               np.float64]:
        x = rand([5, 20], dt)
        signed = dt not in INTS or np.issubdtype(dt, np.signedinteger)
        for variant in ["both", "min", "max", "none", "swapped"]:
            if variant == "swapped":  # min > max: everything becomes max
                lo, hi = np.array(5).astype(dt), np.array(-5 if signed else 2).astype(dt)
            else:
                lo, hi = np.array(x.ravel()[0]).astype(dt), np.array(x.ravel()[1]).astype(dt)
            inputs, node_inputs = [("a", x)], ["a", "", ""]
            if variant in ("both", "min", "swapped"):
                inputs.append(("lo", lo))
                node_inputs[1] = "lo"
            if variant in ("both", "max", "swapped"):
                inputs.append(("hi", hi))
                node_inputs[2] = "hi"
            while node_inputs[-1] == "":
                node_inputs.pop()
            case("Clip_%s_%s" % (variant, tname(dt)), "Clip", inputs, node_inputs=node_inputs)
    case("Clip6", "Clip", [("a", rand([50], np.float32))], 6, min=-0.5, max=0.7)
    case("Clip6_default", "Clip", [("a", rand([50], np.float32))], 6, max=0.7)


def cast_cases():
    types = FLOATS + INTS + [np.bool_]
    for s in types:
        for d in types:
            x = rand([6, 7], s, -100, 100)
            if s in FLOATS and np.issubdtype(d, np.integer):  # in range: C leaves the rest open
                info = np.iinfo(d)
                x = np.clip(x, max(info.min, -60000), min(info.max, 60000)).astype(s)
            case("Cast_%s_%s" % (tname(s), tname(d)), "Cast", [("a", x)], to=tensor_type(d))
    case("CastLike", "CastLike", [("a", rand([3, 4], np.float32)), ("b", rand([1], np.float16))],
         15)
    strings = np.array(["1.5", "-2", "inf", "-INF", "NaN", "1e-3"], dtype=object)
    case("Cast_str", "Cast", [("a", strings)], to=TP.FLOAT)
    case("Cast_str_i64", "Cast", [("a", np.array(["15", "-2", "9000000000"], dtype=object))],
         to=TP.INT64)


def reduce_cases():
    ops = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
           "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]
    axes_list = [None, [0], [1], [3], [-1], [1, 2], [0, 2], [0, 3], [1, 3], [0, 1, 2, 3],
                 [2, 3], [0, 1]]
    for op in ops:
        for ai, axes in enumerate(axes_list):
            for kd in [0, 1]:
                for dt in [np.float32, np.float64, np.int32, np.int64, np.float16]:
                    if ai > 4 and dt in (np.float64, np.float16) and kd == 0:
                        continue
                    if op in ("ReduceLogSum", "ReduceLogSumExp", "ReduceL2") and dt in INTS:
                        continue
                    if op == "ReduceProd":  # products that stay in range
                        if dt in INTS:
                            x = RNG.choice([-1, 1, 1, 2] if ai in (1, 2, 3, 4) else [-1, 1],
                                           size=[3, 4, 5, 6]).astype(dt)
                        else:
                            x = rand([3, 4, 5, 6], dt, 0.8, 1.2)
                    else:
                        x = rand([3, 4, 5, 6], dt, *((0.2, 2) if op == "ReduceLogSum" else (-2, 2)))
                    for opset in ([11, 13] if op == "ReduceSum" else [13, 18]):
                        inputs, attrs = [("a", x)], {"keepdims": kd}
                        if axes is not None:
                            if (op == "ReduceSum" and opset >= 13) or opset >= 18:
                                inputs.append(("ax", np.array(axes, np.int64)))
                            else:
                                attrs["axes"] = axes
                        case("%s_%d_kd%d_%s_o%d" % (op, ai, kd, tname(dt), opset), op, inputs,
                             opset, **attrs)
    for op in ops:
        prod = op == "ReduceProd"
        case("%s_empty_noop" % op, op, [("a", rand([3, 4], np.float32, 0.5, 2)),
                                        ("ax", np.array([], np.int64))], 18,
             noop_with_empty_axes=1)
        case("%s_zero_dim" % op, op, [("a", rand([3, 0, 4], np.float32)),
                                      ("ax", np.array([1], np.int64))], 18)
        for axis, tag in [(1, "big"), (0, "bigcol")]:
            x = rand([64, 2048], np.float32, 0.5, 1.001 if prod else 2)
            case("%s_%s" % (op, tag), op, [("a", x), ("ax", np.array([axis], np.int64))], 18,
                 keepdims=0)
    for dt in [np.int8, np.uint8]:
        case("ReduceMax_%s" % tname(dt), "ReduceMax", [("a", rand([3, 4], dt))], axes=[1])


def softmax_cases():
    for op in ["Softmax", "LogSoftmax", "Hardmax"]:
        for opset in [11, 13]:
            for axis in [0, 1, 2, -1, -2]:
                for dt in FLOATS:
                    x = rand([3, 4, 5], dt)
                    if op == "Hardmax":  # ties: the first maximum wins
                        x = np.round(x).astype(dt)
                    case("%s_o%d_ax%d_%s" % (op, opset, axis, tname(dt)), op, [("a", x)], opset,
                         axis=axis)
        case("%s_big" % op, op, [("a", rand([96, 1000], np.float32, -20, 20))], axis=-1)
        case("%s_bigmid" % op, op, [("a", rand([8, 100, 300], np.float32, -20, 20))], axis=1)
        case("%s_default11" % op, op, [("a", rand([2, 3, 4], np.float32))], 11)
        case("%s_default13" % op, op, [("a", rand([2, 3, 4], np.float32))], 13)


def argminmax_cumsum_cases():
    for op in ["ArgMax", "ArgMin"]:
        for axis in [0, 1, 2, -1]:
            for kd in [0, 1]:
                for last in [0, 1]:
                    for dt in [np.float32, np.int32, np.float16, np.uint8, np.int64, np.float64]:
                        x = np.round(rand([3, 4, 5], dt, -2, 2)).astype(dt)
                        case("%s_ax%d_kd%d_l%d_%s" % (op, axis, kd, last, tname(dt)), op,
                             [("a", x)], axis=axis, keepdims=kd, select_last_index=last)
        case("%s_big" % op, op, [("a", rand([512, 1000], np.float32))], axis=1)
    for axis in [0, 1, 2, -1]:
        for ex in [0, 1]:
            for rv in [0, 1]:
                for dt in [np.float32, np.float64, np.int32, np.int64, np.float16, np.uint32]:
                    x = rand([3, 4, 5], dt, 0 if dt == np.uint32 else -3, 3)
                    ax = np.array(axis, np.int32 if axis % 2 else np.int64)
                    case("CumSum_ax%d_e%d_r%d_%s" % (axis, ex, rv, tname(dt)), "CumSum",
                         [("a", x), ("ax", ax)], 14, exclusive=ex, reverse=rv)


if __name__ == "__main__":
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for gen in [binary_cases, logical_cases, unary_cases, activation_cases, clip_cases,
                cast_cases, reduce_cases, softmax_cases, argminmax_cumsum_cases]:
        gen()
    print("%s: %d cases written, %d skipped (ONNX Runtime cannot run them)"
          % (OUT, written, len(skipped)))
