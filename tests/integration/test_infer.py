"""POST /v2/models/{m}[/versions/{v}]/infer with JSON tensors: results,
data layouts, datatypes, output selection, ids, versions, the example
requests, and a comparison of the digits model with ONNX Runtime."""

import json
import os
import threading

import numpy as np
import pytest

from conftest import ROOT, flat, infer, output, post
import models

REQUESTS = os.path.join(ROOT, "examples", "requests")


def values(resp_json, name, dtype=np.float64):
    o = output(resp_json, name)
    return np.array(flat(o["data"]), dtype=dtype).reshape(o["shape"])


def test_add(server):
    r = infer(server, "add", [("a", "FP32", [1, 4], [1, 2, 3, 4]),
                              ("b", "FP32", [1, 4], [10, 20, 30, 40])])
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("application/json")
    body = r.json()
    assert body["model_name"] == "add"
    if "model_version" in body:
        assert body["model_version"] == "1"
    y = output(body, "y")
    assert y["datatype"] == "FP32"
    assert y["shape"] == [1, 4]
    assert flat(y["data"]) == [11, 22, 33, 44]


def test_batch_and_float_literals(server):
    a = [0.5, -1.25, 1e-3, 2.5e2, -0.0, 3, 1.5E+1, -7e-1]
    b = [1] * 8
    r = infer(server, "add", [("a", "FP32", [2, 4], a), ("b", "FP32", [2, 4], b)])
    assert r.status == 200, r
    got = values(r.json(), "y", np.float32)
    assert got.shape == (2, 4)
    np.testing.assert_array_equal(got.ravel(), np.float32(a) + np.float32(1))


def test_nested_data(server):
    r = infer(server, "add", [("a", "FP32", [2, 4], [[1, 2, 3, 4], [5, 6, 7, 8]]),
                              ("b", "FP32", [2, 4], [[0, 0, 0, 0], [1, 1, 1, 1]])])
    assert r.status == 200, r
    np.testing.assert_array_equal(values(r.json(), "y"), [[1, 2, 3, 4], [6, 7, 8, 9]])


def test_id_is_echoed(server):
    r = infer(server, "add", [("a", "FP32", [1, 4], [0] * 4), ("b", "FP32", [1, 4], [0] * 4)],
              rid="request-42")
    assert r.status == 200, r
    assert r.json()["id"] == "request-42"


def test_request_and_input_parameters_are_accepted(server):
    req = {"id": "p", "parameters": {"custom": 1},
           "inputs": [{"name": "a", "datatype": "FP32", "shape": [1, 4], "data": [1, 1, 1, 1],
                       "parameters": {}},
                      {"name": "b", "datatype": "FP32", "shape": [1, 4], "data": [2, 2, 2, 2]}],
           "outputs": [{"name": "y", "parameters": {"binary_data": False}}]}
    r = post(server, "/v2/models/add/infer", req)
    assert r.status == 200, r
    assert flat(output(r.json(), "y")["data"]) == [3, 3, 3, 3]


def test_all_outputs_by_default(server):
    x = list(range(16))
    r = infer(server, "add_sub", [("INPUT0", "INT32", [1, 16], x), ("INPUT1", "INT32", [1, 16], [1] * 16)])
    assert r.status == 200, r
    body = r.json()
    assert sorted(o["name"] for o in body["outputs"]) == ["OUTPUT0", "OUTPUT1"]
    assert output(body, "OUTPUT0")["datatype"] == "INT32"
    assert flat(output(body, "OUTPUT0")["data"]) == [v + 1 for v in x]
    assert flat(output(body, "OUTPUT1")["data"]) == [v - 1 for v in x]


def test_output_selection(server):
    x = list(range(16))
    r = infer(server, "add_sub", [("INPUT0", "INT32", [1, 16], x), ("INPUT1", "INT32", [1, 16], x)],
              outputs=["OUTPUT1"])
    assert r.status == 200, r
    body = r.json()
    assert [o["name"] for o in body["outputs"]] == ["OUTPUT1"]
    assert flat(body["outputs"][0]["data"]) == [0] * 16


def test_scalars(server):
    r = infer(server, "scalar_mul", [("x", "FP32", [], [2.5]), ("y", "FP32", [], [4])])
    assert r.status == 200, r
    z = output(r.json(), "z")
    assert z["shape"] == []
    assert flat(z["data"]) == [10.0]


def test_fixed_shape(server):
    r = infer(server, "fixed_shape", [("x", "FP32", [2, 3], [-1, 2, -3, 4, -5, 6])])
    assert r.status == 200, r
    np.testing.assert_array_equal(values(r.json(), "y"), [[0, 2, 0], [4, 0, 6]])


# Each datatype through an Identity model, with the extreme values of the
# type: the JSON reader and writer must carry them exactly.
DATA = {
    "BOOL": [True, False, True],
    "UINT8": [0, 255, 7],
    "INT8": [-128, 127, 0],
    "UINT16": [0, 65535, 12345],
    "INT16": [-32768, 32767, -1],
    "UINT32": [0, 4294967295, 1],
    "INT32": [-2147483648, 2147483647, 0],
    "UINT64": [0, 18446744073709551615, 9007199254740993],
    "INT64": [-9223372036854775808, 9223372036854775807, -9007199254740993],
    "FP16": [0.5, -2.0, 65504.0, 0.0999755859375],
    "FP32": [1.5, -0.25, 3.4028234663852886e38, 0.1, -1.17549435e-38],
    "FP64": [0.1, -1e300, 2.5, 2.2250738585072014e-308, 1.7976931348623157e308],
}


@pytest.mark.parametrize("datatype", sorted(DATA))
def test_datatype_round_trip(server, datatype):
    data = DATA[datatype]
    r = infer(server, "identity_%s" % datatype, [("in", datatype, [len(data)], data)])
    assert r.status == 200, r
    out = output(r.json(), "out")
    assert out["datatype"] == datatype
    assert out["shape"] == [len(data)]
    np_type = models.DATATYPES[datatype][1]
    got = flat(out["data"])
    if datatype == "BOOL":
        assert got == data
    elif datatype.startswith("FP"):
        np.testing.assert_array_equal(np.array(got, np.float64).astype(np_type),
                                      np.array(data, np.float64).astype(np_type))
    else:
        assert got == data  # exact integers, also beyond 2^53


def test_empty_tensor(server):
    r = infer(server, "identity_FP32", [("in", "FP32", [0], [])])
    assert r.status == 200, r
    out = output(r.json(), "out")
    assert out["shape"] == [0]
    assert flat(out["data"]) == []


# --- versions ----------------------------------------------------------------

def _scale(server, model, version=None):
    r = infer(server, model, [("x", "FP32", [1, 2], [1, 10])], version=version)
    return r


@pytest.mark.parametrize("version", ["1", "2", "3"])
def test_versioned_infer(server, version):
    r = _scale(server, "scale_all", version)
    assert r.status == 200, r
    body = r.json()
    assert flat(output(body, "y")["data"]) == [int(version), 10 * int(version)]
    if "model_version" in body:
        assert body["model_version"] == version


def test_unversioned_infer_uses_the_latest_version(server):
    for model in ("scale", "scale_all", "scale_specific", "scale_latest2"):
        r = _scale(server, model)
        assert r.status == 200, (model, r)
        assert flat(output(r.json(), "y")["data"]) == [3, 30], model


def test_version_outside_the_policy_is_not_served(server):
    assert _scale(server, "scale", "1").status == 404
    assert _scale(server, "scale_specific", "2").status == 404


# --- the bundled example --------------------------------------------------------

def _example(name):
    with open(os.path.join(REQUESTS, name)) as f:
        return json.load(f)


def _expected():
    with open(os.path.join(REQUESTS, "digits.expected")) as f:
        return json.load(f)


@pytest.mark.parametrize("name", ["digits.json", "digits-batch.json"])
def test_digits_example_requests(server, name):
    r = post(server, "/v2/models/digits/infer", _example(name))
    assert r.status == 200, r
    body = r.json()
    assert body["id"] == _example(name)["id"]
    probs = values(body, "probabilities")
    want = _expected()[name]
    assert probs.shape == (len(want["labels"]), 10)
    assert list(probs.argmax(axis=1)) == want["labels"]
    np.testing.assert_allclose(probs, want["probabilities"], atol=1e-4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_digits_matches_onnxruntime(server):
    """Eight real test images in one request (max_batch_size 8) against
    ONNX Runtime on the same model file."""
    import onnxruntime as ort
    from sklearn.datasets import load_digits
    images = load_digits().data[-8:].astype(np.float32)
    sess = ort.InferenceSession(os.path.join(models.EXAMPLES, "digits", "1", "model.onnx"),
                                providers=["CPUExecutionProvider"])
    want = sess.run(["probabilities"], {"image": images})[0]
    r = infer(server, "digits", [("image", "FP32", [8, 64], images.ravel().tolist())])
    assert r.status == 200, r
    got = values(r.json(), "probabilities", np.float32)
    assert got.shape == (8, 10)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert list(got.argmax(1)) == list(want.argmax(1))


def test_concurrent_requests(server):
    """Several clients at once get their own answers."""
    errors = []

    def client(k):
        try:
            for i in range(20):
                a = [k, i, k * i, 1]
                r = infer(server, "add", [("a", "FP32", [1, 4], a), ("b", "FP32", [1, 4], [1, 1, 1, 1])],
                          rid="c%d-%d" % (k, i))
                assert r.status == 200, r
                body = r.json()
                assert body["id"] == "c%d-%d" % (k, i)
                assert flat(output(body, "y")["data"]) == [v + 1 for v in a]
        except Exception as e:  # reported below, threads can't fail the test
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
