/* onednn.h -- the plumbing every oneDNN-backed kernel shares (private to
 * kernels/dnnl_*.c): the process's CPU engine, oneDNN statuses as inferd
 * statuses, the OpenMP team size, a per-object cache of primitives keyed by
 * shape, running a primitive on caller-provided scratch, weight reorders
 * and post-op attributes.
 *
 * A kernel object (a convolution node's dnnl_conv, a matrix product's
 * dnnl_matmul) owns one onednn_cache. A run looks its shape up; on a miss
 * the kernel's build function makes the primitive (oneDNN JIT-compiles it:
 * 50-370 us, more for the first of a kind in the process) and the cache
 * keeps it. Primitives execute concurrently from any thread; only the
 * lookup holds the mutex.
 *
 *     static status build(void *obj, const void *shape, onednn_prim *e, char *why, size_t len);
 *     int64_t key[ONEDNN_KEY_LEN] = {m, threads};
 *     onednn_prim *e;
 *     int transient;
 *     onednn_set_threads(threads);
 *     st = onednn_cache_get(&obj->cache, key, build, obj, &shape, &e, &transient, why, len);
 *     if (!st) st = onednn_prim_run(e, x, y, extra, n_extra, threads, scratch, sctx, why, len);
 *     if (transient) onednn_prim_free(e);
 */
#ifndef INFERD_ONEDNN_H
#define INFERD_ONEDNN_H

#include <dnnl.h>
#include <pthread.h>
#include <stdint.h>

#include "../engine.h"
#include "dnnl_post.h"

#define ONEDNN_KEY_LEN 20
#define ONEDNN_CACHE_MAX 32

/* One primitive for one key, with what a run needs besides the data. */
typedef struct onednn_prim {
    int64_t key[ONEDNN_KEY_LEN];
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src_md, dst_md, scratch_md;
    size_t scratch_bytes;
    dnnl_memory_t wmem;      /* weights in the primitive's format, or NULL */
    int owns_w;              /* 0 when another entry's (or the object's) weights are shared */
} onednn_prim;

/* Up to `cap` primitives. Beyond that a run builds a throw-away primitive:
 * slower, but an object fed ever-new shapes must not grow without bound,
 * and an entry may be executing on another thread, so none is evicted. */
typedef struct onednn_cache {
    pthread_mutex_t mu;
    int n, cap;
    onednn_prim *e[ONEDNN_CACHE_MAX];
} onednn_cache;

/* Makes the process's CPU engine once; every kernel constructor calls it.
 * STATUS_INTERNAL (message in why) if oneDNN cannot make one. */
status onednn_init(char *why, size_t len);
/* The engine; valid after a successful onednn_init(). */
dnnl_engine_t onednn_cpu(void);

/* Maps a oneDNN failure of `what` to a status with a message in why. */
status onednn_fail(dnnl_status_t s, const char *what, char *why, size_t len);

/* For functions with `status st`, `char *why, size_t len` and a `fail:` label. */
#define ONEDNN_TRY(call, what)                                         \
    do {                                                               \
        dnnl_status_t s_ = (call);                                     \
        if (s_ != dnnl_success) {                                      \
            st = onednn_fail(s_, what, why, len);                      \
            goto fail;                                                 \
        }                                                              \
    } while (0)

/* oneDNN threads with OpenMP; as in gemm_f32 the team size is a per-thread
 * setting, so each session's worker keeps its own budget. A primitive
 * splits its work by the team size it saw when it was made, so callers set
 * it before building and key their caches by it. */
void onednn_set_threads(int threads);

/* Returns nonzero when the mutex cannot be made. cap <= ONEDNN_CACHE_MAX. */
int onednn_cache_init(onednn_cache *c, int cap);
void onednn_cache_deinit(onednn_cache *c);

/* Fills e (key already set) for `shape`: e->prim and the descriptors, via
 * onednn_prim_finish(). Called with the cache's mutex held. */
typedef status (*onednn_build_fn)(void *obj, const void *shape, onednn_prim *e, char *why,
                                  size_t len);

/* The entry for key: cached, newly built and cached, or (cache full) built
 * for this run only (*transient set; the caller frees it). */
status onednn_cache_get(onednn_cache *c, const int64_t *key, onednn_build_fn build, void *obj,
                        const void *shape, onednn_prim **out, int *transient, char *why,
                        size_t len);
void onednn_prim_free(onednn_prim *e);

/* Makes the primitive of pd and records the memory descriptors a run needs. */
status onednn_prim_finish(onednn_prim *e, dnnl_primitive_desc_t pd, char *why, size_t len);

/* Executes e with src x and dst y plus `extra` arguments (weights, bias; at
 * most 4), its scratchpad from scratch(sctx, bytes). */
status onednn_prim_run(const onednn_prim *e, const void *x, void *y, const dnnl_exec_arg_t *extra,
                       int n_extra, int threads, dnnl_scratch_fn scratch, void *sctx, char *why,
                       size_t len);

/* Reorders from (described by from_md) into to (to_md), on the calling
 * thread's team. Either descriptor may be a submemory of a larger one
 * (dnnl_memory_desc_init_submemory), with the pointer at the whole's start. */
status onednn_reorder(const dnnl_memory_desc_t *from_md, const void *from,
                      const dnnl_memory_desc_t *to_md, void *to, char *why, size_t len);

/* A primitive attribute with a user-provided scratchpad and post[0..n)
 * (DNNL_POST_SUM as oneDNN's sum). Destroy with dnnl_primitive_attr_destroy. */
status onednn_attr(const dnnl_post *post, int n, dnnl_primitive_attr_t *out, char *why,
                   size_t len);

#endif
