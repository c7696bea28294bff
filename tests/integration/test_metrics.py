"""Metrics and logs of the real server: GET /metrics on --metrics-port after
traffic with successes and failures, checked by Debian's `promtool check
metrics` and by value; a real Prometheus server scraping inferd every second
and answering queries about it; the flags around the port; and the log
formats (JSON lines when stdout is not a terminal, text on a terminal), with
a per-request line at --log-verbose 1 and load/unload events always."""

import json
import os
import pty
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import INFERD_BIN, SANITIZER_MARKERS, START_TIMEOUT, free_port, infer
import models

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
NEED = "scripts/install-deps.sh test installs Debian's prometheus package"

FAMILIES = {
    "inferd_requests_total": "counter",
    "inferd_request_duration_seconds": "histogram",
    "inferd_queue_duration_seconds": "histogram",
    "inferd_compute_duration_seconds": "histogram",
    "inferd_batch_size": "histogram",
    "inferd_inference_count_total": "counter",
    "inferd_execution_count_total": "counter",
    "inferd_queue_size": "gauge",
    "inferd_inflight_requests": "gauge",
    "inferd_model_ready": "gauge",
    "inferd_model_load_duration_seconds": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
}

ADD_OK = [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [10, 20, 30, 40])]
ADD_BAD = [("a", "FP32", [1, 3], [1, 2, 3]), ("b", "FP32", [1, 3], [1, 2, 3])]


def http_get(port, path, method="GET", timeout=10):
    """(status, headers, body text) of one request to 127.0.0.1:port."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


def scrape(server):
    status, headers, body = http_get(server.metrics_port, "/metrics")
    assert status == 200, body
    return headers, body


def samples(text):
    """{(name, frozenset(labels.items())): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, "bad sample line: %r" % line
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def value(s, name, **labels):
    return s.get((name, frozenset(labels.items())))


def traffic(server, ok, bad):
    for _ in range(ok):
        r = infer(server, "add", ADD_OK)
        assert r.status == 200, r
    for _ in range(bad):
        r = infer(server, "add", ADD_BAD)
        assert r.status == 400, r


@pytest.fixture
def add_repo(tmp_path):
    return models.make_repo(tmp_path / "repo", ["add", "digits"])


# --- /metrics ------------------------------------------------------------------------

@pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: " + NEED)
def test_metrics_pass_promtool_and_count_traffic(start_server, add_repo):
    s = start_server(add_repo, name="metrics")
    traffic(s, ok=5, bad=2)
    assert infer(s, "nosuchmodel", ADD_OK).status == 404   # no series for unknown models
    headers, text = scrape(s)
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"

    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode == 0 and not p.stdout.strip(), \
        "promtool check metrics:\n%s\n--- exposition:\n%s" % (p.stdout.decode(), text)

    for name, kind in FAMILIES.items():
        assert "# TYPE %s %s\n" % (name, kind) in text, name
        assert "# HELP %s " % name in text, name
    smp = samples(text)
    v = dict(model="add", version="1")
    assert value(smp, "inferd_requests_total", status="success", reason="", **v) == 5
    assert value(smp, "inferd_requests_total", status="failure", reason="invalid_input", **v) == 2
    assert value(smp, "inferd_requests_total", status="failure", reason="queue_full", **v) == 0
    assert value(smp, "inferd_request_duration_seconds_count", **v) == 5
    assert value(smp, "inferd_request_duration_seconds_bucket", le="+Inf", **v) == 5
    assert value(smp, "inferd_request_duration_seconds_bucket", le="10", **v) == 5
    assert 0 < value(smp, "inferd_request_duration_seconds_sum", **v) < 5 * 10
    assert value(smp, "inferd_queue_duration_seconds_count", **v) == 5
    assert value(smp, "inferd_compute_duration_seconds_count", **v) == 5
    assert value(smp, "inferd_execution_count_total", **v) == 5
    assert value(smp, "inferd_inference_count_total", **v) == 5
    assert value(smp, "inferd_batch_size_bucket", le="1", **v) == 5
    assert value(smp, "inferd_model_ready", **v) == 1
    assert value(smp, "inferd_model_ready", model="digits", version="1") == 1
    assert value(smp, "inferd_model_load_duration_seconds", **v) > 0
    assert value(smp, "inferd_queue_size", model="add") == 0
    # counted out of flight just after the response went: settles at once
    deadline = time.monotonic() + 5
    while value(samples(scrape(s)[1]), "inferd_inflight_requests", model="add") != 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert value(smp, "inferd_requests_total", status="success", reason="",
                 model="digits", version="1") == 0
    assert not any('model="nosuchmodel"' in line for line in text.splitlines())
    # process metrics describe this very process
    assert value(smp, "process_resident_memory_bytes") > 1 << 20
    assert value(smp, "process_open_fds") >= 3
    assert value(smp, "process_max_fds") >= value(smp, "process_open_fds")
    assert abs(value(smp, "process_start_time_seconds") - time.time()) < 3600
    assert value(smp, "process_cpu_seconds_total") >= 0

    # counters only grow
    traffic(s, ok=1, bad=0)
    smp2 = samples(scrape(s)[1])
    assert value(smp2, "inferd_requests_total", status="success", reason="", **v) == 6


def test_metrics_port_answers_only_metrics(start_server, add_repo):
    s = start_server(add_repo, name="metrics-routes")
    status, _, body = http_get(s.metrics_port, "/")
    assert status == 404 and "/metrics" in json.loads(body)["error"]
    status, headers, _ = http_get(s.metrics_port, "/metrics", method="POST")
    assert status == 405 and "GET" in headers.get("allow", "")
    status, headers, body = http_get(s.metrics_port, "/metrics", method="HEAD")
    assert status == 200 and body == "" and int(headers["content-length"]) > 1000
    # and the inference port does not serve metrics
    status, _, _ = http_get(s.port, "/metrics")
    assert status == 404


def test_metrics_port_off_and_busy(start_server, add_repo):
    s = start_server(add_repo, "--metrics-port", "-1", name="metrics-off")
    assert s.metrics_port == -1
    assert "metrics (Prometheus) listening" not in s.log()

    # a busy metrics port is a start-up error that names the address
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        p = subprocess.run([INFERD_BIN, "serve", "--model-repository", str(add_repo),
                            "--http-port", str(free_port()), "--grpc-port", "-1",
                            "--metrics-address", "127.0.0.1", "--metrics-port", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=START_TIMEOUT)
    out = p.stdout.decode(errors="replace")
    assert p.returncode != 0, out
    assert "metrics server" in out and str(port) in out, out

    p = subprocess.run([INFERD_BIN, "serve", "--model-repository", str(add_repo),
                        "--metrics-port", "70000"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 2 and b"--metrics-port" in p.stdout


def test_metrics_port_from_environment(inferd_bin, add_repo):
    """INFERD_METRICS_PORT works like the flag (12-factor configuration)."""
    port, http = free_port(), free_port()
    env = dict(os.environ, INFERD_METRICS_PORT=str(port), INFERD_GRPC_PORT="-1")
    proc = subprocess.Popen([inferd_bin, "serve", "--model-repository", str(add_repo),
                             "--http-port", str(http)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                status, _, text = http_get(port, "/metrics", timeout=2)
                if status == 200 and 'inferd_model_ready{model="add",version="1"} 1' in text:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- a real Prometheus ---------------------------------------------------------------------

def prom_query(port, query):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus missing: " + NEED)
def test_prometheus_scrapes_inferd(start_server, add_repo, tmp_path):
    s = start_server(add_repo, name="metrics-prom")
    prom_port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: inferd
    scrape_interval: 1s
    static_configs:
      - targets: ["127.0.0.1:%d"]
""" % s.metrics_port)
    log = open(tmp_path / "prometheus.log", "w+")
    prom = subprocess.Popen([PROMETHEUS, "--config.file=%s" % cfg,
                             "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % prom_port],
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    stop = threading.Event()
    sent = {"ok": 0}

    def load():   # steady traffic while Prometheus scrapes
        while not stop.is_set():
            traffic(s, ok=1, bad=0)
            sent["ok"] += 1
            time.sleep(0.02)

    loader = threading.Thread(target=load)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % prom_port,
                                          timeout=2).status == 200:
                    break
            except OSError:
                pass
            assert prom.poll() is None and time.monotonic() < deadline, _tail(log)
            time.sleep(0.2)
        loader.start()
        traffic(s, ok=0, bad=3)

        # the target is up and the counters arrive, label for label
        deadline = time.monotonic() + 60
        while True:
            up = prom_query(prom_port, 'up{job="inferd"}')
            ok = prom_query(prom_port, 'inferd_requests_total{job="inferd",model="add",'
                                       'status="success"}')
            bad = prom_query(prom_port, 'inferd_requests_total{model="add",status="failure",'
                                        'reason="invalid_input"}')
            q = prom_query(prom_port, 'histogram_quantile(0.99, sum by (le) '
                                      '(rate(inferd_request_duration_seconds_bucket'
                                      '{model="add"}[10s])))')
            done = (up and up[0]["value"][1] == "1" and ok and float(ok[0]["value"][1]) >= 10
                    and bad and float(bad[0]["value"][1]) == 3
                    and q and q[0]["value"][1] not in ("NaN", "+Inf"))
            if done:
                break
            assert time.monotonic() < deadline, \
                "Prometheus never saw the expected values: up=%r ok=%r bad=%r p99=%r\n%s" % (
                    up, ok, bad, q, _tail(log))
            time.sleep(0.5)
        # an empty label is no label to Prometheus: successes have no reason
        assert ok[0]["metric"]["version"] == "1" and "reason" not in ok[0]["metric"]
        p99 = float(q[0]["value"][1])
        assert 0 < p99 <= 10, p99
        # the autoscaling gauge and readiness are queryable too
        qs = prom_query(prom_port, 'sum(inferd_queue_size{job="inferd"})')
        assert qs and float(qs[0]["value"][1]) >= 0
        ready = prom_query(prom_port, 'inferd_model_ready{model="add",version="1"}')
        assert ready and ready[0]["value"][1] == "1"
    finally:
        stop.set()
        if loader.is_alive():
            loader.join()
        prom.terminate()
        try:
            prom.wait(timeout=30)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()


def _tail(f):
    f.flush()
    f.seek(0)
    return "--- prometheus log:\n" + f.read()[-5000:]


# --- logs ------------------------------------------------------------------------------------

def log_lines(server):
    """The server's log without the command line conftest writes first."""
    return [l for l in server.log().splitlines()[1:] if l.strip()]


def test_logs_are_json_lines_when_not_a_terminal(start_server, add_repo):
    s = start_server(add_repo, "--log-verbose", "1", name="log-json")
    r = infer(s, "add", ADD_OK, rid="req-42")
    assert r.status == 200
    assert infer(s, "add", ADD_BAD, rid="bad-1").status == 400
    s.stop(check=False)   # keeps the log file (the fixture checks it afterwards)
    events = [json.loads(line) for line in log_lines(s)]
    for e in events:
        assert set(e) >= {"ts", "level", "msg"}, e
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", e["ts"]), e
    reqs = {e["id"]: e for e in events if e["msg"] == "request"}
    ok = reqs["req-42"]
    assert ok["level"] == "VERBOSE" and ok["model"] == "add" and ok["version"] == 1
    assert ok["status"] == "OK" and ok["latency_ms"] >= 0 and "error" not in ok
    bad = reqs["bad-1"]
    assert bad["status"] == "INVALID_ARGUMENT" and "expected shape" in bad["error"]
    loads = [e for e in events if e.get("event") == "load"]
    assert {(e["model"], e["version"]) for e in loads} == {("add", 1), ("digits", 1)}
    assert all(e["level"] == "INFO" and e["duration_ms"] > 0 for e in loads)
    unloads = [e for e in events if e.get("event") == "unload"]
    assert {(e["model"], e["version"]) for e in unloads} == {("add", 1), ("digits", 1)}


def test_request_lines_only_at_verbose(start_server, add_repo):
    s = start_server(add_repo, name="log-quiet")
    assert infer(s, "add", ADD_OK, rid="quiet-1").status == 200
    time.sleep(0.2)
    lines = log_lines(s)
    assert not any("quiet-1" in l for l in lines)
    # load events are logged at every level
    assert any(json.loads(l).get("event") == "load" for l in lines)


def test_log_format_text_and_terminal(tmp_path, add_repo):
    """--log-format text, and the default on a terminal, are readable text."""
    for flags, use_pty in ((["--log-format", "text"], False), ([], True)):
        http = free_port()
        cmd = [INFERD_BIN, "serve", "--model-repository", str(add_repo), "--http-port", str(http),
               "--grpc-port", "-1", "--metrics-port", "-1", "--log-verbose", "1"] + flags
        if use_pty:
            master, slave = pty.openpty()
            proc = subprocess.Popen(cmd, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
            os.close(slave)
            reader = master
        else:
            r, w = os.pipe()
            proc = subprocess.Popen(cmd, stdout=w, stderr=w, stdin=subprocess.DEVNULL)
            os.close(w)
            reader = r
        chunks = []
        t = threading.Thread(target=_drain, args=(reader, chunks))
        t.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while "loaded model 'add'" not in b"".join(chunks).decode(errors="replace"):
                assert proc.poll() is None and time.monotonic() < deadline, chunks
                time.sleep(0.05)
            class S:
                port = http
            assert infer(S, "add", ADD_OK, rid="txt-7").status == 200
            time.sleep(0.3)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            t.join(timeout=10)
            os.close(reader)
        text = b"".join(chunks).decode(errors="replace")
        assert not any(m in text for m in SANITIZER_MARKERS), text
        assert '{"ts"' not in text, text
        assert re.search(r"Z INFO loaded model 'add' version 1 in [\d.]+ ms .* event=load "
                         r"model=add version=1 duration_ms=[\d.]+", text), text
        assert re.search(r"Z VERBOSE request id=txt-7 model=add version=1 status=OK "
                         r"latency_ms=[\d.]+", text), text
        assert "event=unload model=add version=1" in text, text


def _drain(fd, chunks):
    while True:
        try:
            c = os.read(fd, 65536)
        except OSError:
            return
        if not c:
            return
        chunks.append(c)
