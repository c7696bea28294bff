/* exec.h -- what an operator's run() may ask of the executor (private).
 *
 * The executor walks the graph's nodes in order. For each node it hands the
 * op an `exec_ctx` through which the op reads inputs, obtains output buffers
 * and scratch memory, learns its thread budget and reports errors. Output
 * buffers come from the session's activation arena, planned once per set of
 * input shapes by the values' lifetimes (see planner.c), so ops never
 * allocate per run. */
#ifndef INFERD_EXEC_H
#define INFERD_EXEC_H

#include "engine.h"

struct graph;

typedef struct exec_ctx exec_ctx;

/* Number of inputs the node lists (including omitted optional ones). */
int exec_input_count(const exec_ctx *x);
/* Input i, or NULL if it is omitted or i is out of range. */
const engine_tensor *exec_input(const exec_ctx *x, int i);

int exec_output_count(const exec_ctx *x);
/* Allocates output k with the given dtype and shape (data is uninitialised,
 * 64-byte aligned). An output the model omits still gets a buffer, discarded
 * after the node, so ops need not special-case it. Fails with
 * STATUS_INVALID_ARGUMENT for a negative or overflowing shape and
 * STATUS_NO_MEMORY when memory runs out. May be called once per output. */
status exec_output(exec_ctx *x, int k, engine_dtype dt, const engine_shape *shape,
                   engine_tensor **out);
/* Whether output k is present in the model (not an omitted optional output). */
int exec_output_wanted(const exec_ctx *x, int k);

/* Scratch memory for the current node, 64-byte aligned, valid until run()
 * returns; repeated calls in one run() return distinct buffers. NULL on OOM. */
void *exec_scratch(exec_ctx *x, size_t bytes);

/* The session's intra-op thread budget (>= 1). */
int exec_threads(const exec_ctx *x);

/* Fails the node: formats "node 'NAME' (OpType): <fmt>" into the run's error
 * and returns st. */
status exec_fail(exec_ctx *x, status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs a subgraph (If/Loop/Scan body) with the given inputs, in the scope of
 * the current node so the body can read the enclosing graph's values. On
 * success outputs[0..g->n_outputs) hold newly allocated data owned by the
 * caller (free with engine_tensor_release). */
status exec_run_subgraph(exec_ctx *x, const struct graph *g,
                         const engine_tensor *inputs, int n_inputs,
                         engine_tensor *outputs);

/* Runs fn over [0, n) split into contiguous chunks on up to exec_threads(x)
 * threads; fn(ctx, begin, end). Returns when all chunks are done. */
void exec_parallel_for(const exec_ctx *x, int64_t n,
                       void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx);

#endif
