#!/usr/bin/env python3
"""make_add_model.py -- write examples/models/add/1/model.onnx: y = a + b.

    /usr/bin/python3 tools/make_add_model.py

The smallest useful model: inputs "a" and "b", FP32 [-1, 4] (batch
dynamic), output "y" FP32 [-1, 4]. It has no config.pbtxt on purpose, to
show that everything can be derived from the ONNX file; the protocol tests
and the serving-path benchmarks use it because its compute costs nothing.
"""

import os

import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = os.path.join(ROOT, "examples", "models", "add", "1", "model.onnx")


def main():
    def io(name):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", 4])

    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "add",
                              [io("a"), io("b")], [io("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="inferd-examples")
    model.ir_version = 7
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    onnx.save(model, PATH)
    print("wrote %s (%d bytes)" % (PATH, os.path.getsize(PATH)))


if __name__ == "__main__":
    main()
