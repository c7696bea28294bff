"""Model repositories: a broken model next to good ones, and a repository
laid out and configured as Triton users have them."""

import os
import shutil

import numpy as np
import onnx
import pytest

from conftest import assert_error, flat, get, infer, output
import models

GOOD_ADD = [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [1, 1, 1, 1])]


@pytest.fixture
def broken_repo(tmp_path):
    repo = models.make_repo(tmp_path / "repo", ["add", "digits"])
    # Not an ONNX file at all.
    os.makedirs(os.path.join(repo, "corrupt", "1"))
    with open(os.path.join(repo, "corrupt", "1", "model.onnx"), "wb") as f:
        f.write(b"\x08\x07\x12\x04junk" + bytes(range(256)) * 4)
    # A real model cut in half.
    os.makedirs(os.path.join(repo, "truncated", "1"))
    with open(os.path.join(models.EXAMPLES, "digits", "1", "model.onnx"), "rb") as f:
        data = f.read()
    with open(os.path.join(repo, "truncated", "1", "model.onnx"), "wb") as f:
        f.write(data[:len(data) // 2])
    # A valid file with an operator nobody implements.
    os.makedirs(os.path.join(repo, "unsupported", "1"))
    onnx.save(models.unsupported_op(), os.path.join(repo, "unsupported", "1", "model.onnx"))
    # An empty version directory.
    os.makedirs(os.path.join(repo, "empty_version", "1"))
    return repo


BROKEN = ["corrupt", "truncated", "unsupported", "empty_version"]


def test_broken_models_do_not_stop_the_good_ones(start_server, broken_repo):
    # Ready means every model has loaded or failed for good (issue 2 §4).
    s = start_server(broken_repo, name="broken-repo")
    assert get(s, "/v2/health/live").status == 200
    assert get(s, "/v2/health/ready").status == 200
    for m in ("add", "digits"):
        assert get(s, "/v2/models/%s/ready" % m).status == 200
    r = infer(s, "add", GOOD_ADD)
    assert r.status == 200, r
    assert flat(output(r.json(), "y")["data"]) == [2, 3, 4, 5]

    for m in BROKEN:
        status = get(s, "/v2/models/%s/ready" % m).status
        assert status != 200, "%s reported ready" % m
        assert status in (400, 404, 503), (m, status)
        # TODO(spec): issue 2 lists 503 for not-ready models; a model that
        # exists on disk but failed to load is taken to be "not ready".
        r = infer(s, m, [("x", "FP32", [1, 4], [0, 0, 0, 0])])
        assert r.status == 503 or (m == "empty_version" and r.status == 404), (m, r)
        assert_error(r, r.status)

    # The log names each broken model, and for the unsupported one the
    # operator (or node) that could not be loaded.
    log = s.log()
    for m in BROKEN[:3]:
        assert m in log, "log does not mention %s" % m
    assert "FrobnicateTensor" in log or "frobnicator_node" in log
    # Still serving after all that.
    assert infer(s, "digits", [("image", "FP32", [1, 64], [0] * 64)]).status == 200


def test_non_model_entries_are_ignored(start_server, tmp_path):
    """Files at the top level, hidden directories and non-numeric version
    directories are not models or versions (Triton ignores them too)."""
    repo = models.make_repo(tmp_path / "repo", ["add"])
    with open(os.path.join(repo, "README.md"), "w") as f:
        f.write("not a model\n")
    os.makedirs(os.path.join(repo, ".cache"))
    os.makedirs(os.path.join(repo, "add", "not_a_version"))
    s = start_server(repo, name="extra-entries")
    assert get(s, "/v2/models/add").json()["versions"] == ["1"]
    assert infer(s, "add", GOOD_ADD).status == 200


# --- a Triton-style repository ---------------------------------------------------

# As Triton's documentation writes configs: comments, fields inferd does not
# use yet (format, label_filename, instance_group, dynamic_batching,
# optimization), `backend` instead of `platform`, and a config without a
# name or I/O sections (Triton completes those from the ONNX file).
DIGITS_CONFIG = """\
# Triton model configuration for the digits classifier.
name: "digits_triton"
platform: "onnxruntime_onnx"
max_batch_size : 8
input [
  {
    name: "image"
    data_type: TYPE_FP32
    format: FORMAT_NONE
    dims: [ 64 ]
  }
]
output [
  {
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ 10 ]
    label_filename: "labels.txt"
  }
]
instance_group [
  {
    count: 1
    kind: KIND_CPU
  }
]
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 100
}
optimization { execution_accelerators { cpu_execution_accelerator : [ { name : "openvino" } ] } }
"""

SIMPLE_CONFIG = """\
name: "simple"
backend: "onnxruntime"
max_batch_size: 8
input [
  {
    name: "INPUT0"
    data_type: TYPE_INT32
    dims: [ 16 ]
  },
  {
    name: "INPUT1"
    data_type: TYPE_INT32
    dims: [ 16 ]
  }
]
output [
  {
    name: "OUTPUT0"
    data_type: TYPE_INT32
    dims: [ 16 ]
  },
  {
    name: "OUTPUT1"
    data_type: TYPE_INT32
    dims: [ 16 ]
  }
]
"""

MINIMAL_CONFIG = """\
platform: "onnxruntime_onnx"
"""


@pytest.fixture
def triton_repo(tmp_path):
    repo = str(tmp_path / "triton")
    os.makedirs(repo)
    shutil.copytree(os.path.join(models.EXAMPLES, "digits", "1"), os.path.join(repo, "digits_triton", "1"))
    with open(os.path.join(repo, "digits_triton", "config.pbtxt"), "w") as f:
        f.write(DIGITS_CONFIG)
    with open(os.path.join(repo, "digits_triton", "labels.txt"), "w") as f:
        f.write("".join("%d\n" % i for i in range(10)))
    models.write_model(repo, "simple", models.add_sub_int32(), config=SIMPLE_CONFIG)
    models.write_model(repo, "minimal", models.scale(5), config=MINIMAL_CONFIG)
    return repo


def test_triton_repository_serves_unchanged(start_server, triton_repo):
    s = start_server(triton_repo, name="triton-repo")
    m = get(s, "/v2/models/digits_triton").json()
    assert m["name"] == "digits_triton"
    assert m["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 64]}]
    assert m["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}]
    r = infer(s, "digits_triton", [("image", "FP32", [2, 64], [0] * 128)])
    assert r.status == 200, r
    assert output(r.json(), "probabilities")["shape"] == [2, 10]

    m = get(s, "/v2/models/simple").json()
    assert [(i["name"], i["datatype"], i["shape"]) for i in m["inputs"]] == [
        ("INPUT0", "INT32", [-1, 16]), ("INPUT1", "INT32", [-1, 16])]
    x = list(range(16))
    r = infer(s, "simple", [("INPUT0", "INT32", [1, 16], x), ("INPUT1", "INT32", [1, 16], x)])
    assert r.status == 200, r
    assert flat(output(r.json(), "OUTPUT0")["data"]) == [2 * v for v in x]

    m = get(s, "/v2/models/minimal").json()
    assert m["name"] == "minimal"
    assert [(i["name"], i["datatype"], i["shape"]) for i in m["inputs"]] == [("x", "FP32", [-1, 2])]
    r = infer(s, "minimal", [("x", "FP32", [1, 2], [1, 2])])
    assert r.status == 200, r
    assert flat(output(r.json(), "y")["data"]) == [5, 10]


def test_batch_above_max_batch_size_is_rejected(start_server, triton_repo):
    s = start_server(triton_repo, name="triton-repo-batch")
    x = list(range(16)) * 9
    r = infer(s, "simple", [("INPUT0", "INT32", [9, 16], x), ("INPUT1", "INT32", [9, 16], x)])
    assert_error(r, 400)


def test_config_that_contradicts_the_model_fails_that_model_only(start_server, tmp_path):
    repo = models.make_repo(tmp_path / "repo", ["add"])
    models.write_model(repo, "mismatch", models.add_sub_int32(), config=SIMPLE_CONFIG.replace(
        'name: "simple"', 'name: "mismatch"').replace("INPUT0", "WRONG_NAME"))
    s = start_server(repo, name="mismatch")
    assert get(s, "/v2/models/add/ready").status == 200
    assert get(s, "/v2/models/mismatch/ready").status != 200
    assert "WRONG_NAME" in s.log()
