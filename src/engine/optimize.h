/* optimize.h -- graph rewrites applied at load, before operators are bound.
 *
 * The loader calls graph_optimize() on the main graph when
 * engine_load_options.optimize is nonzero (the default). Every rewrite keeps
 * the graph's meaning; the fusions may change results by float rounding
 * (another summation order), which tests/model_compare and the conformance
 * runner check against ONNX Runtime with the rewrites on. What each rewrite bought is in docs/design.md ("Engine speed: what
 * we tried").
 *
 *     if ((st = graph_build(m, pm, &g, err))) ...
 *     if (optimize && (st = graph_optimize(m, g, err))) ...
 *     ... bind and prepare as usual ...
 *
 * Rewrites so far:
 *   - Identity nodes, and Dropout nodes in inference mode whose mask is not
 *     read, are removed: their readers read the input directly. A node whose
 *     output is a graph output stays (the output must keep its name).
 *   - layout_pass.h: float 2-D Convs and the ops between them run
 *     channels-last on oneDNN, with activations and residual Adds fused.
 *     Not bit-for-bit: oneDNN sums products in another order (results agree
 *     to float rounding, as tests/model_compare checks).
 *   - fuse_pass.h: MatMul/Gemm with bias and activation, decomposed GELU and
 *     LayerNorm, residual Add + LayerNorm, and attention's scaled, masked
 *     Softmax become single fused ops (domain ai.inferd). */
#ifndef INFERD_OPTIMIZE_H
#define INFERD_OPTIMIZE_H

#include "model.h"

/* Rewrites g in place (nodes, value lifetimes); fails only when memory runs
 * out. Subgraphs (If/Loop/Scan bodies) are left as they are. */
status graph_optimize(engine_model *m, graph *g, errinfo *err);

#endif
