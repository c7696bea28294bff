"""Model-level checks: inferd's outputs against ONNX Runtime's.

For every model in tools/models (torchvision classifiers, BERT-style
encoders at opsets 11/13/17, OCR recognizers, a detector, If models, and the
RNN models when tools/models/make_rnn_models.py exists), the case directory
tests/models/<name>/ holds the model and ONNX Runtime's outputs on seeded
random inputs (built once, rebuilt when the model's source changes). Each
test runs the conformance runner on one case with --tolerance-scale 1e-4:
every element within 1e-4 x max(1, max|expected|) of that output.

    .venv/bin/python -m pytest tests/model_compare -k bert
    INFERD_CONFORMANCE=build-x/onnx_conformance .venv/bin/python -m pytest tests/model_compare
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))

import build_models  # noqa: E402
import zoo  # noqa: E402

CASES = os.path.join(ROOT, "tests", "models")


@pytest.fixture(scope="session")
def runner():
    path = os.environ.get("INFERD_CONFORMANCE", os.path.join(ROOT, "build", "onnx_conformance"))
    if not os.access(path, os.X_OK):
        pytest.fail("conformance runner %s not built (make, or set INFERD_CONFORMANCE)" % path)
    return path


def test_every_model_family_imports():
    assert zoo.import_errors() == {}


@pytest.mark.parametrize("name", [s.name for s in zoo.all_specs()])
def test_matches_onnxruntime(name, runner):
    case = zoo.ensure_case(zoo.get(name), CASES)
    ok, secs, detail = build_models.compare_case(runner, case)
    assert ok, "inferd differs from ONNX Runtime on %s:\n%s" % (name, detail)
