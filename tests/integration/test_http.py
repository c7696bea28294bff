"""HTTP/1.1 behaviour on the wire: keep-alive, pipelining, chunked request
bodies, Expect: 100-continue, the request size limit (413), malformed
requests, idle and slow clients. After each test the server still serves."""

import json
import socket
import time

import pytest

from conftest import assert_error, flat, infer, output, parse_responses, raw, Response
import models

ADD_BODY = json.dumps({"inputs": [
    {"name": "a", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]},
    {"name": "b", "datatype": "FP32", "shape": [1, 4], "data": [1, 1, 1, 1]}]}).encode()


def post_bytes(path, body, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


GET_LIVE = b"GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n"
POST_ADD = post_bytes(b"/v2/models/add/infer", ADD_BODY)


def check_add(body):
    assert flat(output(json.loads(body), "y")["data"]) == [2, 3, 4, 5]


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.alive(), "inferd died"
    r = infer(server, "add", [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [1, 1, 1, 1])])
    assert r.status == 200, "a good request afterwards failed: %r" % r


def test_keep_alive_serves_several_requests_on_one_connection(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        for req in (GET_LIVE, POST_ADD, b"GET /v2/models/add HTTP/1.1\r\nHost: x\r\n\r\n", POST_ADD):
            s.sendall(req)
            buf = b""
            while not _complete(buf):
                c = s.recv(65536)
                assert c, "server closed a keep-alive connection"
                buf += c
            (status, headers, body), = parse_responses(buf)
            assert status == 200, (req, buf)
            if req is POST_ADD:
                check_add(body)
    finally:
        s.close()


def _complete(buf):
    from conftest import response_complete
    return response_complete(buf)


def test_pipelined_requests_are_answered_in_order(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        s.sendall(POST_ADD + GET_LIVE + POST_ADD)
        buf = b""
        deadline = time.monotonic() + 10
        while len(parse_responses(buf)) < 3 and time.monotonic() < deadline:
            c = s.recv(65536)
            if not c:
                break
            buf += c
        rs = parse_responses(buf)
        assert [r[0] for r in rs] == [200, 200, 200], buf
        check_add(rs[0][2])
        check_add(rs[2][2])
    finally:
        s.close()


def test_connection_close_is_honoured(server):
    req = POST_ADD.replace(b"Host: localhost\r\n", b"Host: localhost\r\nConnection: close\r\n")
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        s.sendall(req)
        buf = b""
        while True:
            c = s.recv(65536)
            if not c:
                break        # closed by the server, as asked
            buf += c
        (status, _, body), = parse_responses(buf)
        assert status == 200
        check_add(body)
    finally:
        s.close()


def test_http_1_0_request(server):
    out = raw(server, b"GET /v2/health/live HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1."), out
    assert out.split()[1] == b"200", out


def test_chunked_request_body(server):
    chunks = [ADD_BODY[i:i + 7] for i in range(0, len(ADD_BODY), 7)]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    req = (b"POST /v2/models/add/infer HTTP/1.1\r\nHost: localhost\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    (status, _, resp), = parse_responses(raw(server, req))
    assert status == 200, resp
    check_add(resp)


def test_expect_100_continue(server):
    """curl sends Expect: 100-continue for bodies over 1 KiB. The request
    must complete; a 100 Continue before the final answer is allowed."""
    head = (b"POST /v2/models/add/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: " + str(len(ADD_BODY)).encode() + b"\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        s.sendall(head)
        s.settimeout(1.0)
        first = b""
        try:
            first = s.recv(65536)
        except socket.timeout:
            pass
        s.settimeout(10)
        if first:
            assert first.startswith(b"HTTP/1.1 100"), first
            first = first.split(b"\r\n\r\n", 1)[1]
        s.sendall(ADD_BODY)
        buf = first
        while not _complete(buf):
            c = s.recv(65536)
            if not c:
                break
            buf += c
        (status, _, body), = parse_responses(buf)
        assert status == 200, buf
        check_add(body)
    finally:
        s.close()


def test_slow_client_is_served(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        for i in range(0, len(POST_ADD), 40):
            s.sendall(POST_ADD[i:i + 40])
            time.sleep(0.02)
        buf = b""
        while not _complete(buf):
            c = s.recv(65536)
            assert c
            buf += c
        (status, _, body), = parse_responses(buf)
        assert status == 200
        check_add(body)
    finally:
        s.close()


def test_idle_connections_do_not_block_others(server):
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)]
    half = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    half.sendall(POST_ADD[:len(POST_ADD) // 2])
    try:
        start = time.monotonic()
        for _ in range(5):
            r = infer(server, "add", [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [1, 1, 1, 1])],
                      timeout=5)
            assert r.status == 200
        assert time.monotonic() - start < 5
    finally:
        for s in idle + [half]:
            s.close()


@pytest.mark.parametrize("req", [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /v2/health/live\r\n\r\n",
    b"GET /v2/health/live HTTP/9.9\r\n\r\n",
    b"GET /v2/health/live HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"POST /v2/models/add/infer HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v2/models/add/infer HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /v2/models/add/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"POST /v2/models/add/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"POST /v2/models/add/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 200,   # a TLS ClientHello
    b"\x00" * 4096,
])
def test_malformed_http_is_rejected(server, req):
    """Answered with a 4xx/5xx (or the connection closed), never a crash."""
    out = raw(server, req, timeout=5)
    if out:
        assert out.startswith(b"HTTP/1."), out[:200]
        status = int(out.split()[1])
        assert 400 <= status < 600, out[:300]


def test_oversized_headers_are_rejected(server):
    req = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n"
    out = raw(server, req, timeout=5)
    if out:
        status = int(out.split()[1])
        assert status in (400, 413, 431), out[:300]


def test_client_that_disconnects_mid_request(server):
    for cut in (10, len(POST_ADD) // 2, len(POST_ADD) - 1):
        raw(server, POST_ADD[:cut], read=False)


# --- --max-request-bytes --------------------------------------------------------

@pytest.fixture(scope="module")
def small_server(tmp_path_factory, inferd_bin):
    from conftest import Server
    repo = models.make_repo(tmp_path_factory.mktemp("small"), ["add"])
    s = Server(repo, "--max-request-bytes", "2048", name="max-request-bytes")
    yield s
    s.stop()


def test_413_from_content_length(small_server):
    req = (b"POST /v2/models/add/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 100000\r\n\r\n")
    out = raw(small_server, req)
    (status, _, body), = parse_responses(out)
    assert status == 413, out
    assert_error(Response(status, {}, body), 413)


def test_413_for_a_chunked_body(small_server):
    chunk = b"x" * 1000
    req = (b"POST /v2/models/add/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + (b"3e8\r\n" + chunk + b"\r\n") * 5 + b"0\r\n\r\n")
    out = raw(small_server, req)
    assert out.split()[1] == b"413", out[:300]


def test_request_under_the_limit_is_served(small_server):
    padded = json.loads(ADD_BODY)
    padded["id"] = "p" * (1800 - len(ADD_BODY))
    body = json.dumps(padded).encode()
    assert len(body) < 2048
    (status, _, resp), = parse_responses(raw(small_server, post_bytes(b"/v2/models/add/infer", body)))
    assert status == 200, resp
    check_add(resp)
    r = infer(small_server, "add", [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [1, 1, 1, 1])])
    assert r.status == 200
