"""Bad requests get the KServe v2 error answer -- the right status and
{"error": "..."} naming what was wrong -- and the server keeps serving:
after every test here, a good request is answered correctly."""

import pytest

from conftest import assert_error, flat, get, infer, output, post, request

X16 = list(range(16))


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.alive(), "inferd died"
    r = infer(server, "add", [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [1, 1, 1, 1])])
    assert r.status == 200, "a good request after the bad one failed: %r" % r
    assert flat(output(r.json(), "y")["data"]) == [2, 3, 4, 5]


def good_inputs():
    return [{"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": X16},
            {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": X16}]


def post_add_sub(server, inputs, **extra):
    body = {"inputs": inputs}
    body.update(extra)
    return post(server, "/v2/models/add_sub/infer", body)


# --- 400: the body is not a valid request -----------------------------------------

@pytest.mark.parametrize("body", [
    b"", b"{", b"not json", b'{"inputs": [', b'{"inputs": [{"name": "INPUT0",}]}',
    b'{"inputs": [] "id": 1}', b"\xff\xfe\x00garbage", b'{"inputs": [{"name": "INPUT0", '
    b'"datatype": "INT32", "shape": [1, 16], "data": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]}]',
])
def test_malformed_json(server, body):
    assert_error(post(server, "/v2/models/add_sub/infer", body), 400)


@pytest.mark.parametrize("body", [
    b"[]", b"42", b'"inputs"', b'{"inputs": "INPUT0"}', b'{"inputs": [1, 2]}', b"{}",
    b'{"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": "1x16", "data": []}]}',
    b'{"inputs": [{"name": 7, "datatype": "INT32", "shape": [1, 16], "data": []}]}',
])
def test_well_formed_json_that_is_not_a_request(server, body):
    assert_error(post(server, "/v2/models/add_sub/infer", body), 400)


def test_missing_input_is_named(server):
    assert_error(post_add_sub(server, good_inputs()[:1]), 400, "INPUT1")


def test_unknown_input_is_named(server):
    inputs = good_inputs() + [{"name": "no_such_input", "datatype": "INT32", "shape": [1, 16], "data": X16}]
    assert_error(post_add_sub(server, inputs), 400, "no_such_input")


def test_duplicate_input(server):
    inputs = good_inputs() + good_inputs()[:1]
    assert_error(post_add_sub(server, inputs), 400, "INPUT0")


def test_wrong_datatype_names_input_expected_and_given(server):
    inputs = good_inputs()
    inputs[0]["datatype"] = "FP32"
    assert_error(post_add_sub(server, inputs), 400, "INPUT0", "INT32", "FP32")


def test_unknown_datatype(server):
    inputs = good_inputs()
    inputs[1]["datatype"] = "FLOAT32"
    assert_error(post_add_sub(server, inputs), 400, "FLOAT32")


@pytest.mark.parametrize("shape", [[1, 15], [16], [1, 1, 16], [16, 1]])
def test_wrong_shape_names_input(server, shape):
    inputs = good_inputs()
    n = 1
    for d in shape:
        n *= d
    inputs[1]["shape"] = shape
    inputs[1]["data"] = list(range(n))
    assert_error(post_add_sub(server, inputs), 400, "INPUT1")


def test_wrong_shape_for_fixed_dims(server):
    r = infer(server, "fixed_shape", [("x", "FP32", [3, 2], [1, 2, 3, 4, 5, 6])])
    assert_error(r, 400)


@pytest.mark.parametrize("count", [15, 17, 0])
def test_element_count_mismatch_names_input(server, count):
    inputs = good_inputs()
    inputs[0]["data"] = list(range(count))
    assert_error(post_add_sub(server, inputs), 400, "INPUT0")


def test_nested_data_with_ragged_rows(server):
    inputs = good_inputs()
    inputs[0]["shape"] = [2, 8]
    inputs[0]["data"] = [list(range(8)), list(range(7))]
    inputs[1]["shape"] = [2, 8]
    assert_error(post_add_sub(server, inputs), 400)


@pytest.mark.parametrize("bad", [["x"] * 16, [None] * 16, [[]] * 16, [{"v": 1}] * 16, [True] * 16])
def test_data_of_the_wrong_kind(server, bad):
    inputs = good_inputs()
    inputs[0]["data"] = bad
    assert_error(post_add_sub(server, inputs), 400, "INPUT0")


@pytest.mark.parametrize("missing", ["name", "datatype", "shape", "data"])
def test_input_missing_a_field(server, missing):
    inputs = good_inputs()
    del inputs[0][missing]
    assert_error(post_add_sub(server, inputs), 400)


@pytest.mark.parametrize("shape", [[-1, 16], [1, -16], [4611686018427387904, 4611686018427387904],
                                   [99999999999, 99999999999, 99999999999]])
def test_absurd_shapes(server, shape):
    inputs = good_inputs()
    inputs[0]["shape"] = shape
    assert_error(post_add_sub(server, inputs), 400, "INPUT0")


def test_unknown_output_is_named(server):
    r = post_add_sub(server, good_inputs(), outputs=[{"name": "no_such_output"}])
    assert_error(r, 400, "no_such_output")


# --- 404: no such model or version --------------------------------------------------------

def test_unknown_model(server):
    r = post(server, "/v2/models/no_such_model/infer", {"inputs": good_inputs()})
    assert_error(r, 404, "no_such_model")


def test_unknown_version(server):
    r = post(server, "/v2/models/add_sub/versions/42/infer", {"inputs": good_inputs()})
    assert_error(r, 404, "42")


def test_version_that_is_not_a_number(server):
    r = post(server, "/v2/models/add_sub/versions/latest/infer", {"inputs": good_inputs()})
    assert r.status in (400, 404), r
    assert_error(r, r.status)


@pytest.mark.parametrize("path", ["/", "/v2/nothing", "/v2/models",
                                  "/v2/models/add_sub/infer/extra", "/v2/health/dead",
                                  "/v2/models/add_sub/versions/1/ready/x"])
def test_unknown_paths(server, path):
    assert get(server, path).status == 404


# --- 405: right path, wrong method ----------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/v2/models/add_sub/infer"),
    ("PUT", "/v2/models/add_sub/infer"),
    ("POST", "/v2/health/live"),
    ("POST", "/v2/health/ready"),
    ("DELETE", "/v2"),
    ("POST", "/v2/models/add_sub"),
    ("PATCH", "/v2/models/add_sub/ready"),
])
def test_wrong_method(server, method, path):
    r = request(server, method, path, body=b"{}" if method != "GET" else None)
    assert r.status == 405, r
    assert "allow" in r.headers, "405 without an Allow header (RFC 9110 15.5.6): %r" % r.headers
