"""The model zoo served over HTTP: every model tools/models builds (classifiers,
BERT-style encoders, OCR recognizers, a detector, LSTM/GRU models, If/Loop
models), none of which inferd was written against, is put in one model
repository, served by the real build/inferd, and queried with tritonclient
(binary tensors). Each answer must match ONNX Runtime's outputs stored with
the case (tests/models/<name>/test_data_set_0), within 1e-4 x max(1, max|ref|)
per output, the tolerance of tests/model_compare.

The cases are built (or reused from the cache) by tools/models/zoo.py, as
the model comparison stage does.
"""

import glob
import os
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from conftest import ROOT, Server

sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
import zoo  # noqa: E402

tritonhttp = pytest.importorskip("tritonclient.http")

CASES = os.path.join(ROOT, "tests", "models")
TRITON_DTYPES = {np.float32: "FP32", np.float64: "FP64", np.int64: "INT64", np.int32: "INT32",
                 np.bool_: "BOOL", np.uint8: "UINT8", np.int8: "INT8", np.float16: "FP16"}


def load_case(case):
    model = onnx.load(os.path.join(case, "model.onnx"), load_external_data=False)
    init = {i.name for i in model.graph.initializer}
    in_names = [i.name for i in model.graph.input if i.name not in init]
    out_names = [o.name for o in model.graph.output]
    data = os.path.join(case, "test_data_set_0")
    read = lambda pattern: [numpy_helper.to_array(onnx.load_tensor(p)) for p in
                            sorted(glob.glob(os.path.join(data, pattern)),
                                   key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))]
    return in_names, read("input_*.pb"), out_names, read("output_*.pb")


@pytest.fixture(scope="module")
def zoo_server(tmp_path_factory):
    repo = tmp_path_factory.mktemp("zoo")
    cases = {}
    for spec in zoo.all_specs():
        case = zoo.ensure_case(spec, CASES)
        os.makedirs(repo / spec.name / "1")
        os.symlink(os.path.join(case, "model.onnx"), repo / spec.name / "1" / "model.onnx")
        cases[spec.name] = case
    server = Server(repo, name="zoo")
    yield server, cases
    server.stop()


@pytest.mark.parametrize("name", [s.name for s in zoo.all_specs()])
def test_served_model_matches_onnxruntime(zoo_server, name):
    server, cases = zoo_server
    in_names, inputs, out_names, expected = load_case(cases[name])
    client = tritonhttp.InferenceServerClient("127.0.0.1:%d" % server.port, network_timeout=120)
    assert client.is_model_ready(name)
    req = []
    for n, arr in zip(in_names, inputs):
        t = tritonhttp.InferInput(n, list(arr.shape), TRITON_DTYPES[arr.dtype.type])
        t.set_data_from_numpy(arr, binary_data=True)
        req.append(t)
    outs = [tritonhttp.InferRequestedOutput(n, binary_data=True) for n in out_names]
    result = client.infer(name, req, outputs=outs)
    for n, ref in zip(out_names, expected):
        got = result.as_numpy(n)
        assert got is not None, "no output %s" % n
        assert got.shape == ref.shape, "%s: shape %s, expected %s" % (n, got.shape, ref.shape)
        if ref.dtype.kind == "f":
            scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
            diff = float(np.max(np.abs(got.astype(np.float64) - ref))) if ref.size else 0.0
            assert diff <= 1e-4 * scale, "%s: max |diff| %g > %g" % (n, diff, 1e-4 * scale)
        else:
            np.testing.assert_array_equal(got, ref)
