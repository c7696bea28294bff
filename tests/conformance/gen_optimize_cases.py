"""Test cases for the load-time graph rewrites (src/engine/optimize.c),
against ONNX Runtime.

Writes small multi-node models in the ONNX backend-test layout whose shapes
put the rewrites' edge cases in front of the engine: Identity chains in the
middle of a graph, an Identity whose output is also a graph output (kept),
Dropout with its mask unread (removed) and read (kept), and an If whose
branches read an Identity's output from the enclosing graph (the subgraph's
outer reference must follow the rewrite).

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
    print("wrote cases to", OUT)


if __name__ == "__main__":
    main()
