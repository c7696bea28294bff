"""Models and repository edits for the lifecycle and reload tests
(test_lifecycle.py, test_reload.py, bench/load_while_serving.py).

    busy(rows=512, layers=8)    a request costs rows*1024*1024*2*layers flops
    big(mb=200)                 one MatMul whose weight is `mb` MB
    slow_warmup_config(...)     a config.pbtxt whose warmup takes a while
    place_version(repo, "m", 2, model)  writes m/2 atomically (rename)
"""

import hashlib
import os
import shutil
import uuid

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import models


def busy(rows=512, layers=8, width=1024, seed=0):
    """x FP32 [1, width] -> y FP32 [1, width]: x is broadcast to `rows` rows
    and multiplied by one width x width weight `layers` times, then averaged
    back to one row. Tiny requests, a tunable amount of compute."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array((rng.standard_normal((width, width)) / np.sqrt(width))
                                .astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([rows, width], np.int64), "rows_shape")
    nodes = [helper.make_node("Expand", ["x", "rows_shape"], ["h0"])]
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", ["h%d" % i, "w"], ["h%d" % (i + 1)]))
    nodes.append(helper.make_node("ReduceMean", ["h%d" % layers], ["y"], axes=[0], keepdims=1))
    return models._model(nodes, [models.vi("x", TensorProto.FLOAT, [1, width])],
                         [models.vi("y", TensorProto.FLOAT, [1, width])], [w, shape])


def big(mb=200, width=4096, seed=1):
    """x FP32 [1, width] -> y = x @ W with W of about `mb` megabytes."""
    cols = max(1, (mb << 20) // (4 * width))
    w = np.random.default_rng(seed).standard_normal((width, cols)).astype(np.float32)
    return models._model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                         [models.vi("x", TensorProto.FLOAT, [1, width])],
                         [models.vi("y", TensorProto.FLOAT, [1, cols])],
                         [numpy_helper.from_array(w, "w")])


def slow_warmup_config(name, count=50, width=1024):
    """A config.pbtxt for busy(): `count` warmup runs before the version
    serves, so a load takes long enough to be watched."""
    return """\
name: "%s"
max_batch_size: 0
model_warmup [ {
  name: "slow"
  batch_size: 1
  count: %d
  inputs { key: "x" value: { data_type: TYPE_FP32 dims: [ 1, %d ] zero_data: true } }
} ]
""" % (name, count, width)


def place_version(repo, name, version, model, manifest=None):
    """Writes <repo>/<name>/<version>/model.onnx the way a deployment should:
    into a hidden directory first (the scan skips hidden entries), then one
    rename, so a poll never sees a half-written file. manifest: "good"
    writes a correct sha256sums, "bad" a wrong one."""
    mdir = os.path.join(str(repo), name)
    os.makedirs(mdir, exist_ok=True)
    tmp = os.path.join(mdir, ".tmp-%s" % uuid.uuid4().hex)
    os.makedirs(tmp)
    path = os.path.join(tmp, "model.onnx")
    if isinstance(model, (bytes, bytearray)):
        with open(path, "wb") as f:
            f.write(model)
    else:
        model.ir_version = 7
        onnx.save(model, path)
    if manifest:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if manifest == "bad":
            digest = ("0" if digest[0] != "0" else "1") + digest[1:]
        with open(os.path.join(tmp, "sha256sums"), "w") as f:
            f.write("%s  model.onnx\n" % digest)
    os.rename(tmp, os.path.join(mdir, str(version)))


def remove_version(repo, name, version):
    shutil.rmtree(os.path.join(str(repo), name, str(version)))


def rss_kb(pid):
    """VmRSS of a process, in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)
