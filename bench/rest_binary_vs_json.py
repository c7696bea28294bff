#!/usr/bin/env python3
"""rest_binary_vs_json.py -- tritonclient.http against inferd, JSON tensors
versus Triton's binary tensor data extension, at concurrency 1.

    .venv/bin/python bench/rest_binary_vs_json.py [--inferd build/inferd] [--seconds 5]

Two models: examples/models/digits (input 1x64 FP32, output 1x10) and an
image-sized one written here with onnx.helper (x FP32 [1, 3, 224, 224] ->
ReduceMean over H, W, so the model itself costs almost nothing and the
transport shows). For each, one client sends requests back to back for
--seconds in each mode (after a warm-up), and the script prints
requests/s, mean latency and the binary/JSON ratio. The outputs of both
modes are checked to be equal first. A second table sends the same two
requests pre-encoded over one keep-alive connection (http.client), which
leaves out the client's own encoding: the server's side of the ratio.

JSON mode is tritonclient with binary_data=False on inputs and outputs;
binary mode is its default (binary_data=True on both). Both sides' costs
count: the client encodes and decodes too, as real clients do.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_image_model(repo):
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3])], "image_mean",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 1, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    os.makedirs(os.path.join(repo, "image_mean", "1"))
    onnx.save(model, os.path.join(repo, "image_mean", "1", "model.onnx"))


def start_server(inferd, repo):
    port = free_port()
    log = open(os.path.join(repo, "inferd.log"), "w")
    proc = subprocess.Popen([inferd, "serve", "--model-repository", repo, "--http-port", str(port),
                             "--grpc-port", "-1", "--metrics-port", "-1"],
                            stdout=log, stderr=subprocess.STDOUT)
    import urllib.request
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen("http://127.0.0.1:%d/v2/health/ready" % port, timeout=1).status == 200:
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("inferd did not become ready; see %s" % log.name)


def make_call(client, model, name, datatype, x, out_name, binary):
    import tritonclient.http as httpclient

    def call():
        inp = httpclient.InferInput(name, list(x.shape), datatype)
        inp.set_data_from_numpy(x, binary_data=binary)
        out = httpclient.InferRequestedOutput(out_name, binary_data=binary)
        return client.infer(model, [inp], outputs=[out]).as_numpy(out_name)
    return call


def make_raw_call(port, model, name, x, out_name, binary):
    """The same request, encoded once, sent over one keep-alive connection:
    what the server costs without the client's encoding."""
    import http.client
    import json
    if binary:
        head = json.dumps({"inputs": [{"name": name, "datatype": "FP32", "shape": list(x.shape),
                                       "parameters": {"binary_data_size": x.nbytes}}],
                           "outputs": [{"name": out_name, "parameters": {"binary_data": True}}]})
        body = head.encode() + x.tobytes()
        headers = {"Inference-Header-Content-Length": str(len(head)),
                   "Content-Type": "application/octet-stream"}
    else:
        body = json.dumps({"inputs": [{"name": name, "datatype": "FP32", "shape": list(x.shape),
                                       "data": x.ravel().tolist()}],
                           "outputs": [{"name": out_name}]}).encode()
        headers = {"Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call():
        conn.request("POST", "/v2/models/%s/infer" % model, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            sys.exit("HTTP %d: %s" % (r.status, data[:300]))
    return call


def measure(call, seconds):
    for _ in range(5):
        call()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        n += 1
    elapsed = time.perf_counter() - start
    return n / elapsed, 1000.0 * elapsed / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inferd", default=os.environ.get("INFERD_BIN", os.path.join(ROOT, "build", "inferd")))
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    import tritonclient.http as httpclient

    repo = tempfile.mkdtemp(prefix="inferd-bench-")
    proc = None
    try:
        shutil.copytree(os.path.join(ROOT, "examples", "models", "digits"), os.path.join(repo, "digits"))
        write_image_model(repo)
        proc, port = start_server(args.inferd, repo)
        client = httpclient.InferenceServerClient("127.0.0.1:%d" % port, network_timeout=60)
        rng = np.random.default_rng(0)
        cases = [("digits", "image", rng.random((1, 64), dtype=np.float32), "probabilities"),
                 ("image_mean", "x", rng.random((1, 3, 224, 224), dtype=np.float32), "y")]
        print("tritonclient.http, concurrency 1, %.0f s per mode" % args.seconds)
        print("%-12s %-18s %12s %12s %12s %12s %8s" % ("model", "input", "JSON req/s", "JSON ms",
                                                       "binary req/s", "binary ms", "ratio"))
        for model, name, x, out in cases:
            json_call = make_call(client, model, name, "FP32", x, out, False)
            bin_call = make_call(client, model, name, "FP32", x, out, True)
            np.testing.assert_array_equal(json_call(), bin_call())
            j_rate, j_ms = measure(json_call, args.seconds)
            b_rate, b_ms = measure(bin_call, args.seconds)
            print("%-12s %-18s %12.1f %12.3f %12.1f %12.3f %7.1fx" % (
                model, "x".join(map(str, x.shape)) + " FP32", j_rate, j_ms, b_rate, b_ms,
                b_rate / j_rate))
        print()
        print("pre-encoded bodies on one keep-alive connection (server cost), concurrency 1")
        print("%-12s %-18s %12s %12s %12s %12s %8s" % ("model", "input", "JSON req/s", "JSON ms",
                                                       "binary req/s", "binary ms", "ratio"))
        for model, name, x, out in cases:
            j_rate, j_ms = measure(make_raw_call(port, model, name, x, out, False), args.seconds)
            b_rate, b_ms = measure(make_raw_call(port, model, name, x, out, True), args.seconds)
            print("%-12s %-18s %12.1f %12.3f %12.1f %12.3f %7.1fx" % (
                model, "x".join(map(str, x.shape)) + " FP32", j_rate, j_ms, b_rate, b_ms,
                b_rate / j_rate))
        client.close()
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        shutil.rmtree(repo, ignore_errors=True)


if __name__ == "__main__":
    main()
