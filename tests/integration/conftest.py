"""Fixtures for the integration tests: a real build/inferd process per model
repository, and small HTTP helpers.

    def test_live(server):
        assert get(server, "/v2/health/live").status == 200

`server` is one inferd shared by the whole session, serving
models.MAIN_REPO_MODELS; tests that need another repository or other flags
start their own with `start_server(repo, *flags)`. Every server is started as
`$INFERD_BIN serve --model-repository REPO --http-port PORT --grpc-port GPORT`
with INFERD_METRICS_PORT=MPORT, on free loopback ports (a test that passes
its own --grpc-port or --metrics-port, e.g. -1 to turn one off, keeps it;
`server.grpc_port` and `server.metrics_port` say which); its stdout+stderr
go to a log file, which is attached to the report of any failing test that
used it. At the end it gets SIGTERM (then SIGKILL), and a sanitizer report
or a crash in its log fails the test run.

Environment: INFERD_BIN (default build/inferd), INFERD_SANITIZED=1 for the
slower ASan+UBSan build (longer start-up timeouts).
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

ROOT = models.ROOT
INFERD_BIN = os.environ.get("INFERD_BIN", os.path.join(ROOT, "build", "inferd"))
SANITIZED = os.environ.get("INFERD_SANITIZED") == "1"
START_TIMEOUT = 120 if SANITIZED else 30
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")
# Every inferd a test starts, directly or through Server, gets an ephemeral
# metrics port unless it asks for one: servers running side by side (and
# other test runs on this machine) never clash on the default 8002.
os.environ.setdefault("INFERD_METRICS_PORT", "0")
# Test servers stop at once on SIGTERM: the drain delay (default 5 s, for
# load balancers) would only slow every test down. test_lifecycle.py passes
# --drain-delay-secs where it tests the drain itself.
os.environ.setdefault("INFERD_DRAIN_DELAY_SECS", "0")
CRASH_SIGNALS = {-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, -signal.SIGILL, -signal.SIGFPE}


def _die_with_parent():
    """preexec_fn: the server gets SIGKILL if pytest itself dies (a CI
    timeout), so no server outlives the test run holding its port."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-cased names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.body[:300])


class Server:
    """One inferd process."""

    def __init__(self, repo, *flags, wait_ready=True, name="inferd"):
        self.repo = str(repo)
        self.port = free_port()
        self.name = name
        flags = [str(f) for f in flags]
        if "--grpc-port" in flags:
            self.grpc_port = int(flags[flags.index("--grpc-port") + 1])
        else:
            self.grpc_port = free_port()
            flags = ["--grpc-port", str(self.grpc_port)] + flags
        # The metrics port comes through the environment, which a binary
        # without metrics ignores; --metrics-port in flags wins over it.
        env = dict(os.environ, INFERD_METRICS_PORT=str(free_port()))
        if "--metrics-port" in flags:
            env["INFERD_METRICS_PORT"] = flags[flags.index("--metrics-port") + 1]
        self.metrics_port = int(env["INFERD_METRICS_PORT"])
        fd, self.log_path = tempfile.mkstemp(prefix="inferd-%s-" % name, suffix=".log")
        self.cmd = [INFERD_BIN, "serve", "--model-repository", self.repo,
                    "--http-port", str(self.port)] + flags
        with os.fdopen(fd, "w") as log:
            log.write("$ %s\n" % " ".join(self.cmd))
            log.flush()
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=ROOT, env=env,
                                         preexec_fn=_die_with_parent)
        self.returncode = None
        try:
            self._wait("/v2/health/live")
            if wait_ready:
                self._wait("/v2/health/ready")
        except BaseException:
            self.stop(check=False)
            raise

    def _wait(self, path):
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("inferd exited with status %s before %s answered 200; log:\n%s"
                                     % (self.proc.returncode, path, self.log()))
            try:
                r = request(self, "GET", path, timeout=2)
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise AssertionError("%s did not answer 200 within %ds (last: %r); log:\n%s"
                             % (path, START_TIMEOUT, last, self.log()))

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return "(log removed after a clean stop)"

    def alive(self):
        return self.proc.poll() is None

    def stop(self, check=True):
        """SIGTERM, then SIGKILL after 20 s. With check, fails on a crash or a
        sanitizer report in the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        if check:
            text = self.log()
            bad = [m for m in SANITIZER_MARKERS if m in text]
            assert not bad, "sanitizer report in the inferd log (%s):\n%s" % (bad, text[-20000:])
            assert self.returncode not in CRASH_SIGNALS, \
                "inferd died with signal %d; log:\n%s" % (-self.returncode, text[-20000:])
            # Clean: the log is no longer needed (failures keep theirs).
            os.unlink(self.log_path)


# --- HTTP helpers -------------------------------------------------------------------

def request(server, method, path, body=None, headers=None, timeout=30):
    """One request on a fresh connection. `body` may be bytes, str, or an
    object sent as JSON."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def get(server, path, **kw):
    return request(server, "GET", path, **kw)


def post(server, path, body, **kw):
    return request(server, "POST", path, body, **kw)


def infer(server, model, inputs, version=None, outputs=None, rid=None, **kw):
    """POST .../infer with inputs given as (name, datatype, shape, data)."""
    req = {"inputs": [{"name": n, "datatype": dt, "shape": list(shape), "data": data}
                      for n, dt, shape, data in inputs]}
    if outputs is not None:
        req["outputs"] = [{"name": o} for o in outputs]
    if rid is not None:
        req["id"] = rid
    path = "/v2/models/%s%s/infer" % (model, "/versions/%s" % version if version else "")
    return post(server, path, req, **kw)


def raw(server, data, timeout=10, read=True):
    """Sends raw bytes on a new connection; returns everything the server
    wrote until it closed the connection or `timeout` passed."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not read:
            return b""
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
            if response_complete(b"".join(chunks)):
                break
        return b"".join(chunks)
    finally:
        s.close()


def response_complete(buf):
    """True once `buf` holds at least one whole HTTP response."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    headers = head.decode("latin-1").lower().split("\r\n")[1:]
    for h in headers:
        if h.startswith("content-length:"):
            return len(body) >= int(h.split(":", 1)[1])
        if h.startswith("transfer-encoding:") and "chunked" in h:
            return body.endswith(b"0\r\n\r\n")
    return True


def parse_responses(buf):
    """Splits pipelined responses: [(status, headers, body)]."""
    out = []
    while buf:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        buf = rest[n:]
    return out


def assert_error(resp, status, *needles):
    """An error response per the KServe v2 spec: the status, a JSON body
    {"error": "..."} whose message contains every needle (case-insensitive)."""
    assert resp.status == status, "expected %d, got %r" % (status, resp)
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError("error body is not JSON: %r" % resp.body)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    msg = body["error"]
    assert msg.strip(), "empty error message"
    for n in needles:
        assert n.lower() in msg.lower(), "error %r does not mention %r" % (msg, n)
    return msg


def output(resp_json, name):
    for o in resp_json["outputs"]:
        if o["name"] == name:
            return o
    raise AssertionError("no output %r in %r" % (name, resp_json))


def flat(data):
    """Flattens nested row-major data (responses may nest, per the spec)."""
    if isinstance(data, list):
        out = []
        for d in data:
            out.extend(flat(d))
        return out
    return [data]


# --- fixtures ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def inferd_bin():
    if not os.access(INFERD_BIN, os.X_OK):
        pytest.fail("%s is not built (run make, or set INFERD_BIN)" % INFERD_BIN)
    return INFERD_BIN


@pytest.fixture(scope="session")
def main_repo(tmp_path_factory):
    return models.make_repo(tmp_path_factory.mktemp("repo"), models.MAIN_REPO_MODELS)


@pytest.fixture(scope="session")
def server(inferd_bin, main_repo):
    s = Server(main_repo, name="main")
    yield s
    s.stop()


@pytest.fixture
def start_server(inferd_bin):
    """Starts servers for one test; stops and checks them after it."""
    started = []

    def start(repo, *flags, **kw):
        s = Server(repo, *flags, **kw)
        started.append(s)
        return s
    start.servers = started     # for the log attachment below
    yield start
    for s in started:
        s.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the log of every server a failing test used."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    servers = []
    for v in getattr(item, "funcargs", {}).values():
        if isinstance(v, Server):
            servers.append(v)
        servers.extend(getattr(v, "servers", []))
    for s in servers:
        text = s.log()
        rep.sections.append(("inferd log (%s, port %d)" % (s.name, s.port), text[-30000:]))
