"""Triton's model configuration and statistics extensions over REST
(GET /v2/models/{m}[/versions/{v}]/config, GET /v2/models[/{m}[/versions/{v}]]/stats),
which perf_analyzer calls over HTTP, checked against what the gRPC
frontend's ModelConfig and ModelStatistics say for the same versions; and
the clear refusal of the shared-memory extensions."""

import pytest

from conftest import Server, assert_error, get, infer, post
import models

grpc = pytest.importorskip("grpc")


@pytest.fixture(scope="module")
def cs_server(inferd_bin, tmp_path_factory):
    repo = models.make_repo(tmp_path_factory.mktemp("cs-repo"),
                            ["digits", "add", "small_cnn", "scale_all", "scale_specific"])
    s = Server(repo, name="config-stats")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def gclient(cs_server):
    import tritonclient.grpc as grpcclient
    c = grpcclient.InferenceServerClient("127.0.0.1:%d" % cs_server.grpc_port)
    yield c
    c.close()


def _ints(v):
    return [int(x) for x in v]


def _summary(cfg):
    """The fields both frontends must agree on, normalised: gRPC's JSON (via
    protobuf) leaves out defaults and writes int64 as strings."""
    db = cfg.get("dynamic_batching")
    return {
        "name": cfg["name"], "platform": cfg["platform"], "backend": cfg.get("backend"),
        "max_batch_size": int(cfg.get("max_batch_size", 0)),
        "input": [(t["name"], t["data_type"], _ints(t.get("dims", [])), bool(t.get("optional")))
                  for t in cfg["input"]],
        "output": [(t["name"], t["data_type"], _ints(t.get("dims", []))) for t in cfg["output"]],
        "version_policy": {k: {kk: (_ints(vv) if isinstance(vv, list) else int(vv))
                               for kk, vv in v.items()} for k, v in cfg["version_policy"].items()},
        "dynamic_batching": None if db is None else
        (int(db.get("max_queue_delay_microseconds", 0)), _ints(db.get("preferred_batch_size", []))),
        "instance_group": [(g["name"], g["kind"], int(g["count"])) for g in cfg["instance_group"]],
        "default_model_filename": cfg.get("default_model_filename"),
    }


@pytest.mark.parametrize("model", ["digits", "add", "small_cnn", "scale_all", "scale_specific"])
def test_config_matches_grpc(cs_server, gclient, model):
    r = get(cs_server, "/v2/models/%s/config" % model)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json")
    rest = r.json()
    assert _summary(rest) == _summary(gclient.get_model_config(model, as_json=True)["config"])
    # REST writes numbers as numbers (perf_analyzer reads them either way).
    assert isinstance(rest["max_batch_size"], int)
    assert all(isinstance(d, int) for t in rest["input"] for d in t["dims"])


def test_config_content(cs_server):
    cnn = get(cs_server, "/v2/models/small_cnn/config").json()
    assert cnn["max_batch_size"] == 8
    assert cnn["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [3, 224, 224],
                             "is_shape_tensor": False, "format": "FORMAT_NONE",
                             "allow_ragged_batch": False, "optional": False}]
    assert cnn["dynamic_batching"]["max_queue_delay_microseconds"] == 0
    assert cnn["dynamic_batching"]["preferred_batch_size"] == [8]
    add = get(cs_server, "/v2/models/add/config").json()
    assert add["max_batch_size"] == 0 and "dynamic_batching" not in add
    assert [t["dims"] for t in add["input"]] == [[-1, 4], [-1, 4]]     # derived from the ONNX file
    assert get(cs_server, "/v2/models/scale_specific/config").json()["version_policy"] == \
        {"specific": {"versions": [1, 3]}}
    v3 = get(cs_server, "/v2/models/scale_all/versions/3/config")
    assert v3.status == 200 and v3.json()["name"] == "scale_all"


def test_config_errors(cs_server):
    assert_error(get(cs_server, "/v2/models/no_such_model/config"), 404, "no_such_model")
    assert_error(get(cs_server, "/v2/models/scale_specific/versions/2/config"), 404)
    assert_error(get(cs_server, "/v2/models/add/versions/x/config"), 400, "positive integer")
    assert post(cs_server, "/v2/models/add/config", {}).status == 405


def _stats_row(resp_json, name, version="1"):
    rows = [m for m in resp_json["model_stats"] if m["name"] == name and m["version"] == version]
    assert len(rows) == 1, resp_json
    return rows[0]


def _grpc_row(gclient, name, version="1"):
    rows = gclient.get_inference_statistics(name, version, as_json=True)["model_stats"]
    assert len(rows) == 1, rows
    return rows[0]


def test_stats_count_requests_as_grpc_does(cs_server, gclient):
    before = _stats_row(get(cs_server, "/v2/models/add/stats").json(), "add")
    for _ in range(3):
        r = infer(cs_server, "add", [("a", "FP32", [2, 4], [1.0] * 8), ("b", "FP32", [2, 4], [2.0] * 8)])
        assert r.status == 200, r
    bad = infer(cs_server, "add", [("a", "FP32", [1, 4], [1.0] * 4)])    # b missing: refused
    assert bad.status == 400
    after = _stats_row(get(cs_server, "/v2/models/add/stats").json(), "add")
    s0, s1 = before["inference_stats"], after["inference_stats"]
    assert s1["success"]["count"] == s0["success"]["count"] + 3
    assert after["inference_count"] == before["inference_count"] + 3     # no batch dim: 1 each
    assert after["execution_count"] == before["execution_count"] + 3
    assert s1["success"]["ns"] > s0["success"]["ns"]
    assert s1["success"]["ns"] == s1["queue"]["ns"] + s1["compute_infer"]["ns"]
    for key in ("inference_count", "execution_count"):
        assert isinstance(after[key], int)
    for d in s1.values():
        assert isinstance(d["count"], int) and isinstance(d["ns"], int)
    # Idle now: both frontends read the same counters.
    g = _grpc_row(gclient, "add")
    assert int(g["inference_count"]) == after["inference_count"]
    assert int(g["inference_stats"]["success"]["count"]) == s1["success"]["count"]
    assert int(g["inference_stats"]["success"]["ns"]) == s1["success"]["ns"]
    assert int(g["inference_stats"]["queue"]["ns"]) == s1["queue"]["ns"]


def test_stats_paths(cs_server):
    every = get(cs_server, "/v2/models/stats")
    assert every.status == 200, every
    names = {(m["name"], m["version"]) for m in every.json()["model_stats"]}
    assert {("add", "1"), ("digits", "1"), ("small_cnn", "1"), ("scale_all", "1"),
            ("scale_all", "2"), ("scale_all", "3"), ("scale_specific", "1"),
            ("scale_specific", "3")} <= names
    all_versions = get(cs_server, "/v2/models/scale_all/stats").json()["model_stats"]
    assert [m["version"] for m in all_versions] == ["1", "2", "3"]
    one = get(cs_server, "/v2/models/scale_all/versions/2/stats").json()["model_stats"]
    assert [(m["name"], m["version"]) for m in one] == [("scale_all", "2")]
    assert_error(get(cs_server, "/v2/models/no_such_model/stats"), 404, "no_such_model")
    assert_error(get(cs_server, "/v2/models/scale_specific/versions/2/stats"), 404)
    assert post(cs_server, "/v2/models/stats", {}).status == 405


def test_server_metadata_lists_the_extensions(cs_server, gclient):
    ext = get(cs_server, "/v2").json()["extensions"]
    assert {"binary_tensor_data", "model_repository", "model_configuration", "statistics"} <= set(ext)
    assert {"model_configuration", "statistics"} <= set(gclient.get_server_metadata(as_json=True)["extensions"])


@pytest.mark.parametrize("path", ["/v2/systemsharedmemory/region/r/register",
                                  "/v2/cudasharedmemory/status"])
def test_shared_memory_is_refused_clearly(cs_server, path):
    assert_error(post(cs_server, path, {"key": "k", "byte_size": 16}), 400,
                 "shared-memory extensions", "not supported")
