"""Health, server metadata, model metadata and model readiness (KServe v2
REST: GET /v2/health/{live,ready}, /v2, /v2/models/{m}[/versions/{v}],
/v2/models/{m}[/versions/{v}]/ready)."""

import pytest

from conftest import assert_error, get
import models


def test_live_and_ready(server):
    assert get(server, "/v2/health/live").status == 200
    assert get(server, "/v2/health/ready").status == 200


def test_server_metadata(server):
    r = get(server, "/v2")
    assert r.status == 200
    assert r.headers.get("content-type", "").startswith("application/json")
    m = r.json()
    assert isinstance(m["name"], str) and m["name"]
    assert isinstance(m["version"], str) and m["version"]
    assert isinstance(m["extensions"], list)
    assert all(isinstance(e, str) for e in m["extensions"])


def _io(entries):
    return {e["name"]: (e["datatype"], e["shape"]) for e in entries}


def test_digits_metadata_from_triton_config(server):
    """config.pbtxt has max_batch_size 8 and dims [64]: the batch dim shows as -1."""
    r = get(server, "/v2/models/digits")
    assert r.status == 200, r
    m = r.json()
    assert m["name"] == "digits"
    assert m["versions"] == ["1"]
    assert m["platform"] == "onnxruntime_onnx"
    assert _io(m["inputs"]) == {"image": ("FP32", [-1, 64])}
    assert _io(m["outputs"]) == {"probabilities": ("FP32", [-1, 10])}


def test_add_metadata_derived_from_onnx(server):
    """No config.pbtxt: names, types and shapes come from the ONNX file,
    symbolic dims as -1."""
    m = get(server, "/v2/models/add").json()
    assert m["name"] == "add"
    assert m["platform"] == "onnxruntime_onnx"
    assert _io(m["inputs"]) == {"a": ("FP32", [-1, 4]), "b": ("FP32", [-1, 4])}
    assert _io(m["outputs"]) == {"y": ("FP32", [-1, 4])}


def test_inputs_keep_model_order(server):
    m = get(server, "/v2/models/add_sub").json()
    assert [i["name"] for i in m["inputs"]] == ["INPUT0", "INPUT1"]
    assert [o["name"] for o in m["outputs"]] == ["OUTPUT0", "OUTPUT1"]
    assert _io(m["inputs"])["INPUT0"] == ("INT32", [-1, 16])


def test_scalar_and_fixed_shapes(server):
    assert _io(get(server, "/v2/models/scalar_mul").json()["inputs"]) == {
        "x": ("FP32", []), "y": ("FP32", [])}
    assert _io(get(server, "/v2/models/fixed_shape").json()["inputs"]) == {"x": ("FP32", [2, 3])}


@pytest.mark.parametrize("datatype", sorted(models.DATATYPES))
def test_datatype_names(server, datatype):
    m = get(server, "/v2/models/identity_%s" % datatype).json()
    assert _io(m["inputs"]) == {"in": (datatype, [-1])}
    assert _io(m["outputs"]) == {"out": (datatype, [-1])}


def test_versioned_metadata_path(server):
    a = get(server, "/v2/models/digits").json()
    b = get(server, "/v2/models/digits/versions/1")
    assert b.status == 200
    assert b.json()["name"] == "digits"
    assert _io(b.json()["inputs"]) == _io(a["inputs"])


def test_model_ready(server):
    assert get(server, "/v2/models/digits/ready").status == 200
    assert get(server, "/v2/models/digits/versions/1/ready").status == 200
    assert get(server, "/v2/models/add/ready").status == 200


def test_unknown_model_is_404(server):
    assert_error(get(server, "/v2/models/no_such_model"), 404, "no_such_model")
    assert get(server, "/v2/models/no_such_model/ready").status == 404
    assert get(server, "/v2/models/no_such_model/versions/1").status == 404


def test_unknown_version_is_404(server):
    assert_error(get(server, "/v2/models/digits/versions/99"), 404, "99")
    assert get(server, "/v2/models/digits/versions/99/ready").status == 404


# Version policies (issue 2: default latest 1, config.pbtxt version_policy).
POLICY_VERSIONS = {
    "scale": ["3"],                    # no config: Triton's default, latest 1
    "scale_all": ["1", "2", "3"],
    "scale_specific": ["1", "3"],
    "scale_latest2": ["2", "3"],
}


@pytest.mark.parametrize("model", sorted(POLICY_VERSIONS))
def test_version_policy(server, model):
    want = POLICY_VERSIONS[model]
    m = get(server, "/v2/models/%s" % model).json()
    assert sorted(m["versions"], key=int) == want
    for v in ("1", "2", "3"):
        status = get(server, "/v2/models/%s/versions/%s/ready" % (model, v)).status
        if v in want:
            assert status == 200, (model, v)
        else:
            assert status != 200, (model, v, status)
