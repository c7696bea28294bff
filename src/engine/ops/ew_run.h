/* ew_run.h -- running elementwise kernels over tensors (private to ops/).
 *
 * The elementwise families (elementwise.c, logical.c, unary.c, activation.c)
 * write only kernels: a unary kernel maps n contiguous elements, a binary
 * kernel combines two rows in which each operand is a vector or a repeated
 * scalar. This module does the rest, once: broadcasting (kernels/broadcast.h),
 * splitting big tensors over threads, and "staging" dtypes that have no
 * kernel of their own through a compute type, block by block on the stack:
 * float16/bfloat16 compute in float, integers (where an op only has floating
 * kernels) in double.
 *
 *     static const ew_unary_fn relu_fns[ENGINE_DTYPE__MAX] = {
 *         [ENGINE_FLOAT] = relu_f32, [ENGINE_DOUBLE] = relu_f64};
 *     engine_dtype ct = ew_unary_compute_type(relu_fns, dt);   // prepare
 *     ...
 *     return ew_unary_apply(x, relu_fns, in, out, &params);     // run
 */
#ifndef INFERD_EW_RUN_H
#define INFERD_EW_RUN_H

#include "../exec.h"

/* What a unary kernel may read besides its input: activations' alpha, beta
 * and gamma as doubles, and Clip's bounds for integer types (the bit pattern
 * of the element type, sign- or zero-extended to 64 bits). */
typedef struct ew_params {
    double a, b, c;
    int64_t lo, hi;
} ew_params;

typedef void (*ew_unary_fn)(void *out, const void *in, int64_t n, const ew_params *p);

/* Row kernel: out[i] = f(a[i * sa], b[i * sb]) for i < n, with sa, sb in {0, 1}. */
typedef void (*ew_binary_fn)(void *out, const void *a, const void *b, int64_t n, int sa, int sb);

/* The type a kernel table computes dt in: dt itself if it has a kernel,
 * FLOAT for float16/bfloat16, DOUBLE for integers and bool when only
 * floating kernels exist; ENGINE_UNDEFINED if the op cannot handle dt. */
engine_dtype ew_unary_compute_type(const ew_unary_fn *fns, engine_dtype dt);
/* Same for binary kernel tables, without the integer-through-double step
 * (integer binary ops must be exact). */
engine_dtype ew_binary_compute_type(const ew_binary_fn *fns, engine_dtype dt);

/* out = fns[compute type](in), out already allocated with in's shape. The
 * kernel writes out's dtype directly when it differs from in's (IsNaN's
 * bool) and the compute type otherwise. Fails if there is no kernel. */
status ew_unary_apply(exec_ctx *x, const ew_unary_fn *fns, const engine_tensor *in,
                      engine_tensor *out, const ew_params *p);

/* Allocates output k with the broadcast shape of a and b, or fails naming
 * both shapes. */
status ew_broadcast_output(exec_ctx *x, int k, const engine_tensor *a, const engine_tensor *b,
                           engine_dtype dt, engine_tensor **out);

/* out = fn(a, b) with broadcasting. Both inputs are converted to `ct_in`
 * (if they are not already), the kernel writes `ct_out`, converted to out's
 * dtype. out may be the same tensor as a (for folding variadic ops), and its
 * shape must be the broadcast of a and b (a may broadcast to it too). */
status ew_binary_apply(exec_ctx *x, ew_binary_fn fn, engine_dtype ct_in, engine_dtype ct_out,
                       const engine_tensor *a, const engine_tensor *b, engine_tensor *out);

/* Runs fn over [0, n) on the session's threads when n is at least 2 * grain,
 * else inline. grain: the number of elements worth a thread hand-off. */
void ew_parallel(const exec_ctx *x, int64_t n, int64_t grain,
                 void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx);

/* Elements worth a thread hand-off (an OpenMP fork/join costs a few
 * microseconds): memory-bound work (add, compare, copy), unary maps (cheap
 * relu and costly exp mixed; the middle ground), and work of several
 * transcendental passes per element (softmax). */
#define EW_GRAIN_CHEAP 32768
#define EW_GRAIN_UNARY 16384
#define EW_GRAIN_COSTLY 4096

#endif
