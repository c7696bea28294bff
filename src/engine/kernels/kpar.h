/* kpar.h -- how a kernel asks for parallelism without knowing the executor.
 *
 * Kernels (conv, pooling) split their work with a `kpar`: a function that
 * runs fn over [0, n) in contiguous chunks on up to `threads` threads. Ops
 * wrap exec_parallel_for() in one; unit tests pass NULL, which runs the
 * whole range on the calling thread. Keeping the executor out of kernels
 * lets them be tested on their own against their scalar references.
 *
 *     static void par(const void *x, int64_t n, kpar_fn fn, void *arg) {
 *         exec_parallel_for(x, n, fn, arg);
 *     }
 *     kpar p = {.run = par, .ctx = x, .threads = exec_threads(x)};
 *     kpar_for(&p, channels, im2col_chunk, &args);
 */
#ifndef INFERD_KPAR_H
#define INFERD_KPAR_H

#include <stdint.h>

typedef void (*kpar_fn)(void *arg, int64_t begin, int64_t end);

typedef struct kpar {
    void (*run)(const void *ctx, int64_t n, kpar_fn fn, void *arg);
    const void *ctx;
    int threads;                /* >= 1 */
} kpar;

/* Runs fn over [0, n); serially when p is NULL or has no runner. */
static inline void kpar_for(const kpar *p, int64_t n, kpar_fn fn, void *arg) {
    if (n <= 0) return;
    if (p && p->run && p->threads > 1 && n > 1) p->run(p->ctx, n, fn, arg);
    else fn(arg, 0, n);
}

static inline int kpar_threads(const kpar *p) {
    return p && p->run && p->threads > 1 ? p->threads : 1;
}

#endif
