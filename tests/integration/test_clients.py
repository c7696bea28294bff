"""Real clients: Triton's Python HTTP client (tritonclient.http) and curl,
used the way their documentation shows."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import ROOT

REQUESTS = os.path.join(ROOT, "examples", "requests")


@pytest.fixture
def client(server):
    import tritonclient.http as httpclient
    c = httpclient.InferenceServerClient(url="127.0.0.1:%d" % server.port, network_timeout=30)
    yield c
    c.close()


def test_triton_client_health_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("digits")
    assert client.is_model_ready("digits", "1")
    assert not client.is_model_ready("no_such_model")
    meta = client.get_server_metadata()
    assert meta["name"] and meta["version"]
    m = client.get_model_metadata("digits")
    assert m["name"] == "digits"
    assert m["inputs"][0]["name"] == "image"
    assert m["inputs"][0]["datatype"] == "FP32"


def test_triton_client_simple_example(client):
    """Triton's simple_http_infer_client.py against the same "simple" model
    (INT32 INPUT0/INPUT1 [1, 16] -> sum and difference)."""
    import tritonclient.http as httpclient
    input0 = np.arange(16, dtype=np.int32).reshape(1, 16)
    input1 = np.ones((1, 16), dtype=np.int32)
    inputs = [httpclient.InferInput("INPUT0", [1, 16], "INT32"),
              httpclient.InferInput("INPUT1", [1, 16], "INT32")]
    inputs[0].set_data_from_numpy(input0, binary_data=False)
    inputs[1].set_data_from_numpy(input1, binary_data=False)
    outputs = [httpclient.InferRequestedOutput("OUTPUT0", binary_data=False),
               httpclient.InferRequestedOutput("OUTPUT1", binary_data=False)]
    result = client.infer("add_sub", inputs, outputs=outputs, request_id="simple-1")
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), input0 + input1)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), input0 - input1)
    assert result.get_response()["id"] == "simple-1"


def test_triton_client_digits_against_onnxruntime(client):
    import onnxruntime as ort
    import tritonclient.http as httpclient
    from sklearn.datasets import load_digits
    images = load_digits().data[:5].astype(np.float32)
    inp = httpclient.InferInput("image", list(images.shape), "FP32")
    inp.set_data_from_numpy(images, binary_data=False)
    out = httpclient.InferRequestedOutput("probabilities", binary_data=False)
    result = client.infer("digits", [inp], outputs=[out], model_version="1")
    got = result.as_numpy("probabilities")
    sess = ort.InferenceSession(os.path.join(ROOT, "examples", "models", "digits", "1", "model.onnx"),
                                providers=["CPUExecutionProvider"])
    want = sess.run(None, {"image": images})[0]
    assert got.shape == (5, 10)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(1), load_digits().target[:5])


def test_triton_client_sees_errors(client):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
    inp = httpclient.InferInput("image", [1, 63], "FP32")
    inp.set_data_from_numpy(np.zeros((1, 63), np.float32), binary_data=False)
    with pytest.raises(InferenceServerException) as e:
        client.infer("digits", [inp], outputs=[httpclient.InferRequestedOutput("probabilities", binary_data=False)])
    assert e.value.status() == "400"
    assert "image" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata("no_such_model")
    assert e.value.status() == "404"


# --- curl ------------------------------------------------------------------------

def curl(*args):
    if not shutil.which("curl"):
        pytest.fail("curl is not installed (scripts/install-deps.sh test installs it)")
    p = subprocess.run(["curl", "-sS", "--max-time", "30", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def test_curl_readme_example(server):
    """The README's example, as written there (with this server's port)."""
    url = "localhost:%d" % server.port
    rc, out, err = curl("-f", url + "/v2/health/ready")
    assert rc == 0, err
    rc, out, err = curl("-d", "@" + os.path.join(REQUESTS, "digits.json"), url + "/v2/models/digits/infer")
    assert rc == 0, err
    body = json.loads(out)
    probs = body["outputs"][0]["data"]
    assert len(probs) == 10
    assert max(range(10), key=lambda i: probs[i]) == 3
    assert probs[3] > 0.99


def test_curl_batch_example(server):
    rc, out, err = curl("-H", "Content-Type: application/json",
                        "-d", "@" + os.path.join(REQUESTS, "digits-batch.json"),
                        "http://127.0.0.1:%d/v2/models/digits/infer" % server.port)
    assert rc == 0, err
    o = json.loads(out)["outputs"][0]
    assert o["shape"] == [2, 10]
    p = np.array(o["data"], np.float64).reshape(2, 10)
    assert list(p.argmax(1)) == [3, 7]


def test_curl_large_body_with_expect_100_continue(server):
    """curl sends Expect: 100-continue above 1 KiB: a batch of 8 images."""
    from sklearn.datasets import load_digits
    images = load_digits().data[:8]
    req = {"inputs": [{"name": "image", "datatype": "FP32", "shape": [8, 64],
                       "data": images.ravel().tolist()}]}
    body = json.dumps(req)
    assert len(body) > 1024
    rc, out, err = curl("-w", "\n%{http_code} %{time_total}", "-d", body,
                        "http://127.0.0.1:%d/v2/models/digits/infer" % server.port)
    assert rc == 0, err
    text, status_line = out.rsplit("\n", 1)
    assert status_line.split()[0] == "200"
    o = json.loads(text)["outputs"][0]
    assert np.array(o["data"]).reshape(8, 10).argmax(1).tolist() == load_digits().target[:8].tolist()


def test_curl_error_answer(server):
    rc, out, err = curl("-w", "\n%{http_code}", "-d", "{not json",
                        "http://127.0.0.1:%d/v2/models/digits/infer" % server.port)
    text, code = out.rsplit("\n", 1)
    assert code == "400"
    assert "error" in json.loads(text)
