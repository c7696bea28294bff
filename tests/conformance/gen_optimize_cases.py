"""Test cases for the load-time graph rewrites (src/engine/optimize.c),
against ONNX Runtime.

Writes small multi-node models in the ONNX backend-test layout whose shapes
put the rewrites' edge cases in front of the engine: Identity chains in the
middle of a graph, an Identity whose output is also a graph output (kept),
Dropout with its mask unread (removed) and read (kept), and an If whose
branches read an Identity's output from the enclosing graph (the subgraph's
outer reference must follow the rewrite).

The operator fusions (src/engine/fuse_pass.c) get each pattern in its
exporters' spellings, and next to it the near misses that must stay unfused
and still compute the right thing: an intermediate with an extra reader or
that is a graph output, a bias or scale of the wrong shape, GELU with another
constant, LayerNorm over a non-last axis, a residual Add that broadcasts.

The channels-last convolution regions (src/engine/layout_pass.c, cases
test_optimize_nhwc_*) get ResNet/DenseNet/SqueezeNet/MobileNet-like blocks
(fused Relu/Clip/HardSwish/SiLU/residual Add, pooling, Concat, BN + Relu, SE
broadcasts), region values that are graph outputs or read outside the region
or by an If, channel counts off the 16-grid, depthwise and grouped convs,
pads/strides/dilations/auto_pad, batch and spatial sizes changing between
runs of one session (incl. an empty batch), and Convs the pass must leave to
the old op.

The weight prepacking (src/engine/prepack_pass.c, cases test_optimize_prepack_*)
gets MatMul / FusedMatMul / Gemm / FusedGemm with each bias form, row counts
changing between runs, and the near misses left to sgemm: a weight read
twice, by an If, or a graph output; alpha, transA, a [M, N] C, beta 2.

    .venv/bin/python tests/conformance/gen_optimize_cases.py build/optimize_cases
    build/onnx_conformance build/optimize_cases

Needs numpy, onnx and onnxruntime. Deterministic (fixed seed).
"""
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

OUT = sys.argv[1] if len(sys.argv) > 1 else "optimize_cases"
RNG = np.random.default_rng(7)
SHAPE = [2, 3, 4]


def vi(name, dtype=TP.FLOAT, shape=SHAPE):
    return h.make_tensor_value_info(name, dtype, shape)


def write(name, nodes, inputs, outputs, feeds, opset=13, inits=()):
    graph = h.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outs = sess.run(None, feeds)
    case = os.path.join(OUT, "test_optimize_" + name)
    shutil.rmtree(case, ignore_errors=True)
    data = os.path.join(case, "test_data_set_0")
    os.makedirs(data)
    onnx.save(model, os.path.join(case, "model.onnx"))
    for i, v in enumerate(inputs):
        with open(os.path.join(data, "input_%d.pb" % i), "wb") as f:
            f.write(nh.from_array(feeds[v.name], v.name).SerializeToString())
    for i, (v, a) in enumerate(zip(outputs, outs)):
        with open(os.path.join(data, "output_%d.pb" % i), "wb") as f:
            f.write(nh.from_array(np.asarray(a), v.name).SerializeToString())


def x():
    return {"x": RNG.standard_normal(SHAPE).astype(np.float32)}


def main():
    os.makedirs(OUT, exist_ok=True)
    # Identity chains mid-graph; one Identity's output is also a graph output.
    write("identity_chain", [
        h.make_node("Identity", ["x"], ["i1"]),
        h.make_node("Identity", ["i1"], ["i2"]),
        h.make_node("Relu", ["i2"], ["r"]),
        h.make_node("Identity", ["r"], ["i3"]),
        h.make_node("Add", ["i3", "i1"], ["y"]),
        h.make_node("Identity", ["i3"], ["kept"]),
    ], [vi("x")], [vi("y"), vi("kept")], x())
    # Identity of an initializer, read twice.
    w = nh.from_array(RNG.standard_normal(SHAPE).astype(np.float32), "w")
    write("identity_of_initializer", [
        h.make_node("Identity", ["w"], ["wi"]),
        h.make_node("Mul", ["x", "wi"], ["m"]),
        h.make_node("Sub", ["m", "wi"], ["y"]),
    ], [vi("x")], [vi("y")], x(), inits=[w])
    # Dropout (inference) with the mask declared but unread: removed.
    write("dropout_mask_unread", [
        h.make_node("Dropout", ["x"], ["d", "mask"]),
        h.make_node("Sigmoid", ["d"], ["y"]),
    ], [vi("x")], [vi("y")], x())
    # Dropout whose mask is a graph output: kept (the mask must be all true).
    write("dropout_mask_read", [
        h.make_node("Dropout", ["x"], ["d", "mask"]),
        h.make_node("Neg", ["d"], ["y"]),
    ], [vi("x")], [vi("y"), vi("mask", TP.BOOL)], x())
    # Dropout at opset 10 (ratio attribute, no training_mode input).
    write("dropout_opset10", [
        h.make_node("Dropout", ["x"], ["d"], ratio=0.3),
        h.make_node("Abs", ["d"], ["y"]),
    ], [vi("x")], [vi("y")], x(), opset=10)
    # If branches read an Identity's output from the enclosing graph.
    then_g = h.make_graph([h.make_node("Relu", ["i"], ["t"])], "then", [], [vi("t")])
    else_g = h.make_graph([h.make_node("Neg", ["i"], ["e"])], "else", [], [vi("e")])
    for flag in (True, False):
        feeds = x()
        feeds["c"] = np.array(flag)
        write("if_reads_identity_%s" % str(flag).lower(), [
            h.make_node("Identity", ["x"], ["i"]),
            h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
        ], [vi("x"), vi("c", TP.BOOL, [])], [vi("y")], feeds)
    conv_cases()
    fusion_cases()
    prepack_cases()
    print("wrote cases to", OUT)


def const(name, value):
    return nh.from_array(np.asarray(value, dtype=np.float32), name)


def rand_const(name, shape):
    return nh.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def gelu_nodes(x, y, form="div", sqrt2="sqrt2"):
    """x * 0.5 * (1 + erf(x / sqrt2)): form "div" scales the product last,
    "half" scales x first, "mul" multiplies by 1/sqrt2 instead of dividing."""
    scaled = h.make_node("Mul", [x, "inv_sqrt2"], [y + "_d"]) if form == "mul" else \
        h.make_node("Div", [x, sqrt2], [y + "_d"])
    nodes = [scaled,
             h.make_node("Erf", [y + "_d"], [y + "_e"]),
             h.make_node("Add", ["one", y + "_e"], [y + "_s"])]
    if form == "half":
        nodes += [h.make_node("Mul", [x, "half"], [y + "_h"]),
                  h.make_node("Mul", [y + "_h", y + "_s"], [y])]
    else:
        nodes += [h.make_node("Mul", [x, y + "_s"], [y + "_p"]),
                  h.make_node("Mul", [y + "_p", "half"], [y])]
    return nodes


GELU_CONSTS = [const("sqrt2", np.sqrt(2.0)), const("inv_sqrt2", 1 / np.sqrt(2.0)),
               const("one", 1.0), const("half", 0.5)]


def layernorm_nodes(x, y, axes=(-1,), beta=True, gamma="gamma"):
    nodes = [
        h.make_node("ReduceMean", [x], [y + "_m"], axes=list(axes)),
        h.make_node("Sub", [x, y + "_m"], [y + "_d"]),
        h.make_node("Pow", [y + "_d", "two"], [y + "_p"]),
        h.make_node("ReduceMean", [y + "_p"], [y + "_v"], axes=list(axes)),
        h.make_node("Add", [y + "_v", "eps"], [y + "_ve"]),
        h.make_node("Sqrt", [y + "_ve"], [y + "_s"]),
        h.make_node("Div", [y + "_d", y + "_s"], [y + "_n"]),
        h.make_node("Mul", [y + "_n", gamma], [y + "_g" if beta else y]),
    ]
    if beta:
        nodes.append(h.make_node("Add", [y + "_g", "beta"], [y]))
    return nodes


LN_CONSTS = [const("two", 2.0), const("eps", 1e-5), rand_const("gamma", [4]),
             rand_const("beta", [4])]


def fusion_cases():
    w = rand_const("w", [4, 5])
    b = rand_const("b", [5])
    out5 = [2, 3, 5]
    # MatMul + bias, both operand orders; + Relu; + GELU.
    write("fuse_matmul_bias", [
        h.make_node("MatMul", ["x", "w"], ["m"]),
        h.make_node("Add", ["m", "b"], ["y"]),
    ], [vi("x")], [vi("y", shape=out5)], x(), inits=[w, b])
    write("fuse_matmul_bias_first_relu", [
        h.make_node("MatMul", ["x", "w"], ["m"]),
        h.make_node("Add", ["b", "m"], ["a"]),
        h.make_node("Relu", ["a"], ["y"]),
    ], [vi("x")], [vi("y", shape=out5)], x(), inits=[w, b])
    write("fuse_matmul_bias_gelu", [
        h.make_node("MatMul", ["x", "w"], ["m"]),
        h.make_node("Add", ["m", "b"], ["a"]),
    ] + gelu_nodes("a", "y"), [vi("x")], [vi("y", shape=out5)], x(),
        inits=[w, b] + GELU_CONSTS)
    # Enough rows (80) and work (1.3M multiply-adds) for FusedMatMul to split
    # the rows over threads when the runner is given --threads 2.
    feeds = {"x": RNG.standard_normal([2, 40, 128]).astype(np.float32)}
    write("fuse_matmul_bias_gelu_rows", [
        h.make_node("MatMul", ["x", "w128"], ["m"]),
        h.make_node("Add", ["m", "b128"], ["a"]),
    ] + gelu_nodes("a", "y"), [vi("x", shape=[2, 40, 128])], [vi("y", shape=[2, 40, 128])],
        feeds, inits=[rand_const("w128", [128, 128]), rand_const("b128", [128])] + GELU_CONSTS)
    # Near misses: the MatMul's result read twice / a graph output; a bias
    # [3, 5] (broadcasts over rows, not a per-column bias); a bias [1, 5].
    write("fuse_matmul_bias_extra_reader", [
        h.make_node("MatMul", ["x", "w"], ["m"]),
        h.make_node("Add", ["m", "b"], ["a"]),
        h.make_node("Mul", ["a", "m"], ["y"]),
    ], [vi("x")], [vi("y", shape=out5)], x(), inits=[w, b])
    write("fuse_matmul_bias_output", [
        h.make_node("MatMul", ["x", "w"], ["m"]),
        h.make_node("Add", ["m", "b"], ["y"]),
    ], [vi("x")], [vi("y", shape=out5), vi("m", shape=out5)], x(), inits=[w, b])
    write("fuse_matmul_bias_rows", [
        h.make_node("MatMul", ["x", "w"], ["m"]),
        h.make_node("Add", ["m", "b35"], ["y"]),
    ], [vi("x")], [vi("y", shape=out5)], x(), inits=[w, rand_const("b35", [3, 5])])
    write("fuse_matmul_bias_rank2", [
        h.make_node("MatMul", ["x", "w"], ["m"]),
        h.make_node("Add", ["m", "b15"], ["y"]),
    ], [vi("x")], [vi("y", shape=out5)], x(), inits=[w, rand_const("b15", [1, 5])])
    # Gemm + Relu (transB), and Relu whose input is also a graph output.
    feeds = {"x2": RNG.standard_normal([3, 4]).astype(np.float32)}
    write("fuse_gemm_relu", [
        h.make_node("Gemm", ["x2", "wt", "b"], ["g"], transB=1, alpha=0.5),
        h.make_node("Relu", ["g"], ["y"]),
    ], [vi("x2", shape=[3, 4])], [vi("y", shape=[3, 5])], feeds,
        inits=[rand_const("wt", [5, 4]), b])
    write("fuse_gemm_relu_output", [
        h.make_node("Gemm", ["x2", "w", "b"], ["g"]),
        h.make_node("Relu", ["g"], ["y"]),
    ], [vi("x2", shape=[3, 4])], [vi("y", shape=[3, 5]), vi("g", shape=[3, 5])], feeds,
        inits=[w, b])
    # GELU alone in each spelling; with another constant; with erf's result
    # also a graph output.
    for form in ("div", "half", "mul"):
        write("fuse_gelu_" + form, gelu_nodes("x", "y", form), [vi("x")], [vi("y")], x(),
              inits=GELU_CONSTS)
    write("fuse_gelu_other_constant", gelu_nodes("x", "y", sqrt2="c15"), [vi("x")], [vi("y")],
          x(), inits=GELU_CONSTS + [const("c15", 1.5)])
    write("fuse_gelu_erf_output", gelu_nodes("x", "y"), [vi("x")], [vi("y"), vi("y_e")], x(),
          inits=GELU_CONSTS)
    # LayerNorm decomposed: plain, without beta, over a residual Add (same
    # shapes, a skip broadcast over the batch, one broadcast the other way
    # and along a middle axis); over axis 1 (not fused); with the centred
    # values also a graph output (not fused).
    write("fuse_layernorm", layernorm_nodes("x", "y"), [vi("x")], [vi("y")], x(),
          inits=LN_CONSTS)
    write("fuse_layernorm_no_beta", layernorm_nodes("x", "y", beta=False), [vi("x")], [vi("y")],
          x(), inits=LN_CONSTS)
    for name, rshape, first in (("same", SHAPE, "x"), ("rows", [3, 4], "x"),
                                ("small_first", [3, 4], "r"), ("middle", [2, 1, 4], "x")):
        feeds = x()
        feeds["r"] = RNG.standard_normal(rshape).astype(np.float32)
        second = "r" if first == "x" else "x"
        write("fuse_layernorm_residual_" + name,
              [h.make_node("Add", [first, second], ["s"])] + layernorm_nodes("s", "y"),
              [vi("x"), vi("r", shape=rshape)], [vi("y")], feeds, inits=LN_CONSTS)
    write("fuse_layernorm_axis1", layernorm_nodes("x", "y", axes=(1,), gamma="g3"), [vi("x")],
          [vi("y")], x(), inits=LN_CONSTS + [rand_const("g3", [3, 1])])
    write("fuse_layernorm_centred_output", layernorm_nodes("x", "y"), [vi("x")],
          [vi("y"), vi("y_d")], x(), inits=LN_CONSTS)
    # Add + LayerNormalization (opset 17) -> SkipLayerNormalization; and
    # with the sum also a graph output (not fused).
    feeds = x()
    feeds["r"] = RNG.standard_normal(SHAPE).astype(np.float32)
    ln = h.make_node("LayerNormalization", ["s", "gamma", "beta"], ["y"], epsilon=1e-3)
    write("fuse_add_layernormalization", [h.make_node("Add", ["x", "r"], ["s"]), ln],
          [vi("x"), vi("r")], [vi("y")], feeds, opset=17, inits=LN_CONSTS[2:])
    write("fuse_add_layernormalization_sum_output", [h.make_node("Add", ["x", "r"], ["s"]), ln],
          [vi("x"), vi("r")], [vi("y"), vi("s")], feeds, opset=17, inits=LN_CONSTS[2:])
    softmax_cases()


def prepack_cases():
    """Products whose constant B src/engine/prepack_pass.c packs for oneDNN
    (ai.inferd PackedMatMul): Gemm with transB and B of >= 16K elements, any
    B of >= 4M elements; values on a 1/4 grid, so sums are exact in any
    order. Row counts change between the data sets of one
    session (the primitive cache); K and N are off the 16/64 blocking; the
    near misses must stay on sgemm and still compute the right thing."""
    def rows(name, shapes, key, k):
        for i, shp in enumerate(shapes):
            feeds = {key: q(list(shp) + [k])}
            add_data_set(name, i + 1, feeds)

    # [K, N] B of 4M elements: MatMul over a [b, s, K] input and a 1-D one,
    # and with bias + GELU (FusedMatMul).
    kb = 2048
    xs = h.make_tensor_value_info("x", TP.FLOAT, ["b", "s", kb])
    ys = h.make_tensor_value_info("y", TP.FLOAT, ["b", "s", kb])
    wb1, wb2 = nh.from_array(q([kb, kb]), "wb1"), nh.from_array(q([kb, kb]), "wb2")
    feeds = {"x": q([2, 3, kb]), "x1": q([kb])}
    write("prepack_matmul", [
        h.make_node("MatMul", ["x", "wb1"], ["y"]),
        h.make_node("MatMul", ["x1", "wb2"], ["y1"]),
    ], [xs, vi("x1", shape=[kb])], [ys, vi("y1", shape=[kb])], feeds, inits=[wb1, wb2])
    for i, shp in enumerate([(1, 1), (3, 5), (0, 5), (2, 3)]):
        add_data_set("prepack_matmul", i + 1, {"x": q(list(shp) + [kb]), "x1": q([kb])})
    write("prepack_matmul_bias_gelu", [
        h.make_node("MatMul", ["x", "wb1"], ["m"]),
        h.make_node("Add", ["m", "bb"], ["a"]),
    ] + gelu_nodes("a", "y"), [xs], [ys], {"x": feeds["x"]},
        inits=[wb1, nh.from_array(q([kb]), "bb")] + GELU_CONSTS)
    for i, shp in enumerate([(1, 1), (5, 7)]):
        add_data_set("prepack_matmul_bias_gelu", i + 1, {"x": q(list(shp) + [kb])})
    # Gemm, transB, B [130, 150]: a bias [N], [1, N], none; beta 0 with a C
    # it ignores; + Relu (FusedGemm); big enough for two threads.
    xg = h.make_tensor_value_info("xg", TP.FLOAT, ["m", 150])
    yg = h.make_tensor_value_info("y", TP.FLOAT, ["m", 130])
    gfeeds = {"xg": q([3, 150])}
    wt, bg = nh.from_array(q([130, 150]), "wt"), nh.from_array(q([130]), "bg")
    cases = [
        ("prepack_gemm_bias", ["xg", "wt", "bg"], {}, [wt, bg]),
        ("prepack_gemm_bias_row", ["xg", "wt", "bg1"], {}, [wt, nh.from_array(q([1, 130]), "bg1")]),
        ("prepack_gemm_no_bias", ["xg", "wt"], {}, [wt]),
        ("prepack_gemm_beta0", ["xg", "wt", "bg"], dict(beta=0.0), [wt, bg]),
    ]
    for name, ins, attrs, inits in cases:
        write(name, [h.make_node("Gemm", ins, ["y"], transB=1, **attrs)], [xg], [yg], gfeeds,
              inits=inits)
        rows(name, [(1,), (17,), (64,), (1,)], "xg", 150)
    write("prepack_gemm_relu", [
        h.make_node("Gemm", ["xg", "wt", "bg"], ["g"], transB=1),
        h.make_node("Relu", ["g"], ["y"]),
    ], [xg], [yg], gfeeds, inits=[wt, bg])
    rows("prepack_gemm_relu", [(1,), (40,)], "xg", 150)
    # Near misses, left to sgemm: B read twice, by a subgraph, or a graph
    # output; alpha, transA, a C of [M, N], beta 2; and a small B.
    write("prepack_shared_weight", [
        h.make_node("Gemm", ["xg", "wt"], ["m1"], transB=1),
        h.make_node("Gemm", ["xg", "wt", "bg"], ["m2"], transB=1),
        h.make_node("Add", ["m1", "m2"], ["y"]),
    ], [xg], [yg], gfeeds, inits=[wt, bg])
    then_g = h.make_graph([h.make_node("Identity", ["wt"], ["t"])], "then", [],
                         [vi("t", shape=[130, 150])])
    else_g = h.make_graph([h.make_node("Neg", ["wt"], ["e"])], "else", [],
                         [vi("e", shape=[130, 150])])
    write("prepack_weight_read_by_if", [
        h.make_node("Gemm", ["xg", "wt"], ["y"], transB=1),
        h.make_node("If", ["c"], ["z"], then_branch=then_g, else_branch=else_g),
    ], [xg, vi("c", TP.BOOL, [])], [yg, vi("z", shape=[130, 150])],
        dict(gfeeds, c=np.array(False)), inits=[wt])
    write("prepack_weight_output", [h.make_node("Gemm", ["xg", "wt"], ["y"], transB=1)],
          [xg], [yg, vi("wt", shape=[130, 150])], gfeeds, inits=[wt])
    near = [
        ("prepack_gemm_alpha", ["xg", "wt", "bg"], dict(transB=1, alpha=0.5), [wt, bg]),
        ("prepack_gemm_transa", ["xt", "wt", "bg"], dict(transA=1, transB=1), [wt, bg]),
        ("prepack_gemm_c_matrix", ["xg", "wt", "c3"], dict(transB=1),
         [wt, nh.from_array(q([3, 130]), "c3")]),
        ("prepack_gemm_beta2", ["xg", "wt", "bg"], dict(transB=1, beta=2.0), [wt, bg]),
        ("prepack_gemm_small", ["xg", "ws", "bg"], dict(transB=1),
         [nh.from_array(q([130, 100]), "ws"), bg]),
    ]
    for name, ins, attrs, inits in near:
        k = 100 if name.endswith("small") else 150
        shape = [k, 3] if ins[0] == "xt" else [3, k]
        write(name, [h.make_node("Gemm", ins, ["y"], **attrs)], [vi(ins[0], shape=shape)],
              [vi("y", shape=[3, 130])],
              {ins[0]: q(shape)}, inits=inits)


def softmax_cases():
    """Attention's Softmax(Where(C, fill, x / c + M)) and its near misses."""
    consts = [const("c8", 8.0), const("fill", -1e9), const("q", 0.125)]
    feeds = x()
    feeds["m"] = RNG.standard_normal([2, 1, 4]).astype(np.float32)
    feeds["c"] = np.array([[[True, False, False, True]]])
    ins = [vi("x"), vi("m", shape=[2, 1, 4]), vi("c", TP.BOOL, [1, 1, 4])]
    full = [h.make_node("Div", ["x", "c8"], ["d"]),
            h.make_node("Add", ["d", "m"], ["a"]),
            h.make_node("Where", ["c", "fill", "a"], ["w"]),
            h.make_node("Softmax", ["w"], ["y"])]
    write("fuse_softmax_masked", full, ins, [vi("y")], feeds, inits=consts)
    # fill where C is false; the mask first in the Add; Mul scaling
    write("fuse_softmax_fill_if_false", [
        h.make_node("Mul", ["q", "x"], ["d"]),
        h.make_node("Add", ["m", "d"], ["a"]),
        h.make_node("Where", ["c", "a", "fill"], ["w"]),
        h.make_node("Softmax", ["w"], ["y"], axis=-1),
    ], ins, [vi("y")], feeds, inits=consts)
    # scaled scores alone; the mask broadcasting the scores up a rank
    write("fuse_softmax_scaled", [h.make_node("Div", ["x", "c8"], ["d"]),
                                  h.make_node("Softmax", ["d"], ["y"])],
          [vi("x")], [vi("y")], x(), inits=consts)
    feeds2 = {"x2": RNG.standard_normal([3, 4]).astype(np.float32),
              "m2": RNG.standard_normal([2, 3, 4]).astype(np.float32)}
    write("fuse_softmax_mask_widens", [h.make_node("Add", ["x2", "m2"], ["a"]),
                                       h.make_node("Softmax", ["a"], ["y"])],
          [vi("x2", shape=[3, 4]), vi("m2", shape=[2, 3, 4])], [vi("y")], feeds2)
    # near misses: opset 11's default axis (1, flattening); the Where's
    # result also a graph output; a Softmax over axis 1
    write("fuse_softmax_opset11_default_axis", full, ins, [vi("y")], feeds, opset=11,
          inits=consts)
    write("fuse_softmax_where_output", full, ins, [vi("y"), vi("w")], feeds, inits=consts)
    write("fuse_softmax_axis1", full[:3] + [h.make_node("Softmax", ["w"], ["y"], axis=1)], ins,
          [vi("y")], feeds, inits=consts)


# --- channels-last convolution regions (src/engine/layout_pass.c) ----------
# Inputs and weights are small multiples of 1/4 and 1/2, so sums of products
# are exact in float32 whatever order oneDNN adds them in, and the default
# per-element tolerance holds.


def q(shape, scale=0.25, lim=8):
    return (RNG.integers(-lim, lim + 1, size=shape) * scale).astype(np.float32)


def conv_w(name, m, c, k, group=1):
    kk = k if isinstance(k, (list, tuple)) else (k, k)
    return nh.from_array(q([m, c // group] + list(kk), 0.5, 2), name)


def bias(name, m):
    return nh.from_array(q([m]), name)


def add_data_set(name, k, feeds):
    """Another test_data_set for a case write() made: one session runs them
    all, so shapes changing between runs exercise the primitive cache."""
    case = os.path.join(OUT, "test_optimize_" + name)
    model = onnx.load(os.path.join(case, "model.onnx"))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outs = sess.run(None, feeds)
    data = os.path.join(case, "test_data_set_%d" % k)
    os.makedirs(data)
    for i, v in enumerate(model.graph.input):
        with open(os.path.join(data, "input_%d.pb" % i), "wb") as f:
            f.write(nh.from_array(feeds[v.name], v.name).SerializeToString())
    for i, (v, a) in enumerate(zip(model.graph.output, outs)):
        with open(os.path.join(data, "output_%d.pb" % i), "wb") as f:
            f.write(nh.from_array(np.asarray(a), v.name).SerializeToString())


def dyn(name, rank=4):
    return h.make_tensor_value_info(name, TP.FLOAT, ["%s_%d" % (name, i) for i in range(rank)])


def conv_cases():
    X = {"x": q([1, 3, 9, 9])}
    # ResNet-like: Conv+Relu, residual Add+Relu (fused sum), MaxPool, a 1x1
    # to 20 channels (not a multiple of 16), GlobalAveragePool at the edge.
    write("nhwc_resnet_block", [
        h.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"]),
        h.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        h.make_node("Add", ["c2", "r1"], ["a"]),
        h.make_node("Relu", ["a"], ["r2"]),
        h.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        h.make_node("Conv", ["p", "w3"], ["c3"]),
        h.make_node("GlobalAveragePool", ["c3"], ["y"]),
    ], [dyn("x")], [dyn("y")], X,
        inits=[conv_w("w1", 8, 3, 3), bias("b1", 8), conv_w("w2", 8, 8, 3), bias("b2", 8),
               conv_w("w3", 20, 8, 1)])
    # Batch and spatial size change between runs of one session.
    add_data_set("nhwc_resnet_block", 1, {"x": q([3, 3, 12, 7])})
    add_data_set("nhwc_resnet_block", 2, {"x": q([1, 3, 9, 9])})
    add_data_set("nhwc_resnet_block", 3, {"x": q([2, 3, 5, 16])})
    add_data_set("nhwc_resnet_block", 4, {"x": q([0, 3, 9, 9])})  # an empty batch
    # Downsample block: the Add's operands are two Convs (either may absorb it).
    write("nhwc_downsample_add", [
        h.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        h.make_node("Conv", ["x", "wd", "bd"], ["cd"], strides=[2, 2]),
        h.make_node("Add", ["cd", "c1"], ["a"]),
        h.make_node("Relu", ["a"], ["y"]),
    ], [dyn("x")], [dyn("y")], X,
        inits=[conv_w("w1", 17, 3, 3), conv_w("wd", 17, 3, 1), bias("bd", 17)])
    # DenseNet/SqueezeNet-like: Concat on channels (axis 1 and -3), AveragePool,
    # MaxPool with ceil_mode.
    write("nhwc_concat_pool", [
        h.make_node("Conv", ["x", "w1"], ["c1"]),
        h.make_node("Conv", ["x", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c2"], ["r2"]),
        h.make_node("Concat", ["c1", "r2"], ["cat"], axis=1),
        h.make_node("MaxPool", ["cat"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        h.make_node("Conv", ["mp", "w3"], ["c3"]),
        h.make_node("Concat", ["c3", "mp"], ["cat2"], axis=-3),
        h.make_node("AveragePool", ["cat2"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("Conv", ["ap", "w4"], ["y"]),
    ], [dyn("x")], [dyn("y")], {"x": q([2, 3, 10, 10])},
        inits=[conv_w("w1", 5, 3, 1), conv_w("w2", 6, 3, 3), bias("b2", 6), conv_w("w3", 7, 11, 1),
               conv_w("w4", 4, 18, 1)])
    add_data_set("nhwc_concat_pool", 1, {"x": q([1, 3, 13, 11])})
    # Average pools with pads, counting them and not.
    write("nhwc_avgpool_pads", [
        h.make_node("Conv", ["x", "w1"], ["c1"]),
        h.make_node("AveragePool", ["c1"], ["a1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        h.make_node("AveragePool", ["c1"], ["a2"], kernel_shape=[3, 3], pads=[1, 0, 1, 2],
                    count_include_pad=1, strides=[2, 1]),
        h.make_node("Conv", ["a1", "w2"], ["y1"]),
        h.make_node("Conv", ["a2", "w2"], ["y2"]),
    ], [dyn("x")], [dyn("y1"), dyn("y2")], X, inits=[conv_w("w1", 4, 3, 1), conv_w("w2", 2, 4, 1)])
    # A region value that is a graph output and is read outside the region
    # (Softmax over channels), and one read by both kinds of node.
    write("nhwc_value_escapes", [
        h.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"]),
        h.make_node("Conv", ["r1", "w2"], ["c2"]),
        h.make_node("Softmax", ["r1"], ["sm"], axis=1),
        h.make_node("Conv", ["c2", "w3"], ["y"]),
    ], [dyn("x")], [dyn("r1"), dyn("sm"), dyn("y"), dyn("c2")], X,
        inits=[conv_w("w1", 4, 3, 3), bias("b1", 4), conv_w("w2", 4, 4, 1), conv_w("w3", 3, 4, 3)])
    # Depthwise and grouped convs, strides, dilations, asymmetric pads,
    # auto_pad, Clip (MobileNetV2's ReLU6, opset 13 constant bounds).
    lo = nh.from_array(np.array(0.0, np.float32), "lo")
    hi = nh.from_array(np.array(6.0, np.float32), "hi")
    write("nhwc_depthwise_grouped", [
        h.make_node("Conv", ["x", "wdw", "bdw"], ["c1"], group=12, pads=[1, 1, 1, 1], strides=[2, 2]),
        h.make_node("Clip", ["c1", "lo", "hi"], ["k1"]),
        h.make_node("Conv", ["k1", "wg"], ["c2"], group=3, pads=[0, 1, 2, 1], strides=[2, 1],
                    dilations=[2, 2]),
        h.make_node("Clip", ["c2", "", "hi"], ["k2"]),
        h.make_node("Conv", ["k2", "w3"], ["c3"], auto_pad="SAME_UPPER", strides=[2, 2]),
        h.make_node("LeakyRelu", ["c3"], ["y"], alpha=0.25),
    ], [dyn("x")], [dyn("y")], {"x": q([2, 12, 10, 10])},
        inits=[conv_w("wdw", 12, 12, 3, 12), bias("bdw", 12), conv_w("wg", 6, 12, 3, 3),
               conv_w("w3", 5, 6, [2, 3]), lo, hi])
    add_data_set("nhwc_depthwise_grouped", 1, {"x": q([1, 12, 17, 9])})
    # SE block and swish: GlobalAveragePool -> 1x1 convs -> HardSigmoid scale
    # broadcast over [N,C,H,W]; Sigmoid*x; HardSwish; Add of a one-element
    # constant; a fused Add whose operand broadcasts ([N,C,1,1]) both ways.
    one = nh.from_array(np.array([0.5], np.float32), "one")
    write("nhwc_se_block", [
        h.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"]),
        h.make_node("GlobalAveragePool", ["r1"], ["g"]),
        h.make_node("Conv", ["g", "ws1", "bs1"], ["s1"]),
        h.make_node("Relu", ["s1"], ["s1r"]),
        h.make_node("Conv", ["s1r", "ws2"], ["s2"]),
        h.make_node("HardSigmoid", ["s2"], ["s"]),
        h.make_node("Mul", ["r1", "s"], ["se"]),
        h.make_node("Conv", ["se", "w2"], ["c2"]),
        h.make_node("Sigmoid", ["c2"], ["sg"]),
        h.make_node("Mul", ["c2", "sg"], ["sw"]),
        h.make_node("Conv", ["sw", "w3"], ["c3"]),
        h.make_node("HardSwish", ["c3"], ["hs"]),
        h.make_node("Add", ["hs", "one"], ["y1"]),
        h.make_node("Conv", ["g", "ws3"], ["gs"]),
        h.make_node("Conv", ["r1", "w4"], ["c4"]),
        h.make_node("Add", ["c4", "gs"], ["y2"]),
        h.make_node("Conv", ["g", "ws4"], ["gs2"]),
        h.make_node("Add", ["gs2", "r1"], ["a3"]),
        h.make_node("Tanh", ["a3"], ["y3"]),
    ], [dyn("x")], [dyn("y1"), dyn("y2"), dyn("y3")], X, opset=14,
        inits=[conv_w("w1", 8, 3, 3), conv_w("ws1", 4, 8, 1), bias("bs1", 4), conv_w("ws2", 8, 4, 1),
               conv_w("w2", 6, 8, 1), conv_w("w3", 6, 6, 1), one, conv_w("ws3", 6, 8, 1),
               conv_w("w4", 6, 8, 1), conv_w("ws4", 8, 8, 1)])
    # DenseNet-like: Concat -> BatchNormalization -> Relu (-> BatchNormNhwc
    # with a fused Relu), a Pad of zeros before AveragePool (dropped), and a
    # Pad that pads (left to the old op, behind a Transpose back).
    def bn(prefix, c):
        var = RNG.choice(np.array([0.25, 1.0, 4.0], np.float32), size=[c]).astype(np.float32)
        return [nh.from_array(q([c]), prefix + "s"), nh.from_array(q([c]), prefix + "b"),
                nh.from_array(q([c]), prefix + "m"), nh.from_array(var, prefix + "v")]
    zpad = nh.from_array(np.zeros(8, np.int64), "zpad")
    pad1 = nh.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 2], np.int64), "pad1")
    write("nhwc_densenet_like", [
        h.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        h.make_node("Concat", ["c1"], ["k1"], axis=1),
        h.make_node("BatchNormalization", ["k1", "n1s", "n1b", "n1m", "n1v"], ["bn1"], epsilon=0.0),
        h.make_node("Relu", ["bn1"], ["r1"]),
        h.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        h.make_node("Concat", ["c1", "c2"], ["k2"], axis=1),
        h.make_node("BatchNormalization", ["k2", "n2s", "n2b", "n2m", "n2v"], ["bn2"], epsilon=0.0),
        h.make_node("Conv", ["bn2", "w3"], ["c3"]),
        h.make_node("Pad", ["c3", "zpad"], ["pz"]),
        h.make_node("AveragePool", ["pz"], ["y1"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("Pad", ["c3", "pad1"], ["y2"]),
    ], [dyn("x")], [dyn("y1"), dyn("y2")], X,
        inits=[conv_w("w1", 6, 3, 3), conv_w("w2", 5, 6, 3), conv_w("w3", 4, 11, 1), zpad, pad1]
        + bn("n1", 6) + bn("n2", 11))
    add_data_set("nhwc_densenet_like", 1, {"x": q([2, 3, 6, 8])})
    # A region value read only by an If's branches (the subgraph reads it
    # under its original, NCHW, name).
    then_c = h.make_graph([h.make_node("Neg", ["r"], ["t"])], "then", [], [dyn("t")])
    else_c = h.make_graph([h.make_node("Abs", ["r"], ["e"])], "else", [], [dyn("e")])
    for flag in (True, False):
        write("nhwc_big_pads_if_%s" % str(flag).lower(), [
            h.make_node("Conv", ["x", "w1"], ["c1"], pads=[2, 1, 0, 2]),
            h.make_node("Relu", ["c1"], ["r"]),
            h.make_node("If", ["c"], ["y"], then_branch=then_c, else_branch=else_c),
        ], [dyn("x"), vi("c", TP.BOOL, [])], [dyn("y")], {"x": q([1, 3, 5, 4]), "c": np.array(flag)},
            inits=[conv_w("w1", 4, 3, 3)])
    # HardSwish as torch exports it before opset 14 (x * HardSigmoid(x) with
    # alpha 1/6), a HardSigmoid with other constants (two post-ops), and a
    # Sigmoid gate whose Mul multiplies something else (not SiLU).
    # The bias of 1/16 keeps c1 off HardSwish's kinks at -3 and 0, where
    # x * HardSigmoid(x) and oneDNN's hardswish round differently.
    write("nhwc_gates", [
        h.make_node("Conv", ["x", "w1", "b16"], ["c1"], pads=[1, 1, 1, 1]),
        h.make_node("HardSigmoid", ["c1"], ["g1"], alpha=1.0 / 6, beta=0.5),
        h.make_node("Mul", ["c1", "g1"], ["hs"]),
        h.make_node("Conv", ["hs", "w2"], ["c2"]),
        h.make_node("HardSigmoid", ["c2"], ["y1"], alpha=0.3, beta=0.4),
        h.make_node("Conv", ["hs", "w3"], ["c3"]),
        h.make_node("Sigmoid", ["c3"], ["s3"]),
        h.make_node("Mul", ["hs", "s3"], ["y2"]),
    ], [dyn("x")], [dyn("y1"), dyn("y2")], X,
        inits=[conv_w("w1", 5, 3, 3), conv_w("w2", 3, 5, 1),
               # small, so the Sigmoid's argument stays where ONNX Runtime
               # does not flush it to 0 (oneDNN's is the more exact there)
               nh.from_array(q([5, 5, 1, 1], 0.0625, 2), "w3"),
               nh.from_array(np.full([5], 1 / 16, np.float32), "b16")])
    # A sweep of geometries: groups (depthwise, grouped), kernels, strides,
    # dilations, asymmetric pads, auto_pad, channel counts off the 16-grid;
    # each case also runs a second batch / spatial size in the same session.
    for i in range(12):
        grp = [1, 1, 2, 3, "dw"][i % 5]
        c = [3, 5, 6, 9, 17, 32][i % 6]
        grp = c if grp == "dw" else grp
        c = c * grp if c % grp else c
        m = c * [1, 2][i % 2] if grp > 1 else [4, 7, 16, 33][i % 4]
        kh, kw = [(1, 1), (3, 3), (5, 3), (2, 2), (3, 1)][i % 5]
        attrs = {"group": grp, "strides": [1 + i % 2, 1 + (i // 2) % 3],
                 "dilations": [1 + (i // 3) % 2, 1 + (i // 4) % 2]}
        if i % 4 == 3:
            attrs["auto_pad"] = ["SAME_UPPER", "SAME_LOWER", "VALID"][(i // 4) % 3]
            attrs["dilations"] = [1, 1]  # ONNX Runtime has no dilated SAME
        else:
            ek = [(kh - 1) * attrs["dilations"][0] + 1, (kw - 1) * attrs["dilations"][1] + 1]
            attrs["pads"] = [min(p, ek[j % 2] - 1)
                             for j, p in enumerate([i % 3, (i + 1) % 2, (i + 2) % 3, i % 2])]
        act = ["Relu", "Sigmoid", "Tanh", "HardSwish"][i % 4]
        write("nhwc_sweep_%d" % i, [
            h.make_node("Conv", ["x", "w", "b"], ["c"], **attrs),
            h.make_node(act, ["c"], ["y"]),
        ], [dyn("x")], [dyn("y")], {"x": q([1 + i % 2, c, 9 + i % 4, 8 + i % 3])}, opset=14,
            inits=[conv_w("w", m, c, (kh, kw), grp), bias("b", m)])
        add_data_set("nhwc_sweep_%d" % i, 1, {"x": q([2 + i % 3, c, 12 + i % 5, 7 + i % 2])})
    # Convs the pass leaves to the old op: weights fed at run time, pads as
    # large as the kernel (rows of pure padding), 1-D, 3-D.
    write("nhwc_not_eligible", [
        h.make_node("Conv", ["x", "wx"], ["c1"], pads=[1, 1, 1, 1]),
        h.make_node("Conv", ["c1", "w2"], ["c2"]),
        h.make_node("Conv", ["c2", "w3"], ["c3"], pads=[2, 3, 1, 2]),
        h.make_node("Add", ["c3", "c3"], ["y"]),
    ], [dyn("x"), dyn("wx")], [dyn("y")], {"x": q([1, 3, 6, 6]), "wx": q([4, 3, 3, 3], 0.5, 2)},
        inits=[conv_w("w2", 2, 4, 1), conv_w("w3", 3, 2, 1)])
    write("nhwc_conv1d_conv3d", [
        h.make_node("Conv", ["x1", "w1"], ["y1"], pads=[1, 1]),
        h.make_node("Conv", ["x3", "w3"], ["y3"]),
    ], [dyn("x1", 3), dyn("x3", 5)], [dyn("y1", 3), dyn("y3", 5)],
        {"x1": q([1, 3, 8]), "x3": q([1, 2, 3, 4, 5])},
        inits=[nh.from_array(q([4, 3, 3], 0.5, 2), "w1"), nh.from_array(q([3, 2, 2, 2, 2], 0.5, 2), "w3")])
    # Clip before opset 11 (attributes) and an Add of a conv with itself.
    write("nhwc_clip_opset10", [
        h.make_node("Conv", ["x", "w1"], ["c1"]),
        h.make_node("Clip", ["c1"], ["k"], min=-1.0, max=2.5),
        h.make_node("Conv", ["k", "w2"], ["c2"]),
        h.make_node("Add", ["c2", "c2"], ["y"]),
    ], [dyn("x")], [dyn("y")], X, opset=10, inits=[conv_w("w1", 4, 3, 1), conv_w("w2", 4, 4, 1)])


if __name__ == "__main__":
    main()
