#!/usr/bin/python3
"""Writes the seed corpora of fuzz_rest_infer and fuzz_tfserving: KServe v2
infer bodies (JSON, JSON + binary tensors, raw single-input bodies, BYTES)
and TF Serving predict bodies (row, columnar, b64), each prefixed with the
selector byte those targets read (see their header comments). Run from the
repository root:

    /usr/bin/python3 tests/fuzz/make_rest_corpus.py
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def save(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def kserve(name, header, binary=b"", mode=2, model=0):
    """mode 0: no header; 1: raw ("0"); 2: header = len(JSON); 3: header text."""
    head = json.dumps(header).encode() if header is not None else b""
    sel = bytes([mode | model << 2])
    if mode == 2:
        sel += struct.pack("<H", len(head))
    elif mode == 3:
        sel += b"%d\n" % len(head)
    save("fuzz_rest_infer", name, sel + head + binary)


def bytes_elems(*items):
    return b"".join(struct.pack("<I", len(s)) + s for s in items)


def main():
    two = {"inputs": [
        {"name": "a", "datatype": "UINT32", "shape": [2, 2], "parameters": {"binary_data_size": 16}},
        {"name": "b", "datatype": "BOOL", "shape": [3], "parameters": {"binary_data_size": 3}}],
        "outputs": [{"name": "a", "parameters": {"binary_data": True}}, {"name": "b"}]}
    kserve("triton_example", two, struct.pack("<4I", 1, 2, 3, 4) + b"\1\0\1")
    kserve("triton_example_text_header", two, struct.pack("<4I", 1, 2, 3, 4) + b"\1\0\1", mode=3)
    kserve("json_only", {"id": "r1", "parameters": {"binary_data_output": True, "timeout": 100},
                         "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2],
                                     "data": [[1.5, -2], [3e4, 0]]},
                                    {"name": "k", "datatype": "INT8", "shape": [], "data": -3}]},
           mode=0)
    kserve("bytes_json", {"inputs": [{"name": "s", "datatype": "BYTES", "shape": [3],
                                      "data": ["cat", "caf\u00e9", "nul\u0000"]}],
                          "outputs": [{"name": "s", "parameters": {"binary_data": False}}]}, mode=0)
    kserve("bytes_binary", {"inputs": [{"name": "s", "datatype": "BYTES", "shape": [2],
                                        "parameters": {"binary_data_size": 13}}],
                            "parameters": {"binary_data_output": True}},
           bytes_elems(b"cat", b"\xff\xfe"))
    kserve("mixed", {"inputs": [
        {"name": "j", "datatype": "FP64", "shape": [1], "data": [0.25]},
        {"name": "b", "datatype": "INT64", "shape": [1, 2], "parameters": {"binary_data_size": 16}},
        {"name": "h", "datatype": "FP16", "shape": [2], "parameters": {"binary_data_size": 4}}]},
        struct.pack("<2q", -5, 7) + struct.pack("<2e", 1.5, -0.25))
    for model, raw in enumerate([struct.pack("<64f", *range(64)), struct.pack("<7h", *range(7)),
                                 b"hello raw bytes", bytes([1, 0] * 6)]):
        kserve("raw_model%d" % model, None, raw, mode=1, model=model)

    def tfs(name, model, body):
        save("fuzz_tfserving", name, bytes([model]) + json.dumps(body).encode())

    tfs("row_scalars", 0, {"instances": [1.0, 2.0, 5.0]})
    tfs("row_nested", 0, {"signature_name": "serving_default", "instances": [[[1, 2]], [[3, 4]]]})
    tfs("columnar_value", 0, {"inputs": [[1.5, -2.0], [3.0, 4.0]]})
    tfs("row_objects", 1, {"instances": [
        {"tag": "foo", "signal": [1, 2, 3, 4, 5], "flag": True},
        {"tag": {"b64": "YmFy"}, "signal": [3, 4, 1, 2, 5], "flag": False}]})
    tfs("columnar_objects", 1, {"inputs": {"tag": ["a", "b"], "signal": [[1, 2, 3, 4, 5]] * 2,
                                           "flag": [[True]]}})
    tfs("b64_value", 2, {"inputs": {"b64": "aW1hZ2UgYnl0ZXM="}})
    tfs("b64_row", 2, {"instances": [{"b64": "/wE="}, {"b64": "YQ"}]})
    tfs("two_inputs", 3, {"inputs": {"u": [18446744073709551615, 0], "h": [[0.5, 65504.0]]}})


if __name__ == "__main__":
    main()
