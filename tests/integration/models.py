"""Small ONNX models and model repositories for the integration tests.

Everything here is written with onnx.helper in milliseconds (no torch), so
starting a server on a fresh repository costs nothing. The bundled examples
(examples/models/digits, examples/models/add) are copied in as they are.

    repo = models.make_repo(tmp_path / "repo", ["digits", "add", "identity_FP16"])
"""

import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples", "models")

# KServe v2 datatype -> (ONNX element type, numpy dtype)
DATATYPES = {
    "BOOL": (TensorProto.BOOL, np.bool_),
    "UINT8": (TensorProto.UINT8, np.uint8),
    "UINT16": (TensorProto.UINT16, np.uint16),
    "UINT32": (TensorProto.UINT32, np.uint32),
    "UINT64": (TensorProto.UINT64, np.uint64),
    "INT8": (TensorProto.INT8, np.int8),
    "INT16": (TensorProto.INT16, np.int16),
    "INT32": (TensorProto.INT32, np.int32),
    "INT64": (TensorProto.INT64, np.int64),
    "FP16": (TensorProto.FLOAT16, np.float16),
    "FP32": (TensorProto.FLOAT, np.float32),
    "FP64": (TensorProto.DOUBLE, np.float64),
}


def _save(model, path):
    model.ir_version = 7
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def _model(nodes, inputs, outputs, initializers=(), opset=13, name="m"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             producer_name="inferd-tests")


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def identity(datatype):
    """in [n] -> out [n], of one datatype."""
    elem = DATATYPES[datatype][0]
    return _model([helper.make_node("Identity", ["in"], ["out"])],
                  [vi("in", elem, ["n"])], [vi("out", elem, ["n"])])


def add_sub_int32():
    """Triton's "simple" example model: INPUT0, INPUT1 INT32 [-1, 16] ->
    OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1."""
    ins = [vi("INPUT0", TensorProto.INT32, ["batch", 16]), vi("INPUT1", TensorProto.INT32, ["batch", 16])]
    outs = [vi("OUTPUT0", TensorProto.INT32, ["batch", 16]), vi("OUTPUT1", TensorProto.INT32, ["batch", 16])]
    return _model([helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
                   helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"])], ins, outs)


def scalar_mul():
    """x, y FP32 scalars (shape []) -> z = x * y."""
    return _model([helper.make_node("Mul", ["x", "y"], ["z"])],
                  [vi("x", TensorProto.FLOAT, []), vi("y", TensorProto.FLOAT, [])],
                  [vi("z", TensorProto.FLOAT, [])])


def scale(k):
    """x FP32 [-1, 2] -> y = x * k: a model whose output says its version."""
    kt = numpy_helper.from_array(np.array(float(k), np.float32), "k")
    return _model([helper.make_node("Mul", ["x", "k"], ["y"])],
                  [vi("x", TensorProto.FLOAT, ["batch", 2])],
                  [vi("y", TensorProto.FLOAT, ["batch", 2])], [kt])


def fixed_shape():
    """x FP32 [2, 3] (no symbolic dims) -> y = Relu(x)."""
    return _model([helper.make_node("Relu", ["x"], ["y"])],
                  [vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, [2, 3])])


def unsupported_op():
    """A valid ONNX file whose only node is an operator no engine has."""
    m = helper.make_model(
        helper.make_graph([helper.make_node("FrobnicateTensor", ["x"], ["y"], name="frobnicator_node",
                                            domain="com.example.inferd")],
                          "unsupported", [vi("x", TensorProto.FLOAT, [1, 4])],
                          [vi("y", TensorProto.FLOAT, [1, 4])]),
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example.inferd", 1)])
    m.ir_version = 7
    return m


def small_cnn(size=224):
    """A small CNN on an image-sized input, with fixed random weights:
    x FP32 [batch, 3, size, size] -> Conv 3->8 (3x3, stride 2) + Relu ->
    Conv 8->16 (3x3, stride 2) + Relu -> GlobalAveragePool -> Flatten ->
    Gemm 16->10 -> Softmax -> probs [batch, 10]. About 13 MFLOP per
    224x224 image: the transport of its 600 KB input shows next to it."""
    rng = np.random.default_rng(0)

    def weight(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name)
    inits = [weight("w1", 8, 3, 3, 3), weight("b1", 8), weight("w2", 16, 8, 3, 3), weight("b2", 16),
             weight("w3", 10, 16), weight("b3", 10)]
    conv = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], **conv),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], **conv),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    return _model(nodes, [vi("x", TensorProto.FLOAT, ["batch", 3, size, size])],
                  [vi("probs", TensorProto.FLOAT, ["batch", 10])], inits)


# small_cnn served with dynamic batching (perf_analyzer's -b and batching).
# No queue delay: a free worker takes whatever is queued (up to 8 samples),
# so batches grow with the load and a lone request does not wait.
SMALL_CNN_CONFIG = """\
name: "small_cnn"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FP32 dims: [ 3, 224, 224 ] } ]
output [ { name: "probs" data_type: TYPE_FP32 dims: [ 10 ] } ]
dynamic_batching { max_queue_delay_microseconds: 0 preferred_batch_size: [ 8 ] }
"""


SCALE_CONFIG = """\
name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: 0
input [ {{ name: "x" data_type: TYPE_FP32 dims: [ -1, 2 ] }} ]
output [ {{ name: "y" data_type: TYPE_FP32 dims: [ -1, 2 ] }} ]
version_policy: {policy}
"""

SCALE_POLICIES = {
    "scale_all": "{ all { } }",
    "scale_specific": "{ specific { versions: [ 1, 3 ] } }",
    "scale_latest2": "{ latest { num_versions: 2 } }",
}


def write_model(repo, name, model, version=1, config=None):
    d = os.path.join(repo, name)
    _save(model, os.path.join(d, str(version), "model.onnx"))
    if config is not None:
        with open(os.path.join(d, "config.pbtxt"), "w") as f:
            f.write(config)
    return d


def add_named(repo, name):
    """Adds one of the models the tests know by name to `repo`."""
    if name in ("digits", "add"):
        shutil.copytree(os.path.join(EXAMPLES, name), os.path.join(repo, name))
    elif name.startswith("identity_"):
        write_model(repo, name, identity(name[len("identity_"):]))
    elif name == "add_sub":
        write_model(repo, name, add_sub_int32())
    elif name == "scalar_mul":
        write_model(repo, name, scalar_mul())
    elif name == "fixed_shape":
        write_model(repo, name, fixed_shape())
    elif name == "small_cnn":
        write_model(repo, name, small_cnn(), config=SMALL_CNN_CONFIG)
    elif name == "scale":
        for v in (1, 2, 3):
            write_model(repo, name, scale(v), version=v)
    elif name in SCALE_POLICIES:
        for v in (1, 2, 3):
            write_model(repo, name, scale(v), version=v)
        with open(os.path.join(repo, name, "config.pbtxt"), "w") as f:
            f.write(SCALE_CONFIG.format(name=name, policy=SCALE_POLICIES[name]))
    else:
        raise KeyError(name)


def make_repo(path, names):
    path = str(path)
    os.makedirs(path, exist_ok=True)
    for n in names:
        add_named(path, n)
    return path


MAIN_REPO_MODELS = (["digits", "add", "add_sub", "scalar_mul", "fixed_shape", "scale"]
                    + list(SCALE_POLICIES) + ["identity_" + d for d in DATATYPES])
