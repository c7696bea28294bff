#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_grpc_infer: serialized
inference.ModelInferRequest messages that between them use every path of
src/grpc/grpc_codec.c (raw and typed contents of each datatype, BYTES in
both forms, narrowing, parameters, requested outputs, versions, ids).
Needs tritonclient's generated messages, so run it with the test venv:

    .venv/bin/python tests/fuzz/make_grpc_corpus.py
"""
import os

import numpy as np
from tritonclient.grpc import service_pb2 as pb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "grpc_infer")


def save(name, msg):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(msg.SerializeToString())


def request(**kw):
    return pb.ModelInferRequest(model_name="m", **kw)


def raw_bytes(items):
    return b"".join(len(b).to_bytes(4, "little") + b for b in items)


def main():
    a = np.arange(8, dtype=np.float32).reshape(2, 4)
    r = request(id="raw-1", model_version="1")
    r.inputs.add(name="a", datatype="FP32", shape=[2, 4])
    r.inputs.add(name="s", datatype="BYTES", shape=[3])
    r.inputs.add(name="h", datatype="FP16", shape=[2])
    r.raw_input_contents.extend([a.tobytes(), raw_bytes([b"x", b"", b"hello"]),
                                 np.array([1, 2], np.float16).tobytes()])
    r.outputs.add(name="y")
    save("raw_fp32_bytes_fp16", r)

    r = request(id="typed-1")
    t = r.inputs.add(name="a", datatype="FP32", shape=[1, 4])
    t.contents.fp32_contents.extend([1, 2, 3, 4])
    t = r.inputs.add(name="b", datatype="INT8", shape=[3])
    t.contents.int_contents.extend([-128, 0, 127])
    t = r.inputs.add(name="s", datatype="BYTES", shape=[2])
    t.contents.bytes_contents.extend([b"ab", b"cd"])
    r.parameters["timeout"].int64_param = 1000
    r.parameters["priority"].uint64_param = 1
    save("typed_fp32_int8_bytes", r)

    fields = {"BOOL": ("bool_contents", [True, False]), "INT16": ("int_contents", [-5, 5]),
              "INT32": ("int_contents", [1, 2]), "INT64": ("int64_contents", [1, -2]),
              "UINT8": ("uint_contents", [0, 255]), "UINT16": ("uint_contents", [1, 65535]),
              "UINT32": ("uint_contents", [7, 8]), "UINT64": ("uint64_contents", [9, 10]),
              "FP64": ("fp64_contents", [0.5, 1.5])}
    for dt, (field, values) in fields.items():
        r = request()
        t = r.inputs.add(name="a", datatype=dt, shape=[len(values)])
        getattr(t.contents, field).extend(values)
        save("typed_" + dt.lower(), r)

    r = request()
    r.inputs.add(name="a", datatype="UINT8", shape=[2, 2])
    r.raw_input_contents.append(bytes([1, 2, 3, 4]))
    r.outputs.add(name="y").parameters["binary_data"].bool_param = True
    save("raw_uint8_output_parameter", r)


if __name__ == "__main__":
    main()
