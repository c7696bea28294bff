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
 *     kpar_for(&p, channels, im2col_chunk, &args);          // static chunks
 *     kpar_for_dynamic(&p, planes, 4, plane_chunk, &args);  // claimed 4 at a time
 */
#ifndef INFERD_KPAR_H
#define INFERD_KPAR_H

#include <stdatomic.h>
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

/* Dynamic scheduling: each thread claims blocks of `grain` items until none
 * are left, so a thread the OS delays does not hold the others at the end
 * of the loop. For loops of many similar, independent items. */
typedef struct kpar_dyn {
    atomic_llong next;
    int64_t n, grain;
    kpar_fn fn;
    void *arg;
} kpar_dyn;

static inline void kpar_dyn_worker(void *arg, int64_t s0, int64_t s1) {
    kpar_dyn *d = arg;
    (void)s0, (void)s1;
    for (int64_t b; (b = atomic_fetch_add(&d->next, d->grain)) < d->n;)
        d->fn(d->arg, b, b + d->grain < d->n ? b + d->grain : d->n);
}

static inline void kpar_for_dynamic(const kpar *p, int64_t n, int64_t grain, kpar_fn fn,
                                    void *arg) {
    int threads = kpar_threads(p);
    if (grain < 1) grain = 1;
    if (n <= 0) return;
    if (threads == 1 || n <= grain) {
        fn(arg, 0, n);
        return;
    }
    kpar_dyn d = {.n = n, .grain = grain, .fn = fn, .arg = arg};
    atomic_init(&d.next, 0);
    int64_t blocks = (n + grain - 1) / grain;
    p->run(p->ctx, blocks < threads ? blocks : threads, kpar_dyn_worker, &d);
}

#endif
