"""Triton's binary tensor data extension over REST: tritonclient.http in its
default mode (binary inputs and outputs) against ONNX Runtime, every
datatype, mixed binary/JSON, raw single-input requests with curl
--data-binary, and the 400s for framing that does not add up.

BYTES tensors cannot go end to end (the engine loads no string models);
tests/unit/test_kserve_binary.c covers their encoding."""

import json
import os
import shutil
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import ROOT, Server, assert_error, get, post, request
import models

DIGITS = os.path.join(ROOT, "examples", "models", "digits", "1", "model.onnx")
ADD = os.path.join(ROOT, "examples", "models", "add", "1", "model.onnx")
HDR = "Inference-Header-Content-Length"


def image_mean_model():
    """x FP32 [1, 3, 224, 224] -> per-channel mean [1, 3, 1, 1]: an
    image-sized input with a tiny computation."""
    return models._model([helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3])],
                         [models.vi("x", TensorProto.FLOAT, [1, 3, 224, 224])],
                         [models.vi("y", TensorProto.FLOAT, [1, 3, 1, 1])])


@pytest.fixture(scope="module")
def image_server(inferd_bin, tmp_path_factory):
    repo = models.make_repo(tmp_path_factory.mktemp("image-repo"), ["digits"])
    models.write_model(repo, "image_mean", image_mean_model())
    s = Server(repo, name="image")
    yield s
    s.stop()


@pytest.fixture
def client(server):
    import tritonclient.http as httpclient
    c = httpclient.InferenceServerClient(url="127.0.0.1:%d" % server.port, network_timeout=30)
    yield c
    c.close()


def ort_run(path, feeds):
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def binary_body(header, *arrays):
    """A request body: JSON header, then the arrays' bytes; and its headers."""
    head = json.dumps(header).encode()
    return head + b"".join(np.ascontiguousarray(a).tobytes() for a in arrays), {HDR: str(len(head))}


def split_response(resp):
    """(JSON header, binary tail) of a response."""
    n = int(resp.headers[HDR.lower()]) if HDR.lower() in resp.headers else len(resp.body)
    return json.loads(resp.body[:n]), resp.body[n:]


# --- server metadata ------------------------------------------------------------------

def test_server_advertises_binary_tensor_data(server):
    r = get(server, "/v2")
    assert r.status == 200
    assert "binary_tensor_data" in r.json()["extensions"]


# --- tritonclient, default (binary) mode -------------------------------------------------

def test_tritonclient_digits_binary_matches_onnxruntime(client):
    import tritonclient.http as httpclient
    from sklearn.datasets import load_digits
    images = load_digits().data[:8].astype(np.float32)
    inp = httpclient.InferInput("image", list(images.shape), "FP32")
    inp.set_data_from_numpy(images)                      # binary_data=True is the default
    out = httpclient.InferRequestedOutput("probabilities")  # likewise
    result = client.infer("digits", [inp], outputs=[out])
    resp = result.get_response()
    assert resp["outputs"][0]["parameters"]["binary_data_size"] == 8 * 10 * 4
    assert "data" not in resp["outputs"][0]
    got = result.as_numpy("probabilities")
    want = ort_run(DIGITS, {"image": images})[0]
    assert got.shape == (8, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(1), load_digits().target[:8])


def test_tritonclient_add_binary_all_outputs(client):
    """No outputs named: tritonclient asks for binary_data_output."""
    import tritonclient.http as httpclient
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    inputs = [httpclient.InferInput("a", [3, 4], "FP32"), httpclient.InferInput("b", [3, 4], "FP32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    result = client.infer("add", inputs)
    assert "binary_data_size" in result.get_response()["outputs"][0]["parameters"]
    np.testing.assert_array_equal(result.as_numpy("y"), ort_run(ADD, {"a": a, "b": b})[0])


def test_tritonclient_mixed_binary_and_json(client):
    """One input binary and one JSON; one output binary and one JSON."""
    import tritonclient.http as httpclient
    x = np.arange(32, dtype=np.int32).reshape(2, 16)
    y = np.full((2, 16), 3, np.int32)
    inputs = [httpclient.InferInput("INPUT0", [2, 16], "INT32"),
              httpclient.InferInput("INPUT1", [2, 16], "INT32")]
    inputs[0].set_data_from_numpy(x, binary_data=True)
    inputs[1].set_data_from_numpy(y, binary_data=False)
    outputs = [httpclient.InferRequestedOutput("OUTPUT0", binary_data=False),
               httpclient.InferRequestedOutput("OUTPUT1", binary_data=True)]
    result = client.infer("add_sub", inputs, outputs=outputs, request_id="mixed")
    resp = result.get_response()
    by_name = {o["name"]: o for o in resp["outputs"]}
    assert "data" in by_name["OUTPUT0"] and "binary_data_size" in by_name["OUTPUT1"]["parameters"]
    assert resp["id"] == "mixed"
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), x + y)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), x - y)


@pytest.mark.parametrize("datatype", sorted(models.DATATYPES))
def test_tritonclient_every_datatype_round_trips(client, datatype):
    import tritonclient.http as httpclient
    np_type = models.DATATYPES[datatype][1]
    rng = np.random.default_rng(7)
    if datatype == "BOOL":
        x = rng.integers(0, 2, 9).astype(np.bool_)
    elif np.issubdtype(np_type, np.integer):
        info = np.iinfo(np_type)
        x = rng.integers(info.min, info.max, 9, dtype=np_type, endpoint=True)
        x[0], x[1] = info.min, info.max
    else:
        x = (rng.standard_normal(9) * 100).astype(np_type)
    inp = httpclient.InferInput("in", [9], datatype)
    inp.set_data_from_numpy(x)
    result = client.infer("identity_" + datatype, [inp],
                          outputs=[httpclient.InferRequestedOutput("out")])
    got = result.as_numpy("out")
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, x)


def test_tritonclient_async_infer(client):
    """async_infer (tritonclient's greenlet pool): several requests in flight."""
    import tritonclient.http as httpclient
    from sklearn.datasets import load_digits
    images = load_digits().data[:16].astype(np.float32)
    pending = []
    for i in range(8):
        inp = httpclient.InferInput("image", [2, 64], "FP32")
        inp.set_data_from_numpy(images[2 * i:2 * i + 2])
        pending.append(client.async_infer("digits", [inp], request_id=str(i)))
    want = ort_run(DIGITS, {"image": images})[0]
    for i, p in enumerate(pending):
        res = p.get_result()
        assert res.get_response()["id"] == str(i)
        np.testing.assert_allclose(res.as_numpy("probabilities"), want[2 * i:2 * i + 2],
                                   rtol=1e-4, atol=1e-5)


def test_image_sized_binary_input(image_server):
    import tritonclient.http as httpclient
    x = np.random.default_rng(3).random((1, 3, 224, 224), dtype=np.float32)
    c = httpclient.InferenceServerClient(url="127.0.0.1:%d" % image_server.port, network_timeout=30)
    try:
        inp = httpclient.InferInput("x", [1, 3, 224, 224], "FP32")
        inp.set_data_from_numpy(x)
        got = c.infer("image_mean", [inp]).as_numpy("y")
    finally:
        c.close()
    path = os.path.join(image_server.repo, "image_mean", "1", "model.onnx")
    np.testing.assert_allclose(got, ort_run(path, {"x": x})[0], rtol=1e-5, atol=1e-6)


# --- the framing by hand -----------------------------------------------------------------

def test_binary_input_json_output(server):
    a = np.array([[1, 2, 3, 4]], np.float32)
    b = np.array([[10, 20, 30, 40]], np.float32)
    body, hdrs = binary_body({"inputs": [
        {"name": "a", "datatype": "FP32", "shape": [1, 4], "parameters": {"binary_data_size": 16}},
        {"name": "b", "datatype": "FP32", "shape": [1, 4], "parameters": {"binary_data_size": 16}}]},
        a, b)
    r = post(server, "/v2/models/add/infer", body, headers=hdrs)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json")
    assert HDR.lower() not in r.headers
    assert r.json()["outputs"][0]["data"] == [11, 22, 33, 44]


def test_binary_output_response_framing(server):
    a = np.array([[1, 2, 3, 4]], np.float32)
    r = post(server, "/v2/models/add/infer", {
        "parameters": {"binary_data_output": True},
        "inputs": [{"name": "a", "datatype": "FP32", "shape": [1, 4], "data": a.ravel().tolist()},
                   {"name": "b", "datatype": "FP32", "shape": [1, 4], "data": [1, 1, 1, 1]}]})
    assert r.status == 200, r
    assert r.headers["content-type"] == "application/octet-stream"
    head, tail = split_response(r)
    assert int(r.headers["content-length"]) == len(r.body) == int(r.headers[HDR.lower()]) + 16
    out = head["outputs"][0]
    assert out["parameters"] == {"binary_data_size": 16} and "data" not in out
    np.testing.assert_array_equal(np.frombuffer(tail, np.float32), a.ravel() + 1)


def test_output_binary_data_false_overrides_request(server):
    r = post(server, "/v2/models/add_sub/infer", {
        "parameters": {"binary_data_output": True},
        "inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": list(range(16))},
                   {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": [1] * 16}],
        "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": False}}, {"name": "OUTPUT1"}]})
    assert r.status == 200, r
    head, tail = split_response(r)
    assert head["outputs"][0]["data"] == [i + 1 for i in range(16)]
    assert head["outputs"][1]["parameters"]["binary_data_size"] == 64
    np.testing.assert_array_equal(np.frombuffer(tail, np.int32), np.arange(16) - 1)


@pytest.mark.parametrize("pad", range(4))
def test_unaligned_binary_sections(server, pad):
    """The JSON header's length puts the binary data at any address."""
    a = np.arange(4, dtype=np.float32).reshape(1, 4)
    head = {"inputs": [
        {"name": "a", "datatype": "FP32", "shape": [1, 4], "parameters": {"binary_data_size": 16}},
        {"name": "b", "datatype": "FP32", "shape": [1, 4], "parameters": {"binary_data_size": 16}}],
        "id": "x" * pad}
    body, hdrs = binary_body(head, a, a)
    r = post(server, "/v2/models/add/infer", body, headers=hdrs)
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == [0, 2, 4, 6]


# --- raw single-input mode ---------------------------------------------------------------

def curl(*args):
    if not shutil.which("curl"):
        pytest.fail("curl is not installed (scripts/install-deps.sh test installs it)")
    p = subprocess.run(["curl", "-sS", "--max-time", "30", "-D", "-", *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_raw_binary_digits_with_curl(server, tmp_path):
    from sklearn.datasets import load_digits
    image = load_digits().data[3:4].astype(np.float32)
    f = tmp_path / "image.bin"
    f.write_bytes(image.tobytes())
    status, headers, body = curl("--data-binary", "@%s" % f, "-H", "%s: 0" % HDR,
                                 "-H", "Content-Type: application/octet-stream",
                                 "http://127.0.0.1:%d/v2/models/digits/infer" % server.port)
    assert status == 200, body
    assert headers["content-type"] == "application/octet-stream"
    n = int(headers[HDR.lower()])
    head = json.loads(body[:n])
    out = head["outputs"][0]
    assert out["name"] == "probabilities" and out["shape"] == [1, 10]
    assert out["parameters"]["binary_data_size"] == 40
    got = np.frombuffer(body[n:], np.float32).reshape(1, 10)
    np.testing.assert_allclose(got, ort_run(DIGITS, {"image": image})[0], rtol=1e-4, atol=1e-5)


def test_raw_binary_deduces_the_variable_dim(server):
    x = np.arange(7, dtype=np.int16)
    r = post(server, "/v2/models/identity_INT16/infer", x.tobytes(), headers={HDR: "0"})
    assert r.status == 200, r
    head, tail = split_response(r)
    assert head["outputs"][0]["shape"] == [7]
    np.testing.assert_array_equal(np.frombuffer(tail, np.int16), x)


def test_raw_binary_errors(server):
    r = post(server, "/v2/models/add/infer", b"\0" * 16, headers={HDR: "0"})
    assert_error(r, 400, "exactly one input", "add", "2")
    r = post(server, "/v2/models/digits/infer", b"\0" * 100, headers={HDR: "0"})
    assert_error(r, 400, "image", "25 elements", "[-1,64]")
    r = post(server, "/v2/models/digits/infer", b"\0" * 7, headers={HDR: "0"})
    assert_error(r, 400, "image", "7 bytes", "FP32")
    r = post(server, "/v2/models/no_such_model/infer", b"\0" * 4, headers={HDR: "0"})
    assert_error(r, 404, "no_such_model")


# --- bad framing is a 400 naming the input -------------------------------------------------

def two_binary_inputs(size_a=16, size_b=16):
    return {"inputs": [
        {"name": "a", "datatype": "FP32", "shape": [1, 4], "parameters": {"binary_data_size": size_a}},
        {"name": "b", "datatype": "FP32", "shape": [1, 4], "parameters": {"binary_data_size": size_b}}]}


def test_bad_framing(server):
    a = np.zeros((1, 4), np.float32)
    url = "/v2/models/add/infer"
    # Sizes that do not add up: too few bytes, too many, or not the shape's.
    body, hdrs = binary_body(two_binary_inputs(), a, a[:, :3])
    assert_error(post(server, url, body, headers=hdrs), 400, "'b'", "runs past the end")
    body, hdrs = binary_body(two_binary_inputs(), a, a, a)
    assert_error(post(server, url, body, headers=hdrs), 400, "48 bytes of binary data", "32")
    body, hdrs = binary_body(two_binary_inputs(12, 20), a, a)
    assert_error(post(server, url, body, headers=hdrs), 400, "'a'", "binary_data_size is 12",
                 "needs 16 bytes")
    # A header longer than the body, or not a number.
    body, hdrs = binary_body(two_binary_inputs(), a, a)
    assert_error(post(server, url, body, headers={HDR: str(len(body) + 1)}), 400, HDR, "body")
    assert_error(post(server, url, body, headers={HDR: "12abc"}), 400, HDR, "byte count")
    # A header length that cuts the JSON.
    assert_error(post(server, url, body, headers={HDR: "20"}), 400, "malformed JSON")
    # Missing binary_data_size (the input has no data at all).
    head = two_binary_inputs()
    del head["inputs"][1]["parameters"]
    body, hdrs = binary_body(head, a)
    assert_error(post(server, url, body, headers=hdrs), 400, "'b'", "binary_data_size")
    # Binary data without the header to find it.
    body, _ = binary_body(two_binary_inputs(), a, a)
    assert_error(post(server, url, body), 400, "malformed JSON", HDR)
    # The server keeps serving.
    assert get(server, "/v2/health/ready").status == 200


def test_bad_bool_bytes(server):
    body, hdrs = binary_body({"inputs": [{"name": "in", "datatype": "BOOL", "shape": [3],
                                          "parameters": {"binary_data_size": 3}}]},
                             np.array([1, 7, 0], np.uint8))
    assert_error(post(server, "/v2/models/identity_BOOL/infer", body, headers=hdrs), 400,
                 "'in'", "BOOL element 1 is 7")


def test_binary_datatype_mismatch_names_the_input(server):
    x = np.zeros(4, np.float64)
    body, hdrs = binary_body({"inputs": [{"name": "in", "datatype": "FP64", "shape": [4],
                                          "parameters": {"binary_data_size": 32}}]}, x)
    assert_error(post(server, "/v2/models/identity_FP32/infer", body, headers=hdrs), 400,
                 "'in'", "FP32", "FP64")


def test_keep_alive_after_binary_errors(server):
    """Several binary requests, good and bad, on one connection."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        a = np.ones((1, 4), np.float32)
        for size in (16, 8, 16):
            body, hdrs = binary_body(two_binary_inputs(size, 16), a, a)
            conn.request("POST", "/v2/models/add/infer", body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            assert r.status == (200 if size == 16 else 400), data
    finally:
        conn.close()
