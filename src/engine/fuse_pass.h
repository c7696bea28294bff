/* fuse_pass.h -- load-time operator fusions for transformer encoders and MLPs.
 *
 * Exporters write a transformer layer as dozens of small nodes: MatMul then
 * Add for every linear layer's bias, GELU as Div/Erf/Add/Mul/Mul, LayerNorm
 * as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add. Each node is a pass
 * over memory and a thread-team fork; fused, the same layer is a handful of
 * nodes. graph_optimize() calls fuse_graph() after removing Identity nodes
 * (so weights read through an Identity are seen as the constants they are):
 *
 *     if ((st = fuse_graph(m, g, err))) ...
 *
 * Rewrites, each only when every intermediate value has exactly the readers
 * the pattern accounts for, is not a graph output, and every constant has
 * the expected type, shape and value (otherwise the nodes stay as they are):
 *   - MatMul(A, W) + bias, W a float constant [K, N] and bias a float
 *     constant [N]                      -> ai.inferd FusedMatMul(A, W, bias)
 *   - x * 0.5 * (1 + erf(x / sqrt 2)) in its exporters' spellings
 *                                       -> com.microsoft Gelu(x), or the
 *                                          activation of the FusedMatMul
 *                                          producing x
 *   - Relu after FusedMatMul, or after a Gemm with a float constant B
 *                                       -> the activation of FusedMatMul /
 *                                          ai.inferd FusedGemm
 *   - LayerNorm over the last axis, decomposed, with constant [C] scale and
 *     bias                              -> LayerNormalization, or
 *                                          com.microsoft SkipLayerNormalization
 *                                          when its input is a private Add
 *   - Add then LayerNormalization (axis -1, only output Y)
 *                                       -> SkipLayerNormalization
 *   - Softmax(Where(C, fill, x / c + M)) over the last axis, any of Where,
 *     Add and the scaling present       -> ai.inferd MaskedSoftmax
 *
 * Unlike the removals in optimize.c, these change rounding: results agree
 * with the unfused graph to float precision, not bit for bit. */
#ifndef INFERD_FUSE_PASS_H
#define INFERD_FUSE_PASS_H

#include "model.h"

/* Rewrites g in place (nodes, value lifetimes); new node structures come
 * from m's arena. Fails only when memory runs out. Subgraphs are left as
 * they are. */
status fuse_graph(engine_model *m, graph *g, errinfo *err);

#endif
