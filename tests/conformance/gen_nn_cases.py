"""Differential test cases for the convolution, matrix-multiply, pooling,
normalization, quantization and ROI operators, against ONNX Runtime.

Writes single-node models in the ONNX backend-test layout
(CASE/model.onnx, CASE/test_data_set_0/{input,output}_N.pb) whose expected
outputs are ONNX Runtime's, covering what the ONNX node tests do not: random
convolution geometries (groups, depthwise, dilations, strides, asymmetric
pads, auto_pad, 1-D to 3-D, layers big enough to be tiled and threaded),
float16/double/integer variants, numpy MatMul broadcasting, Gemm's
transposes and C broadcasts, every pooling option, the normalizations with
their optional outputs, ONNX Runtime's contrib layer norms, per-axis
quantization and the integer matmul/conv forms. Cases ONNX Runtime itself
cannot run are skipped and listed.

    .venv/bin/python tests/conformance/gen_nn_cases.py build/nn_cases
    build/onnx_conformance --threads 2 --tolerance-scale 1e-4 build/nn_cases

(--tolerance-scale: sums of hundreds of products differ from ONNX Runtime's
in the last bits, which ONNX's per-element rtol=1e-3 flags where values
cancel.) Needs numpy, onnx and onnxruntime. Deterministic (fixed seed).
"""
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper as h
from onnx import numpy_helper as nh

OUT = sys.argv[1] if len(sys.argv) > 1 else "nn_cases"
RNG = np.random.default_rng(11)
MS = [("com.microsoft", 1)]
written, skipped = 0, []


def tensor_type(dt):
    return onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(dt)]


def case(name, op, inputs, opset=13, outputs=("y",), domains=(), **attrs):
    """One model with a single node; inputs are (name, array) pairs, a name
    of "" leaves an optional input out."""
    global written
    fed = [(n, a) for n, a in inputs if n]
    domain = attrs.pop("domain", "")
    node = h.make_node(op, [n for n, _ in inputs], list(outputs), domain=domain, **attrs)
    graph = h.make_graph(
        [node], name,
        [h.make_tensor_value_info(n, tensor_type(a.dtype), a.shape) for n, a in fed],
        [onnx.ValueInfoProto(name=o) for o in outputs])
    opsets = [h.make_opsetid("", opset)] + [h.make_opsetid(d, v) for d, v in domains]
    model = h.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    try:
        sess = ort.InferenceSession(model.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        results = sess.run(None, dict(fed))
    except Exception as e:  # ONNX Runtime lacks this (op, type): not a test
        skipped.append((name, str(e).splitlines()[0][:120]))
        return
    for o, r in zip(graph.output, results):
        o.type.tensor_type.elem_type = tensor_type(r.dtype)
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, (n, a) in enumerate(fed):
        with open(os.path.join(d, "test_data_set_0", "input_%d.pb" % i), "wb") as f:
            f.write(nh.from_array(a, n).SerializeToString())
    for i, (o, r) in enumerate(zip(outputs, results)):
        with open(os.path.join(d, "test_data_set_0", "output_%d.pb" % i), "wb") as f:
            f.write(nh.from_array(r, o).SerializeToString())
    written += 1


def rnd(*shape, dt=np.float32):
    return RNG.standard_normal(shape).astype(dt)


def ints(lo, hi, shape, dt):
    return RNG.integers(lo, hi, size=shape).astype(dt)


def conv_cases():
    for i in range(60):
        nsp = [1, 2, 2, 2, 3][i % 5]
        kind = i % 4                    # dense, grouped, depthwise, depthwise x2
        group = 1 if kind == 0 else int(RNG.integers(2, 4)) if kind == 1 else int(RNG.integers(2, 9))
        cg = int(RNG.integers(1, 6)) if kind < 2 else 1
        mg = int(RNG.integers(1, 6)) if kind < 2 else kind - 1
        k = [int(RNG.integers(1, 4)) for _ in range(nsp)]
        dil = [int(RNG.integers(1, 3)) for _ in range(nsp)]
        st = [int(RNG.integers(1, 4)) for _ in range(nsp)]
        pads = [int(RNG.integers(0, k[d])) for d in range(nsp)] + \
               [int(RNG.integers(0, k[d])) for d in range(nsp)]
        size = [max(int(RNG.integers(1, 13 if nsp < 3 else 7)), dil[d] * (k[d] - 1) + 1)
                for d in range(nsp)]
        x = rnd(int(RNG.integers(1, 3)), cg * group, *size)
        w = rnd(mg * group, cg, *k)
        attrs = dict(group=group, dilations=dil, strides=st)
        if i % 7 == 3 and max(dil) == 1:
            attrs["auto_pad"] = ["SAME_UPPER", "SAME_LOWER", "VALID"][i % 3]
        else:
            attrs["pads"] = pads
        inputs = [("x", x), ("w", w)] + ([("b", rnd(mg * group))] if i % 2 else [])
        case("conv_rand_%d" % i, "Conv", inputs, **attrs)
    # Layers big enough for tiles and threads, and the pointwise path.
    case("conv_tiled", "Conv", [("x", rnd(2, 64, 40, 40)), ("w", rnd(96, 64, 3, 3)),
                                ("b", rnd(96))], pads=[1, 1, 1, 1])
    case("conv_deep", "Conv", [("x", rnd(1, 256, 7, 7)), ("w", rnd(256, 256, 3, 3))],
         pads=[1, 1, 1, 1])
    case("conv_pointwise", "Conv", [("x", rnd(1, 64, 30, 30)), ("w", rnd(128, 64, 1, 1)),
                                    ("b", rnd(128))])
    case("conv_pointwise_s2", "Conv", [("x", rnd(1, 64, 28, 28)), ("w", rnd(128, 64, 1, 1))],
         strides=[2, 2])
    case("conv_stem", "Conv", [("x", rnd(1, 3, 64, 64)), ("w", rnd(16, 3, 7, 7))],
         strides=[2, 2], pads=[3, 3, 3, 3])
    case("conv_dw_s2", "Conv", [("x", rnd(1, 32, 57, 57)), ("w", rnd(32, 1, 3, 3)),
                                ("b", rnd(32))], group=32, strides=[2, 2], pads=[1, 1, 1, 1])
    case("conv_dw_5x5", "Conv", [("x", rnd(2, 16, 20, 20)), ("w", rnd(16, 1, 5, 5))],
         group=16, pads=[2, 2, 2, 2])
    case("conv_f16", "Conv", [("x", rnd(1, 4, 6, 6, dt=np.float16)),
                              ("w", rnd(5, 4, 3, 3, dt=np.float16)),
                              ("b", rnd(5, dt=np.float16))], pads=[1, 1, 1, 1])
    case("conv_opset1", "Conv", [("x", rnd(1, 2, 5, 5)), ("w", rnd(3, 2, 3, 3))], opset=1,
         kernel_shape=[3, 3])


def convtranspose_cases():
    for i in range(24):
        nsp = [1, 2, 2, 3][i % 4]
        group = 1 + i % 2
        cg, mg = int(RNG.integers(1, 4)), int(RNG.integers(1, 4))
        k = [int(RNG.integers(1, 4)) for _ in range(nsp)]
        st = [int(RNG.integers(1, 4)) for _ in range(nsp)]
        dil = [int(RNG.integers(1, 3)) for _ in range(nsp)]
        attrs = dict(group=group, strides=st, dilations=dil)
        if i % 3 == 0:
            attrs["output_padding"] = [int(RNG.integers(0, s)) for s in st]
        if i % 3 == 1:
            attrs["pads"] = [int(RNG.integers(0, kk)) for kk in k] * 2
        size = [int(RNG.integers(1, 7 if nsp < 3 else 4)) for _ in range(nsp)]
        x = rnd(int(RNG.integers(1, 3)), cg * group, *size)
        inputs = [("x", x), ("w", rnd(cg * group, mg, *k))]
        if i % 2:
            inputs.append(("b", rnd(mg * group)))
        case("convt_rand_%d" % i, "ConvTranspose", inputs, **attrs)
    case("convt_output_shape", "ConvTranspose",
         [("x", rnd(1, 2, 4, 4)), ("w", rnd(2, 3, 3, 3))], strides=[2, 2],
         output_shape=[9, 10])
    case("convt_same_upper", "ConvTranspose",
         [("x", rnd(1, 2, 5, 4)), ("w", rnd(2, 3, 4, 3))], strides=[2, 3],
         auto_pad="SAME_UPPER")
    case("convt_big", "ConvTranspose", [("x", rnd(2, 32, 12, 12)), ("w", rnd(32, 16, 4, 4)),
                                        ("b", rnd(16))], strides=[2, 2], pads=[1, 1, 1, 1])


def matmul_cases():
    shapes = [([3, 4], [4, 5]), ([2, 3, 4], [4, 5]), ([2, 3, 4], [2, 4, 5]),
              ([3, 1, 4, 5], [2, 5, 6]), ([7], [7]), ([7], [7, 3]), ([2, 3, 7], [7]),
              ([2, 4, 16, 8], [2, 4, 8, 16]), ([1, 4, 5], [3, 5, 2]), ([64, 128], [128, 96]),
              ([0, 4], [4, 3]), ([3, 0], [0, 5])]
    for i, (sa, sb) in enumerate(shapes):
        for dt in [np.float32, np.float16, np.float64, np.int32, np.int64, np.uint32, np.uint64]:
            if i > 4 and dt not in (np.float32, np.int64):
                continue
            if np.issubdtype(dt, np.integer):
                a, b = ints(0, 9, sa, dt), ints(0, 9, sb, dt)
            else:
                a, b = rnd(*sa, dt=dt), rnd(*sb, dt=dt)
            case("matmul_%d_%s" % (i, np.dtype(dt).name), "MatMul", [("a", a), ("b", b)])
    for i, (ta, tb, cshape) in enumerate([(0, 0, [5]), (1, 0, [1, 5]), (0, 1, [3, 1]),
                                          (1, 1, []), (0, 0, [3, 5]), (0, 0, None)]):
        for dt in [np.float32, np.float16, np.float64]:
            a = rnd(*([4, 3] if ta else [3, 4]), dt=dt)
            b = rnd(*([5, 4] if tb else [4, 5]), dt=dt)
            inputs = [("a", a), ("b", b)] + ([("c", rnd(*cshape, dt=dt))] if cshape is not None else [])
            case("gemm_%d_%s" % (i, np.dtype(dt).name), "Gemm", inputs, transA=ta, transB=tb,
                 alpha=0.7, beta=1.3)
    case("gemm_big", "Gemm", [("a", rnd(8, 512)), ("b", rnd(1000, 512)), ("c", rnd(1000))],
         transB=1)


def pool_cases():
    i = 0
    for nsp in [1, 2, 3]:
        for k, s, p, dil, ceil in [(2, 2, 0, 1, 0), (3, 2, 1, 1, 1), (3, 1, 1, 2, 0),
                                   (2, 3, 1, 1, 1), (3, 2, 0, 1, 1)]:
            size = [7, 8, 5][:nsp] if nsp < 3 else [5, 6, 4]
            x = rnd(2, 3, *size)
            win = dict(kernel_shape=[k] * nsp, strides=[s] * nsp, pads=[p] * nsp + [0] * nsp,
                       ceil_mode=ceil)
            case("maxpool_%d" % i, "MaxPool", [("x", x)], opset=12, outputs=("y", "idx"),
                 dilations=[dil] * nsp, **win)
            if dil == 1:
                for cip in (0, 1):
                    case("avgpool_%d_%d" % (i, cip), "AveragePool", [("x", x)], opset=11,
                         count_include_pad=cip, **win)
                case("lppool_%d" % i, "LpPool", [("x", x)], opset=11, p=1 + i % 3,
                     kernel_shape=[k] * nsp, strides=[s] * nsp, pads=[p] * (2 * nsp))
            i += 1
    x = rnd(1, 3, 9, 9)
    for ap in ["SAME_UPPER", "SAME_LOWER", "VALID"]:
        case("maxpool_%s" % ap, "MaxPool", [("x", x)], kernel_shape=[3, 2], strides=[2, 2],
             auto_pad=ap)
        case("avgpool_%s" % ap, "AveragePool", [("x", x)], kernel_shape=[3, 2], strides=[2, 2],
             auto_pad=ap)
    case("maxpool_storage_order", "MaxPool", [("x", rnd(2, 3, 5, 6))], outputs=("y", "idx"),
         kernel_shape=[2, 3], storage_order=1)
    case("maxpool_f16", "MaxPool", [("x", rnd(1, 3, 9, 9, dt=np.float16))],
         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    case("maxpool_int8", "MaxPool", [("x", ints(-128, 127, (1, 2, 5, 5), np.int8))], opset=12,
         kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    case("maxpool_uint8", "MaxPool", [("x", ints(0, 255, (1, 2, 6, 6), np.uint8))], opset=12,
         kernel_shape=[3, 3], strides=[2, 2])
    case("maxpool_big", "MaxPool", [("x", rnd(1, 64, 112, 112))], kernel_shape=[3, 3],
         strides=[2, 2], pads=[1, 1, 1, 1])
    for op in ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"]:
        for shape in [(2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 4, 2)]:
            case("%s_%d" % (op.lower(), len(shape)), op, [("x", rnd(*shape))])
        case("%s_f16" % op.lower(), op, [("x", rnd(1, 8, 7, 7, dt=np.float16))])


def norm_cases():
    for dt in [np.float32, np.float16, np.float64]:
        x = rnd(2, 3, 4, 5, dt=dt)
        case("batchnorm_%s" % np.dtype(dt).name, "BatchNormalization",
             [("x", x), ("s", rnd(3, dt=dt)), ("b", rnd(3, dt=dt)), ("m", rnd(3, dt=dt)),
              ("v", np.abs(rnd(3, dt=dt)) + 0.1)], opset=15, epsilon=1e-3)
        case("instnorm_%s" % np.dtype(dt).name, "InstanceNormalization",
             [("x", x), ("s", rnd(3, dt=dt)), ("b", rnd(3, dt=dt))], epsilon=1e-3)
    case("batchnorm_2d", "BatchNormalization",
         [("x", rnd(4, 3)), ("s", rnd(3)), ("b", rnd(3)), ("m", rnd(3)),
          ("v", np.abs(rnd(3)) + 0.1)], opset=9)
    case("batchnorm_opset7", "BatchNormalization",
         [("x", rnd(2, 3, 4, 4)), ("s", rnd(3)), ("b", rnd(3)), ("m", rnd(3)),
          ("v", np.abs(rnd(3)) + 0.1)], opset=7)
    case("instnorm_3d", "InstanceNormalization", [("x", rnd(2, 3, 4, 5, 2)), ("s", rnd(3)),
                                                  ("b", rnd(3))])
    for size in [1, 3, 5]:
        case("lrn_%d" % size, "LRN", [("x", rnd(2, 7, 3, 3))], size=size, alpha=0.01,
             beta=0.6, bias=2.0)
    for axes in [[0, 2, 3], [1], [2, 3], [0, 1, 2, 3]]:
        case("mvn_%s" % "".join(map(str, axes)), "MeanVarianceNormalization",
             [("x", rnd(2, 3, 4, 5))], axes=axes)
    for axis in [-1, -2, 0, 1]:
        x = rnd(2, 3, 16)
        norm = x.shape[axis:] if axis >= 0 else x.shape[axis:]
        case("layernorm_axis%d" % axis, "LayerNormalization",
             [("x", x), ("s", rnd(*norm)), ("b", rnd(*norm))], opset=17,
             outputs=("y", "mean", "inv"), axis=axis)
    case("layernorm_noB", "LayerNormalization", [("x", rnd(4, 32)), ("s", rnd(32))], opset=17,
         epsilon=1e-3)
    case("layernorm_bcast", "LayerNormalization", [("x", rnd(2, 3, 4)), ("s", rnd(4)),
                                                   ("b", rnd(1))], opset=17, axis=1)
    case("layernorm_f16", "LayerNormalization",
         [("x", rnd(2, 8, dt=np.float16)), ("s", rnd(8, dt=np.float16)),
          ("b", rnd(8, dt=np.float16))], opset=17)
    case("layernorm_bert", "LayerNormalization",
         [("x", rnd(1, 128, 768)), ("s", rnd(768)), ("b", rnd(768))], opset=17)
    case("skiplayernorm", "SkipLayerNormalization",
         [("x", rnd(2, 3, 8)), ("sk", rnd(2, 3, 8)), ("g", rnd(8)), ("be", rnd(8)),
          ("bi", rnd(8))], domain="com.microsoft", domains=MS,
         outputs=("y", "mean", "inv", "sum"), epsilon=1e-5)
    case("skiplayernorm_min", "SkipLayerNormalization",
         [("x", rnd(2, 3, 8)), ("sk", rnd(2, 3, 8)), ("g", rnd(8))], domain="com.microsoft",
         domains=MS)
    case("skipsimplifiedlayernorm", "SkipSimplifiedLayerNormalization",
         [("x", rnd(2, 3, 8)), ("sk", rnd(2, 3, 8)), ("g", rnd(8))], domain="com.microsoft",
         domains=MS)
    case("simplifiedlayernorm", "SimplifiedLayerNormalization", [("x", rnd(2, 3, 8)),
                                                                 ("s", rnd(8))])


def quant_cases():
    x = rnd(3, 4) * 50
    for zt in [np.uint8, np.int8]:
        case("quantize_%s" % np.dtype(zt).name, "QuantizeLinear",
             [("x", x), ("s", np.array(0.7, np.float32)), ("z", np.array(3, zt))])
        case("quantize_axis_%s" % np.dtype(zt).name, "QuantizeLinear",
             [("x", x), ("s", np.abs(rnd(4)) + 0.1), ("z", ints(-5, 5, (4,), zt))], axis=1)
        q = ints(0, 127, (3, 4), zt)
        case("dequantize_axis_%s" % np.dtype(zt).name, "DequantizeLinear",
             [("x", q), ("s", np.abs(rnd(3)) + 0.1), ("z", ints(0, 9, (3,), zt))], axis=0)
    case("quantize_noz", "QuantizeLinear", [("x", x), ("s", np.array(0.3, np.float32))])
    case("dequantize_int32", "DequantizeLinear",
         [("x", ints(-1000, 1000, (5,), np.int32)), ("s", np.array(0.01, np.float32))])
    case("dynquant", "DynamicQuantizeLinear", [("x", rnd(4, 5))], opset=11,
         outputs=("y", "s", "z"))
    case("dynquant_pos", "DynamicQuantizeLinear", [("x", np.abs(rnd(4, 5)) + 1)], opset=11,
         outputs=("y", "s", "z"))
    for at, bt in [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)]:
        a, b = ints(0, 120, (2, 3, 4), at), ints(0, 120, (4, 5), bt)
        n = "%s_%s" % (np.dtype(at).name, np.dtype(bt).name)
        case("matmulinteger_" + n, "MatMulInteger",
             [("a", a), ("b", b), ("az", np.array(7, at)), ("bz", np.array(3, bt))])
        case("qlinearmatmul_" + n, "QLinearMatMul",
             [("a", a), ("as", np.array(0.05, np.float32)), ("az", np.array(1, at)),
              ("b", b), ("bs", np.array(0.03, np.float32)), ("bz", np.array(2, bt)),
              ("ys", np.array(0.2, np.float32)), ("yz", np.array(3, at))])
    case("matmulinteger_perrow", "MatMulInteger",
         [("a", ints(0, 255, (3, 4), np.uint8)), ("b", ints(0, 255, (4, 5), np.uint8)),
          ("az", ints(0, 9, (3,), np.uint8)), ("bz", ints(0, 9, (5,), np.uint8))])
    case("qlinearconv_perchannel", "QLinearConv",
         [("x", ints(0, 255, (1, 3, 6, 6), np.uint8)), ("xs", np.array(0.02, np.float32)),
          ("xz", np.array(128, np.uint8)), ("w", ints(-100, 100, (4, 3, 3, 3), np.int8)),
          ("ws", (np.abs(rnd(4)) * 0.01).astype(np.float32)), ("wz", np.zeros(4, np.int8)),
          ("ys", np.array(0.1, np.float32)), ("yz", np.array(120, np.uint8)),
          ("b", ints(-500, 500, (4,), np.int32))], pads=[1, 1, 1, 1])
    case("convinteger", "ConvInteger",
         [("x", ints(0, 255, (1, 3, 7, 7), np.uint8)), ("w", ints(0, 255, (4, 3, 3, 3), np.uint8)),
          ("xz", np.array(100, np.uint8)), ("wz", np.array(7, np.uint8))], strides=[2, 2])


def roi_cases():
    x = rnd(2, 3, 10, 10)
    rois = np.array([[1, 1, 9, 9], [0, 2, 15, 12], [3, 3, 4, 4]], np.float32)
    for mode in ["avg", "max"]:
        for ctm in ["half_pixel", "output_half_pixel"]:
            case("roialign_%s_%s" % (mode, ctm), "RoiAlign",
                 [("x", x), ("r", rois), ("i", np.array([1, 0, 1], np.int64))], opset=16,
                 mode=mode, coordinate_transformation_mode=ctm, output_height=3, output_width=2,
                 sampling_ratio=2, spatial_scale=0.5)
    case("roialign_adaptive", "RoiAlign",
         [("x", x), ("r", rois), ("i", np.array([1, 0, 1], np.int64))], opset=10,
         output_height=2, output_width=2)
    case("maxroipool", "MaxRoiPool",
         [("x", rnd(2, 2, 8, 8)), ("r", np.array([[1, 0, 0, 10, 12], [0, 3, 2, 9, 15]],
                                                   np.float32))],
         pooled_shape=[2, 3], spatial_scale=0.5)


if __name__ == "__main__":
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for gen in [conv_cases, convtranspose_cases, matmul_cases, pool_cases, norm_cases,
                quant_cases, roi_cases]:
        gen()
    print("%d cases written to %s, %d skipped (ONNX Runtime cannot run them):" %
          (written, OUT, len(skipped)))
    for name, why in skipped:
        print("  %s: %s" % (name, why))
