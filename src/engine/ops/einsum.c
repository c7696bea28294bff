/* einsum.c -- Einsum (opset 12).
 *
 * The equation is parsed once at load time. At run time every dim of every
 * input gets a label id (letters, plus one id per "..." dim, right-aligned
 * across inputs so they broadcast), and each input gets one stride per label
 * (summed when a label repeats within a term: that walks the diagonal; 0 for
 * a broadcast dim of size 1).
 *
 * Two float32 operands without repeated or broadcast labels and nothing
 * summed away on one side only (matmul, batched matmul, attention scores,
 * outer products) become one batched gemm_f32: each operand is gathered into
 * [batch, m, k] / [batch, k, n] order with the strided copy, and the
 * [batch, m, n] result is permuted into the output's order. Everything else
 * takes the general path: a sum over every label combination in double. */
#include <stdlib.h>
#include <string.h>

#include "../dtype.h"
#include "../kernels/gemm.h"
#include "../kernels/strided_copy.h"
#include "../shape.h"
#include "tensor_util.h"

#define EIN_ELLIPSIS 52                    /* first label id of "..." dims */
#define EIN_LABELS (EIN_ELLIPSIS + ENGINE_MAX_RANK)
#define EIN_MAX_TERM 2 * ENGINE_MAX_RANK  /* codes per term */

typedef struct ein_term {
    int n;
    signed char code[EIN_MAX_TERM];         /* letter id 0..51, or -1 for "..." */
} ein_term;

typedef struct ein_state {
    int n_in;
    ein_term in[16];
    int explicit_out;
    ein_term out;
} ein_state;

static int letter_id(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + c - 'A';
    return -1;
}

/* Parses one term from s up to (not including) an end character. */
static int parse_term(const char **s, const char *ends, ein_term *t) {
    int ell = 0;
    t->n = 0;
    while (**s && !strchr(ends, **s)) {
        if (**s == ' ') { (*s)++; continue; }
        if (t->n == EIN_MAX_TERM) return -1;
        if (strncmp(*s, "...", 3) == 0) {
            if (ell++) return -1;
            t->code[t->n++] = -1;
            *s += 3;
            continue;
        }
        int id = letter_id(**s);
        if (id < 0) return -1;
        t->code[t->n++] = (signed char)id;
        (*s)++;
    }
    return 0;
}

static status einsum_prepare(graph *g, node *n, errinfo *err) {
    const char *eq = node_attr_string(n, "equation", NULL);
    if (!eq) return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "attribute 'equation' is missing");
    if (n->n_inputs < 1 || n->n_inputs > 16)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "%d inputs, expected 1..16", n->n_inputs);
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (!dtype_is_float(dt) && !dtype_is_int(dt))
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED, "input type %s is not supported",
                               engine_dtype_name(dt));
    ein_state *s = calloc(1, sizeof *s);
    if (!s) return op_prepare_fail(n, err, STATUS_NO_MEMORY, "out of memory");
    const char *p = eq;
    int bad = 0;
    while (!bad) {
        if (s->n_in == 16 || parse_term(&p, ",-", &s->in[s->n_in++])) bad = 1;
        else if (*p == ',') p++;
        else break;
    }
    if (!bad && *p == '-') {
        if (p[1] != '>') bad = 1;
        p += 2;
        s->explicit_out = 1;
        if (!bad && (parse_term(&p, "", &s->out) || *p)) bad = 1;
    }
    if (bad || s->n_in != n->n_inputs) {
        free(s);
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL,
                               "equation '%s' is malformed or does not have one term per input (%d)",
                               eq, n->n_inputs);
    }
    n->state = s;
    node_set_output_dtype(g, n, 0, dt);
    return STATUS_OK;
}

/* ---- labels ---------------------------------------------------------------------- */

typedef struct ein_plan {
    int n_in;
    const engine_tensor *in[16];
    int64_t size[EIN_LABELS];               /* -1: label unused */
    int64_t stride[16][EIN_LABELS];         /* per input, summed over repeats */
    int repeated;                           /* a label repeats within a term */
    int broadcast;                          /* some input has size 1 where another has more */
    int n_out, out[EIN_LABELS];
    int n_sum, sum[EIN_LABELS];
    int uses[16][EIN_LABELS];               /* how often input i uses the label */
    int n_used[16], used[16][EIN_LABELS];   /* the labels input i uses, once each */
} ein_plan;

static status plan_labels(const ein_state *s, exec_ctx *x, ein_plan *p) {
    int ell_rank = 0;
    memset(p, 0, sizeof *p);
    p->n_in = s->n_in;
    for (int l = 0; l < EIN_LABELS; l++) p->size[l] = -1;
    for (int i = 0; i < s->n_in; i++) {
        const engine_tensor *t = exec_input(x, i);
        if (!t || t->dtype != exec_input(x, 0)->dtype)
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "input %d is missing or of another type", i);
        p->in[i] = t;
        int letters = 0, ell = 0;
        for (int k = 0; k < s->in[i].n; k++) s->in[i].code[k] < 0 ? ell++ : letters++;
        if (t->shape.rank < letters || (!ell && t->shape.rank != letters))
            return exec_fail(x, STATUS_INVALID_ARGUMENT, "input %d has rank %d, the equation says %d",
                             i, t->shape.rank, letters);
        if (t->shape.rank - letters > ell_rank) ell_rank = t->shape.rank - letters;
    }
    for (int i = 0; i < s->n_in; i++) {
        const engine_tensor *t = p->in[i];
        int64_t strides[ENGINE_MAX_RANK];
        shape_strides(&t->shape, strides);
        int d = 0, ell_n, letters = 0;
        for (int k = 0; k < s->in[i].n; k++) letters += s->in[i].code[k] >= 0;
        ell_n = t->shape.rank - letters;
        for (int k = 0; k < s->in[i].n; k++) {
            int c = s->in[i].code[k], count = c < 0 ? ell_n : 1;
            for (int e = 0; e < count; e++, d++) {
                int l = c >= 0 ? c : EIN_ELLIPSIS + ell_rank - ell_n + e;
                int64_t dim = t->shape.dims[d];
                if (p->uses[i][l]++) p->repeated = 1;
                if (p->size[l] < 0 || p->size[l] == 1) {
                    if (p->size[l] == 1 && dim != 1) p->broadcast = 1;
                    p->size[l] = dim;
                } else if (dim != p->size[l]) {
                    if (dim != 1)
                        return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                         "label of input %d dim %d has size %lld, elsewhere %lld",
                                         i, d, (long long)dim, (long long)p->size[l]);
                    p->broadcast = 1;
                }
                if (dim != 1) p->stride[i][l] += strides[d];
            }
        }
    }
    /* output labels: as written, or "..." then letters used exactly once */
    int in_out[EIN_LABELS] = {0};
    if (s->explicit_out) {
        for (int k = 0; k < s->out.n; k++) {
            int c = s->out.code[k];
            for (int e = 0; e < (c < 0 ? ell_rank : 1); e++) {
                int l = c >= 0 ? c : EIN_ELLIPSIS + e;
                if (p->size[l] < 0 || in_out[l]++)
                    return exec_fail(x, STATUS_INVALID_ARGUMENT,
                                     "output label %d is not in any input or repeated", k);
                p->out[p->n_out++] = l;
            }
        }
    } else {
        for (int e = 0; e < ell_rank; e++) p->out[p->n_out++] = EIN_ELLIPSIS + e;
        static const char order[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for (const char *c = order; *c; c++) {
            int l = letter_id(*c), total = 0;
            for (int i = 0; i < s->n_in; i++) total += p->uses[i][l];
            if (total == 1) p->out[p->n_out++] = l;
        }
        for (int k = 0; k < p->n_out; k++) in_out[p->out[k]] = 1;
    }
    if (p->n_out > ENGINE_MAX_RANK)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output rank %d exceeds %d", p->n_out, ENGINE_MAX_RANK);
    for (int l = 0; l < EIN_LABELS; l++) {
        if (p->size[l] >= 0 && !in_out[l]) p->sum[p->n_sum++] = l;
        for (int i = 0; i < p->n_in; i++)
            if (p->uses[i][l]) p->used[i][p->n_used[i]++] = l;
    }
    return STATUS_OK;
}

/* ---- general path ------------------------------------------------------------------- */

static void einsum_general(const ein_plan *p, engine_tensor *y) {
    int64_t idx[EIN_LABELS] = {0}, n_out = engine_shape_numel(&y->shape);
    int64_t n_sum = 1;
    for (int k = 0; k < p->n_sum; k++) n_sum *= p->size[p->sum[k]];
    for (int64_t o = 0; o < n_out; o++) {
        int64_t rem = o;
        for (int k = p->n_out - 1; k >= 0; k--) {
            idx[p->out[k]] = rem % p->size[p->out[k]];
            rem /= p->size[p->out[k]];
        }
        double acc = 0;
        for (int64_t sidx = 0; sidx < n_sum; sidx++) {
            rem = sidx;
            for (int k = p->n_sum - 1; k >= 0; k--) {
                idx[p->sum[k]] = rem % p->size[p->sum[k]];
                rem /= p->size[p->sum[k]];
            }
            double prod = 1;
            for (int i = 0; i < p->n_in; i++) {
                int64_t off = 0;
                for (int k = 0; k < p->n_used[i]; k++) {
                    int l = p->used[i][k];
                    off += idx[l] * p->stride[i][l];
                }
                prod *= dtype_load_double(p->in[i]->dtype, p->in[i]->data, off);
            }
            acc += prod;
        }
        dtype_store_double(y->dtype, y->data, o, acc);
    }
}

/* ---- two float32 operands through gemm ------------------------------------------------ */

/* Input i in the label order `labs`, contiguous: the input itself when it
 * is laid out that way already, else a gathered copy. NULL on OOM. */
static const float *gather_as(exec_ctx *x, const ein_plan *p, int i, const int *labs, int n) {
    int64_t dims[STRIDED_MAX_RANK], strides[STRIDED_MAX_RANK], numel = 1;
    int dense = 1;
    for (int k = n - 1; k >= 0; k--) {
        dims[k] = p->size[labs[k]];
        strides[k] = p->stride[i][labs[k]];
        if (dims[k] != 1 && strides[k] != numel) dense = 0;
        numel *= dims[k];
    }
    if (dense) return p->in[i]->data;
    float *buf = exec_scratch(x, (size_t)(numel ? numel : 1) * sizeof(float));
    if (buf && numel) tutil_copy(x, sizeof(float), n, dims, strides, p->in[i]->data, buf);
    return buf;
}

/* 1 if the gemm path applies: every label is batch, m, n or k. */
static int einsum_gemm_fits(const ein_plan *p) {
    if (p->n_in != 2 || p->in[0]->dtype != ENGINE_FLOAT || p->repeated || p->broadcast) return 0;
    for (int k = 0; k < p->n_sum; k++) {
        int l = p->sum[k];
        if (!p->uses[0][l] || !p->uses[1][l]) return 0; /* summed on one side only */
    }
    return p->n_out + p->n_sum <= STRIDED_MAX_RANK;
}

static status einsum_gemm(exec_ctx *x, const ein_plan *p, engine_tensor *y) {
    int batch[EIN_LABELS], m[EIN_LABELS], nn[EIN_LABELS], nb = 0, nm = 0, nnn = 0;
    int64_t B = 1, M = 1, N = 1, K = 1;
    for (int k = 0; k < p->n_out; k++) {
        int l = p->out[k];
        if (p->uses[0][l] && p->uses[1][l]) { batch[nb++] = l; B *= p->size[l]; }
        else if (p->uses[0][l]) { m[nm++] = l; M *= p->size[l]; }
        else { nn[nnn++] = l; N *= p->size[l]; }
    }
    for (int k = 0; k < p->n_sum; k++) K *= p->size[p->sum[k]];
    int la[STRIDED_MAX_RANK], lb[STRIDED_MAX_RANK], lc[STRIDED_MAX_RANK], na = 0, nb2 = 0, nc = 0;
    for (int k = 0; k < nb; k++) la[na++] = lb[nb2++] = lc[nc++] = batch[k];
    for (int k = 0; k < nm; k++) la[na++] = lc[nc++] = m[k];
    for (int k = 0; k < p->n_sum; k++) la[na++] = p->sum[k];
    for (int k = 0; k < p->n_sum; k++) lb[nb2++] = p->sum[k];
    for (int k = 0; k < nnn; k++) lb[nb2++] = lc[nc++] = nn[k];
    const float *a = gather_as(x, p, 0, la, na), *b = gather_as(x, p, 1, lb, nb2);
    int direct = 1; /* is [batch, m, n] already the output's order? */
    for (int k = 0; k < nc; k++) direct &= lc[k] == p->out[k];
    int64_t total = B * M * N;
    float *c = direct ? y->data : exec_scratch(x, (size_t)(total > 0 ? total : 1) * sizeof(float));
    if (!a || !b || !c) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < B; i++)
        gemm_f32(0, 0, M, N, K, 1.0f, a + i * M * K, K, b + i * K * N, N, 0.0f, c + i * M * N, N,
                 exec_threads(x));
    if (direct || total == 0) return STATUS_OK;
    /* permute [batch, m, n] into the output's label order */
    int64_t cstride[EIN_LABELS], st = 1, dims[ENGINE_MAX_RANK], strides[ENGINE_MAX_RANK];
    for (int k = nc - 1; k >= 0; k--) {
        cstride[lc[k]] = st;
        st *= p->size[lc[k]];
    }
    for (int k = 0; k < p->n_out; k++) {
        dims[k] = p->size[p->out[k]];
        strides[k] = cstride[p->out[k]];
    }
    tutil_copy(x, sizeof(float), p->n_out, dims, strides, c, y->data);
    return STATUS_OK;
}

static status einsum_run(const node *n, exec_ctx *x) {
    ein_plan *p = exec_scratch(x, sizeof *p);
    if (!p) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    status st = plan_labels(n->state, x, p);
    if (st) return st;
    engine_shape s = {p->n_out, {0}};
    for (int k = 0; k < p->n_out; k++) s.dims[k] = p->size[p->out[k]];
    engine_tensor *y;
    if ((st = exec_output(x, 0, p->in[0]->dtype, &s, &y))) return st;
    if (engine_shape_numel(&s) == 0) return STATUS_OK;
    if (einsum_gemm_fits(p)) return einsum_gemm(x, p, y);
    einsum_general(p, y);
    return STATUS_OK;
}

const op_desc op_family_einsum[] = {
    {.type = "Einsum", .since = 12, .prepare = einsum_prepare, .run = einsum_run},
    {0},
};
