"""Dynamic batching and the queue policy on the real server, under many
concurrent clients (tritonclient.http and plain HTTP/1.1 threads):

  - batched answers equal the one-by-one answers (digits, with
    dynamic_batching on, against a copy without it), and batching happened
    (fewer executions than requests, in /metrics);
  - a full queue (small max_queue_size) answers 429 with Retry-After: 1;
  - a request queued past default_timeout_microseconds answers 504 at its
    deadline, while the model is still busy, and is never executed;
  - a client that disconnects while its request is queued has the request
    dropped, not executed (executions and reason="cancelled" in /metrics,
    CANCELLED in the request log).

The "slow" models spin a Loop of 600k additions (a few hundred ms here) so
requests really queue; they are built with onnx.helper in milliseconds."""

import http.client
import json
import re
import shutil
import socket
import threading
import time
import urllib.request

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import Server, infer
import models

SLOW_TRIPS = 600_000


def slow_model(trips):
    """x FP32 [batch, 4] -> y = x + trips, computed by a Loop that adds 1
    `trips` times (single-threaded, so it takes time on any machine)."""
    body = helper.make_graph(
        [helper.make_node("Add", ["c_in", "one"], ["c_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [models.vi("i", TensorProto.INT64, []), models.vi("cond_in", TensorProto.BOOL, []),
         models.vi("c_in", TensorProto.FLOAT, [])],
        [models.vi("cond_out", TensorProto.BOOL, []), models.vi("c_out", TensorProto.FLOAT, [])],
        initializer=[numpy_helper.from_array(np.array(1.0, np.float32), "one")])
    return models._model(
        [helper.make_node("Loop", ["M", "", "zero"], ["count"], body=body),
         helper.make_node("Add", ["x", "count"], ["y"])],
        [models.vi("x", TensorProto.FLOAT, ["batch", 4])],
        [models.vi("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(np.array(trips, np.int64), "M"),
         numpy_helper.from_array(np.array(0.0, np.float32), "zero")])


def double_model():
    """x FP32 [batch, w] -> y = 2 x: any width, so requests of different
    widths reach the batcher."""
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    return models._model([helper.make_node("Mul", ["x", "two"], ["y"])],
                         [models.vi("x", TensorProto.FLOAT, ["batch", "w"])],
                         [models.vi("y", TensorProto.FLOAT, ["batch", "w"])], [two])


SLOW_CONFIG = """\
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]
"""


@pytest.fixture(scope="module")
def batch_server(inferd_bin, tmp_path_factory):
    repo = tmp_path_factory.mktemp("batching")
    models.add_named(str(repo), "digits")
    shutil.copytree(repo / "digits", repo / "digits_batched")
    with open(repo / "digits_batched" / "config.pbtxt") as f:
        text = f.read().replace('name: "digits"', 'name: "digits_batched"')
    with open(repo / "digits_batched" / "config.pbtxt", "w") as f:
        f.write(text + "dynamic_batching { max_queue_delay_microseconds: 5000 }\n")
    shutil.copytree(repo / "digits_batched", repo / "digits_multi")
    with open(repo / "digits_multi" / "config.pbtxt", "w") as f:
        f.write(text.replace("digits_batched", "digits_multi")
                + "dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 3000 }\n"
                + "instance_group [ { count: 2 kind: KIND_CPU } ]\n")
    slow = slow_model(SLOW_TRIPS)
    models.write_model(str(repo), "slow_queue", slow, config=SLOW_CONFIG
                       + "dynamic_batching { default_queue_policy { max_queue_size: 2 } }\n")
    models.write_model(str(repo), "slow_timeout", slow, config=SLOW_CONFIG
                       + "dynamic_batching { default_queue_policy { "
                         "default_timeout_microseconds: 50000 } }\n")
    models.write_model(str(repo), "slow_plain", slow, config=SLOW_CONFIG)
    models.write_model(str(repo), "double", double_model(),
                       config="max_batch_size: 8\n"
                              "dynamic_batching { max_queue_delay_microseconds: 20000 }\n")
    s = Server(repo, "--log-verbose", "1", name="batching")
    yield s
    s.stop()


# --- helpers -------------------------------------------------------------------------

def metrics(server):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % server.metrics_port, timeout=10) as r:
        return r.read().decode()


def metric(server, name, **labels):
    """The value of one sample (0 when absent)."""
    for line in metrics(server).splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return 0.0


def digits_request(x):
    return {"inputs": [{"name": "image", "datatype": "FP32", "shape": list(x.shape),
                        "data": x.ravel().tolist()}]}


def post_json(port, path, body, timeout=60):
    """(status, headers, json body, seconds) on a fresh connection."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(data), \
            time.monotonic() - t0
    finally:
        c.close()


def slow_request(rows=8):
    x = np.arange(rows * 4, dtype=np.float32).reshape(rows, 4)
    return {"inputs": [{"name": "x", "datatype": "FP32", "shape": [rows, 4],
                        "data": x.ravel().tolist()}]}, x


def run_threads(n, fn):
    out = [None] * n
    errors = []

    def one(i):
        try:
            out[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    return out


def wait_for(cond, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


# --- batching --------------------------------------------------------------------------

def one_by_one(server, model, xs):
    out = []
    for x in xs:
        st, _, body, _ = post_json(server.port, "/v2/models/%s/infer" % model, digits_request(x))
        assert st == 200, body
        out.append(np.array(body["outputs"][0]["data"], np.float32).reshape(x.shape[0], 10))
    return out


@pytest.mark.parametrize("model", ["digits_batched", "digits_multi"])
def test_concurrent_answers_equal_one_by_one(batch_server, model):
    rng = np.random.default_rng(7)
    # mostly single rows, some requests of 2 and 3 rows (batched by samples)
    xs = [rng.random((1 + (i % 7 == 0) + 2 * (i % 11 == 0), 64), dtype=np.float32) * 16
          for i in range(96)]
    want = one_by_one(batch_server, "digits", xs)
    execs0 = metric(batch_server, "inferd_execution_count_total", model=model)
    infs0 = metric(batch_server, "inferd_inference_count_total", model=model)

    def client(k):
        c = http.client.HTTPConnection("127.0.0.1", batch_server.port, timeout=60)
        got = {}
        for i in range(k, len(xs), 16):
            c.request("POST", "/v2/models/%s/infer" % model, json.dumps(digits_request(xs[i])),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            body = json.loads(r.read())
            assert r.status == 200, body
            o = body["outputs"][0]
            assert o["name"] == "probabilities" and o["shape"] == [xs[i].shape[0], 10]
            got[i] = np.array(o["data"], np.float32).reshape(xs[i].shape[0], 10)
        c.close()
        return got
    results = {}
    for part in run_threads(16, client):
        results.update(part)
    for i, x in enumerate(xs):
        np.testing.assert_allclose(results[i], want[i], rtol=1e-5, atol=1e-6,
                                   err_msg="request %d (%d rows)" % (i, x.shape[0]))
    execs = metric(batch_server, "inferd_execution_count_total", model=model) - execs0
    infs = metric(batch_server, "inferd_inference_count_total", model=model) - infs0
    assert infs == sum(x.shape[0] for x in xs)
    assert execs < len(xs), "16 concurrent clients, yet no two requests shared an execution"


def test_tritonclient_concurrent(batch_server):
    import tritonclient.http as httpclient
    c = httpclient.InferenceServerClient(url="127.0.0.1:%d" % batch_server.port, concurrency=16,
                                         network_timeout=60)
    try:
        rng = np.random.default_rng(3)
        xs = [rng.random((1, 64), dtype=np.float32) * 16 for _ in range(64)]
        want = one_by_one(batch_server, "digits", xs)
        pending = []
        for x in xs:
            inp = httpclient.InferInput("image", list(x.shape), "FP32")
            inp.set_data_from_numpy(x, binary_data=True)
            out = httpclient.InferRequestedOutput("probabilities", binary_data=True)
            pending.append(c.async_infer("digits_batched", [inp], outputs=[out]))
        for x, p, w in zip(xs, pending, want):
            np.testing.assert_allclose(p.get_result().as_numpy("probabilities"), w,
                                       rtol=1e-5, atol=1e-6)
    finally:
        c.close()


def test_shapes_are_not_mixed(batch_server):
    """Requests of widths 3 and 5 and of 1 or 2 rows, all at once: the
    batcher only concatenates equal widths, and every request gets exactly
    its own rows back."""
    execs0 = metric(batch_server, "inferd_execution_count_total", model="double")

    def one(i):
        rows, width = 1 + i % 2, (3, 5)[i % 3 == 0]
        x = np.arange(rows * width, dtype=np.float32).reshape(rows, width) + 100 * i
        body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [rows, width],
                            "data": x.ravel().tolist()}]}
        st, _, resp, _ = post_json(batch_server.port, "/v2/models/double/infer", body)
        assert st == 200, resp
        assert resp["outputs"][0]["shape"] == [rows, width]
        y = np.array(resp["outputs"][0]["data"], np.float32).reshape(rows, width)
        np.testing.assert_array_equal(y, 2 * x)
    run_threads(24, one)
    execs = metric(batch_server, "inferd_execution_count_total", model="double") - execs0
    assert 2 <= execs < 24


# --- overload: 429 ---------------------------------------------------------------------

def test_full_queue_answers_429_with_retry_after(batch_server):
    body, _ = slow_request(8)   # a full batch each: one execution per request

    def one(i):
        return post_json(batch_server.port, "/v2/models/slow_queue/infer", body)
    results = run_threads(10, one)
    codes = sorted(st for st, _, _, _ in results)
    assert codes.count(429) >= 5, codes      # 1 running + 2 queued; the rest refused
    assert codes.count(200) >= 3, codes
    assert set(codes) <= {200, 429}, codes
    for st, headers, resp, secs in results:
        if st == 429:
            assert headers.get("retry-after") == "1", headers
            assert "queue is full" in resp["error"] and "max_queue_size 2" in resp["error"]
    # refusals are immediate, not queued behind the slow model
    fast = min(secs for st, _, _, secs in results if st == 429)
    slowest_ok = max(secs for st, _, _, secs in results if st == 200)
    assert fast < slowest_ok / 2
    assert metric(batch_server, "inferd_requests_total", model="slow_queue", status="failure",
                  reason="queue_full") == codes.count(429)


# --- queue timeout: 504 -----------------------------------------------------------------

def test_queue_timeout_answers_504_and_never_runs(batch_server):
    body, x = slow_request(8)
    execs0 = metric(batch_server, "inferd_execution_count_total", model="slow_timeout")
    first = {}

    def run_first():
        first["r"] = post_json(batch_server.port, "/v2/models/slow_timeout/infer", body)
    t = threading.Thread(target=run_first)
    t.start()
    assert wait_for(lambda: metric(batch_server, "inferd_inflight_requests",
                                   model="slow_timeout") >= 1)
    time.sleep(0.02)
    st, _, resp, secs = post_json(batch_server.port, "/v2/models/slow_timeout/infer", body)
    still_running = t.is_alive()
    t.join()
    assert st == 504, resp
    assert "timed out" in resp["error"] and "slow_timeout" in resp["error"]
    assert 0.045 <= secs, secs
    assert still_running, "the 504 came only after the model finished: the timeout was not prompt"
    fst, _, fresp, fsecs = first["r"]
    assert fst == 200, fresp
    assert secs < fsecs
    np.testing.assert_array_equal(np.array(fresp["outputs"][0]["data"], np.float32).reshape(8, 4),
                                  x + SLOW_TRIPS)
    assert metric(batch_server, "inferd_execution_count_total", model="slow_timeout") - execs0 == 1
    assert metric(batch_server, "inferd_requests_total", model="slow_timeout", status="failure",
                  reason="timeout") == 1


# --- client disconnect ------------------------------------------------------------------

def test_disconnected_client_request_is_not_executed(batch_server):
    body, x = slow_request(8)
    execs0 = metric(batch_server, "inferd_execution_count_total", model="slow_plain")
    first = {}

    def run_first():
        first["r"] = post_json(batch_server.port, "/v2/models/slow_plain/infer", body)
    t = threading.Thread(target=run_first)
    t.start()
    assert wait_for(lambda: metric(batch_server, "inferd_inflight_requests", model="slow_plain") >= 1)
    # a second client sends its request, waits until it is queued, and leaves
    data = json.dumps(dict(body, id="gone-client")).encode()
    s = socket.create_connection(("127.0.0.1", batch_server.port))
    s.sendall(b"POST /v2/models/slow_plain/infer HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
    assert wait_for(lambda: metric(batch_server, "inferd_queue_size", model="slow_plain") >= 1)
    s.close()
    # the queued request is dropped at once, while the model is still busy
    assert wait_for(lambda: metric(batch_server, "inferd_requests_total", model="slow_plain",
                                   status="failure", reason="cancelled") == 1, timeout=5)
    assert t.is_alive(), "the first request finished before the cancellation was seen"
    assert metric(batch_server, "inferd_queue_size", model="slow_plain") == 0
    t.join()
    assert first["r"][0] == 200
    # a third client is served normally
    st, _, resp, _ = post_json(batch_server.port, "/v2/models/slow_plain/infer", body)
    assert st == 200, resp
    assert metric(batch_server, "inferd_execution_count_total", model="slow_plain") - execs0 == 2
    assert wait_for(lambda: re.search(r'"id":"gone-client".*"status":"CANCELLED"',
                                      batch_server.log()) is not None, timeout=5), \
        "no CANCELLED request line for the client that left"
