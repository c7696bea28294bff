/* scratch.h -- a stack-like bump allocator for per-node temporary memory.
 *
 * Operators ask for scratch (im2col buffers, packed panels) on every run;
 * malloc'ing those per run would page-fault large blocks each time. The
 * scratch stack hands out 64-byte aligned slices of one block and is popped
 * back to a mark when the node finishes. Nested nodes (a subgraph run inside
 * an If) push above their parent's mark, so the parent's slices stay valid.
 * When a run needed more than the block, the overflow is malloc'd, and the
 * block grows to the high-water mark at the next scratch_reset(), so steady
 * state makes no allocation at all.
 *
 *     scratch_mark m = scratch_push(&s);
 *     float *tmp = scratch_alloc(&s, bytes);
 *     ...
 *     scratch_pop(&s, m);
 */
#ifndef INFERD_SCRATCH_H
#define INFERD_SCRATCH_H

#include <stddef.h>

typedef struct scratch {
    unsigned char *base;
    size_t cap;
    size_t used;
    void **extra;           /* overflow blocks beyond `base` */
    int n_extra, cap_extra;
    size_t extra_bytes;
    size_t high_water;
} scratch;

typedef struct scratch_mark {
    size_t used;
    int n_extra;
    size_t extra_bytes;
} scratch_mark;

scratch_mark scratch_push(const scratch *s);
void scratch_pop(scratch *s, scratch_mark m);
/* NULL on out-of-memory. */
void *scratch_alloc(scratch *s, size_t bytes);
/* Call with nothing allocated: grows the block to the high-water mark. */
void scratch_reset(scratch *s);
void scratch_free(scratch *s);

#endif
