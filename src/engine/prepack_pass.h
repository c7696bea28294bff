/* prepack_pass.h -- load-time packing of constant weight matrices.
 *
 * A matrix product whose B is a weight matrix (a fully connected layer, an
 * encoder's projections) runs faster on weights kept in the layout oneDNN's
 * matmul prefers than through sgemm, which repacks B on every call
 * (kernels/dnnl_matmul.h). This pass packs each such B once, stores the
 * packed bytes in the model as the node's weight initializer and rewrites
 * the node to ai.inferd PackedMatMul (ops/matmul.c):
 *
 *   MatMul(A, B)                          -> PackedMatMul(A, Bp)
 *   FusedMatMul(A, B, bias?)              -> PackedMatMul(A, Bp, bias?)
 *   Gemm / FusedGemm(A, B, C?), transA 0,
 *     alpha 1, C absent, beta 0, or a
 *     constant [N] / [1, N] with beta 1   -> PackedMatMul(A, Bp, C?), gemm = 1
 *
 * where B is a float initializer of rank 2 that nothing else reads (no other
 * node, no subgraph, not a graph output). The original bytes are then given
 * back to the system: file pages through model_mapping_release(), an arena
 * copy with madvise (nothing reads it any more), so the packed copy does
 * not double the weights' resident memory. graph_optimize() runs it last:
 *
 *     if ((st = prepack_pass_run(m, g, err))) ...
 *
 * Which products it takes is a measured rule (prepack_pass.c). */
#ifndef INFERD_PREPACK_PASS_H
#define INFERD_PREPACK_PASS_H

#include "model.h"

/* Rewrites g's eligible products in place; new structures and the packed
 * weights come from m's arena. Fails only when memory runs out. Subgraphs
 * are left as they are. */
status prepack_pass_run(engine_model *m, graph *g, errinfo *err);

#endif
