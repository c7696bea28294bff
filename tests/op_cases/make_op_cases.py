#!/usr/bin/env python3
"""make_op_cases.py -- single-operator test cases for the data-movement ops
(Transpose, Slice, Gather*, Scatter*, Concat, Split, Expand, Tile, Pad,
Resize/Upsample, DepthToSpace, TopK, Unique, NonZero, NonMaxSuppression,
Einsum, ...) at the shapes, dtypes, opsets (up to 19) and attribute values
that ONNX's own backend test data (opset <= 17, small shapes) leaves out:
blocked-transpose and threaded paths, negative steps and indices, every
Resize coordinate mode x interpolation mode, antialias, axes,
keep_aspect_ratio_policy, Pad wrap/axes, Split num_outputs, reductions.

Each case is an ONNX backend-test directory (model.onnx, test_data_set_0/)
whose expected outputs come from ONNX Runtime, so the conformance runner
checks inferd against ONNX Runtime op by op:

    .venv/bin/python tests/op_cases/make_op_cases.py OUT_DIR
    build/onnx_conformance --tolerance-scale 1e-4 OUT_DIR

tests/op_cases/test_op_cases.py does both under pytest. Inputs come from a
seeded generator, so the cases are the same on every run.
"""

import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CASES = []   # (name, op, inputs, attrs, opset, n_out)
rng = np.random.default_rng(0)


def case(name, op, inputs, attrs=None, opset=13, n_out=1):
    """inputs: numpy arrays, None for an omitted optional input."""
    CASES.append((name, op, inputs, attrs or {}, opset, n_out))


def write_case(out_dir, spec):
    """Runs the node in ONNX Runtime and writes the case directory. Returns
    its path, or raises if ONNX Runtime refuses the node."""
    import onnxruntime as ort
    name, op, inputs, attrs, opset, n_out = spec
    names, graph_inputs, feeds = [], [], {}
    for i, a in enumerate(inputs):
        if a is None:
            names.append("")
            continue
        nm = "in%d" % i
        names.append(nm)
        graph_inputs.append(helper.make_tensor_value_info(
            nm, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape))
        feeds[nm] = a
    outs = ["out%d" % k for k in range(n_out)]
    node = helper.make_node(op, names, outs, **attrs)
    graph = helper.make_graph([node], name, graph_inputs, [onnx.ValueInfoProto(name=o) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 19 else 9
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    res = sess.run(None, feeds)
    for k, r in enumerate(res):  # declare the outputs' types now that they are known
        graph.output[k].CopyFrom(helper.make_tensor_value_info(
            outs[k], onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[r.dtype], r.shape))
    d = os.path.join(out_dir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for j, nm in enumerate(n for n in names if n):
        with open(os.path.join(d, "test_data_set_0", "input_%d.pb" % j), "wb") as f:
            f.write(numpy_helper.from_array(feeds[nm], nm).SerializeToString())
    for k, r in enumerate(res):
        with open(os.path.join(d, "test_data_set_0", "output_%d.pb" % k), "wb") as f:
            f.write(numpy_helper.from_array(r, outs[k]).SerializeToString())
    return d


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def i64(*v):
    return np.array(v, dtype=np.int64)


# ---- Transpose
case('transpose_2d_big', 'Transpose', [f32(300, 517)])
case('transpose_bert', 'Transpose', [f32(2, 128, 12, 64)], {'perm': [0, 2, 1, 3]})
case('transpose_nchw_nhwc', 'Transpose', [f32(1, 3, 224, 224)], {'perm': [0, 2, 3, 1]})
case('transpose_nhwc_nchw', 'Transpose', [f32(2, 56, 56, 24)], {'perm': [0, 3, 1, 2]})
case('transpose_int8_6d', 'Transpose', [rng.integers(-100, 100, (2, 3, 4, 5, 6, 7)).astype(np.int8)], {'perm': [5, 3, 1, 0, 2, 4]})
case('transpose_f16', 'Transpose', [f32(33, 70).astype(np.float16)])
case('transpose_i64_3d', 'Transpose', [rng.integers(0, 1000, (17, 19, 23)).astype(np.int64)], {'perm': [2, 0, 1]})
case('transpose_bool', 'Transpose', [rng.integers(0, 2, (5, 7)).astype(np.bool_)])
case('transpose_scalar_like', 'Transpose', [f32(1, 1, 1)], {'perm': [2, 1, 0]})
case('transpose_empty', 'Transpose', [f32(0, 3)])
# ---- Slice
x = f32(20, 30, 40)
case('slice_neg_steps_3d', 'Slice', [x, i64(-1, 25, 35), i64(-100, 2, 0), i64(0, 1, 2), i64(-3, -2, -7)])
case('slice_int_max', 'Slice', [x, i64(2), i64(2**63 - 1), i64(1), i64(3)])
case('slice_int_min', 'Slice', [x, i64(-1), i64(-2**63), i64(2), i64(-1)])
case('slice_empty', 'Slice', [x, i64(5), i64(5), i64(0)])
case('slice_int32_idx', 'Slice', [x, np.array([1, 2], np.int32), np.array([10, 20], np.int32), np.array([2, 0], np.int32)])
case('slice_opset9', 'Slice', [x], {'starts': [1, 3], 'ends': [-1, 100], 'axes': [0, 2]}, opset=9)
case('slice_u8_big_step', 'Slice', [rng.integers(0, 255, (50, 60)).astype(np.uint8), i64(3, 1), i64(49, 59), i64(0, 1), i64(1000, 7)])
# ---- Gather family
case('gather_embedding', 'Gather', [f32(1000, 256), rng.integers(-1000, 1000, (4, 128)).astype(np.int64)])
case('gather_axis2_i32', 'Gather', [f32(3, 4, 50, 6), rng.integers(-50, 50, (7, 2)).astype(np.int32)], {'axis': 2})
case('gather_last_axis', 'Gather', [f32(64, 300), rng.integers(0, 300, (100,)).astype(np.int64)], {'axis': -1})
case('gather_scalar_idx', 'Gather', [f32(5, 6), np.array(-2, np.int64)], {'axis': 1})
case('gather_f16', 'Gather', [f32(10, 4).astype(np.float16), i64(3, 3, 9)])
case('gather_elements_3d', 'GatherElements', [f32(4, 5, 6), rng.integers(-5, 5, (4, 3, 6)).astype(np.int64)], {'axis': 1})
case('gather_elements_small_idx', 'GatherElements', [f32(4, 5, 6), rng.integers(-6, 6, (2, 3, 4)).astype(np.int32)], {'axis': -1})
case('gathernd_batch2', 'GatherND', [f32(2, 3, 4, 5), rng.integers(0, 4, (2, 3, 6, 1)).astype(np.int64)], {'batch_dims': 2})
case('gathernd_neg', 'GatherND', [f32(4, 5, 6), rng.integers(-4, 4, (3, 2)).astype(np.int64) % np.array([4, 5])])
# ---- Scatter
case('scatter_elements_max', 'ScatterElements', [f32(4, 5), rng.integers(-4, 4, (3, 5)).astype(np.int64), f32(3, 5)], {'axis': 0, 'reduction': 'max'}, opset=18)
case('scatter_elements_min_i32', 'ScatterElements', [rng.integers(-9, 9, (4, 5)).astype(np.int32), rng.integers(0, 5, (4, 2)).astype(np.int64), rng.integers(-9, 9, (4, 2)).astype(np.int32)], {'axis': 1, 'reduction': 'min'}, opset=18)
case('scatternd_slices_mul', 'ScatterND', [f32(4, 5, 6), i64(1, 3, 1).reshape(3, 1), f32(3, 5, 6)], {'reduction': 'mul'}, opset=16)
case('scatternd_max', 'ScatterND', [f32(4, 5), i64(0, 1, 3, 4, 0, 1).reshape(3, 2), f32(3)], {'reduction': 'max'}, opset=18)
# ---- Concat / Split
case('concat_big_axis1', 'Concat', [f32(8, 100, 300), f32(8, 50, 300), f32(8, 1, 300)], {'axis': 1})
case('concat_last_axis_i8', 'Concat', [np.ones((3, 4, 1), np.int8), np.zeros((3, 4, 2), np.int8)], {'axis': -1})
case('concat_with_empty', 'Concat', [f32(2, 3), f32(0, 3), f32(1, 3)], {'axis': 0})
case('split_num_outputs_uneven', 'Split', [f32(2, 7)], {'axis': 1, 'num_outputs': 3}, opset=18, n_out=3)
case('split_opset11_attr', 'Split', [f32(6, 4)], {'axis': 0, 'split': [1, 2, 3]}, opset=11, n_out=3)
case('split_big', 'Split', [f32(4, 512, 64)], {'axis': 1}, n_out=2)
# ---- Expand / Tile
case('expand_bigger', 'Expand', [f32(3, 1, 5), i64(2, 1, 6, 1)])
case('expand_smaller_shape', 'Expand', [f32(3, 4), i64(4)])
case('expand_big', 'Expand', [f32(1, 512), i64(512, 512)])
case('tile_3d', 'Tile', [f32(3, 4, 5), i64(2, 1, 3)])
case('tile_zero', 'Tile', [f32(3, 4), i64(0, 2)])
# ---- Pad
case('pad_axes18', 'Pad', [f32(2, 3, 4), i64(1, 2, 0, 3), np.array(1.5, np.float32), i64(0, -1)], {'mode': 'constant'}, opset=18)
case('pad_wrap19', 'Pad', [f32(3, 4), i64(2, 3, 1, 5)], {'mode': 'wrap'}, opset=19)
case('pad_negative', 'Pad', [f32(5, 6), i64(-1, 2, 1, -3)], {'mode': 'constant'})
case('pad_reflect_big', 'Pad', [f32(2, 3, 30, 40), i64(0, 0, 5, 6, 0, 0, 4, 3)], {'mode': 'reflect'})
case('pad_edge_i32', 'Pad', [rng.integers(0, 9, (4, 5)).astype(np.int32), i64(3, 0, 2, 4)], {'mode': 'edge'})
case('pad_opset2', 'Pad', [f32(3, 4)], {'pads': [1, 1, 2, 0], 'value': 2.0}, opset=2)
case('pad_reflect_neg', 'Pad', [f32(6, 7), i64(-1, 3, 2, -2)], {'mode': 'reflect'})
# ---- Resize
img = f32(1, 3, 20, 30)
for ct in ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'half_pixel_symmetric']:
    for mode in ['nearest', 'linear', 'cubic']:
        for sc in [[1, 1, 2.0, 1.5], [1, 1, 0.5, 0.7]]:
            case(f'resize19_{mode}_{ct}_{sc[2]}', 'Resize', [img, None, np.array(sc, np.float32)],
                 {'mode': mode, 'coordinate_transformation_mode': ct}, opset=19)
for nm in ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']:
    case(f'resize_nearest_{nm}_down', 'Resize', [img, None, None, i64(1, 3, 13, 11)], {'mode': 'nearest', 'nearest_mode': nm})
for mode in ['linear', 'cubic']:
    case(f'resize18_antialias_{mode}', 'Resize', [f32(1, 2, 40, 50), None, np.array([1, 1, 0.3, 0.6], np.float32)], {'mode': mode, 'antialias': 1}, opset=18)
    case(f'resize18_antialias_{mode}_up', 'Resize', [f32(1, 2, 10, 12), None, np.array([1, 1, 2.5, 1.6], np.float32)], {'mode': mode, 'antialias': 1}, opset=18)
case('resize18_axes', 'Resize', [img, None, None, i64(15, 40)], {'mode': 'linear', 'axes': [2, 3]}, opset=18)
case('resize18_keep_not_larger', 'Resize', [img, None, None, i64(10, 10)], {'mode': 'linear', 'axes': [2, 3], 'keep_aspect_ratio_policy': 'not_larger'}, opset=18)
case('resize18_keep_not_smaller', 'Resize', [img, None, None, i64(10, 10)], {'mode': 'nearest', 'axes': [2, 3], 'keep_aspect_ratio_policy': 'not_smaller'}, opset=18)
case('resize_nearest_u8', 'Resize', [rng.integers(0, 255, (1, 3, 7, 9)).astype(np.uint8), None, np.array([1, 1, 2, 2], np.float32)], {'mode': 'nearest'})
case('resize_nearest_i32_5d', 'Resize', [rng.integers(0, 255, (1, 2, 3, 4, 5)).astype(np.int32), None, np.array([1, 1, 2, 1.5, 0.5], np.float32)], {'mode': 'nearest'})
case('resize_linear_f16', 'Resize', [f32(1, 2, 8, 9).astype(np.float16), None, np.array([1, 1, 1.5, 2], np.float32)], {'mode': 'linear'})
case('resize_bilinear_big', 'Resize', [f32(1, 16, 64, 64), None, np.array([1, 1, 2, 2], np.float32)], {'mode': 'linear'})
case('resize_nearest_big', 'Resize', [f32(1, 16, 64, 64), None, np.array([1, 1, 2, 2], np.float32)], {'mode': 'nearest'})
case('resize_tf_crop_extrap', 'Resize', [f32(1, 1, 6, 7), np.array([0, 0, -0.2, 0.3, 1, 1, 1.2, 0.9], np.float32), None, i64(1, 1, 5, 5)], {'mode': 'linear', 'coordinate_transformation_mode': 'tf_crop_and_resize', 'extrapolation_value': 3.0})
case('resize_tf_crop_nearest', 'Resize', [f32(1, 1, 6, 7), np.array([0, 0, -0.25, 0.3, 1, 1, 1.15, 0.9], np.float32), None, i64(1, 1, 5, 5)], {'mode': 'nearest', 'coordinate_transformation_mode': 'tf_crop_and_resize', 'extrapolation_value': 3.0})
case('resize_tf_crop_scales', 'Resize', [f32(1, 1, 6, 7), np.array([0, 0, 0.25, 0.3, 1, 1, 0.75, 0.9], np.float32), np.array([1, 1, 2, 1.5], np.float32)], {'mode': 'linear', 'coordinate_transformation_mode': 'tf_crop_and_resize'})
case('resize_tf_half_pixel_nn', 'Resize', [f32(1, 1, 6, 7), np.zeros(0, np.float32), np.zeros(0, np.float32), i64(1, 1, 4, 11)], {'mode': 'nearest', 'coordinate_transformation_mode': 'tf_half_pixel_for_nn'}, opset=11)
case('resize_cubic_exclude', 'Resize', [f32(1, 1, 9, 7), None, np.array([1, 1, 0.6, 1.7], np.float32)], {'mode': 'cubic', 'exclude_outside': 1, 'cubic_coeff_a': -0.5})
case('resize10_nearest_down', 'Resize', [f32(1, 1, 9, 7), np.array([1, 1, 0.5, 0.6], np.float32)], {'mode': 'nearest'}, opset=10)
case('resize10_linear_up', 'Resize', [f32(1, 1, 4, 5), np.array([1, 1, 2, 1.5], np.float32)], {'mode': 'linear'}, opset=10)
case('upsample7_linear', 'Upsample', [f32(1, 2, 4, 5)], {'mode': 'linear', 'scales': [1.0, 1.0, 2.0, 3.0]}, opset=7)
case('upsample9_nearest', 'Upsample', [f32(1, 2, 4, 5), np.array([1, 1, 2, 3], np.float32)], {'mode': 'nearest'}, opset=9)
# ---- others
case('depthtospace_crd_big', 'DepthToSpace', [f32(2, 32, 9, 11)], {'blocksize': 4, 'mode': 'CRD'})
case('depthtospace_dcr_big', 'DepthToSpace', [f32(2, 32, 9, 11)], {'blocksize': 2, 'mode': 'DCR'})
case('spacetodepth_big', 'SpaceToDepth', [f32(2, 3, 12, 16)], {'blocksize': 4})
case('shape_start_end', 'Shape', [f32(2, 3, 4, 5)], {'start': -3, 'end': -1}, opset=15)
case('squeeze_opset11', 'Squeeze', [f32(1, 3, 1, 4)], {'axes': [-2]}, opset=11)
case('squeeze_all', 'Squeeze', [f32(1, 3, 1, 4)])
case('unsqueeze_opset11', 'Unsqueeze', [f32(3, 4)], {'axes': [0, -1]}, opset=11)
case('reshape_allowzero', 'Reshape', [f32(0, 3, 4), i64(3, 4, 0)], {'allowzero': 1}, opset=14)
case('reshape_zero_copy', 'Reshape', [f32(2, 3, 4), i64(0, -1)])
case('flatten_axis0', 'Flatten', [f32(2, 3, 4)], {'axis': 0})
case('dropout7_mask', 'Dropout', [f32(3, 4)], {}, opset=7, n_out=2)
case('dropout12_mask', 'Dropout', [f32(3, 4), np.array(0.3, np.float32), np.array(False)], {}, opset=12, n_out=2)
case('topk_ties', 'TopK', [np.array([[1, 3, 3, 2, 3, 1], [5, 5, 5, 5, 5, 5]], np.float32), i64(4)], {'axis': 1}, opset=11, n_out=2)
case('topk_smallest_axis0', 'TopK', [f32(20, 7), i64(5)], {'axis': 0, 'largest': 0}, opset=11, n_out=2)
case('topk_i64', 'TopK', [rng.integers(-2**62, 2**62, (3, 50)).astype(np.int64), i64(7)], {}, opset=11, n_out=2)
case('topk_opset1', 'TopK', [f32(4, 9)], {'k': 3}, opset=1, n_out=2)
case('unique_unsorted_axis', 'Unique', [np.array([[1, 0, 0], [1, 0, 0], [2, 3, 4], [1, 0, 0]], np.float32)], {'sorted': 0, 'axis': 0}, opset=11, n_out=4)
case('unique_unsorted_flat', 'Unique', [np.array([2, 1, 1, 3, 4, 3, 2], np.int64)], {'sorted': 0}, opset=11, n_out=4)
case('nonzero_3d', 'NonZero', [(rng.integers(0, 3, (3, 4, 5)) - 1).astype(np.float32)])
case('nonzero_bool', 'NonZero', [rng.integers(0, 2, (4, 6)).astype(np.bool_)])
case('compress_axis1', 'Compress', [f32(3, 5, 2), np.array([1, 0, 1, 1], np.bool_)], {'axis': 1})
case('onehot_axis0', 'OneHot', [i64(1, -1, 7, 0).reshape(2, 2), np.array(5, np.int64), np.array([0, 3], np.float32)], {'axis': 0}, opset=11)
case('range_i64', 'Range', [np.array(10, np.int64), np.array(-7, np.int64), np.array(-3, np.int64)], opset=11)
case('range_f32', 'Range', [np.array(0.5, np.float32), np.array(3.7, np.float32), np.array(0.3, np.float32)], opset=11)
case('eyelike_k', 'EyeLike', [f32(4, 6)], {'k': 2, 'dtype': TensorProto.INT32}, opset=9)
case('eyelike_negk', 'EyeLike', [f32(5, 3)], {'k': -3}, opset=9)
case('trilu_big_k', 'Trilu', [f32(2, 5, 7), np.array(-10, np.int64)], {'upper': 0}, opset=14)
case('trilu_upper_k2', 'Trilu', [f32(5, 7), np.array(2, np.int64)], {'upper': 1}, opset=14)
case('reversesequence_big', 'ReverseSequence', [f32(6, 4, 3), i64(1, 6, 3, 0)], {'time_axis': 0, 'batch_axis': 1}, opset=10)
case('constantofshape_i32', 'ConstantOfShape', [i64(2, 3)], {'value': helper.make_tensor('v', TensorProto.INT32, [1], [7])}, opset=9)
case('nms_center_big', 'NonMaxSuppression', [np.abs(f32(2, 50, 4)) * 10, np.abs(f32(2, 3, 50)), i64(5), np.array(0.3, np.float32), np.array(0.1, np.float32)], {'center_point_box': 1}, opset=11)
case('nms_corners', 'NonMaxSuppression', [f32(1, 80, 4) * 5, np.abs(f32(1, 2, 80)), i64(100), np.array(0.5, np.float32)], {}, opset=11)
# ---- Einsum
for eq, shapes in [('ij,jk->ik', [(30, 40), (40, 50)]), ('bhqd,bhkd->bhqk', [(2, 4, 16, 8), (2, 4, 12, 8)]),
                   ('bij,bjk->bik', [(3, 5, 6), (3, 6, 7)]), ('i,j->ij', [(5,), (6,)]), ('ij,jk->ki', [(4, 5), (5, 6)]),
                   ('...ij,...jk->...ik', [(2, 3, 4, 5), (2, 3, 5, 6)]), ('ii->i', [(5, 5)]), ('ij->', [(4, 5)]),
                   ('bqhd,bkhd->bhqk', [(2, 7, 3, 4), (2, 9, 3, 4)]), ('ij,ij->i', [(4, 5), (4, 5)]),
                   ('abc,cd', [(2, 3, 4), (4, 5)]), ('ij,kj', [(3, 4), (5, 4)]), ('i,i', [(7,), (7,)]),
                   ('bij,jk->bik', [(1, 3, 4), (4, 5)]), ('ijk,ikl,ilm->ijm', [(2, 3, 4), (2, 4, 5), (2, 5, 3)])]:
    nm = 'einsum_' + eq.replace(',', '_').replace('->', '_to_').replace('...', 'E')
    case(nm, 'Einsum', [f32(*s) for s in shapes], {'equation': eq}, opset=12)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_op_cases.py OUT_DIR")
    for spec in CASES:
        write_case(sys.argv[1], spec)
    print("%d cases in %s" % (len(CASES), sys.argv[1]))


if __name__ == "__main__":
    main()
