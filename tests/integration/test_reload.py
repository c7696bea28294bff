"""Live repository changes (issue 3): --model-control-mode poll and
explicit, version swaps without failed requests, broken and tampered
versions refused while the old one serves, version policies on reload,
memory returned on unload, and the repository extension endpoints."""

import os
import shutil
import threading
import time

import pytest

import lifecycle_models as lm
import models
from conftest import assert_error, flat, get, infer, output, post

POLL = ("--model-control-mode", "poll", "--repository-poll-secs", "1")
EXPLICIT = ("--model-control-mode", "explicit")
ADD = [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [1, 1, 1, 1])]


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def index(s, ready=None):
    r = post(s, "/v2/repository/index", {} if ready is None else {"ready": ready})
    assert r.status == 200, r
    return r.json()


def versions(s, model):
    """{"1": "READY", ...} from the repository index."""
    return {row.get("version", ""): row["state"] for row in index(s) if row["name"] == model}


def scale_version(s, model="m"):
    """Which scale(k) version answered: y = x * k with x = 1."""
    r = infer(s, model, [("x", "FP32", [1, 2], [1, 1])])
    if r.status != 200:
        return r
    return int(round(flat(output(r.json(), "y")["data"])[0]))


class Traffic:
    """Requests to one model, back to back on fresh connections, and the
    server's readiness, from a background thread until stop()."""

    def __init__(self, server, model="m"):
        self.server, self.model = server, model
        self.answers, self.failures, self.ready = [], [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self):
        i = 0
        while not self._stop.is_set():
            try:
                v = scale_version(self.server, self.model)
                (self.answers if isinstance(v, int) else self.failures).append(v)
                if i % 5 == 0:
                    self.ready.append(get(self.server, "/v2/health/ready").status)
            except OSError as e:
                self.failures.append(repr(e))
            i += 1

    def stop(self):
        self._stop.set()
        self._thread.join(60)
        assert not self.failures, "requests failed: %r" % self.failures[:5]
        assert self.answers, "no request was answered"
        assert set(self.ready) == {200}, "readiness flapped: %r" % sorted(set(self.ready))


@pytest.fixture
def scale_repo(tmp_path):
    repo = str(tmp_path / "repo")
    lm.place_version(repo, "m", 1, models.scale(1))
    return repo


# --- poll -------------------------------------------------------------------------

def test_new_version_takes_over_without_failed_requests(start_server, scale_repo):
    # Version 2 warms up for a while: version 1 must keep serving meanwhile.
    with open(os.path.join(scale_repo, "m", "config.pbtxt"), "w") as f:
        f.write(SLOW_SCALE_CONFIG)
    s = start_server(scale_repo, *POLL, name="poll-new")
    assert scale_version(s) == 1
    traffic = Traffic(s)
    lm.place_version(scale_repo, "m", 2, models.scale(2))
    wait_for(lambda: versions(s, "m").get("2") == "LOADING" or versions(s, "m") == {"2": "READY"},
             30, "version 2 to start loading")
    wait_for(lambda: versions(s, "m") == {"2": "READY"}, 60, "version 2 alone")
    wait_for(lambda: traffic.answers[-1:] == [2], 30, "answers from version 2")
    traffic.stop()
    assert 1 in traffic.answers and 2 in traffic.answers
    last_one = max(i for i, v in enumerate(traffic.answers) if v == 1)
    assert all(v == 2 for v in traffic.answers[last_one + 1:])
    assert get(s, "/v2/models/m/versions/1/ready").status == 404
    log = s.log()
    assert "model 'm' version 2 appeared" in log
    assert "unloading model 'm' version 1" in log and "unloaded model 'm' version 1" in log
    assert log.index("loaded model 'm' version 2") < log.index("unloading model 'm' version 1")


# Warmup that takes a moment, so a load can be watched.
SLOW_SCALE_CONFIG = """\
max_batch_size: 0
model_warmup [ {
  name: "slow"
  batch_size: 1
  count: 20000
  inputs { key: "x" value: { data_type: TYPE_FP32 dims: [ 1, 2 ] zero_data: true } }
} ]
"""


def test_deleted_version_drains_and_unloads(start_server, scale_repo):
    lm.place_version(scale_repo, "m", 2, models.scale(2))
    s = start_server(scale_repo, *POLL, name="poll-delete")
    assert versions(s, "m") == {"2": "READY"}
    traffic = Traffic(s)
    time.sleep(0.3)
    lm.remove_version(scale_repo, "m", 2)   # roll back: version 1 is the latest now
    wait_for(lambda: versions(s, "m") == {"1": "READY"}, 30, "version 1 alone")
    wait_for(lambda: traffic.answers[-1:] == [1], 30, "answers from version 1")
    traffic.stop()
    assert "unloaded model 'm' version 2" in s.log()


def test_removed_model_unloads(start_server, scale_repo):
    models.add_named(scale_repo, "add")
    s = start_server(scale_repo, *POLL, name="poll-remove-model")
    assert infer(s, "add", ADD).status == 200
    shutil.rmtree(os.path.join(scale_repo, "add"))
    wait_for(lambda: infer(s, "add", ADD).status == 404, 30, "model 'add' to go")
    assert "add" not in {row["name"] for row in index(s)}
    assert scale_version(s) == 1
    assert "unloaded model 'add' version 1" in s.log()


@pytest.mark.parametrize("broken", ["garbage", "truncated", "unsupported_op", "failed_warmup"])
def test_broken_version_is_refused_and_the_old_one_serves(start_server, scale_repo, broken):
    with open(os.path.join(scale_repo, "m", "config.pbtxt"), "w") as f:
        f.write(WARMUP_X_CONFIG)
    s = start_server(scale_repo, *POLL, name="poll-broken-" + broken)
    traffic = Traffic(s)
    if broken == "garbage":
        bad = b"\x08\x07\x12\x04junk" + bytes(range(256)) * 4
    elif broken == "truncated":
        m = models.scale(2)
        m.ir_version = 7
        data = m.SerializeToString()
        bad = data[:len(data) // 2]
    elif broken == "unsupported_op":
        bad = models.unsupported_op()
    else:  # loads, but the config's warmup sample does not fit it
        bad = models.identity("FP32")
    lm.place_version(scale_repo, "m", 2, bad)
    wait_for(lambda: versions(s, "m").get("2") == "FAILED", 30, "version 2 to fail")
    time.sleep(1.5)     # a few more polls: the same files are not retried
    traffic.stop()
    assert set(traffic.answers) == {1}
    rows = {row["version"]: row for row in index(s) if row["name"] == "m"}
    assert rows["1"]["state"] == "READY"
    assert rows["2"]["reason"], rows
    assert get(s, "/v2/models/m/versions/2/ready").status == 503
    assert_error(infer(s, "m", [("x", "FP32", [1, 2], [1, 1])], version=2), 503, "version 2")
    log = s.log()
    assert log.count("failed to load model 'm' version 2") == 1, log[-3000:]
    # Fixed: version 2 loads and takes over.
    shutil.rmtree(os.path.join(scale_repo, "m", "2"))
    lm.place_version(scale_repo, "m", 2, models.scale(2))
    wait_for(lambda: versions(s, "m") == {"2": "READY"}, 30, "the fixed version 2")
    assert scale_version(s) == 2


# A warmup sample for input "x" [1, 2]: fits scale(k), not identity (input "in").
WARMUP_X_CONFIG = """\
max_batch_size: 0
model_warmup [ {
  name: "x_sample"
  batch_size: 1
  inputs { key: "x" value: { data_type: TYPE_FP32 dims: [ 1, 2 ] zero_data: true } }
} ]
"""


def test_sha256sums_mismatch_is_refused(start_server, scale_repo):
    s = start_server(scale_repo, *POLL, name="poll-sha256")
    lm.place_version(scale_repo, "m", 2, models.scale(2), manifest="bad")
    wait_for(lambda: versions(s, "m").get("2") == "FAILED", 30, "version 2 to be refused")
    rows = {row["version"]: row for row in index(s) if row["name"] == "m"}
    assert "checksum mismatch" in rows["2"]["reason"]
    assert scale_version(s) == 1
    assert "sha256sums line 1: model.onnx: checksum mismatch" in s.log()
    lm.place_version(scale_repo, "m", 3, models.scale(3), manifest="good")
    wait_for(lambda: versions(s, "m") == {"3": "READY"}, 30, "version 3 with a good manifest")
    assert scale_version(s) == 3


def test_changed_files_of_a_serving_version_reload(start_server, scale_repo):
    s = start_server(scale_repo, *POLL, name="poll-changed")
    traffic = Traffic(s)
    # Same version number, new files (written in place, as rsync would).
    tmp = os.path.join(scale_repo, "new.onnx")
    m = models.scale(5)
    m.ir_version = 7
    import onnx
    onnx.save(m, tmp)
    os.replace(tmp, os.path.join(scale_repo, "m", "1", "model.onnx"))
    wait_for(lambda: traffic.answers[-1:] == [5], 30, "the new copy of version 1")
    traffic.stop()
    assert versions(s, "m") == {"1": "READY"}
    assert "the new copy serves; the old one drains" in s.log()


def test_version_policy_applies_on_reload(start_server, tmp_path):
    repo = str(tmp_path / "repo")
    for v in (1, 2, 3):
        lm.place_version(repo, "p", v, models.scale(v))
    cfg = os.path.join(repo, "p", "config.pbtxt")

    def policy(text):
        with open(cfg, "w") as f:
            f.write("version_policy: %s\n" % text)

    policy("{ latest { num_versions: 2 } }")
    s = start_server(repo, *POLL, name="poll-policy")
    assert versions(s, "p") == {"2": "READY", "3": "READY"}
    lm.place_version(repo, "p", 4, models.scale(4))
    wait_for(lambda: versions(s, "p") == {"3": "READY", "4": "READY"}, 30, "latest 2 of 4")
    policy("{ specific { versions: [ 1, 3 ] } }")
    wait_for(lambda: versions(s, "p") == {"1": "READY", "3": "READY"}, 30, "specific [1, 3]")
    assert scale_version(s, "p") == 3
    policy("{ all { } }")
    wait_for(lambda: versions(s, "p") == {str(v): "READY" for v in (1, 2, 3, 4)}, 30, "all")
    # A config that no longer parses keeps what serves.
    policy("{ bogus { } }")
    time.sleep(2.5)
    assert versions(s, "p") == {str(v): "READY" for v in (1, 2, 3, 4)}
    assert "the versions loaded before keep serving" in s.log()


def test_loading_does_not_stop_other_models(start_server, tmp_path):
    repo = models.make_repo(tmp_path / "repo", ["add"])
    s = start_server(repo, *POLL, name="poll-other-models")
    lm.place_version(repo, "slow", 1, lm.busy(rows=128, layers=4))
    with open(os.path.join(repo, "slow", "config.pbtxt"), "w") as f:
        f.write(lm.slow_warmup_config("slow", count=40))
    wait_for(lambda: versions(s, "slow").get("1") == "LOADING", 30, "'slow' to start loading")
    answered = 0
    while versions(s, "slow").get("1") == "LOADING":
        assert infer(s, "add", ADD).status == 200
        assert get(s, "/v2/health/ready").status == 200
        answered += 1
    assert versions(s, "slow") == {"1": "READY"}
    assert answered > 0


# --- explicit ------------------------------------------------------------------------

def test_explicit_mode_endpoints(start_server, tmp_path):
    repo = models.make_repo(tmp_path / "repo", ["add", "digits"])
    lm.place_version(repo, "bad", 1, b"not an onnx file")
    s = start_server(repo, *EXPLICIT, "--load-model", "add", name="explicit")
    meta = get(s, "/v2").json()
    assert "model_repository" in meta["extensions"]
    assert infer(s, "add", ADD).status == 200
    assert get(s, "/v2/models/digits/ready").status == 404
    rows = {row["name"]: row for row in index(s)}
    assert rows["add"]["state"] == "READY" and rows["add"]["version"] == "1"
    assert rows["digits"]["state"] == "UNAVAILABLE" and rows["digits"]["reason"] == "not loaded"
    assert [row["name"] for row in index(s, ready=True)] == ["add"]

    r = post(s, "/v2/repository/models/digits/load", "")
    assert r.status == 200, r
    assert get(s, "/v2/models/digits/ready").status == 200
    assert infer(s, "digits", [("image", "FP32", [1, 64], [0] * 64)]).status == 200

    assert_error(post(s, "/v2/repository/models/bad/load", {}), 400, "bad", "version 1")
    assert_error(post(s, "/v2/repository/models/nope/load", {}), 404, "nope")
    assert_error(post(s, "/v2/repository/models/digits/load",
                      {"parameters": {"config": "{}"}}), 400, "config")
    r = get(s, "/v2/repository/index")
    assert r.status == 405 and r.headers.get("allow") == "POST"

    r = post(s, "/v2/repository/models/digits/unload", {})
    assert r.status == 200, r
    assert get(s, "/v2/models/digits/ready").status == 503
    assert_error(infer(s, "digits", [("image", "FP32", [1, 64], [0] * 64)]), 503, "unloaded")
    rows = {row["name"]: row for row in index(s)}
    assert rows["digits"]["reason"] == "unloaded"
    assert "unloaded model 'digits' version 1" in s.log()
    # Unloading does not touch the server's readiness.
    assert get(s, "/v2/health/ready").status == 200


def test_explicit_with_tritonclient(start_server, tmp_path):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
    repo = models.make_repo(tmp_path / "repo", ["add", "digits"])
    s = start_server(repo, *EXPLICIT, name="explicit-tritonclient")
    c = httpclient.InferenceServerClient(url="127.0.0.1:%d" % s.port)
    try:
        names = {m["name"] for m in c.get_model_repository_index()}
        assert names == {"add", "digits"}
        assert not c.is_model_ready("add")
        c.load_model("add")
        assert c.is_model_ready("add")
        c.unload_model("add")
        assert not c.is_model_ready("add")
        with pytest.raises(InferenceServerException):
            c.load_model("no_such_model")
    finally:
        c.close()


def test_load_and_unload_need_explicit_mode(start_server, scale_repo):
    s = start_server(scale_repo, *POLL, name="poll-no-explicit")
    assert_error(post(s, "/v2/repository/models/m/load", {}), 400, "explicit", "poll")
    assert_error(post(s, "/v2/repository/models/m/unload", {}), 400, "explicit")
    assert versions(s, "m") == {"1": "READY"}     # the index works in every mode


def test_unload_returns_memory(start_server, tmp_path):
    """RSS before/after unloading a model with 200 MB of weights."""
    repo = str(tmp_path / "repo")
    lm.place_version(repo, "big", 1, lm.big(mb=200))
    s = start_server(repo, *EXPLICIT, name="unload-rss")
    x = [("x", "FP32", [1, 4096], [0.5] * 4096)]
    rss0 = lm.rss_kb(s.proc.pid)
    assert post(s, "/v2/repository/models/big/load", {}).status == 200
    r = infer(s, "big", x)
    assert r.status == 200, r
    rss1 = lm.rss_kb(s.proc.pid)
    assert post(s, "/v2/repository/models/big/unload", {}).status == 200
    rss2 = lm.rss_kb(s.proc.pid)
    grew, kept = rss1 - rss0, rss2 - rss0
    print("RSS kB: before load %d, loaded %d (+%d), after unload %d (+%d)"
          % (rss0, rss1, grew, rss2, kept))
    assert grew > 150 * 1024, "the model's weights did not show in RSS"
    assert kept < 0.1 * grew, "unloading kept %d of %d kB" % (kept, grew)
    # Load again: the same memory comes back and goes again.
    assert post(s, "/v2/repository/models/big/load", {}).status == 200
    assert infer(s, "big", x).status == 200
    assert post(s, "/v2/repository/models/big/unload", {}).status == 200
    assert lm.rss_kb(s.proc.pid) - rss0 < 0.1 * grew
