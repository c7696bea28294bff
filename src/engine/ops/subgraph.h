/* subgraph.h -- what If, Loop and Scan share (private to ops/).
 *
 * The three control-flow operators run a body graph through
 * exec_run_subgraph() and turn its results into node outputs. This module
 * holds the common parts: looking up the body attribute at load time,
 * carried state between iterations (borrowed from the node's inputs at
 * first, then owned results of the previous iteration), stacking
 * per-iteration values along a new axis, and copying a result into a node
 * output.
 *
 *     subgraph_stack st = {0};
 *     for (each iteration) {
 *         ... exec_run_subgraph(x, body, in, n_in, out) ...
 *         if ((s = subgraph_stack_push(x, &st, &out[k], "scan output 0"))) goto done;
 *     }
 *     subgraph_stack_emit(x, &st, k, 0, 0, body, body_output, dtype);
 *     subgraph_stack_free(&st);
 */
#ifndef INFERD_OPS_SUBGRAPH_H
#define INFERD_OPS_SUBGRAPH_H

#include "../op.h"

/* The graph attribute `name` of n, or an error naming it. */
status subgraph_attr(const node *n, const char *name, const graph **out, errinfo *err);

/* dtype of output i of g (UNDEFINED if the loader could not type it). */
engine_dtype subgraph_output_dtype(const graph *g, int i);

/* Values one iteration hands to the next: slot i is either borrowed (the
 * node's input, not freed) or owned (a subgraph result, released). */
typedef struct subgraph_carry {
    int n;
    engine_tensor *t;
    unsigned char *owned;
} subgraph_carry;

/* Sets up n slots in exec scratch, borrowing src[0..n). */
status subgraph_carry_init(exec_ctx *x, subgraph_carry *c, const engine_tensor *const *src,
                           int n);
/* Releases what the slots own and borrows src[0..n) again (a new sequence). */
void subgraph_carry_borrow(subgraph_carry *c, const engine_tensor *const *src);
/* Replaces slot i by `t`, taking ownership of its data (t is cleared). */
void subgraph_carry_take(subgraph_carry *c, int i, engine_tensor *t);
/* Releases what the slots own (the slots stay, holding stale borrows). */
void subgraph_carry_release(subgraph_carry *c);

/* Per-iteration values of one output, stacked along a new axis 0. Each
 * pushed value must have the dtype and shape of the first. */
typedef struct subgraph_stack {
    engine_dtype dtype;
    engine_shape slice;
    size_t slice_bytes;
    int64_t count;
    unsigned char *data;
    size_t cap;
} subgraph_stack;

status subgraph_stack_push(exec_ctx *x, subgraph_stack *s, const engine_tensor *t,
                           const char *what, int index);
/* Writes the stack to node output k with the iteration axis at `axis` of the
 * result (-(r+1) .. r for a slice of rank r), in reverse order if
 * `reverse`; `dtype` is what prepare declared for the output. An empty
 * stack takes its slice shape from the body output's declaration (unknown
 * dims 0, unknown rank: rank 0), as ONNX Runtime does. */
status subgraph_stack_emit(exec_ctx *x, const subgraph_stack *s, int k, int64_t axis,
                           int reverse, const graph *body, int body_output,
                           engine_dtype dtype);
void subgraph_stack_free(subgraph_stack *s);

/* Shape body output i declares, unknown dims as 0, unknown rank as rank 0:
 * the shape of a value no iteration produced. */
engine_shape subgraph_declared_shape(const graph *body, int i);

/* Copies t into node output k (if the model wants it). */
status subgraph_emit(exec_ctx *x, int k, const engine_tensor *t);

/* Releases outputs[0..n). */
void subgraph_release(engine_tensor *outputs, int n);

/* A scalar tensor over caller-owned storage (iteration counters, cond). */
engine_tensor subgraph_scalar(engine_dtype dt, void *data);

/* Reads a single-element bool (or numeric) tensor as a truth value. */
status subgraph_read_bool(exec_ctx *x, const engine_tensor *t, const char *what, int *out);

#endif
