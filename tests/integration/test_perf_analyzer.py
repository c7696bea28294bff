"""perf_analyzer (Triton's load generator, the binary from the tritonclient
2.34.0 wheel that scripts/install-deps.sh installs into .tools/perf_analyzer)
against a real inferd: short concurrency sweeps (1..4) over HTTP and gRPC on
the y = a + b model and on a small CNN with dynamic batching (-b 2), gRPC
streaming, and --input-data from a JSON file with validation_data, so
perf_analyzer also checks the answers.

Each run must exit 0 with no error or warning in its output, report every
concurrency level, and its figures must agree with inferd's own counters:
per level, the server-side request count perf_analyzer took from
ModelStatistics (REST /v2/models/{m}/stats or gRPC) matches the requests
its client counted; over the whole run, inferd_requests_total on /metrics
grew exactly as ModelStatistics' success count did, by at least what the
client counted, with no failures.

Skips only where install-deps never ran (no .venv stamp, not CI); anywhere
else a missing binary is a failure."""

import http.client
import json
import os
import re
import subprocess
import time

import pytest

from conftest import ROOT, SANITIZED, Server, get
import models

WRAPPER = os.path.join(ROOT, "tools", "perf_analyzer.sh")
BINARY = os.path.join(ROOT, ".tools", "perf_analyzer", "bin", "perf_analyzer")
INSTALL_STAMP = os.path.join(ROOT, ".venv", ".requirements.sha256")

# Short windows; -s 1000 accepts any three windows as stable, so a loaded
# machine (or ASan) slows the run down but cannot fail it. Timing is not
# what this tests.
WINDOW_MS = "500" if SANITIZED else "400"
SWEEP = ["--concurrency-range", "1:4", "-p", WINDOW_MS, "-s", "1000", "-r", "10"]
ADD_SHAPES = ["--shape", "a:1,4", "--shape", "b:1,4"]


@pytest.fixture(scope="module")
def perf_analyzer():
    if not os.access(BINARY, os.X_OK):
        msg = ("%s is missing: scripts/install-deps.sh test installs it (the tritonclient "
               "2.34.0 wheel's binary)" % BINARY)
        if os.environ.get("CI") or os.path.exists(INSTALL_STAMP):
            pytest.fail(msg + "; install-deps has run here, so rerun it")
        pytest.skip(msg)
    return WRAPPER


@pytest.fixture(scope="module")
def pa_server(inferd_bin, tmp_path_factory):
    repo = models.make_repo(tmp_path_factory.mktemp("pa-repo"), ["add", "small_cnn"])
    s = Server(repo, name="perf_analyzer")
    yield s
    s.stop()


# --- inferd's counters ------------------------------------------------------------

def stats(server, model):
    r = get(server, "/v2/models/%s/stats" % model)
    assert r.status == 200, r
    row = r.json()["model_stats"][0]
    return {"success": row["inference_stats"]["success"]["count"],
            "fail": row["inference_stats"]["fail"]["count"],
            "inferences": row["inference_count"], "executions": row["execution_count"]}


def metrics_requests(server, model):
    """inferd_requests_total of the model: (success, failures of any reason)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.metrics_port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
    finally:
        conn.close()
    ok = bad = 0
    pat = re.compile(r'^inferd_requests_total\{model="%s",version="1",status="(\w+)",[^}]*\} (\d+)$'
                     % re.escape(model))
    for line in body.splitlines():
        m = pat.match(line)
        if m:
            if m.group(1) == "success":
                ok += int(m.group(2))
            else:
                bad += int(m.group(2))
    return ok, bad


def settled(server, model):
    """Counters once in-flight requests have completed (perf_analyzer has
    exited; its last responses may still be counted)."""
    last = None
    for _ in range(50):
        now = (stats(server, model), metrics_requests(server, model))
        if now == last:
            return now
        last = now
        time.sleep(0.1)
    return last


# --- perf_analyzer's output --------------------------------------------------------

def parse_levels(out):
    """{concurrency: {"client": n, "server": n, "inferences": n, "executions": n,
    "throughput": f}} from perf_analyzer's report."""
    levels = {}
    for block in re.split(r"^Request concurrency: ", out, flags=re.M)[1:]:
        c = int(block.split()[0])
        def num(label):
            m = re.search(r"^\s*%s: ([\d.]+)" % label, block, re.M)
            assert m, "no %r for concurrency %d in:\n%s" % (label, c, block)
            return float(m.group(1))
        levels[c] = {"client": int(num("Request count")), "throughput": num("Throughput"),
                     "server": int(num("Successful request count")),
                     "inferences": int(num("Inference count")),
                     "executions": int(num("Execution count"))}
    return levels


def run_pa(pa, server, model, protocol, *args, timeout=120):
    url = ["-u", "127.0.0.1:%d" % (server.grpc_port if protocol == "grpc" else server.port),
           "-i", protocol]
    cmd = [pa, "-m", model] + url + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, cwd=ROOT)
    out = p.stdout
    assert p.returncode == 0, "perf_analyzer exited %d:\n$ %s\n%s" % (p.returncode, " ".join(cmd), out)
    bad = [l for l in out.splitlines() if re.search(r"error|warning|fail|unable", l, re.I)]
    assert not bad, "perf_analyzer complained:\n%s\n\nfull output:\n%s" % ("\n".join(bad), out)
    return out


def check_run(server, model, before, out, levels_expected, batch=1):
    """The per-level and whole-run agreements described at the top."""
    levels = parse_levels(out)
    assert sorted(levels) == levels_expected, out
    for c, lv in levels.items():
        assert lv["client"] > 0 and lv["throughput"] > 0, (c, lv, out)
        # The client counts requests that completed inside its windows; the
        # server side is the difference of two ModelStatistics calls made
        # around them, while requests keep flowing: they differ by what is in
        # flight at each end (c) plus what completes while a call is on the
        # wire (a few ms of throughput; allowed up to 5% of the windows, for
        # a loaded machine or ASan).
        slack = 2 * c + 2 + 0.05 * lv["client"]
        assert abs(lv["server"] - lv["client"]) <= slack, (c, lv, out)
        # Samples and executions are counted when a batch executes,
        # successes when its answers complete: a window's edges can fall
        # between the two for the requests in flight (at most c), so only the
        # settled totals below are exact.
        assert abs(lv["inferences"] - batch * lv["server"]) <= batch * (c + 1), (c, lv, out)
        assert lv["executions"] <= lv["server"] + c + 1, (c, lv, out)
    (st0, (ok0, bad0)) = before
    (st1, (ok1, bad1)) = settled(server, model)
    grown = ok1 - ok0
    assert grown == st1["success"] - st0["success"], (before, st1, ok1)
    assert grown >= sum(lv["client"] for lv in levels.values()), (grown, levels)
    assert st1["inferences"] - st0["inferences"] == batch * grown
    assert st1["executions"] - st0["executions"] <= grown
    assert bad1 == bad0 and st1["fail"] == st0["fail"], "requests failed: %r -> %r" % (bad0, bad1)
    assert server.alive()
    return levels


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_sweep_add(perf_analyzer, pa_server, protocol):
    before = settled(pa_server, "add")
    out = run_pa(perf_analyzer, pa_server, "add", protocol, *(ADD_SHAPES + SWEEP))
    check_run(pa_server, "add", before, out, [1, 2, 3, 4])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_sweep_small_cnn_batched(perf_analyzer, pa_server, protocol):
    """-b 2 on a max_batch_size 8 model with dynamic batching: every request
    is 2 samples, and the batcher may merge requests (executions <= requests)."""
    before = settled(pa_server, "small_cnn")
    out = run_pa(perf_analyzer, pa_server, "small_cnn", protocol, "-b", "2", *SWEEP)
    check_run(pa_server, "small_cnn", before, out, [1, 2, 3, 4], batch=2)


def test_grpc_streaming(perf_analyzer, pa_server):
    before = settled(pa_server, "add")
    out = run_pa(perf_analyzer, pa_server, "add", "grpc", "--streaming", "--concurrency-range", "1:2",
                 "-p", WINDOW_MS, "-s", "1000", *ADD_SHAPES)
    check_run(pa_server, "add", before, out, [1, 2])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_input_data_json_validated(perf_analyzer, pa_server, protocol, tmp_path):
    """--input-data with validation_data: perf_analyzer compares every
    answer with the expected output and fails the run on a mismatch."""
    data = {"data": [{"a": {"content": [1.0, 2.0, 3.0, 4.0], "shape": [1, 4]},
                      "b": {"content": [10.0, 20.0, 30.0, 40.0], "shape": [1, 4]}},
                     {"a": {"content": [0.5, -1.0, 7.0, 8.0], "shape": [1, 4]},
                      "b": {"content": [0.25, 1.0, -7.0, 1.0], "shape": [1, 4]}}],
            "validation_data": [{"y": {"content": [11.0, 22.0, 33.0, 44.0], "shape": [1, 4]}},
                                {"y": {"content": [0.75, 0.0, 0.0, 9.0], "shape": [1, 4]}}]}
    path = tmp_path / "add.json"
    path.write_text(json.dumps(data))
    out = run_pa(perf_analyzer, pa_server, "add", protocol, "--input-data", str(path),
                 "-p", WINDOW_MS, "-s", "1000")
    assert parse_levels(out)[1]["client"] > 0
    # A wrong expectation must fail: the validation really compares.
    data["validation_data"][1]["y"]["content"][3] = 10.0
    path.write_text(json.dumps(data))
    p = subprocess.run([perf_analyzer, "-m", "add", "-i", protocol, "-u", "127.0.0.1:%d" % (
        pa_server.grpc_port if protocol == "grpc" else pa_server.port), "--input-data", str(path),
        "-p", WINDOW_MS, "-s", "1000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=120)
    assert p.returncode != 0 and "doesn't match expected output" in p.stdout, p.stdout
