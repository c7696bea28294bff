"""Differential operator tests against ONNX Runtime, generated per run.

Each generator in tests/conformance writes single-node (or small) models in
the ONNX backend-test layout with ONNX Runtime's outputs as the expected
data; the conformance runner must pass every case, with 2 intra-op threads
so the parallel paths run too:

  gen_ops_cases.py       elementwise, activations, reductions, softmax, Cast,
                         ArgMax/ArgMin, CumSum over every dtype and fast path
  gen_nn_cases.py        Conv, pooling, normalization, MatMul/Gemm,
                         quantization, RoiAlign (sums of many products: a
                         tolerance of 1e-4 x max(1, max|ref|))
  gen_optimize_cases.py  the load-time graph rewrites (src/engine/optimize.c)

INFERD_CONFORMANCE picks the runner (default build/onnx_conformance).
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.environ.get("INFERD_CONFORMANCE", os.path.join(ROOT, "build", "onnx_conformance"))

GENERATORS = [
    ("gen_ops_cases.py", []),
    ("gen_nn_cases.py", ["--tolerance-scale", "1e-4"]),
    ("gen_optimize_cases.py", []),
]


@pytest.mark.parametrize("script,runner_flags", GENERATORS, ids=[g[0] for g in GENERATORS])
def test_generated_cases_match_onnxruntime(tmp_path, script, runner_flags):
    out = tmp_path / "cases"
    gen = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "conformance", script), str(out)],
                         capture_output=True, text=True, timeout=900)
    assert gen.returncode == 0, "%s failed:\n%s%s" % (script, gen.stdout[-4000:], gen.stderr[-4000:])
    run = subprocess.run([RUNNER, "--threads", "2"] + runner_flags + [str(out)],
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, "cases from %s fail:\n%s%s" % (script, run.stdout[-6000:], run.stderr[-2000:])
