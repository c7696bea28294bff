#!/usr/bin/python3
"""Writes the fuzzers' seed corpus: small ONNX models and TensorProtos that
between them use every feature the loader decodes (subgraphs reading outer
values, Constant forms, typed and raw initializers, strings, float16,
external-data references, symbolic dims, unsorted nodes, IR 3 weights listed
as inputs). Run from the repository root with Debian's python3-onnx:

    /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import os

import numpy as np
from onnx import TensorProto, TypeProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
F = TensorProto.FLOAT


def save(target, name, msg):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(msg.SerializeToString())


def model(nodes, inputs, outputs, inits=(), opset=13, ir=8, value_info=(), extra_opsets=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits), value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), *extra_opsets])
    m.ir_version = ir
    return m


def vi(name, dtype=F, shape=None):
    return helper.make_tensor_value_info(name, dtype, shape)


def main():
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    save("fuzz_onnx_model", "matmul_raw_init.onnx",
         model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
               [vi("x", F, ["N", 2])], [vi("y", F, ["N", 3])], [w]))
    typed = helper.make_tensor("b", F, [3], [1.0, 2.0, 3.0])
    save("fuzz_onnx_model", "unsorted_typed_init.onnx",
         model([helper.make_node("Add", ["t", "b"], ["y"]), helper.make_node("Relu", ["x"], ["t"])],
               [vi("x", F, [1, 3])], [vi("y")], [typed], value_info=[vi("t", F, [1, 3])]))
    save("fuzz_onnx_model", "ir3_weights_as_inputs.onnx",
         model([helper.make_node("Mul", ["x", "w"], ["y"])], [vi("x", F, [2, 3]), vi("w", F, [2, 3])],
               [vi("y")], [w], opset=7, ir=3))
    consts = [
        helper.make_node("Constant", [], ["c0"], value=helper.make_tensor("v", TensorProto.INT64, [2], [1, 2])),
        helper.make_node("Constant", [], ["c1"], value_float=2.5),
        helper.make_node("Constant", [], ["c2"], value_floats=[1.0, 2.0]),
        helper.make_node("Constant", [], ["c3"], value_int=3),
        helper.make_node("Constant", [], ["c4"], value_ints=[4, 5]),
        helper.make_node("Constant", [], ["c5"], value_string="s"),
        helper.make_node("Constant", [], ["c6"], value_strings=["a", "bc"]),
        helper.make_node("Add", ["x", "c1"], ["y"]),
    ]
    save("fuzz_onnx_model", "constant_forms.onnx",
         model(consts, [vi("x")], [vi("y"), vi("c0", TensorProto.INT64), vi("c6", TensorProto.STRING)]))
    then_g = helper.make_graph([helper.make_node("Neg", ["h"], ["z"])], "then", [], [vi("z")])
    else_g = helper.make_graph([helper.make_node("Identity", ["h"], ["z2"])], "else", [], [vi("z2")])
    save("fuzz_onnx_model", "if_outer_value.onnx",
         model([helper.make_node("Relu", ["x"], ["h"]),
                helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)],
               [vi("cond", TensorProto.BOOL, []), vi("x", F, [2])], [vi("y")]))
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc", "x"], ["acc_out"])],
        "body", [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
                 helper.make_value_info("acc", TypeProto())],
        [vi("cond_out", TensorProto.BOOL, []), vi("acc_out")])
    save("fuzz_onnx_model", "loop_untyped_carried.onnx",
         model([helper.make_node("Loop", ["n", "", "x"], ["y"], body=body)],
               [vi("n", TensorProto.INT64, []), vi("x", F, [2])], [vi("y")]))
    sbody = helper.make_graph([helper.make_node("Add", ["s", "e"], ["s2"]), helper.make_node("Identity", ["s2"], ["o"])],
                              "scan_body", [vi("s", F, [2]), vi("e", F, [2])], [vi("s2", F, [2]), vi("o", F, [2])])
    save("fuzz_onnx_model", "scan.onnx",
         model([helper.make_node("Scan", ["s0", "xs"], ["sN", "ys"], body=sbody, num_scan_inputs=1)],
               [vi("s0", F, [2]), vi("xs", F, [3, 2])], [vi("sN"), vi("ys")], opset=11))
    ext = TensorProto(name="w", data_type=F, dims=[2], data_location=TensorProto.EXTERNAL)
    for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", "8")):
        e = ext.external_data.add()
        e.key, e.value = k, v
    save("fuzz_onnx_model", "external_ref.onnx",
         model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", F, [2])], [vi("y")], [ext]))
    h = numpy_helper.from_array(np.array([1, -2, 0.5], dtype=np.float16), "h")
    save("fuzz_onnx_model", "custom_domain_fp16.onnx",
         model([helper.make_node("Cast", ["h"], ["hf"], to=F), helper.make_node("Foo", ["hf"], ["y"], domain="com.example")],
               [], [vi("y")], [h], extra_opsets=[helper.make_opsetid("com.example", 1)]))
    save("fuzz_onnx_model", "conv_attrs.onnx",
         model([helper.make_node("Conv", ["x", "wc"], ["y"], kernel_shape=[1, 1], pads=[0, 0, 0, 0], strides=[1, 1],
                                 auto_pad="NOTSET")],
               [vi("x", F, [1, 1, 2, 2])], [vi("y")],
               [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "wc")]))

    save("fuzz_tensor_proto", "float_2x3.pb", w)
    save("fuzz_tensor_proto", "float_typed.pb", typed)
    save("fuzz_tensor_proto", "float16_raw.pb", h)
    save("fuzz_tensor_proto", "float16_int32_data.pb", helper.make_tensor("h", TensorProto.FLOAT16, [2], [0x3c00, 0xc000]))
    save("fuzz_tensor_proto", "int64.pb", numpy_helper.from_array(np.array([[1, -2]], np.int64)))
    save("fuzz_tensor_proto", "bool.pb", numpy_helper.from_array(np.array([True, False, True])))
    save("fuzz_tensor_proto", "strings.pb", helper.make_tensor("s", TensorProto.STRING, [2], [b"ab", b""]))
    save("fuzz_tensor_proto", "double.pb", helper.make_tensor("d", TensorProto.DOUBLE, [2], [1.5, -3.0]))
    save("fuzz_tensor_proto", "uint64.pb", helper.make_tensor("u", TensorProto.UINT64, [1], [2**63]))
    save("fuzz_tensor_proto", "uint8_scalar.pb", helper.make_tensor("b", TensorProto.UINT8, [], [7]))
    save("fuzz_tensor_proto", "empty.pb", numpy_helper.from_array(np.zeros((0, 3), np.float32)))
    save("fuzz_tensor_proto", "external.pb", ext)


if __name__ == "__main__":
    main()
