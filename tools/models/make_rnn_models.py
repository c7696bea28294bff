#!/usr/bin/env python3
"""make_rnn_models.py -- recurrent and control-flow models for the ONNX
Runtime comparisons.

    /usr/bin/python3 tools/models/make_rnn_models.py OUTDIR

writes OUTDIR/<name>/1/model.onnx for every model below (a Triton-style
model repository). Imported by zoo.py, it exports SPECS, so the model
comparison suite builds each model with ONNX Runtime's outputs on seeded
inputs. Weights come from fixed seeds; nothing is downloaded.

- lstm_classifier: torch LSTM(16 -> 32, batch_first) over a [batch, steps,
  16] sequence, last step -> Linear -> Softmax over 5 classes (opset 13).
- gru_bidirectional: torch 2-layer bidirectional GRU(8 -> 12) over [steps,
  batch, 8] with an initial state; outputs the sequence and final states.
- rnn_options: onnx.helper graph exercising what exporters rarely emit:
  LSTM (bidirectional, sequence_lens, initial_h/c, peepholes, clip), GRU
  (reverse, sequence_lens, linear_before_reset 0, HardSigmoid/LeakyRelu) and
  RNN (bidirectional, Relu/Tanh), opset 14. (ONNX Runtime rejects layout 1,
  so the batch-first layout is covered by the ONNX test cases only.)
- if_loop_scripted: torch.jit.script with a data-dependent `for` (ONNX
  Loop whose carried trace grows each iteration) and an `if` in its body
  (If), opset 13.
- loop_while: onnx.helper Loop with both a trip count and a condition the
  body computes (stops on whichever comes first) and a scan output.
- scan_cumsum: onnx.helper Scan (opset 11) with a reverse scan input on
  axis 1 and a scan output on axis 1: running sums and products.
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def _seed(name):
    import zlib
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def _export(model, args, path, inputs, outputs, dynamic_axes, opset=13):
    import warnings

    import torch
    warnings.filterwarnings("ignore")
    model.eval()
    torch.onnx.export(model, args, path, opset_version=opset, input_names=inputs,
                      output_names=outputs, dynamic_axes=dynamic_axes,
                      do_constant_folding=True)


# --- torch models ---------------------------------------------------------------

def write_lstm_classifier(path):
    import torch
    import torch.nn as nn
    torch.manual_seed(_seed("lstm_classifier"))

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(16, 32, batch_first=True)
            self.fc = nn.Linear(32, 5)

        def forward(self, x):
            y, _ = self.lstm(x)
            return torch.softmax(self.fc(y[:, -1, :]), dim=1)

    _export(Classifier(), (torch.randn(2, 7, 16),), path, ["x"], ["probabilities"],
            {"x": {0: "batch", 1: "steps"}, "probabilities": {0: "batch"}})


def write_gru_bidirectional(path):
    import torch
    import torch.nn as nn
    torch.manual_seed(_seed("gru_bidirectional"))

    class BiGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(8, 12, num_layers=2, bidirectional=True)

        def forward(self, x, h0):
            return self.gru(x, h0)

    _export(BiGRU(), (torch.randn(6, 2, 8), torch.randn(4, 2, 12)), path, ["x", "h0"],
            ["y", "h_n"], {"x": {0: "steps", 1: "batch"}, "h0": {1: "batch"},
                           "y": {0: "steps", 1: "batch"}, "h_n": {1: "batch"}})


def write_if_loop_scripted(path):
    import torch
    import torch.nn as nn
    torch.manual_seed(_seed("if_loop_scripted"))

    class Refine(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.Linear(6, 6)
            self.down = nn.Linear(6, 6)

        def forward(self, x, steps: torch.Tensor):
            # a growing tensor, not a list: lists export as ONNX sequences
            trace = torch.zeros((0, x.size(0)))
            for _ in range(int(steps)):
                if bool(x.mean() > 0):
                    x = torch.tanh(self.down(x))
                else:
                    x = torch.relu(self.up(x)) - 0.5
                trace = torch.cat([trace, x.sum(dim=1).unsqueeze(0)])
            return x, trace

    scripted = torch.jit.script(Refine().eval())
    _export(scripted, (torch.randn(3, 6), torch.tensor(4)), path, ["x", "steps"],
            ["y", "trace"], {"x": {0: "n"}, "y": {0: "n"}, "trace": {0: "steps", 1: "n"}})


# --- onnx.helper models ---------------------------------------------------------

T, N = 5, 3        # rnn_options: steps, batch


def write_rnn_options(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(_seed("rnn_options"))

    def const(name, shape, scale=0.5):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32),
                                       name)

    I, H = 4, 6
    inits = [
        # LSTM: bidirectional with peepholes and clip
        const("lw", (2, 4 * H, I)), const("lr", (2, 4 * H, H)), const("lb", (2, 8 * H)),
        const("lp", (2, 3 * H)),
        # GRU: reverse, ragged, reset gate applied before the linear map
        const("gw", (1, 3 * H, I)), const("gr", (1, 3 * H, H)), const("gb", (1, 6 * H)),
        # RNN: bidirectional, Relu forward and Tanh backward
        const("rw", (2, H, I)), const("rr", (2, H, H), 0.3), const("rb", (2, 2 * H)),
    ]
    nodes = [
        helper.make_node("LSTM", ["x", "lw", "lr", "lb", "lens", "h0", "c0", "lp"],
                         ["lstm_y", "lstm_h", "lstm_c"], hidden_size=H,
                         direction="bidirectional", clip=2.5),
        helper.make_node("GRU", ["x", "gw", "gr", "gb", "lens"], ["gru_y", "gru_h"],
                         hidden_size=H, direction="reverse", linear_before_reset=0,
                         activations=["HardSigmoid", "LeakyRelu"],
                         activation_alpha=[0.25, 0.05], activation_beta=[0.45]),
        helper.make_node("RNN", ["x", "rw", "rr", "rb"], ["rnn_y", "rnn_h"], hidden_size=H,
                         direction="bidirectional", activations=["Relu", "Tanh"]),
    ]
    f = TensorProto.FLOAT

    def out(name, shape):
        return helper.make_tensor_value_info(name, f, shape)

    graph = helper.make_graph(
        nodes, "rnn_options",
        [helper.make_tensor_value_info("x", f, [T, N, I]),
         helper.make_tensor_value_info("lens", TensorProto.INT32, [N]),
         helper.make_tensor_value_info("h0", f, [2, N, H]),
         helper.make_tensor_value_info("c0", f, [2, N, H])],
        [out("lstm_y", [T, 2, N, H]), out("lstm_h", [2, N, H]), out("lstm_c", [2, N, H]),
         out("gru_y", [T, 1, N, H]), out("gru_h", [1, N, H]),
         out("rnn_y", [T, 2, N, H]), out("rnn_h", [2, N, H])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                              producer_name="inferd-tests")
    model.ir_version = 7
    onnx.save(model, path)


def feeds_rnn_options(rng, model):
    def one(lens):
        return {"x": rng.standard_normal((T, N, 4)).astype(np.float32),
                "lens": np.array(lens, np.int32),
                "h0": rng.standard_normal((2, N, 6)).astype(np.float32),
                "c0": rng.standard_normal((2, N, 6)).astype(np.float32)}
    return [one([T, T, T]), one([T, 2, 1])]


def write_scan_cumsum(path):
    import onnx
    from onnx import TensorProto, helper

    f = TensorProto.FLOAT
    body = helper.make_graph(
        [helper.make_node("Add", ["sum_in", "row"], ["sum_out"]),
         helper.make_node("Mul", ["prod_in", "row"], ["prod_out"]),
         helper.make_node("Identity", ["sum_out"], ["sum_scan"])],
        "scan_body",
        [helper.make_tensor_value_info("sum_in", f, [4]),
         helper.make_tensor_value_info("prod_in", f, [4]),
         helper.make_tensor_value_info("row", f, [4])],
        [helper.make_tensor_value_info("sum_out", f, [4]),
         helper.make_tensor_value_info("prod_out", f, [4]),
         helper.make_tensor_value_info("sum_scan", f, [4])])
    node = helper.make_node("Scan", ["s0", "p0", "x"], ["sum", "prod", "sums"], body=body,
                            num_scan_inputs=1, scan_input_axes=[1],
                            scan_input_directions=[1], scan_output_axes=[-1])
    graph = helper.make_graph(
        [node], "scan_cumsum",
        [helper.make_tensor_value_info("s0", f, [4]), helper.make_tensor_value_info("p0", f, [4]),
         helper.make_tensor_value_info("x", f, [4, "steps"])],
        [helper.make_tensor_value_info("sum", f, [4]),
         helper.make_tensor_value_info("prod", f, [4]),
         helper.make_tensor_value_info("sums", f, [4, "steps"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)],
                              producer_name="inferd-tests")
    model.ir_version = 7
    onnx.save(model, path)


def feeds_scan_cumsum(rng, model):
    return [{"s0": rng.standard_normal(4).astype(np.float32),
             "p0": np.ones(4, np.float32),
             "x": rng.uniform(0.5, 1.5, (4, steps)).astype(np.float32)} for steps in (7, 1)]


def write_loop_while(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    f = TensorProto.FLOAT
    limit = numpy_helper.from_array(np.array(6.0, np.float32), "limit")
    body = helper.make_graph(
        [helper.make_node("Mul", ["v_in", "growth"], ["v_out"]),
         helper.make_node("ReduceSum", ["v_out"], ["total"], keepdims=0),
         helper.make_node("Less", ["total", "limit"], ["cond_out"]),
         helper.make_node("Cast", ["i"], ["i_f"], to=f),
         helper.make_node("Add", ["v_out", "i_f"], ["scan_out"])],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", f, [3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", f, [3]),
         helper.make_tensor_value_info("scan_out", f, [3])])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "cond", "v0"], ["v", "trace"], body=body)],
        "loop_while",
        [helper.make_tensor_value_info("M", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v0", f, [3]),
         helper.make_tensor_value_info("growth", f, [3])],
        [helper.make_tensor_value_info("v", f, [3]),
         helper.make_tensor_value_info("trace", f, ["iterations", 3])],
        initializer=[limit])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="inferd-tests")
    model.ir_version = 7
    onnx.save(model, path)


def feeds_loop_while(rng, model):
    v0 = np.array([0.5, 0.25, 0.25], np.float32)
    growth = np.array([1.5, 1.25, 1.1], np.float32)
    # stops by cond (after a few steps), by M, and before the first step
    return [{"M": np.array(100, np.int64), "cond": np.array(True), "v0": v0, "growth": growth},
            {"M": np.array(2, np.int64), "cond": np.array(True), "v0": v0, "growth": growth},
            {"M": np.array(5, np.int64), "cond": np.array(False), "v0": v0, "growth": growth}]


def feeds_if_loop(rng, model):
    x = rng.standard_normal((3, 6)).astype(np.float32)
    return [{"x": x, "steps": np.array(4, np.int64)},
            {"x": -np.abs(x), "steps": np.array(2, np.int64)}]


def _random_floats(dims, sets=1):
    """Fills every float input from its declared shape (symbolic dims from `dims`)."""
    def feeds(rng, model):
        out = []
        for _ in range(sets):
            feed = {}
            for vi in model.graph.input:
                shape = [d.dim_value if d.HasField("dim_value") else dims[d.dim_param]
                         for d in vi.type.tensor_type.shape.dim]
                feed[vi.name] = rng.standard_normal(shape).astype(np.float32)
            out.append(feed)
        return out
    return feeds


MODELS = [
    ("lstm_classifier", write_lstm_classifier, _random_floats({"batch": 3, "steps": 9}, 2),
     "torch LSTM(16->32) batch-first classifier, Softmax over 5 classes, opset 13"),
    ("gru_bidirectional", write_gru_bidirectional,
     _random_floats({"steps": 4, "batch": 3}),
     "torch 2-layer bidirectional GRU(8->12) with initial state, opset 13"),
    ("rnn_options", write_rnn_options, feeds_rnn_options,
     "onnx.helper LSTM/GRU/RNN with sequence_lens, peepholes, clip, custom "
     "activations, opset 14"),
    ("if_loop_scripted", write_if_loop_scripted, feeds_if_loop,
     "torch.jit.script for-loop with an if inside (Loop + If + scan output), opset 13"),
    ("loop_while", write_loop_while, feeds_loop_while,
     "onnx.helper Loop with trip count and computed condition, scan output, opset 13"),
    ("scan_cumsum", write_scan_cumsum, feeds_scan_cumsum,
     "onnx.helper Scan opset 11, reverse input on axis 1, output axis -1"),
]

try:  # the model comparison suite's registry (tools/models/zoo.py)
    from zoo import Spec
    SPECS = [Spec(name, write, feeds, desc) for name, write, feeds, desc in MODELS]
except ImportError:
    SPECS = []


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s OUTDIR\n" % argv[0])
        return 2
    for name, write, _, _ in MODELS:
        d = os.path.join(argv[1], name, "1")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        write(path)
        print("wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
