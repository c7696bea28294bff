"""TF Serving's REST API on inferd's HTTP port: model status, metadata and
:predict in row ("instances") and columnar ("inputs") formats, with curl
as api_rest.md shows it, with requests the way TensorFlow Serving's own
examples and tutorials build their JSON, and its error shape and codes.
Results are compared with ONNX Runtime."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import ROOT, Server, assert_error, get, post, request
import models

DIGITS = os.path.join(ROOT, "examples", "models", "digits", "1", "model.onnx")


def half_plus_two():
    """TF Serving's toy model: x FP32 [batch] -> y = 0.5 x + 2."""
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    return models._model([helper.make_node("Mul", ["x", "half"], ["h"]),
                          helper.make_node("Add", ["h", "two"], ["y"])],
                         [models.vi("x", TensorProto.FLOAT, ["batch"])],
                         [models.vi("y", TensorProto.FLOAT, ["batch"])], [half, two])


def two_heads():
    """x FP32 [batch, 4] -> relu [batch, 4] and total [batch]: one input,
    two outputs of different ranks."""
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    return models._model([helper.make_node("Relu", ["x"], ["relu"]),
                          helper.make_node("ReduceSum", ["x", "axes"], ["total"], keepdims=0)],
                         [models.vi("x", TensorProto.FLOAT, ["batch", 4])],
                         [models.vi("relu", TensorProto.FLOAT, ["batch", 4]),
                          models.vi("total", TensorProto.FLOAT, ["batch"])], [axes])


@pytest.fixture(scope="module")
def tfs(inferd_bin, tmp_path_factory):
    repo = models.make_repo(tmp_path_factory.mktemp("tfs-repo"),
                            ["digits", "add", "add_sub", "scalar_mul", "scale_all", "identity_UINT8"])
    models.write_model(repo, "half_plus_two", half_plus_two())
    models.write_model(repo, "two_heads", two_heads())
    s = Server(repo, name="tfserving")
    yield s
    s.stop()


def url(server, path):
    return "http://127.0.0.1:%d%s" % (server.port, path)


def curl(*args):
    if not shutil.which("curl"):
        pytest.fail("curl is not installed (scripts/install-deps.sh test installs it)")
    p = subprocess.run(["curl", "-sS", "--max-time", "30", "-i", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def ort_digits(images):
    import onnxruntime as ort
    sess = ort.InferenceSession(DIGITS, providers=["CPUExecutionProvider"])
    return sess.run(None, {"image": images})[0]


# --- model status and metadata ------------------------------------------------------

def test_model_status_as_in_api_rest_md(tfs):
    status, headers, body = curl(url(tfs, "/v1/models/half_plus_two"))
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert body == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}


def test_model_status_versions(tfs):
    body = get(tfs, "/v1/models/scale_all").json()
    assert [v["version"] for v in body["model_version_status"]] == ["1", "2", "3"]
    assert all(v["state"] == "AVAILABLE" for v in body["model_version_status"])
    body = get(tfs, "/v1/models/scale_all/versions/2").json()
    assert [v["version"] for v in body["model_version_status"]] == ["2"]
    assert_error(get(tfs, "/v1/models/scale_all/versions/9"), 404,
                 "Could not find version 9 of model scale_all")
    assert_error(get(tfs, "/v1/models/nope"), 404, "Could not find any versions of model nope")
    assert_error(get(tfs, "/v1/models"), 400, "Missing model name")


def test_model_metadata(tfs):
    r = get(tfs, "/v1/models/digits/metadata")
    assert r.status == 200, r
    body = r.json()
    assert body["model_spec"] == {"name": "digits", "signature_name": "", "version": "1"}
    sig = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert sig["inputs"] == {"image": {
        "dtype": "DT_FLOAT", "name": "image",
        "tensor_shape": {"dim": [{"size": "-1", "name": ""}, {"size": "64", "name": ""}],
                         "unknown_rank": False}}}
    assert sig["outputs"]["probabilities"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in sig["outputs"]["probabilities"]["tensor_shape"]["dim"]] == ["-1", "10"]
    body = get(tfs, "/v1/models/scale_all/versions/2/metadata").json()
    assert body["model_spec"]["version"] == "2"
    assert get(tfs, "/v1/models/identity_UINT8/metadata").json()["metadata"]["signature_def"][
        "signature_def"]["serving_default"]["inputs"]["in"]["dtype"] == "DT_UINT8"
    assert_error(get(tfs, "/v1/models/nope/metadata"), 404, "nope")


# --- predict ----------------------------------------------------------------------------

def test_half_plus_two_with_curl(tfs):
    """api_rest.md's example, verbatim but for the port and model."""
    status, _, body = curl("-d", '{"instances": [1.0,2.0,5.0]}', "-X", "POST",
                           url(tfs, "/v1/models/half_plus_two:predict"))
    assert status == 200
    assert body == {"predictions": [2.5, 3.0, 4.5]}
    assert all(isinstance(v, float) for v in body["predictions"])
    status, headers, body = curl("-d", '{"instances": [1.0,5.0]}', "-X", "POST",
                                 url(tfs, "/v1/models/half:predict"))
    assert status == 404 and headers["content-type"].startswith("application/json")
    assert "half" in body["error"]


def test_columnar_with_curl(tfs):
    status, _, body = curl("-d", '{"signature_name": "serving_default", "inputs": [1.0, 3.0]}',
                           url(tfs, "/v1/models/half_plus_two/versions/1:predict"))
    assert status == 200
    assert body == {"outputs": [2.5, 3.5]}


def test_tutorial_style_request(tfs):
    """How TensorFlow Serving's tutorial calls a model from Python (there:
    fashion MNIST; here: the digits model), compared with ONNX Runtime."""
    import requests
    from sklearn.datasets import load_digits
    test_images = load_digits().data.astype(np.float32)
    data = json.dumps({"signature_name": "serving_default", "instances": test_images[0:3].tolist()})
    headers = {"content-type": "application/json"}
    json_response = requests.post(url(tfs, "/v1/models/digits:predict"), data=data, headers=headers,
                                  timeout=30)
    assert json_response.status_code == 200, json_response.text
    predictions = json.loads(json_response.text)["predictions"]
    assert len(predictions) == 3 and all(len(p) == 10 for p in predictions)
    np.testing.assert_allclose(np.array(predictions, np.float32), ort_digits(test_images[0:3]),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(np.argmax(predictions, 1), load_digits().target[0:3])


def test_row_named_inputs_and_outputs(tfs):
    r = post(tfs, "/v1/models/add:predict", {"instances": [
        {"a": [1, 2, 3, 4], "b": [10, 20, 30, 40]}, {"a": [0, 0, 0, 1], "b": [0.5, 0, 0, 0]}]})
    assert r.status == 200, r
    assert r.json() == {"predictions": [[11.0, 22.0, 33.0, 44.0], [0.5, 0.0, 0.0, 1.0]]}
    # Several outputs: one object per instance.
    r = post(tfs, "/v1/models/add_sub:predict", {"instances": [
        {"INPUT0": list(range(16)), "INPUT1": [1] * 16}, {"INPUT0": [5] * 16, "INPUT1": [2] * 16}]})
    assert r.status == 200, r
    preds = r.json()["predictions"]
    assert preds[0] == {"OUTPUT0": [i + 1 for i in range(16)], "OUTPUT1": [i - 1 for i in range(16)]}
    assert preds[1] == {"OUTPUT0": [7] * 16, "OUTPUT1": [3] * 16}


def test_row_outputs_of_different_ranks(tfs):
    r = post(tfs, "/v1/models/two_heads:predict", {"instances": [[1, -2, 3, -4], [-1, 2, -3, 4]]})
    assert r.status == 200, r
    assert r.json() == {"predictions": [{"relu": [1.0, 0.0, 3.0, 0.0], "total": -2.0},
                                        {"relu": [0.0, 2.0, 0.0, 4.0], "total": 2.0}]}


def test_columnar_named_inputs_and_outputs(tfs):
    r = post(tfs, "/v1/models/add_sub:predict", {"inputs": {
        "INPUT0": [list(range(16))], "INPUT1": [[2] * 16]}})
    assert r.status == 200, r
    assert r.json() == {"outputs": {"OUTPUT0": [[i + 2 for i in range(16)]],
                                    "OUTPUT1": [[i - 2 for i in range(16)]]}}
    r = post(tfs, "/v1/models/two_heads:predict", {"inputs": [[1, 2, 3, 4]]})
    assert r.json() == {"outputs": {"relu": [[1.0, 2.0, 3.0, 4.0]], "total": [10.0]}}


def test_scalar_model(tfs):
    r = post(tfs, "/v1/models/scalar_mul:predict", {"inputs": {"x": 3.0, "y": 4.5}})
    assert r.status == 200, r
    assert r.json() == {"outputs": 13.5}
    # Row format adds a batch dim, which this model does not have.
    assert_error(post(tfs, "/v1/models/scalar_mul:predict", {"instances": [{"x": 3.0, "y": 4.5}]}),
                 400, "'x'", "shape")


def test_versions(tfs):
    for v in (1, 2, 3):
        r = post(tfs, "/v1/models/scale_all/versions/%d:predict" % v, {"instances": [[1, 2]]})
        assert r.status == 200, r
        assert r.json() == {"predictions": [[float(v), 2.0 * v]]}
    r = post(tfs, "/v1/models/scale_all:predict", {"instances": [[1, 2]]})
    assert r.json() == {"predictions": [[3.0, 6.0]]}  # the latest
    assert_error(post(tfs, "/v1/models/scale_all/versions/7:predict", {"instances": [[1, 2]]}),
                 404, "scale_all")


def test_integer_inputs_and_outputs(tfs):
    r = post(tfs, "/v1/models/identity_UINT8:predict", {"inputs": [0, 7, 255]})
    assert r.status == 200, r
    assert r.json() == {"outputs": [0, 7, 255]}
    assert_error(post(tfs, "/v1/models/identity_UINT8:predict", {"inputs": [256]}), 400,
                 "'in'", "out of range")
    assert_error(post(tfs, "/v1/models/identity_UINT8:predict", {"inputs": [{"b64": "AAE="}]}),
                 400, "'in'", "object")


# --- errors: TF Serving's shape and codes ---------------------------------------------------

@pytest.mark.parametrize("body, code, needles", [
    ("{\"instances\": [1.0,", 400, ["JSON Parse error"]),
    ("", 400, ["document is empty"]),
    ({"instances": [1.0], "inputs": [1.0]}, 400, ["only one of 'inputs' or 'instances'"]),
    ({"signature_name": "predict_images", "instances": [1.0]}, 400,
     ["signature name", "predict_images"]),
    ({"instances": []}, 400, ["no values in 'instances'"]),
    ({"nothing": 1}, 400, ["missing 'inputs' or 'instances'"]),
    ({"instances": [[1.0, 2.0], [3.0]]}, 400, ["'x'", "instance 1"]),
    ({"instances": ["text"]}, 400, ["'x'", "string"]),
    ({"instances": [{"x": 1.0, "z": 2.0}]}, 400, ["'z'"]),
])
def test_predict_errors(tfs, body, code, needles):
    assert_error(post(tfs, "/v1/models/half_plus_two:predict", body), code, *needles)


def test_routing_errors(tfs):
    assert_error(get(tfs, "/v1/models/half_plus_two:predict"), 400,
                 "Malformed request: GET /v1/models/half_plus_two:predict")
    assert_error(post(tfs, "/v1/models/half_plus_two", {"instances": [1.0]}), 400,
                 "Malformed request: POST")
    assert_error(get(tfs, "/v1/nothing/here"), 400, "Malformed request")
    assert_error(post(tfs, "/v1/models/half_plus_two/versions/one:predict", {"instances": [1.0]}),
                 400, "Malformed request")
    assert_error(post(tfs, "/v1/models/half_plus_two:classify", {"examples": [{"x": 1.0}]}), 400,
                 "classify")
    assert_error(post(tfs, "/v1/models/half_plus_two/labels/stable:predict", {"instances": [1.0]}),
                 400, "labels")
    assert_error(post(tfs, "/v1/models/nope:predict", {"instances": [1.0]}), 404, "nope")
    # The KServe API on the same port is unaffected.
    assert get(tfs, "/v2/models/half_plus_two/ready").status == 200
