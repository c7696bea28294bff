/* attention.c -- fused pieces of transformer attention (domain ai.inferd),
 * made by the load-time fusions (fuse_pass.c), never by exporters.
 *
 * MaskedSoftmax: the score normalisation exporters write as up to four
 * nodes, Softmax(Where(C, fill, X * scale + M)) over the last axis:
 *     inputs   X (float, float16, bfloat16), M (optional, added), C
 *              (optional bool)
 *     attrs    scale (default 1), fill (the value where C is fill_if),
 *              fill_if (1: fill where C is true, 0: where false)
 *     output   shape of X, M and C broadcast together
 * The masked sum is written straight into the output and each row is then
 * normalised in place, rows spread over threads: two passes over the scores
 * instead of four nodes' eight. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/broadcast.h"
#include "../kernels/vmath.h"
#include "../op.h"
#include "../shape.h"
#include "fview.h"

typedef struct msm_state {
    float scale, fill;
    int fill_if;
} msm_state;

static status msm_prepare(graph *g, node *n, errinfo *err) {
    status st = op_prepare_same_float(g, n, err);
    if (st) return st;
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (dt == ENGINE_DOUBLE)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "X is double, expected float, float16 or bfloat16");
    if (n->n_inputs > 1 && n->inputs[1] >= 0 && node_input_dtype(g, n, 1) != dt)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "M must have the type of X (%s)",
                               engine_dtype_name(dt));
    if (n->n_inputs > 2 && n->inputs[2] >= 0 && node_input_dtype(g, n, 2) != ENGINE_BOOL)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "C must be bool, got %s",
                               engine_dtype_name(node_input_dtype(g, n, 2)));
    msm_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    s->scale = node_attr_float(n, "scale", 1.0f);
    s->fill = node_attr_float(n, "fill", 0.0f);
    s->fill_if = node_attr_int(n, "fill_if", 1) != 0;
    n->state = s;
    return STATUS_OK;
}

typedef struct msm_job {
    const msm_state *s;
    const bcast_plan *p;
    const float *x, *m;         /* m NULL if absent */
    const unsigned char *c;     /* NULL if absent */
    int im, ic;                 /* their operand slots in the plan */
    float *y;
    int64_t cols;
} msm_job;

/* y = C ? fill : x * scale + m, for one contiguous piece; each operand is
 * a vector (inner 1) or a repeated scalar (inner 0), split so both vectorize. */
VM_TARGET_CLONES static void msm_sum(void *ctx, int64_t out_off, const int64_t *in_off,
                                     const int64_t *inner, int64_t n) {
    const msm_job *j = ctx;
    const float sc = j->s->scale, fill = j->s->fill;
    const float *restrict x = j->x + in_off[0];
    float *restrict y = j->y + out_off;
    if (inner[0]) {
        VM_SIMD for (int64_t i = 0; i < n; i++) y[i] = x[i] * sc;
    } else {
        const float v = x[0] * sc;
        VM_SIMD for (int64_t i = 0; i < n; i++) y[i] = v;
    }
    if (j->m) {
        const float *restrict m = j->m + in_off[j->im];
        if (inner[j->im]) {
            VM_SIMD for (int64_t i = 0; i < n; i++) y[i] += m[i];
        } else {
            const float v = m[0];
            VM_SIMD for (int64_t i = 0; i < n; i++) y[i] += v;
        }
    }
    if (j->c) {
        const unsigned char *restrict c = j->c + in_off[j->ic];
        const int want = j->s->fill_if;
        if (inner[j->ic]) {
            VM_SIMD for (int64_t i = 0; i < n; i++) y[i] = (c[i] != 0) == want ? fill : y[i];
        } else if ((c[0] != 0) == want) {
            VM_SIMD for (int64_t i = 0; i < n; i++) y[i] = fill;
        }
    }
}

/* Softmax of each row in place (a row of all -inf gives NaN, as Softmax does). */
VM_TARGET_CLONES static void msm_rows(float *y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        float *v = y + r * cols, mx = -HUGE_VALF, sum = 0;
        VM_SIMD_REDUCE(max, mx)
        for (int64_t i = 0; i < cols; i++) mx = v[i] > mx ? v[i] : mx;
        VM_SIMD_REDUCE(+, sum)
        for (int64_t i = 0; i < cols; i++) {
            float e = vm_expf(v[i] - mx);
            v[i] = e;
            sum += e;
        }
        const float inv = 1.0f / sum;
        VM_SIMD for (int64_t i = 0; i < cols; i++) v[i] *= inv;
    }
}

static void msm_chunk(void *ctx, int64_t r0, int64_t r1) {
    const msm_job *j = ctx;
    bcast_walk(j->p, r0 * j->cols, r1 * j->cols, msm_sum, (void *)j);
    msm_rows(j->y + r0 * j->cols, r1 - r0, j->cols);
}

/* Rows per thread chunk below which one thread does everything. */
#define MSM_PARALLEL_ELEMS (1 << 14)

static status msm_run(const node *nd, exec_ctx *x) {
    const engine_tensor *xt = exec_input(x, 0), *mt = exec_input(x, 1), *ct = exec_input(x, 2);
    char b1[128], b2[128];
    if (!xt) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input X is required");
    if (ct && ct->dtype != ENGINE_BOOL)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "C must be bool");
    const engine_shape *ins[3] = {&xt->shape};
    int n_in = 1, im = 0, ic = 0;
    engine_shape out = xt->shape, tmp;
    if (mt) ins[im = n_in++] = &mt->shape;
    if (ct) ins[ic = n_in++] = &ct->shape;
    for (int k = 1; k < n_in; k++) {
        if (shape_broadcast(&out, ins[k], &tmp))
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s does not broadcast with %s",
                             shape_format(ins[k], b1, sizeof b1), shape_format(&out, b2, sizeof b2));
        out = tmp;
    }
    engine_tensor *yt;
    status st = exec_output(x, 0, xt->dtype, &out, &yt);
    if (st) return st;
    /* a scalar is one row of one, as for Softmax */
    int64_t n = engine_shape_numel(&out), cols = out.rank ? out.dims[out.rank - 1] : 1;
    if (n == 0) return STATUS_OK;
    bcast_plan p;
    if (bcast_plan_init(&p, &out, ins, n_in))
        return exec_fail(x, STATUS_INTERNAL, "cannot plan the broadcast");
    msm_job j = {.s = nd->state, .p = &p, .x = fview_input(x, xt),
                 .m = mt ? fview_input(x, mt) : NULL, .c = ct ? ct->data : NULL,
                 .im = im, .ic = ic, .y = fview_output(x, yt), .cols = cols};
    if (!j.x || !j.y || (mt && !j.m)) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    if (n < MSM_PARALLEL_ELEMS) msm_chunk(&j, 0, n / cols);
    else exec_parallel_for(x, n / cols, msm_chunk, &j);
    fview_commit(yt, j.y);
    return STATUS_OK;
}

const op_desc op_family_attention[] = {
    {.type = "MaskedSoftmax", .domain = "ai.inferd", .since = 1, .prepare = msm_prepare,
     .run = msm_run},
    {0},
};
