"""docs/openapi.yaml against the real server: every documented path is
called with its documented method, the `example` of each path parameter
and every request body example of the spec; the status must be the one
documented for that example (x-expect-status, else the operation's 2xx)
and the body must match the documented response schema (jsonschema). Each
operation that documents a 404 is also called for an unknown model. And
docs/api.md must mention every path of the spec."""

import json
import os
import re

import numpy as np
import pytest

from conftest import ROOT, request

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

SPEC_PATH = os.path.join(ROOT, "docs", "openapi.yaml")
with open(SPEC_PATH) as f:
    SPEC = yaml.safe_load(f)

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
HDR = "Inference-Header-Content-Length"
NUMPY_TYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
               "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
               "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}


def resolve(node):
    """Follows a local "$ref" ("#/components/...") to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def success_code(op):
    return min(int(c) for c in op["responses"] if str(c).startswith("2"))


def binary_body(example):
    """The body an application/octet-stream example describes."""
    tensors = b"".join(np.array(t["data"], NUMPY_TYPES[t["datatype"]]).tobytes()
                       for t in example.get("x-binary-tensors", []))
    header = example.get("x-inference-header")
    if header is None:
        return tensors, "0"
    head = json.dumps(header).encode()
    return head + tensors, str(len(head))


class Call:
    def __init__(self, method, path, url, op, status, body=None, headers=None, label=""):
        self.method, self.path, self.url, self.op = method.upper(), path, url, op
        self.status, self.body, self.headers = status, body, headers or {}
        self.label = label

    def id(self):
        return "%s %s%s" % (self.method, self.path, " [%s]" % self.label if self.label else "")


def fill_path(path, params, overrides=None):
    values = {p["name"]: str(p["example"]) for p in params if p["in"] == "path"}
    values.update(overrides or {})
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def calls_for(path, method, op):
    params = [resolve(p) for p in op.get("parameters", [])]
    url = fill_path(path, params)
    calls = []
    body_spec = resolve(op.get("requestBody"))
    if body_spec:
        for ctype, media in body_spec["content"].items():
            for name, ex in media.get("examples", {}).items():
                ex = resolve(ex)
                status = ex.get("x-expect-status", success_code(op))
                if ctype == "application/json":
                    body, headers = json.dumps(ex["value"]), {"Content-Type": ctype}
                else:
                    body, length = binary_body(ex)
                    headers = {"Content-Type": ctype, HDR: length}
                calls.append(Call(method, path, url, op, status, body, headers, name))
    else:
        calls.append(Call(method, path, url, op, success_code(op)))
    if "404" in op["responses"] and any(p["name"] == "model" for p in params):
        first = calls[0]
        calls.append(Call(method, path, fill_path(path, params, {"model": "no_such_model"}), op,
                          404, first.body, first.headers, "unknown model"))
    return calls


CALLS = [c for path, item in SPEC["paths"].items() for method, op in item.items()
         if method in METHODS for c in calls_for(path, method, op)]


def validate(instance, schema):
    resolver = jsonschema.RefResolver.from_schema(SPEC)
    jsonschema.Draft4Validator(schema, resolver=resolver).validate(instance)


def check_response(call, resp):
    assert resp.status == call.status, "%s: documented %d, got %r" % (call.id(), call.status, resp)
    documented = resolve(call.op["responses"][str(call.status)])
    content = documented.get("content")
    if not content:
        assert resp.body == b"", "%s: documented an empty body, got %r" % (call.id(), resp.body[:200])
        return
    ctype = resp.headers.get("content-type", "").split(";")[0].strip()
    assert ctype in content, "%s: content type %r is not documented (%s)" % (
        call.id(), ctype, ", ".join(content))
    if ctype == "application/json":
        validate(json.loads(resp.body), resolve(content[ctype]["schema"]))
        return
    # Binary outputs: the JSON header is an InferResponse and the sizes add up.
    n = int(resp.headers[HDR.lower()])
    head = json.loads(resp.body[:n])
    validate(head, resolve(content["application/json"]["schema"]))
    sizes = [o["parameters"]["binary_data_size"] for o in head["outputs"] if "parameters" in o]
    assert n + sum(sizes) == len(resp.body)


@pytest.mark.parametrize("call", CALLS, ids=[c.id() for c in CALLS])
def test_documented_call(server, call):
    resp = request(server, call.method, call.url, call.body, headers=call.headers)
    check_response(call, resp)


def test_every_path_is_called():
    called = {(c.method, c.path) for c in CALLS}
    for path, item in SPEC["paths"].items():
        for method in item:
            if method in METHODS:
                assert (method.upper(), path) in called


def test_every_path_is_in_api_md():
    with open(os.path.join(ROOT, "docs", "api.md")) as f:
        text = f.read()
    missing = [p for p in SPEC["paths"] if p not in text]
    assert not missing, "docs/api.md does not mention %s" % missing
