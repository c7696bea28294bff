"""The gRPC port (KServe v2 `inference.GRPCInferenceService` and
`grpc.health.v1.Health`) with real clients: tritonclient.grpc (sync, async,
streaming), the raw generated stubs, grpcio's health stub, grpc-health-probe
and grpcurl. Outputs are compared with ONNX Runtime, error codes and
messages with the REST frontend's answer to the same request.

grpc-health-probe and grpcurl are built into .tools/bin by
`scripts/install-deps.sh test` (go install, pinned versions)."""

import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time

import numpy as np
import pytest

import models
from conftest import ROOT, SANITIZED, free_port, get, post

grpc = pytest.importorskip("grpc")

TOOLS = os.path.join(ROOT, ".tools", "bin")
PROTO_DIR = os.path.join(ROOT, "proto")
EXAMPLES = os.path.join(ROOT, "examples", "models")
TIMEOUT = 120 if SANITIZED else 30


def address(server):
    return "127.0.0.1:%d" % server.grpc_port


@pytest.fixture
def client(server):
    import tritonclient.grpc as grpcclient
    c = grpcclient.InferenceServerClient(url=address(server))
    yield c
    c.close()


@pytest.fixture
def stub(server):
    """The generated KServe stub, for what tritonclient does not expose
    (typed contents, raw answers)."""
    from tritonclient.grpc import service_pb2_grpc
    ch = grpc.insecure_channel(address(server))
    yield service_pb2_grpc.GRPCInferenceServiceStub(ch)
    ch.close()


def pb():
    from tritonclient.grpc import service_pb2
    return service_pb2


def ort_run(model, feeds):
    import onnxruntime as ort
    sess = ort.InferenceSession(os.path.join(EXAMPLES, model, "1", "model.onnx"),
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def grpc_error(fn):
    """Runs fn, which must fail; returns (status name, message)."""
    from tritonclient.utils import InferenceServerException
    try:
        fn()
    except InferenceServerException as e:
        return str(e.status()).replace("StatusCode.", ""), e.message()
    except grpc.RpcError as e:
        return e.code().name, e.details()
    raise AssertionError("the call succeeded")


def tensor(name, array, datatype=None):
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import np_to_triton_dtype
    t = grpcclient.InferInput(name, list(array.shape), datatype or np_to_triton_dtype(array.dtype))
    t.set_data_from_numpy(array)
    return t


# --- health and metadata --------------------------------------------------------------

def test_triton_client_health_and_metadata(client, server):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("digits")
    assert client.is_model_ready("digits", "1")
    assert not client.is_model_ready("no_such_model")
    meta = client.get_server_metadata()
    assert meta.name == "inferd" and meta.version
    for model in ("digits", "add", "add_sub"):
        got = client.get_model_metadata(model, as_json=True)
        rest = get(server, "/v2/models/%s" % model).json()
        assert got["name"] == rest["name"] == model
        assert got["versions"] == rest["versions"]
        assert got["platform"] == rest["platform"]
        for kind in ("inputs", "outputs"):
            assert [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in got[kind]] == \
                [(t["name"], t["datatype"], t["shape"]) for t in rest[kind]]


def test_model_config_as_triton_reports_it(client):
    cfg = client.get_model_config("digits", as_json=True)["config"]
    assert cfg["name"] == "digits"
    assert cfg["platform"] == "onnxruntime_onnx"
    assert cfg["max_batch_size"] == 8
    assert [(t["name"], t["data_type"], t["dims"]) for t in cfg["input"]] == \
        [("image", "TYPE_FP32", ["64"])]
    assert [(t["name"], t["data_type"], t["dims"]) for t in cfg["output"]] == \
        [("probabilities", "TYPE_FP32", ["10"])]
    assert cfg["instance_group"][0]["kind"] == "KIND_CPU"
    assert cfg["instance_group"][0]["count"] == 1
    assert cfg["version_policy"] == {"latest": {"num_versions": 1}}
    # Without config.pbtxt: what inferd derived from the model, as metadata says.
    add = client.get_model_config("add", as_json=True)["config"]
    meta = client.get_model_metadata("add", as_json=True)
    mbs = add.get("max_batch_size", 0)
    for t, m in zip(add["input"], meta["inputs"]):
        assert t["name"] == m["name"]
        assert [int(d) for d in t["dims"]] == [int(d) for d in m["shape"]][1 if mbs else 0:]


def test_statistics_and_repository_index(client):
    before = client.get_inference_statistics("add", as_json=True)["model_stats"][0]
    a = np.ones((1, 4), np.float32)
    client.infer("add", [tensor("a", a), tensor("b", a)])
    after = client.get_inference_statistics("add", as_json=True)["model_stats"][0]
    assert after["name"] == "add" and after["version"] == "1"
    assert int(after.get("inference_count", 0)) == int(before.get("inference_count", 0)) + 1
    succ = after["inference_stats"]["success"]
    assert int(succ["count"]) >= 1 and int(succ["ns"]) > 0
    every = client.get_inference_statistics(as_json=True)["model_stats"]
    assert {"add", "digits"} <= {m["name"] for m in every}
    index = client.get_model_repository_index(as_json=True)["models"]
    assert {"name": "digits", "version": "1", "state": "READY"} in index
    code, msg = grpc_error(lambda: client.get_inference_statistics("no_such_model"))
    assert code == "NOT_FOUND" and "no_such_model" in msg
    code, msg = grpc_error(lambda: client.load_model("digits"))
    assert code == "FAILED_PRECONDITION" and "--model-control-mode explicit" in msg, msg


def test_repository_load_and_unload_in_explicit_mode(start_server, tmp_path):
    import tritonclient.grpc as grpcclient
    repo = models.make_repo(tmp_path / "repo", ["add", "digits"])
    s = start_server(repo, "--model-control-mode", "explicit", "--load-model", "add")
    c = grpcclient.InferenceServerClient(url=address(s))
    try:
        rows = {r["name"]: r for r in c.get_model_repository_index(as_json=True)["models"]}
        assert rows["add"]["state"] == "READY" and rows["digits"]["state"] != "READY", rows
        assert not c.is_model_ready("digits")
        c.load_model("digits")
        assert c.is_model_ready("digits")
        image = np.zeros((1, 64), np.float32)
        assert c.infer("digits", [tensor("image", image)]).as_numpy("probabilities").shape == (1, 10)
        c.unload_model("digits")
        assert not c.is_model_ready("digits")
        code, msg = grpc_error(lambda: c.infer("digits", [tensor("image", image)]))
        assert code in ("UNAVAILABLE", "NOT_FOUND"), (code, msg)
        code, msg = grpc_error(lambda: c.load_model("no_such_model"))
        assert code == "NOT_FOUND" and "no_such_model" in msg, msg
        code, msg = grpc_error(lambda: c.load_model("digits", config="{}"))
        assert code == "UNIMPLEMENTED" and "'config' is not supported" in msg, msg
        ready = c.get_model_repository_index(as_json=True)["models"]
        assert [r["name"] for r in ready if r.get("state") == "READY"] == ["add"]
    finally:
        c.close()


# --- inference ------------------------------------------------------------------------

def test_digits_raw_tensors_against_onnxruntime(client):
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = digits.data[:6].astype(np.float32)
    result = client.infer("digits", [tensor("image", images)], request_id="d-1")
    got = result.as_numpy("probabilities")
    want = ort_run("digits", {"image": images})[0]
    assert got.shape == (6, 10)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(1), digits.target[:6])
    resp = result.get_response()
    assert resp.id == "d-1" and resp.model_name == "digits" and resp.model_version == "1"
    assert len(resp.raw_output_contents) == 1     # raw in, raw out


def test_add_sync_and_async_against_onnxruntime(client):
    import tritonclient.grpc as grpcclient
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    want = ort_run("add", {"a": a, "b": b})[0]
    out = client.infer("add", [tensor("a", a), tensor("b", b)],
                       outputs=[grpcclient.InferRequestedOutput("y")]).as_numpy("y")
    np.testing.assert_allclose(out, want, rtol=1e-6)

    done = queue.Queue()
    for k in range(8):
        client.async_infer("add", [tensor("a", a + k), tensor("b", b)],
                           callback=lambda result, error, k=k: done.put((k, result, error)),
                           request_id=str(k))
    seen = set()
    for _ in range(8):
        k, result, error = done.get(timeout=TIMEOUT)
        assert error is None, error
        assert result.get_response().id == str(k)
        np.testing.assert_allclose(result.as_numpy("y"), want + k, rtol=1e-5)
        seen.add(k)
    assert seen == set(range(8))


def sample(datatype, n=7):
    dt = models.DATATYPES[datatype][1]
    if datatype == "BOOL":
        return np.array([True, False, True, True, False, False, True][:n])
    info = np.iinfo(dt) if np.issubdtype(dt, np.integer) else None
    if info is not None:
        return np.array([info.min, info.max, 0, 1, 2, info.max // 2, info.min // 2][:n], dtype=dt)
    return np.array([0.5, -1.25, 3.0, 1e-3, -0.0, 65000.0, 2.5][:n], dtype=dt)


@pytest.mark.parametrize("datatype", sorted(models.DATATYPES))
def test_every_datatype_with_raw_contents(client, datatype):
    x = sample(datatype)
    result = client.infer("identity_" + datatype, [tensor("in", x, datatype)])
    got = result.as_numpy("out")
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, x)


# The typed InferTensorContents field of each datatype.
TYPED_FIELD = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents",
               "INT32": "int_contents", "INT64": "int64_contents", "UINT8": "uint_contents",
               "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
               "FP32": "fp32_contents", "FP64": "fp64_contents"}


def typed_request(model, inputs, outputs=()):
    """A ModelInferRequest with typed contents; inputs: (name, datatype,
    shape, field, values)."""
    req = pb().ModelInferRequest(model_name=model)
    for name, datatype, shape, field, values in inputs:
        t = req.inputs.add(name=name, datatype=datatype, shape=shape)
        getattr(t.contents, field).extend(values)
    for o in outputs:
        req.outputs.add(name=o)
    return req


@pytest.mark.parametrize("datatype", sorted(TYPED_FIELD))
def test_every_datatype_with_typed_contents(stub, datatype):
    x = sample(datatype)
    field = TYPED_FIELD[datatype]
    resp = stub.ModelInfer(typed_request("identity_" + datatype,
                                         [("in", datatype, [len(x)], field, x.tolist())]),
                           timeout=TIMEOUT)
    assert not resp.raw_output_contents          # typed in, typed out
    out = resp.outputs[0]
    assert (out.name, out.datatype, list(out.shape)) == ("out", datatype, [len(x)])
    np.testing.assert_array_equal(np.array(getattr(out.contents, field), dtype=x.dtype), x)


def test_typed_contents_errors(stub):
    def err(req):
        return grpc_error(lambda: stub.ModelInfer(req, timeout=TIMEOUT))
    code, msg = err(typed_request("identity_INT8", [("in", "INT8", [2], "int_contents", [1, 300])]))
    assert code == "INVALID_ARGUMENT"
    assert "'in'" in msg and "300" in msg and "INT8" in msg, msg
    code, msg = err(typed_request("identity_FP16", [("in", "FP16", [1], "fp32_contents", [1.0])]))
    assert code == "INVALID_ARGUMENT" and "raw_input_contents" in msg, msg
    code, msg = err(typed_request("identity_FP32", [("in", "FP32", [3], "fp32_contents", [1.0])]))
    assert code == "INVALID_ARGUMENT" and "1 elements" in msg and "needs 3" in msg, msg
    code, msg = err(typed_request("identity_INT64", [("in", "INT64", [2], "int_contents", [1, 2])]))
    assert code == "INVALID_ARGUMENT" and "int64_contents" in msg, msg
    # Raw and typed together, and a raw entry missing.
    req = typed_request("identity_FP32", [("in", "FP32", [1], "fp32_contents", [1.0])])
    req.raw_input_contents.append(np.float32(1).tobytes())
    code, msg = err(req)
    assert code == "INVALID_ARGUMENT" and "raw_input_contents" in msg, msg
    req = pb().ModelInferRequest(model_name="add")
    req.inputs.add(name="a", datatype="FP32", shape=[1, 4])
    req.inputs.add(name="b", datatype="FP32", shape=[1, 4])
    req.raw_input_contents.append(np.zeros(4, np.float32).tobytes())
    code, msg = err(req)
    assert code == "INVALID_ARGUMENT" and "raw_input_contents has 1 entries" in msg, msg
    code, msg = err(pb().ModelInferRequest(model_name="add"))
    assert code == "INVALID_ARGUMENT" and "input" in msg, msg


def test_streaming(client):
    results = queue.Queue()
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    try:
        rng = np.random.default_rng(2)
        sent = {}
        for k in range(6):
            a = rng.standard_normal((1, 4)).astype(np.float32)
            b = rng.standard_normal((1, 4)).astype(np.float32)
            sent[str(k)] = a + b
            client.async_stream_infer("add", [tensor("a", a), tensor("b", b)], request_id=str(k))
        bad = np.zeros((1, 5), np.float32)
        client.async_stream_infer("add", [tensor("a", bad), tensor("b", bad)], request_id="bad")
        client.async_stream_infer("no_such_model", [tensor("a", bad)], request_id="gone")
        errors = []
        for _ in range(len(sent) + 2):
            result, error = results.get(timeout=TIMEOUT)
            if error is not None:
                errors.append(error.message())
                continue
            rid = result.get_response().id
            np.testing.assert_allclose(result.as_numpy("y"), sent.pop(rid), rtol=1e-6)
        assert not sent
        assert len(errors) == 2
        assert any("input 'a'" in e and "[1,5]" in e for e in errors), errors
        assert any("no_such_model" in e for e in errors), errors
    finally:
        client.stop_stream()


def test_asyncio_client_with_compression_and_streaming(server):
    """tritonclient.grpc.aio: unary calls (gzip-compressed too) and a stream
    that the client closes after its last request."""
    import asyncio
    import tritonclient.grpc.aio as aioclient
    rng = np.random.default_rng(3)
    pairs = [(rng.standard_normal((2, 4)).astype(np.float32),
              rng.standard_normal((2, 4)).astype(np.float32)) for _ in range(5)]

    async def main():
        c = aioclient.InferenceServerClient(url=address(server))
        try:
            assert await c.is_server_live() and await c.is_server_ready()
            a, b = pairs[0]
            for compression in (None, "gzip", "deflate"):
                r = await c.infer("add", [tensor("a", a), tensor("b", b)],
                                  compression_algorithm=compression)
                np.testing.assert_allclose(r.as_numpy("y"), a + b, rtol=1e-6)

            async def requests():
                for k, (a, b) in enumerate(pairs):
                    yield {"model_name": "add", "inputs": [tensor("a", a), tensor("b", b)],
                           "request_id": str(k)}
            got = {}
            async for result, error in c.stream_infer(requests(), stream_timeout=TIMEOUT):
                assert error is None, error
                got[int(result.get_response().id)] = result.as_numpy("y")
            assert sorted(got) == list(range(len(pairs)))
            for k, (a, b) in enumerate(pairs):
                np.testing.assert_allclose(got[k], a + b, rtol=1e-6)
        finally:
            await c.close()
    asyncio.run(main())


# --- errors: the gRPC code for the status, the REST frontend's message -----------------

def rest_error(server, path, body):
    r = post(server, path, body)
    assert r.status >= 400, r
    return r.status, r.json()["error"]


ERROR_CASES = [
    # (id, model, version, inputs as (name, datatype, array), outputs, grpc code, http code)
    ("unknown model", "no_such_model", "", [("image", "FP32", np.zeros((1, 64), np.float32))],
     [], "NOT_FOUND", 404),
    ("unknown version", "digits", "7", [("image", "FP32", np.zeros((1, 64), np.float32))],
     [], "NOT_FOUND", 404),
    ("bad shape", "digits", "", [("image", "FP32", np.zeros((1, 63), np.float32))],
     [], "INVALID_ARGUMENT", 400),
    ("batch too large", "digits", "", [("image", "FP32", np.zeros((9, 64), np.float32))],
     [], "INVALID_ARGUMENT", 400),
    ("wrong datatype", "digits", "", [("image", "INT32", np.zeros((1, 64), np.int32))],
     [], "INVALID_ARGUMENT", 400),
    ("missing input", "add", "", [("a", "FP32", np.zeros((1, 4), np.float32))],
     [], "INVALID_ARGUMENT", 400),
    ("unknown input", "add", "", [("a", "FP32", np.zeros((1, 4), np.float32)),
                                   ("b", "FP32", np.zeros((1, 4), np.float32)),
                                   ("c", "FP32", np.zeros((1, 4), np.float32))],
     [], "INVALID_ARGUMENT", 400),
    ("unknown output", "digits", "", [("image", "FP32", np.zeros((1, 64), np.float32))],
     ["nope"], "INVALID_ARGUMENT", 400),
    ("bad version", "digits", "x", [("image", "FP32", np.zeros((1, 64), np.float32))],
     [], "INVALID_ARGUMENT", 400),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_map_to_grpc_codes_with_the_rest_message(client, server, case):
    import tritonclient.grpc as grpcclient
    _, model, version, inputs, outputs, code, http_code = case
    ins = [tensor(n, a, dt) for n, dt, a in inputs]
    outs = [grpcclient.InferRequestedOutput(o) for o in outputs]
    got_code, got_msg = grpc_error(lambda: client.infer(model, ins, model_version=version,
                                                        outputs=outs or None))
    body = {"inputs": [{"name": n, "datatype": dt, "shape": list(a.shape),
                        "data": a.flatten().tolist()} for n, dt, a in inputs]}
    if outputs:
        body["outputs"] = [{"name": o} for o in outputs]
    path = "/v2/models/%s%s/infer" % (model, "/versions/" + version if version else "")
    status, rest_msg = rest_error(server, path, body)
    assert (got_code, status) == (code, http_code), (got_msg, rest_msg)
    assert got_msg == rest_msg
    if "shape" in case[0]:
        assert "input 'image'" in got_msg


def test_unknown_method_and_malformed_message(server):
    ch = grpc.insecure_channel(address(server))
    try:
        call = ch.unary_unary("/inference.GRPCInferenceService/NoSuchMethod")
        code, msg = grpc_error(lambda: call(b"", timeout=TIMEOUT))
        assert code == "UNIMPLEMENTED" and "NoSuchMethod" in msg
        infer = ch.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        code, msg = grpc_error(lambda: infer(b"\x0a\xff\xff\xff", timeout=TIMEOUT))
        assert code == "INVALID_ARGUMENT" and "ModelInferRequest" in msg, msg
    finally:
        ch.close()


def test_message_larger_than_the_limit_is_refused(start_server, tmp_path):
    import tritonclient.grpc as grpcclient
    s = start_server(models.make_repo(tmp_path / "repo", ["identity_FP32"]),
                     "--max-request-bytes", "64K")
    c = grpcclient.InferenceServerClient(url=address(s))
    try:
        code, _ = grpc_error(lambda: c.infer("identity_FP32",
                                             [tensor("in", np.zeros(65536, np.float32))]))
        assert code == "RESOURCE_EXHAUSTED"
        small = np.arange(100, dtype=np.float32)     # the server still serves
        np.testing.assert_array_equal(
            c.infer("identity_FP32", [tensor("in", small)]).as_numpy("out"), small)
    finally:
        c.close()


# --- deadlines, cancellation, drain ----------------------------------------------------

def slow_model(chain):
    """x FP32 [1] -> y = mean(tanh(...tanh((A + x) W)...W)): `chain` 512x512
    matrix products, slow enough to hold a request in flight (about 0.2 s
    idle on two cores)."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    A = numpy_helper.from_array(rng.standard_normal((512, 512)).astype(np.float32) * 0.05, "A")
    W = numpy_helper.from_array(rng.standard_normal((512, 512)).astype(np.float32) * 0.05, "W")
    nodes = [helper.make_node("Add", ["A", "x"], ["h0"])]
    for i in range(chain):
        nodes.append(helper.make_node("MatMul", ["h%d" % i, "W"], ["m%d" % i]))
        nodes.append(helper.make_node("Tanh", ["m%d" % i], ["h%d" % (i + 1)]))
    nodes.append(helper.make_node("ReduceMean", ["h%d" % chain], ["y"], keepdims=0))
    return models._model(nodes, [models.vi("x", TensorProto.FLOAT, [1])],
                         [models.vi("y", TensorProto.FLOAT, [])], [A, W])


def start_slow_server(start_server, tmp_path, *flags):
    repo = str(tmp_path / "repo")
    models.write_model(repo, "slow", slow_model(160))
    models.add_named(repo, "add")
    return start_server(repo, "--log-verbose", "1", *flags)


@pytest.fixture
def slow_server(start_server, tmp_path):
    return start_slow_server(start_server, tmp_path)


def timed_infer(c, x=0.0):
    t = time.monotonic()
    c.infer("slow", [tensor("x", np.array([x], np.float32))])
    return time.monotonic() - t


def stats(c):
    s = c.get_inference_statistics("slow", as_json=True)["model_stats"][0]
    return int(s.get("execution_count", 0)), int(s["inference_stats"].get("fail", {}).get("count", 0))


def test_deadline_and_cancel_drop_queued_work(slow_server):
    """Two slow requests keep the one instance busy for about 2t; behind
    them, one request's deadline passes and another is cancelled by the
    client. Those two are dropped from the queue and never run."""
    import tritonclient.grpc as grpcclient
    c = grpcclient.InferenceServerClient(url=address(slow_server))
    try:
        t = min(timed_infer(c), timed_infer(c))
        assert t > 0.1, "the slow model is too fast to hold a request in flight (%.3fs)" % t
        runs0, fails0 = stats(c)
        done = queue.Queue()
        for k in range(2):
            c.async_infer("slow", [tensor("x", np.array([k], np.float32))],
                          callback=lambda result, error, k=k: done.put((k, result, error)))
        time.sleep(t * 0.1)        # the first is running, the second queued
        code, _ = grpc_error(lambda: c.infer("slow", [tensor("x", np.array([2], np.float32))],
                                             client_timeout=t * 0.3))
        assert code == "DEADLINE_EXCEEDED"
        ctx = c.async_infer("slow", [tensor("x", np.array([3], np.float32))],
                            callback=lambda result, error: done.put(("cancelled", result, error)))
        time.sleep(t * 0.2)        # queued on the server, not just sent
        ctx.cancel()
        seen = {}
        for _ in range(3):
            name, result, error = done.get(timeout=TIMEOUT)
            seen[name] = (result, error)
        for k in range(2):
            assert seen[k][1] is None and seen[k][0].as_numpy("y") is not None
        assert seen["cancelled"][1] is not None and "CANCELLED" in str(seen["cancelled"][1].status())
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and stats(c)[1] < fails0 + 2:
            time.sleep(0.05)
        runs, fails = stats(c)
        assert (runs - runs0, fails - fails0) == (2, 2), slow_server.log()[-3000:]
        assert slow_server.log().count('"status":"CANCELLED"') == 2
    finally:
        c.close()


def test_sigterm_turns_health_not_serving_and_lets_calls_finish(start_server, tmp_path):
    """No drain delay: the port stops at the signal; the call in flight still
    gets its answer, Watch and idle streams end, the process exits 0."""
    import tritonclient.grpc as grpcclient
    slow_server = start_slow_server(start_server, tmp_path, "--drain-delay-secs", "0")
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    c = grpcclient.InferenceServerClient(url=address(slow_server))
    ch = grpc.insecure_channel(address(slow_server))
    try:
        t = timed_infer(c)
        watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(service=""),
                                                     timeout=TIMEOUT)
        statuses = []
        ended = threading.Event()

        def read_watch():
            try:
                for m in watch:
                    statuses.append(m.status)
            except grpc.RpcError as e:
                statuses.append(e.code())
            ended.set()
        threading.Thread(target=read_watch, daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while not statuses and time.monotonic() < deadline:
            time.sleep(0.01)
        assert statuses == [health_pb2.HealthCheckResponse.SERVING]
        # An inference stream, idle once its one answer is in.
        events = queue.Queue()
        c.start_stream(callback=lambda result, error: events.put((result, error)))
        one = np.ones((1, 4), np.float32)
        c.async_stream_infer("add", [tensor("a", one), tensor("b", one)])
        assert events.get(timeout=TIMEOUT)[1] is None
        done = queue.Queue()
        c.async_infer("slow", [tensor("x", np.array([1], np.float32))],
                      callback=lambda result, error: done.put((result, error)))
        time.sleep(min(t * 0.3, 1.0))
        slow_server.proc.send_signal(signal.SIGTERM)
        result, error = done.get(timeout=TIMEOUT)       # the call in flight finished
        assert error is None, error
        assert ended.wait(TIMEOUT)
        assert statuses[1:] == [health_pb2.HealthCheckResponse.NOT_SERVING,
                                grpc.StatusCode.UNAVAILABLE], statuses
        result, error = events.get(timeout=TIMEOUT)     # the idle stream was ended
        assert result is None and "UNAVAILABLE" in str(error.status()), error
        assert slow_server.proc.wait(timeout=TIMEOUT) == 0
    finally:
        c.stop_stream()
        ch.close()
        c.close()


def test_drain_delay_keeps_serving_while_health_says_not_serving(start_server, tmp_path):
    import tritonclient.grpc as grpcclient
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    s = start_server(models.make_repo(tmp_path / "repo", ["add"]), "--drain-delay-secs", "4")
    c = grpcclient.InferenceServerClient(url=address(s))
    ch = grpc.insecure_channel(address(s))
    try:
        h = health_pb2_grpc.HealthStub(ch)
        check = lambda service: h.Check(health_pb2.HealthCheckRequest(service=service),
                                        timeout=TIMEOUT).status
        assert check("") == check("add") == health_pb2.HealthCheckResponse.SERVING
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2
        while check("") != health_pb2.HealthCheckResponse.NOT_SERVING and \
                time.monotonic() < deadline:
            time.sleep(0.01)       # the signal is handled asynchronously
        assert check("") == check("add") == health_pb2.HealthCheckResponse.NOT_SERVING
        assert not c.is_server_ready()
        one = np.ones((1, 4), np.float32)      # still answered during the delay
        np.testing.assert_array_equal(
            c.infer("add", [tensor("a", one), tensor("b", one)]).as_numpy("y"), one + one)
        assert s.proc.wait(timeout=TIMEOUT) == 0
    finally:
        ch.close()
        c.close()


# --- health ------------------------------------------------------------------------

def test_health_with_grpcio_stub(server):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    ch = grpc.insecure_channel(address(server))
    try:
        h = health_pb2_grpc.HealthStub(ch)
        for service in ("", "inference.GRPCInferenceService", "digits", "add"):
            r = h.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
            assert r.status == health_pb2.HealthCheckResponse.SERVING, service
        code, msg = grpc_error(lambda: h.Check(health_pb2.HealthCheckRequest(service="nope"),
                                               timeout=TIMEOUT))
        assert code == "NOT_FOUND" and "nope" in msg
        stream = h.Watch(health_pb2.HealthCheckRequest(service="nope"), timeout=TIMEOUT)
        assert next(stream).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        stream.cancel()
        stream = h.Watch(health_pb2.HealthCheckRequest(service="digits"), timeout=TIMEOUT)
        assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
        stream.cancel()
    finally:
        ch.close()


def test_health_not_serving_while_models_load(start_server, tmp_path):
    """A model that never loads keeps the server NOT_SERVING (and the model
    unknown to health) while everything else serves."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    repo = models.make_repo(tmp_path / "repo", ["add"])
    os.makedirs(os.path.join(repo, "broken", "1"))
    with open(os.path.join(repo, "broken", "1", "model.onnx"), "wb") as f:
        f.write(b"not an onnx file")
    s = start_server(repo, wait_ready=False)
    ch = grpc.insecure_channel(address(s))
    try:
        h = health_pb2_grpc.HealthStub(ch)
        r = h.Check(health_pb2.HealthCheckRequest(service="broken"), timeout=TIMEOUT)
        assert r.status == health_pb2.HealthCheckResponse.NOT_SERVING
        r = h.Check(health_pb2.HealthCheckRequest(service="add"), timeout=TIMEOUT)
        assert r.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        ch.close()


def tool(name):
    path = os.path.join(TOOLS, name)
    if not os.access(path, os.X_OK):
        pytest.fail("%s is missing: run scripts/install-deps.sh test (it builds it with go install)"
                    % path)
    return path


def run(cmd, timeout=TIMEOUT):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def test_grpc_health_probe(server):
    probe = tool("grpc-health-probe")
    addr = "-addr=" + address(server)
    rc, out = run([probe, addr])
    assert rc == 0 and "SERVING" in out, out
    rc, out = run([probe, addr, "-service=digits"])
    assert rc == 0 and "SERVING" in out, out
    rc, out = run([probe, addr, "-service=no_such_model"])
    assert rc != 0 and "NotFound" in out, out


def grpcurl(server, proto, method, body=None):
    cmd = [tool("grpcurl"), "-plaintext", "-import-path", PROTO_DIR, "-proto", proto]
    if body is not None:
        cmd += ["-d", json.dumps(body)]
    return run(cmd + [address(server), method])


def test_grpcurl_health_and_model_infer_with_json(server):
    rc, out = grpcurl(server, "health.proto", "grpc.health.v1.Health/Check")
    assert rc == 0 and json.loads(out)["status"] == "SERVING", out
    a, b = [1.5, 2, 3, 4], [10, 20, 30, 40]
    body = {"model_name": "add", "id": "curl-1",
            "inputs": [{"name": "a", "datatype": "FP32", "shape": [1, 4],
                        "contents": {"fp32_contents": a}},
                       {"name": "b", "datatype": "FP32", "shape": [1, 4],
                        "contents": {"fp32_contents": b}}]}
    rc, out = grpcurl(server, "grpc_service.proto", "inference.GRPCInferenceService/ModelInfer", body)
    assert rc == 0, out
    resp = json.loads(out)
    assert resp["id"] == "curl-1" and resp["modelName"] == "add"
    y = resp["outputs"][0]
    assert y["name"] == "y" and y["datatype"] == "FP32" and y["shape"] == ["1", "4"]
    assert y["contents"]["fp32Contents"] == [x + z for x, z in zip(a, b)]
    body["inputs"][0]["shape"] = [1, 5]
    rc, out = grpcurl(server, "grpc_service.proto", "inference.GRPCInferenceService/ModelInfer", body)
    assert rc != 0 and "InvalidArgument" in out and "input 'a'" in out, out


# --- the .proto files --------------------------------------------------------------

def test_proto_files_match_the_protocol():
    """Every message, field, enum value and method in proto/ has the name,
    number, type and label of the same item in the definitions tritonclient
    and grpcio-health-checking were built from (wire compatibility)."""
    from google.protobuf import descriptor_pb2, descriptor_pool
    from grpc_health.v1 import health_pb2
    from tritonclient.grpc import model_config_pb2, service_pb2
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "ours.pb")
        subprocess.run(["protoc-c", "--proto_path=" + PROTO_DIR, "--descriptor_set_out=" + out,
                        "--include_imports", "grpc_service.proto", "model_config.proto",
                        "health.proto"], check=True, cwd=PROTO_DIR)
        fds = descriptor_pb2.FileDescriptorSet.FromString(open(out, "rb").read())
    theirs = {}
    for mod in (service_pb2, model_config_pb2, health_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        mod.DESCRIPTOR.CopyToProto(fdp)
        theirs[fdp.package + ":" + os.path.basename(fdp.name)] = fdp

    def index(fdp):
        items = {}

        def walk(prefix, msgs, enums):
            for e in enums:
                for v in e.value:
                    items["enum %s.%s.%s" % (prefix, e.name, v.name)] = v.number
            for m in msgs:
                name = prefix + "." + m.name
                items["message " + name] = True
                for f in m.field:
                    items["field %s.%s" % (name, f.name)] = (f.number, f.type, f.label, f.type_name)
                walk(name, m.nested_type, m.enum_type)
        walk(fdp.package, fdp.message_type, fdp.enum_type)
        for s in fdp.service:
            for meth in s.method:
                items["rpc %s.%s.%s" % (fdp.package, s.name, meth.name)] = (
                    meth.input_type, meth.output_type, meth.client_streaming, meth.server_streaming)
        return items

    checked = 0
    for fdp in fds.file:
        ref = theirs[fdp.package + ":" + os.path.basename(fdp.name)]
        want = index(ref)
        for key, value in index(fdp).items():
            assert key in want, "%s: not in the protocol's %s" % (key, ref.name)
            assert value == want[key], "%s: ours %r, protocol %r" % (key, value, want[key])
            checked += 1
    assert checked > 200


# --- the port itself ---------------------------------------------------------------

def test_grpc_port_can_be_disabled(start_server, tmp_path):
    s = start_server(models.make_repo(tmp_path / "repo", ["add"]), "--grpc-port", "-1")
    assert get(s, "/v2/health/ready").status == 200
    assert "gRPC" not in s.log()


def test_grpc_port_in_use_fails_clearly(inferd_bin, tmp_path):
    repo = models.make_repo(tmp_path / "repo", ["add"])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        p = subprocess.run([inferd_bin, "serve", "--model-repository", repo,
                            "--http-port", str(free_port()), "--grpc-address", "127.0.0.1",
                            "--grpc-port", str(port)],
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "cannot listen on 127.0.0.1:%d for gRPC" % port in out, out
