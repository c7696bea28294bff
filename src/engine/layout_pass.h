/* layout_pass.h -- keeps a CNN's activations channels-last (NHWC) between
 * convolutions, so they run on oneDNN's direct NHWC kernels.
 *
 * graph_optimize() calls it at load, before operators are bound. It finds
 * float 2-D Conv nodes with constant weights and the layout-agnostic ops
 * connected to them, and rewrites them into a region whose tensors are
 * [N, H, W, C]:
 *   - Conv -> ai.inferd ConvNhwc (ops/conv_dnnl.c), absorbing a following
 *     Relu / LeakyRelu / Clip (constant bounds) / HardSwish / Sigmoid / Tanh
 *     and a residual Add (oneDNN post-ops), when the absorbed value has no
 *     other reader and is not a graph output; the fused node takes the place
 *     of the last node it absorbs, where the Add's other operand exists;
 *   - MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool -> their
 *     ai.inferd *Nhwc forms; Concat on channels -> Concat on axis 3;
 *   - elementwise ops whose tensor inputs are all region values (or
 *     constants with a single element) stay as they are: permuting every
 *     rank-4 operand alike keeps numpy broadcasting valid (an SE block's
 *     [N,C,1,1] scale becomes [N,1,1,C]).
 * A value entering the region gets a Transpose to NHWC; a region value read
 * by anything else, or that is a graph output, gets a Transpose back under
 * its original name. Anything the pass is unsure of ends the region.
 *
 *     if ((st = layout_pass_run(m, g, err))) return st;   // only OOM fails
 */
#ifndef INFERD_LAYOUT_PASS_H
#define INFERD_LAYOUT_PASS_H

#include "model.h"

/* Rewrites g in place (nodes, values, lifetimes) using m's arena. Fails
 * only when memory runs out. Subgraphs are left alone. */
status layout_pass_run(engine_model *m, graph *g, errinfo *err);

#endif
