"""Data-movement operators against ONNX Runtime, one node at a time.

make_op_cases.py builds the cases (expected outputs from ONNX Runtime) into a
temporary directory once per session; each test runs the conformance runner
on one case with --tolerance-scale 1e-4, as the model comparisons do.

    .venv/bin/python -m pytest tests/op_cases
    INFERD_CONFORMANCE=build-x/onnx_conformance .venv/bin/python -m pytest tests/op_cases -k resize
"""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import make_op_cases  # noqa: E402


@pytest.fixture(scope="session")
def runner():
    path = os.environ.get("INFERD_CONFORMANCE", os.path.join(ROOT, "build", "onnx_conformance"))
    if not os.access(path, os.X_OK):
        pytest.fail("conformance runner %s not built (make, or set INFERD_CONFORMANCE)" % path)
    return path


@pytest.fixture(scope="session")
def case_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("op_cases"))


@pytest.mark.parametrize("spec", make_op_cases.CASES, ids=[c[0] for c in make_op_cases.CASES])
def test_matches_onnxruntime(spec, runner, case_dir):
    d = make_op_cases.write_case(case_dir, spec)
    for threads in ("1", "2"):
        r = subprocess.run([runner, "--threads", threads, "--tolerance-scale", "1e-4", d],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, "%s (%s threads):\n%s%s" % (spec[0], threads, r.stdout, r.stderr)
