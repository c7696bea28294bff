"""control_flow.py -- models with If: one written with onnx.helper, one from
torch.jit.script.

Both take x FP32 [n, 4] and branch on the sign of sum(x). Each has two test
data sets, one per branch, so both subgraphs run.

- if_helper: then = Relu(x * 2) + bias (an initializer of the subgraph,
  reading x from the outer scope); else = Sigmoid(x) - x. A second output,
  the branch condition cast to float, comes from the outer graph.
- if_scripted: torch.jit.script of `if x.sum() > 0: a(x) else b(x) * 2` with
  two Linear layers, exported at opset 13 (If with Gemm/MatMul subgraphs).
"""


import numpy as np

import zoo
from zoo import Spec


def _write_helper(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(zoo.seed_for("if_helper"))
    bias = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "bias")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    then_graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["t0"]),
         helper.make_node("Relu", ["t0"], ["t1"]),
         helper.make_node("Add", ["t1", "bias"], ["then_y"])],
        "then_branch", [], [helper.make_tensor_value_info("then_y", TensorProto.FLOAT, ["n", 4])],
        initializer=[bias, two])
    else_graph = helper.make_graph(
        [helper.make_node("Sigmoid", ["x"], ["e0"]),
         helper.make_node("Sub", ["e0", "x"], ["else_y"])],
        "else_branch", [], [helper.make_tensor_value_info("else_y", TensorProto.FLOAT, ["n", 4])])
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
         helper.make_node("Greater", ["s", "zero"], ["cond"]),
         helper.make_node("If", ["cond"], ["y"], then_branch=then_graph, else_branch=else_graph),
         helper.make_node("Cast", ["cond"], ["branch"], to=TensorProto.FLOAT)],
        "if_helper",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4]),
         helper.make_tensor_value_info("branch", TensorProto.FLOAT, [])],
        initializer=[zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="inferd-tests")
    model.ir_version = 7
    onnx.save(model, path)


def _branch_feeds(rows):
    def feeds(rng, model):
        x = np.abs(rng.standard_normal((rows, 4))).astype(np.float32) + 0.1
        return [{"x": x}, {"x": -x}]
    return feeds


def _write_scripted(path):
    import torch
    import torch.nn as nn
    torch.manual_seed(zoo.seed_for("if_scripted"))

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)

        def forward(self, x):
            if bool(x.sum() > 0):
                return self.a(x)
            else:
                return self.b(x) * 2

    scripted = torch.jit.script(Branchy().eval())
    zoo.export_torch(scripted, (torch.randn(3, 4),), path, ["x"], ["y"], opset=13,
                     dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})


SPECS = [
    Spec("if_helper", _write_helper, _branch_feeds(3),
         "onnx.helper graph with If: outer-scope input and subgraph initializers, "
         "both branches tested, opset 13"),
    Spec("if_scripted", _write_scripted, _branch_feeds(5),
         "torch.jit.script If between two Linear layers, both branches tested, opset 13"),
]
