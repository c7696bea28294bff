/* matmul.c -- MatMul (numpy semantics) and Gemm, and the ai.inferd
 * FusedMatMul / FusedGemm that the load-time fusions (fuse_pass.c) make of
 * MatMul + bias Add and Gemm/MatMul + Relu or GELU.
 *
 * Products whose constant weight matrix prepack_pass.c packed at load are
 * ai.inferd PackedMatMul, run by oneDNN on the packed weights
 * (kernels/dnnl_matmul.h). Every other float32 product goes to sgemm
 * (kernels/gemm.h): MatMul folds A's batch dims into M when B is a plain
 * matrix (the transformer case, [B, S, K] x [K, N]) and otherwise runs one
 * GEMM per broadcast batch, spreading small batches over threads.
 * float16/bfloat16 are converted to float32 around the same path; double
 * and the integer types use a plain loop generated per type (integers
 * wrap, as two's complement arithmetic does). */
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/dnnl_matmul.h"
#include "../kernels/gemm.h"
#include "../kernels/vmath.h"
#include "../op.h"
#include "../shape.h"
#include "fview.h"
#include "mm_plan.h"

/* --- generic (non-fp32) kernels ------------------------------------------ */

/* c[i*n + j] = sum_p a[i*ars + p*acs] * b[p*brs + j*bcs] */
typedef void (*mm_loop_fn)(int64_t m, int64_t n, int64_t k, const void *a, int64_t ars,
                           int64_t acs, const void *b, int64_t brs, int64_t bcs, void *c);

#define MM_LOOP(NAME, T, ACC)                                                              \
    static void NAME(int64_t m, int64_t n, int64_t k, const void *av, int64_t ars,         \
                     int64_t acs, const void *bv, int64_t brs, int64_t bcs, void *cv) {    \
        const T *a = av, *b = bv;                                                          \
        T *c = cv;                                                                         \
        for (int64_t i = 0; i < m; i++) {                                                  \
            T *restrict ci = c + i * n;                                                    \
            for (int64_t j = 0; j < n; j++) ci[j] = 0;                                     \
            for (int64_t p = 0; p < k; p++) {                                              \
                const ACC ap = (ACC)a[i * ars + p * acs];                                  \
                const T *bp = b + p * brs;                                                 \
                for (int64_t j = 0; j < n; j++)                                            \
                    ci[j] = (T)((ACC)ci[j] + ap * (ACC)bp[j * bcs]);                       \
            }                                                                              \
        }                                                                                  \
    }

MM_LOOP(mm_f64, double, double)
MM_LOOP(mm_i32, int32_t, uint64_t)
MM_LOOP(mm_i64, int64_t, uint64_t)
MM_LOOP(mm_u32, uint32_t, uint64_t)
MM_LOOP(mm_u64, uint64_t, uint64_t)

/* y[i] += c[i] (broadcast already applied by the caller's index map) */
#define MM_ADD(NAME, T)                                                                    \
    static void NAME(void *yv, const void *cv, int64_t i, int64_t ci) {                   \
        T *y = yv;                                                                         \
        const T *c = cv;                                                                   \
        y[i] = (T)(y[i] + c[ci]);                                                          \
    }

static void mm_add_f64(void *yv, const void *cv, int64_t i, int64_t ci) {
    ((double *)yv)[i] += ((const double *)cv)[ci];
}
MM_ADD(mm_add_i32, uint32_t)
MM_ADD(mm_add_i64, uint64_t)

static const struct mm_type {
    engine_dtype dt;
    mm_loop_fn loop;
    void (*add)(void *y, const void *c, int64_t i, int64_t ci);
} mm_types[] = {
    {ENGINE_DOUBLE, mm_f64, mm_add_f64},
    {ENGINE_INT32, mm_i32, mm_add_i32},
    {ENGINE_UINT32, mm_u32, mm_add_i32},
    {ENGINE_INT64, mm_i64, mm_add_i64},
    {ENGINE_UINT64, mm_u64, mm_add_i64},
};

static const struct mm_type *mm_type_of(engine_dtype dt) {
    for (size_t i = 0; i < sizeof mm_types / sizeof mm_types[0]; i++)
        if (mm_types[i].dt == dt) return &mm_types[i];
    return NULL;
}

/* float32, float16, bfloat16 (through fp32) or a generic loop type. */
static int mm_dtype_ok(engine_dtype dt) {
    return dt == ENGINE_FLOAT || dt == ENGINE_FLOAT16 || dt == ENGINE_BFLOAT16 ||
           mm_type_of(dt) != NULL;
}

static int via_f32(engine_dtype dt) {
    return dt == ENGINE_FLOAT || dt == ENGINE_FLOAT16 || dt == ENGINE_BFLOAT16;
}

static status prepare_pair(graph *g, node *n, errinfo *err) {
    engine_dtype a = node_input_dtype(g, n, 0), b = node_input_dtype(g, n, 1);
    if (!mm_dtype_ok(a))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "input A has type %s, expected float, float16, bfloat16, double, "
                               "int32, int64, uint32 or uint64", engine_dtype_name(a));
    if (b != a)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "A is %s but B is %s",
                               engine_dtype_name(a), engine_dtype_name(b));
    node_set_output_dtype(g, n, 0, a);
    return STATUS_OK;
}

/* --- MatMul --------------------------------------------------------------- */

typedef struct mm_job {
    const mm_plan *p;
    const float *a, *b;
    float *y;
    float beta;                 /* 1 when y already holds the bias */
} mm_job;

static void mm_batch_chunk(void *arg, int64_t i0, int64_t i1) {
    const mm_job *j = arg;
    const mm_plan *p = j->p;
    for (int64_t i = i0; i < i1; i++) {
        int64_t ao, bo;
        mm_plan_offsets(p, i, &ao, &bo);
        gemm_f32(0, 0, p->m, p->n, p->k, 1.0f, j->a + ao, p->k, j->b + bo, p->n, j->beta,
                 j->y + i * p->m * p->n, p->n, 1);
    }
}

/* A GEMM runs on one thread when it is tiny in both work and weights:
 * under ~2 MFLOP (a few microseconds on one core, what waking a second
 * thread costs on an idle machine, far less than a wake-up on a busy one)
 * and B under 256 KB. A bigger B, even for one row (an MLP at batch 1), is
 * read faster by two cores from two L2 caches: mlp b1 took 0.026-0.032 ms on
 * one thread against 0.016-0.019 on two (idle moments). */
#define MM_SERIAL_MACS (INT64_C(1) << 20)
#define MM_SERIAL_B (INT64_C(1) << 16)

static int gemm_threads(exec_ctx *x, int64_t m, int64_t n, int64_t k) {
    int64_t mn, macs;
    if (__builtin_mul_overflow(m, n, &mn) || __builtin_mul_overflow(mn, k, &macs) ||
        macs >= MM_SERIAL_MACS || n * k >= MM_SERIAL_B)
        return exec_threads(x);
    return 1;
}

/* y = a * b + beta * y */
static void matmul_f32(exec_ctx *x, const mm_plan *p, const float *a, const float *b, float *y,
                       float beta) {
    int threads = gemm_threads(x, p->batches * p->m, p->n, p->k);
    if (p->a_flat) {
        gemm_f32(0, 0, p->batches * p->m, p->n, p->k, 1.0f, a, p->k, b, p->n, beta, y, p->n,
                 threads);
        return;
    }
    mm_job j = {.p = p, .a = a, .b = b, .y = y, .beta = beta};
    /* Many small products (attention heads): one thread each. */
    if (threads > 1 && p->batches >= threads && p->m * p->n * p->k <= (INT64_C(1) << 22)) {
        exec_parallel_for(x, p->batches, mm_batch_chunk, &j);
        return;
    }
    for (int64_t i = 0; i < p->batches; i++) {
        int64_t ao, bo;
        mm_plan_offsets(p, i, &ao, &bo);
        gemm_f32(0, 0, p->m, p->n, p->k, 1.0f, a + ao, p->k, b + bo, p->n, beta,
                 y + i * p->m * p->n, p->n, threads);
    }
}

static status matmul_run(const node *n, exec_ctx *x) {
    (void)n;
    const engine_tensor *a = exec_input(x, 0), *b = exec_input(x, 1);
    engine_tensor *y;
    mm_plan p;
    char why[384];
    if (!a || !b) return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs A and B are required");
    if (mm_plan_make(&a->shape, &b->shape, &p, why, sizeof why))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", why);
    status st = exec_output(x, 0, a->dtype, &p.out, &y);
    if (st) return st;
    int64_t ny = engine_shape_numel(&p.out);
    if (ny == 0) return STATUS_OK;
    if (via_f32(a->dtype)) {
        const float *af = fview_input(x, a), *bf = fview_input(x, b);
        float *yf = fview_output(x, y);
        if (!af || !bf || !yf) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        matmul_f32(x, &p, af, bf, yf, 0.0f);
        fview_commit(y, yf);
        return STATUS_OK;
    }
    const struct mm_type *t = mm_type_of(a->dtype);
    size_t es = engine_dtype_size(a->dtype);
    for (int64_t i = 0; i < p.batches; i++) {
        int64_t ao, bo;
        mm_plan_offsets(&p, i, &ao, &bo);
        t->loop(p.m, p.n, p.k, (const char *)a->data + ao * es, p.k, 1,
                (const char *)b->data + bo * es, p.n, 1, (char *)y->data + i * p.m * p.n * es);
    }
    return STATUS_OK;
}

/* --- fused epilogues (ai.inferd FusedMatMul, FusedGemm) -------------------- */

/* What the fused ops apply to each result row after the GEMM. */
typedef enum mm_act { MM_ACT_NONE, MM_ACT_RELU, MM_ACT_GELU } mm_act;

/* The "activation" attribute: absent or "" (none), "Relu", or "Gelu" (the
 * exact, erf-based one). */
static status mm_act_parse(const node *n, errinfo *err, mm_act *act) {
    const char *s = node_attr_string(n, "activation", "");
    if (!s[0]) *act = MM_ACT_NONE;
    else if (!strcmp(s, "Relu")) *act = MM_ACT_RELU;
    else if (!strcmp(s, "Gelu")) *act = MM_ACT_GELU;
    else
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "activation '%s' is not supported, expected Relu or Gelu", s);
    return STATUS_OK;
}

typedef struct mm_epi_job {
    float *y;
    const float *bias;          /* n values added to every row, or NULL */
    int64_t n;
    mm_act act;
} mm_epi_job;

VM_TARGET_CLONES static void mm_epi_rows(void *arg, int64_t r0, int64_t r1) {
    const mm_epi_job *j = arg;
    const int64_t n = j->n;
    const float *restrict b = j->bias;
    for (int64_t r = r0; r < r1; r++) {
        float *restrict y = j->y + r * n;
        if (b) {
            VM_SIMD for (int64_t i = 0; i < n; i++) y[i] += b[i];
        }
        if (j->act == MM_ACT_RELU) {
            VM_SIMD for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0;
        } else if (j->act == MM_ACT_GELU) {
            VM_SIMD for (int64_t i = 0; i < n; i++) y[i] = vm_geluf(y[i]);
        }
    }
}

/* Below this many elements a thread team costs more than the pass. */
#define MM_EPI_PARALLEL (1 << 15)

/* y[rows, n] = act(y + bias) */
static void mm_epilogue(exec_ctx *x, float *y, const float *bias, int64_t rows, int64_t n,
                        mm_act act) {
    if (!bias && act == MM_ACT_NONE) return;
    mm_epi_job j = {.y = y, .bias = bias, .n = n, .act = act};
    if (rows * n < MM_EPI_PARALLEL) mm_epi_rows(&j, 0, rows);
    else exec_parallel_for(x, rows, mm_epi_rows, &j);
}

/* --- Gemm ----------------------------------------------------------------- */

typedef struct gemm_state {
    int trans_a, trans_b;
    float alpha, beta;
    mm_act act;                 /* FusedGemm / FusedMatMul only */
} gemm_state;

static status gemm_prepare(graph *g, node *n, errinfo *err) {
    status st = prepare_pair(g, n, err);
    if (st) return st;
    gemm_state v = {.trans_a = node_attr_int(n, "transA", 0) != 0,
                    .trans_b = node_attr_int(n, "transB", 0) != 0,
                    .alpha = node_attr_float(n, "alpha", 1.0f),
                    .beta = node_attr_float(n, "beta", 1.0f)};
    engine_dtype dt = node_input_dtype(g, n, 0);
    if ((st = mm_act_parse(n, err, &v.act))) return st;
    if (v.act != MM_ACT_NONE && !via_f32(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "a fused activation needs float, float16 or bfloat16, got %s",
                               engine_dtype_name(dt));
    if (dtype_is_int(dt) && (v.alpha != 1.0f || (v.beta != 0.0f && v.beta != 1.0f)))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "integer Gemm supports alpha = 1 and beta = 0 or 1 only, got "
                               "alpha %g beta %g", v.alpha, v.beta);
    if (n->n_inputs > 2 && n->inputs[2] >= 0 && node_input_dtype(g, n, 2) != dt)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "C must have the type of A (%s)",
                               engine_dtype_name(dt));
    gemm_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    *s = v;
    n->state = s;
    return STATUS_OK;
}

/* Y = beta * C broadcast to [m, n] (fp32). */
static void gemm_fill_c(float *y, const float *c, const int64_t *cs, int64_t m, int64_t n,
                        float beta) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) y[i * n + j] = beta * c[i * cs[0] + j * cs[1]];
}

static status gemm_run(const node *nd, exec_ctx *x) {
    const gemm_state *s = nd->state;
    const engine_tensor *a = exec_input(x, 0), *b = exec_input(x, 1), *c = exec_input(x, 2);
    char sa[128], sb[128];
    if (!a || !b) return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs A and B are required");
    if (a->shape.rank != 2 || b->shape.rank != 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "A %s and B %s must be 2-D",
                         shape_format(&a->shape, sa, sizeof sa),
                         shape_format(&b->shape, sb, sizeof sb));
    int64_t m = a->shape.dims[s->trans_a], k = a->shape.dims[!s->trans_a];
    int64_t kb = b->shape.dims[s->trans_b], n = b->shape.dims[!s->trans_b];
    if (k != kb)
        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                         "inner dimensions differ: A %s (transA %d), B %s (transB %d)",
                         shape_format(&a->shape, sa, sizeof sa), s->trans_a,
                         shape_format(&b->shape, sb, sizeof sb), s->trans_b);
    engine_shape ys = {.rank = 2, .dims = {m, n}}, bc;
    int64_t cs[2] = {0, 0};
    int use_c = c && s->beta != 0.0f;
    if (c && (shape_broadcast(&c->shape, &ys, &bc) || !shape_equal(&bc, &ys)))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "C %s does not broadcast to [%lld,%lld]",
                         shape_format(&c->shape, sa, sizeof sa), (long long)m, (long long)n);
    if (use_c) shape_broadcast_strides(&c->shape, &ys, cs);
    engine_tensor *y;
    status st = exec_output(x, 0, a->dtype, &ys, &y);
    if (st || m * n == 0) return st;
    if (via_f32(a->dtype)) {
        const float *af = fview_input(x, a), *bf = fview_input(x, b);
        const float *cf = use_c ? fview_input(x, c) : NULL;
        float *yf = fview_output(x, y);
        if (!af || !bf || !yf || (use_c && !cf))
            return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
        if (use_c) gemm_fill_c(yf, cf, cs, m, n, s->beta);
        gemm_f32(s->trans_a, s->trans_b, m, n, k, s->alpha, af, a->shape.dims[1], bf,
                 b->shape.dims[1], use_c ? 1.0f : 0.0f, yf, n, gemm_threads(x, m, n, k));
        mm_epilogue(x, yf, NULL, m, n, s->act);
        fview_commit(y, yf);
        return STATUS_OK;
    }
    /* double / integers: plain loop, then alpha and beta * C. */
    const struct mm_type *t = mm_type_of(a->dtype);
    int64_t lda = a->shape.dims[1], ldb = b->shape.dims[1];
    t->loop(m, n, k, a->data, s->trans_a ? 1 : lda, s->trans_a ? lda : 1, b->data,
            s->trans_b ? 1 : ldb, s->trans_b ? ldb : 1, y->data);
    if (a->dtype == ENGINE_DOUBLE) {
        double *yd = y->data;
        const double *cd = use_c ? c->data : NULL;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                yd[i * n + j] = s->alpha * yd[i * n + j] +
                                (cd ? s->beta * cd[i * cs[0] + j * cs[1]] : 0.0);
    } else if (use_c) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                t->add(y->data, c->data, i * n + j, i * cs[0] + j * cs[1]);
    }
    return STATUS_OK;
}

/* --- FusedMatMul ------------------------------------------------------------ */

/* A [M, K] times B [K, N] with the epilogue, M split over the threads: each
 * multiplies its rows on one core and finishes them while they are in cache.
 * As fast as one sgemm over both cores plus a parallel epilogue pass on an
 * idle machine ([128 or 1024, 384..1536] shapes), and one thread team per
 * node instead of two: each team is a wake-up, costly on a busy machine. */
typedef struct mm_rows_job {
    const float *a, *b, *bias;
    float *y;
    int64_t n, k;
    mm_act act;
} mm_rows_job;

static void mm_rows_chunk(void *arg, int64_t r0, int64_t r1) {
    const mm_rows_job *j = arg;
    gemm_f32(0, 0, r1 - r0, j->n, j->k, 1.0f, j->a + r0 * j->k, j->k, j->b, j->n, 0.0f,
             j->y + r0 * j->n, j->n, 1);
    mm_epi_job e = {.y = j->y, .bias = j->bias, .n = j->n, .act = j->act};
    mm_epi_rows(&e, r0, r1);
}

/* Rows per thread below which splitting M starves the GEMM kernel. */
#define MM_ROWS_PER_THREAD 32

/* Y = act(A * B + bias): MatMul's shapes, bias [N] optional. */
static status fused_mm_prepare(graph *g, node *n, errinfo *err) {
    status st = prepare_pair(g, n, err);
    if (st) return st;
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (!via_f32(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "A has type %s, expected float, float16 or bfloat16",
                               engine_dtype_name(dt));
    if (n->n_inputs > 2 && n->inputs[2] >= 0 && node_input_dtype(g, n, 2) != dt)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "bias must have the type of A (%s)",
                               engine_dtype_name(dt));
    gemm_state v = {.alpha = 1.0f};
    if ((st = mm_act_parse(n, err, &v.act))) return st;
    gemm_state *s = malloc(sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    *s = v;
    n->state = s;
    return STATUS_OK;
}

static status fused_mm_run(const node *nd, exec_ctx *x) {
    const gemm_state *s = nd->state;
    const engine_tensor *a = exec_input(x, 0), *b = exec_input(x, 1), *c = exec_input(x, 2);
    engine_tensor *y;
    mm_plan p;
    char why[384];
    if (!a || !b) return exec_fail(x, STATUS_INVALID_ARGUMENT, "inputs A and B are required");
    if (mm_plan_make(&a->shape, &b->shape, &p, why, sizeof why))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", why);
    if (c && engine_shape_numel(&c->shape) != p.n)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "bias %s must have N = %lld values",
                         shape_format(&c->shape, why, sizeof why), (long long)p.n);
    status st = exec_output(x, 0, a->dtype, &p.out, &y);
    if (st) return st;
    int64_t ny = engine_shape_numel(&p.out);
    if (ny == 0) return STATUS_OK;
    const float *af = fview_input(x, a), *bf = fview_input(x, b);
    const float *cf = c ? fview_input(x, c) : NULL;
    float *yf = fview_output(x, y);
    if (!af || !bf || !yf || (c && !cf)) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    const int64_t rows = ny / p.n;
    const int threads = gemm_threads(x, rows, p.n, p.k);
    if (p.a_flat && threads > 1 && rows >= MM_ROWS_PER_THREAD * threads) {
        mm_rows_job j = {.a = af, .b = bf, .bias = cf, .y = yf, .n = p.n, .k = p.k, .act = s->act};
        exec_parallel_for(x, rows, mm_rows_chunk, &j);
    } else {
        matmul_f32(x, &p, af, bf, yf, 0.0f);
        mm_epilogue(x, yf, cf, rows, p.n, s->act);
    }
    fview_commit(y, yf);
    return STATUS_OK;
}

/* --- PackedMatMul (ai.inferd) ---------------------------------------------- */

/* Y = act(A x W + bias) on weights prepack_pass.c packed at load, through
 * oneDNN (kernels/dnnl_matmul.h): A [..., K] (exactly 2-D when gemm = 1, as
 * the Gemm it came from requires), W the packed bytes as a 1-D float
 * initializer, bias [N] optional; attributes k, n, gemm and activation (as
 * FusedMatMul's). Y is A's shape with the last dimension N, so MatMul's
 * [B, S, K] x [K, N] is one [B*S, K] product. */
typedef struct packed_state {
    int64_t k, n;
    int gemm;
    mm_act epilogue;            /* applied after the product, or MM_ACT_NONE */
    dnnl_mm *mm;
} packed_state;

static void packed_free(void *p) {
    packed_state *s = p;
    if (!s) return;
    dnnl_mm_destroy(s->mm);
    free(s);
}

static void *scratch_fn(void *ctx, size_t bytes) { return exec_scratch(ctx, bytes); }

static status packed_check(graph *g, node *n, int64_t k, int64_t cols, errinfo *err) {
    const engine_tensor *w = n->n_inputs >= 2 ? node_input_const(g, n, 1) : NULL;
    if (node_input_dtype(g, n, 0) != ENGINE_FLOAT)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input A has type %s, expected float",
                               engine_dtype_name(node_input_dtype(g, n, 0)));
    if (n->n_inputs > 3 || !w || w->dtype != ENGINE_FLOAT || w->shape.rank != 1)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "expected inputs A, W (packed weights: a 1-D float constant) and "
                               "an optional bias");
    /* Packing only pads, so W holds at least K * N values. */
    const int64_t have = engine_shape_numel(&w->shape);
    if (k < 1 || cols < 1 || k > have || cols > have / k)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "attributes k = %lld and n = %lld must be at least 1 and fit in W's "
                               "%lld values", (long long)k, (long long)cols, (long long)have);
    if (n->n_inputs == 3 && n->inputs[2] >= 0 && node_input_dtype(g, n, 2) != ENGINE_FLOAT)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "bias has type %s, expected float",
                               engine_dtype_name(node_input_dtype(g, n, 2)));
    return STATUS_OK;
}

/* Relu is fused into the product. GELU is not: oneDNN's gelu_erf computes
 * 0.5 x (1 + erf(x / sqrt 2)), which cancels for negative x (1.4e-7 off at
 * GELU(-4.5) = -1.5e-5, past ONNX's atol 1e-7 in gen_optimize_cases.py),
 * where vm_geluf (the epilogue pass) stays exact. */
static status packed_prepare(graph *g, node *n, errinfo *err) {
    const int64_t k = node_attr_int(n, "k", 0), cols = node_attr_int(n, "n", 0);
    char why[256];
    mm_act act;
    status st = packed_check(g, n, k, cols, err);
    if (st || (st = mm_act_parse(n, err, &act))) return st;
    packed_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    *s = (packed_state){.k = k, .n = cols, .gemm = node_attr_int(n, "gemm", 0) != 0,
                        .epilogue = act == MM_ACT_RELU ? MM_ACT_NONE : act};
    dnnl_mm_desc d = {.k = k, .n = cols, .bias = n->n_inputs == 3 && n->inputs[2] >= 0,
                      .n_post = act == MM_ACT_RELU, .post = {{DNNL_POST_RELU, 0.0f, 0.0f}}};
    const engine_tensor *w = node_input_const(g, n, 1);
    if ((st = dnnl_mm_create(&d, w->data, w->nbytes, &s->mm, why, sizeof why))) {
        packed_free(s);
        return op_prepare_fail(n, err, st, "%s", why);
    }
    n->state = s;
    node_set_output_dtype(g, n, 0, ENGINE_FLOAT);
    return STATUS_OK;
}

static status packed_run(const node *nd, exec_ctx *x) {
    const packed_state *s = nd->state;
    const engine_tensor *a = exec_input(x, 0), *c = exec_input(x, 2);
    engine_tensor *y;
    char why[384];
    if (!a) return exec_fail(x, STATUS_INVALID_ARGUMENT, "input A is required");
    const int r = a->shape.rank;
    if (r < 1 || a->shape.dims[r - 1] != s->k || (s->gemm && r != 2))
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "A %s must be %s with last dimension K = %lld",
                         shape_format(&a->shape, why, sizeof why), s->gemm ? "2-D" : "at least 1-D",
                         (long long)s->k);
    if (c && engine_shape_numel(&c->shape) != s->n)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "bias %s must have N = %lld values",
                         shape_format(&c->shape, why, sizeof why), (long long)s->n);
    engine_shape ys = a->shape;
    ys.dims[r - 1] = s->n;
    status st = exec_output(x, 0, ENGINE_FLOAT, &ys, &y);
    if (st) return st;
    const int64_t rows = engine_shape_numel(&a->shape) / s->k;
    if (rows == 0) return STATUS_OK;
    st = dnnl_mm_run(s->mm, rows, a->data, c ? c->data : NULL, y->data,
                     gemm_threads(x, rows, s->n, s->k), scratch_fn, x, why, sizeof why);
    if (st) return exec_fail(x, st, "%s", why);
    mm_epilogue(x, y->data, NULL, rows, s->n, s->epilogue);
    return STATUS_OK;
}

const op_desc op_family_matmul[] = {
    {.type = "MatMul", .since = 1, .prepare = prepare_pair, .run = matmul_run},
    {.type = "Gemm", .since = 1, .prepare = gemm_prepare, .run = gemm_run},
    {.type = "FusedMatMul", .domain = "ai.inferd", .since = 1, .prepare = fused_mm_prepare,
     .run = fused_mm_run},
    {.type = "FusedGemm", .domain = "ai.inferd", .since = 1, .prepare = gemm_prepare,
     .run = gemm_run},
    {.type = "PackedMatMul", .domain = "ai.inferd", .since = 1, .prepare = packed_prepare,
     .run = packed_run, .free_state = packed_free},
    {0},
};
