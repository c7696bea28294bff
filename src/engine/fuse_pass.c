/* fuse_pass.c -- load-time operator fusions (see fuse_pass.h).
 *
 * Each pass walks the nodes once, matching a pattern from one anchor node
 * and following values through their single readers. A rewrite turns the
 * pattern's last node into the fused node (so the fused node sits where
 * every input it reads is already computed, and its output keeps its name
 * and index) and marks the others dead; one compaction at the end drops
 * them. Reader counts are recomputed before every pass. */
#include "fuse_pass.h"

#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "graph_edit.h"
#include "onnx_loader.h"

#define DOMAIN_INFERD "ai.inferd"
#define DOMAIN_MS "com.microsoft"

typedef struct fuser {
    engine_model *m;
    graph *g;
    int *readers;               /* live readers per value */
    int *reader;                /* the last live node reading each value, or -1 */
    unsigned char *dead;        /* per node */
    int fused;                  /* rewrites done */
} fuser;

/* --- reading the graph ------------------------------------------------------ */

/* A read by a live node: fused-away nodes no longer read anything. */
static void note_read(void *ctx, int v, int i, int in_subgraph) {
    fuser *f = ctx;
    (void)in_subgraph;
    if (f->dead[i]) return;
    f->readers[v]++;
    f->reader[v] = i;
}

static void count_readers(fuser *f) {
    for (int v = 0; v < f->g->n_values; v++) f->readers[v] = 0, f->reader[v] = -1;
    graph_for_each_read(f->g, note_read, f);
}

static int default_domain(const char *d) { return !d[0] || !strcmp(d, "ai.onnx"); }

/* n is (default domain) `type` with one present output. */
static int is_type(const node *n, const char *type) {
    return n && default_domain(n->domain) && !strcmp(n->op_type, type) && n->n_outputs == 1 &&
           n->outputs[0] >= 0;
}

/* ... and exactly n_in inputs, all present. */
static int is_op(const node *n, const char *type, int n_in) {
    if (!is_type(n, type) || n->n_inputs != n_in) return 0;
    for (int k = 0; k < n_in; k++)
        if (n->inputs[k] < 0) return 0;
    return 1;
}

static int out_of(const node *n) { return n->outputs[0]; }

/* The live node producing v, or NULL. */
static node *producer(const fuser *f, int v) {
    if (v < 0) return NULL;
    const value *val = &f->g->values[v];
    if (val->kind != VALUE_INTERMEDIATE || val->producer < 0 || f->dead[val->producer]) return NULL;
    return &f->g->nodes[val->producer];
}

/* v is computed by a node, is not a graph output and has `want` reads. */
static int private_value(const fuser *f, int v, int want) {
    if (v < 0) return 0;
    const value *val = &f->g->values[v];
    return val->kind == VALUE_INTERMEDIATE && !val->is_output && f->readers[v] == want;
}

/* The node that is v's only reader, or NULL. */
static node *sole_reader(const fuser *f, int v) {
    if (!private_value(f, v, 1) || f->reader[v] < 0) return NULL;
    return &f->g->nodes[f->reader[v]];
}

/* The first input of binary node n that is not v, or -1 unless exactly one is v. */
static int other_input(const node *n, int v) {
    if (n->inputs[0] == v && n->inputs[1] != v) return n->inputs[1];
    if (n->inputs[1] == v && n->inputs[0] != v) return n->inputs[0];
    return -1;
}

static const engine_tensor *float_const(const fuser *f, int v) {
    if (v < 0) return NULL;
    const value *val = &f->g->values[v];
    return val->kind == VALUE_INITIALIZER && val->init.dtype == ENGINE_FLOAT ? &val->init : NULL;
}

/* v is a float constant holding one value, of rank <= max_rank (a rank-1
 * constant could raise a scalar operand's rank; callers allow it only where
 * the other operand has rank >= 1). */
static int scalar_const(const fuser *f, int v, int max_rank, float *out) {
    const engine_tensor *t = float_const(f, v);
    if (!t || t->shape.rank > max_rank || engine_shape_numel(&t->shape) != 1) return 0;
    *out = ((const float *)t->data)[0];
    return 1;
}

static int scalar_is(const fuser *f, int v, int max_rank, float want) {
    float c;
    return scalar_const(f, v, max_rank, &c) && c == want;
}

/* Length of a float constant of shape [n], n >= 1; 0 otherwise. */
static int64_t vector_const(const fuser *f, int v) {
    const engine_tensor *t = float_const(f, v);
    return t && t->shape.rank == 1 && t->shape.dims[0] >= 1 ? t->shape.dims[0] : 0;
}

/* Within 2e-5: exporters write sqrt 2 as 1.41421 or 1/sqrt 2 as 0.7071 too,
 * which moves GELU's result by less than that relative amount. */
static int near(float v, float want) { return fabsf(v - want) <= 2e-5f * want; }

static int idx_of(const fuser *f, const node *n) { return (int)(n - f->g->nodes); }

/* --- rewriting ----------------------------------------------------------------- */

/* Turns n into `type` of `domain` reading ins[0..n_in) with the given
 * attributes; n keeps its name and its (single) output. */
static status rewrite(fuser *f, node *n, const char *domain, const char *type, const int *ins,
                      int n_in, const attr *attrs, int n_attrs, errinfo *err) {
    int *in = model_arena_array(&f->m->arena, (size_t)n_in, sizeof *in, alignof(int));
    attr *at = model_arena_array(&f->m->arena, (size_t)n_attrs, sizeof *at, alignof(attr));
    if (!in || !at) return status_fail(err, STATUS_NO_MEMORY, "out of memory fusing operators");
    memcpy(in, ins, (size_t)n_in * sizeof *in);
    if (n_attrs) memcpy(at, attrs, (size_t)n_attrs * sizeof *at);
    if (!default_domain(domain)) n->opset = 1;
    n->domain = domain;
    n->op_type = type;
    n->inputs = in;
    n->n_inputs = n_in;
    n->attrs = at;
    n->n_attrs = n_attrs;
    n->n_outputs = 1;
    f->fused++;
    return STATUS_OK;
}

static attr str_attr(const char *name, const char *s) {
    return (attr){.name = name, .type = ATTR_STRING, .s = s, .s_len = strlen(s)};
}

/* A FusedMatMul the bias pass made, with no activation yet. */
static int is_plain_fused_mm(const node *n) {
    return n && !strcmp(n->domain, DOMAIN_INFERD) && !strcmp(n->op_type, "FusedMatMul") &&
           n->n_attrs == 0;
}

/* Moves FusedMatMul `fmm` onto `last` with activation `act`. */
static status fold_activation(fuser *f, node *fmm, node *last, const char *act, errinfo *err) {
    attr a = str_attr("activation", act);
    status st = rewrite(f, last, DOMAIN_INFERD, "FusedMatMul", fmm->inputs, fmm->n_inputs, &a, 1,
                        err);
    if (!st) f->dead[idx_of(f, fmm)] = 1;
    return st;
}

/* --- MatMul + bias ------------------------------------------------------------- */

static status fuse_bias(fuser *f, errinfo *err) {
    graph *g = f->g;
    for (int i = 0; i < g->n_nodes; i++) {
        node *add = &g->nodes[i];
        if (f->dead[i] || !is_op(add, "Add", 2)) continue;
        for (int side = 0; side < 2; side++) {
            int mv = add->inputs[side], bv = add->inputs[1 - side];
            node *mm = producer(f, mv);
            if (!is_op(mm, "MatMul", 2) || !private_value(f, mv, 1)) continue;
            /* bias [N] over W [K, N]: the sum keeps the MatMul's shape. */
            int64_t nb = vector_const(f, bv);
            const engine_tensor *w = float_const(f, mm->inputs[1]);
            if (!nb || !w || w->shape.rank != 2 || w->shape.dims[1] != nb) continue;
            int ins[3] = {mm->inputs[0], mm->inputs[1], bv};
            status st = rewrite(f, add, DOMAIN_INFERD, "FusedMatMul", ins, 3, NULL, 0, err);
            if (st) return st;
            f->dead[idx_of(f, mm)] = 1;
            break;
        }
    }
    return STATUS_OK;
}

/* --- GELU ---------------------------------------------------------------------- */

#define SQRT2 1.41421356237309505f

/* d = x / sqrt2 or x * (1 / sqrt2): returns x, or -1. */
static int gelu_scaled_input(const fuser *f, const node *d) {
    float c;
    if (is_op(d, "Div", 2))
        return scalar_const(f, d->inputs[1], 0, &c) && near(c, SQRT2) ? d->inputs[0] : -1;
    if (!is_op(d, "Mul", 2)) return -1;
    for (int k = 0; k < 2; k++)
        if (scalar_const(f, d->inputs[1 - k], 0, &c) && near(c, 1.0f / SQRT2)) return d->inputs[k];
    return -1;
}

/* From Erf: 0.5 * x * (1 + erf(x / sqrt2)), with the 0.5 applied to x
 * first or to the product last. */
static status fuse_gelu_at(fuser *f, node *erf, errinfo *err) {
    node *d = producer(f, erf->inputs[0]);
    if (!d || !private_value(f, erf->inputs[0], 1)) return STATUS_OK;
    int x = gelu_scaled_input(f, d);
    node *add = sole_reader(f, out_of(erf));
    if (x < 0 || !is_op(add, "Add", 2) || !scalar_is(f, other_input(add, out_of(erf)), 0, 1.0f))
        return STATUS_OK;
    node *m1 = sole_reader(f, out_of(add)), *last, *half;
    if (!is_op(m1, "Mul", 2)) return STATUS_OK;
    int q = other_input(m1, out_of(add));
    if (q == x) { /* (x * (1 + erf)) * 0.5 */
        last = sole_reader(f, out_of(m1));
        half = m1;
        if (!is_op(last, "Mul", 2) || !scalar_is(f, other_input(last, out_of(m1)), 0, 0.5f))
            return STATUS_OK;
    } else { /* (x * 0.5) * (1 + erf) */
        half = producer(f, q);
        last = m1;
        if (!is_op(half, "Mul", 2) || !private_value(f, q, 1) ||
            !scalar_is(f, other_input(half, x), 0, 0.5f))
            return STATUS_OK;
    }
    node *fmm = producer(f, x);
    status st;
    if (is_plain_fused_mm(fmm) && private_value(f, x, 2)) {
        st = fold_activation(f, fmm, last, "Gelu", err);
    } else {
        st = rewrite(f, last, DOMAIN_MS, "Gelu", &x, 1, NULL, 0, err);
    }
    if (st) return st;
    node *gone[] = {d, erf, add, half};
    for (size_t k = 0; k < sizeof gone / sizeof gone[0]; k++) f->dead[idx_of(f, gone[k])] = 1;
    return STATUS_OK;
}

static status fuse_gelu(fuser *f, errinfo *err) {
    for (int i = 0; i < f->g->n_nodes; i++) {
        node *n = &f->g->nodes[i];
        if (f->dead[i] || !is_op(n, "Erf", 1)) continue;
        status st = fuse_gelu_at(f, n, err);
        if (st) return st;
    }
    return STATUS_OK;
}

/* --- Relu after FusedMatMul / Gemm --------------------------------------------- */

static status fuse_relu_at(fuser *f, node *relu, errinfo *err) {
    int x = relu->inputs[0];
    node *p = producer(f, x);
    if (!p || !private_value(f, x, 1)) return STATUS_OK;
    if (is_plain_fused_mm(p)) return fold_activation(f, p, relu, "Relu", err);
    /* Gemm: only float, which a float constant B guarantees. */
    if (!is_type(p, "Gemm") || p->n_inputs < 2 || p->n_inputs > 3 || !float_const(f, p->inputs[1]) ||
        node_attr(p, "activation"))
        return STATUS_OK;
    attr *at = model_arena_array(&f->m->arena, (size_t)p->n_attrs + 1, sizeof *at, alignof(attr));
    if (!at) return status_fail(err, STATUS_NO_MEMORY, "out of memory fusing operators");
    if (p->n_attrs) memcpy(at, p->attrs, (size_t)p->n_attrs * sizeof *at);
    at[p->n_attrs] = str_attr("activation", "Relu");
    status st = rewrite(f, relu, DOMAIN_INFERD, "FusedGemm", p->inputs, p->n_inputs, at,
                        p->n_attrs + 1, err);
    if (!st) f->dead[idx_of(f, p)] = 1;
    return st;
}

static status fuse_relu(fuser *f, errinfo *err) {
    for (int i = 0; i < f->g->n_nodes; i++) {
        node *n = &f->g->nodes[i];
        if (f->dead[i] || !is_op(n, "Relu", 1)) continue;
        status st = fuse_relu_at(f, n, err);
        if (st) return st;
    }
    return STATUS_OK;
}

/* --- LayerNorm ------------------------------------------------------------------ */

/* ReduceMean over the last axis only, keeping it (axes as an attribute
 * before opset 18, as a constant input from 18). */
static int reduces_last_axis(const fuser *f, const node *rm) {
    if (!is_type(rm, "ReduceMean") || rm->n_inputs < 1 || rm->n_inputs > 2 || rm->inputs[0] < 0 ||
        node_attr_int(rm, "keepdims", 1) != 1)
        return 0;
    const int64_t *axes;
    int na = node_attr_ints(rm, "axes", &axes);
    if (rm->n_inputs == 2 && rm->inputs[1] >= 0) {
        const value *v = &f->g->values[rm->inputs[1]];
        return na < 0 && v->kind == VALUE_INITIALIZER && v->init.dtype == ENGINE_INT64 &&
               engine_shape_numel(&v->init.shape) == 1 && ((const int64_t *)v->init.data)[0] == -1;
    }
    return na == 1 && axes[0] == -1;
}

/* The two live readers of v (which has exactly two), in node order. */
static int two_readers(const fuser *f, int v, node **r) {
    int found = 0;
    for (int i = 0; i < f->g->n_nodes && found < 2; i++) {
        const node *n = &f->g->nodes[i];
        if (f->dead[i]) continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == v) {
                r[found++] = &f->g->nodes[i];
                break;
            }
    }
    return found == 2;
}

typedef struct ln_match {
    int x, gamma, beta;         /* beta -1 if the pattern has no bias Add */
    float eps;
    node *nodes[9];             /* every pattern node but the last */
    int n_nodes;
    node *last;
} ln_match;

/* From the first ReduceMean: (x - mean) / sqrt(mean((x - mean)^2) + eps)
 * * gamma (+ beta). */
static int match_layernorm(const fuser *f, node *rm1, ln_match *lm) {
    int x = rm1->inputs[0];
    node *sub = sole_reader(f, out_of(rm1)), *r[2], *pw, *dv;
    if (!is_op(sub, "Sub", 2) || sub->inputs[0] != x || sub->inputs[1] != out_of(rm1)) return 0;
    int d = out_of(sub);
    if (!private_value(f, d, 2) || !two_readers(f, d, r)) return 0;
    pw = is_type(r[0], "Pow") ? r[0] : r[1];
    dv = pw == r[0] ? r[1] : r[0];
    if (!is_op(pw, "Pow", 2) || pw->inputs[0] != d || !scalar_is(f, pw->inputs[1], 1, 2.0f))
        return 0;
    node *rm2 = sole_reader(f, out_of(pw));
    if (!reduces_last_axis(f, rm2) || rm2->inputs[0] != out_of(pw)) return 0;
    node *ae = sole_reader(f, out_of(rm2));
    if (!is_op(ae, "Add", 2) || !scalar_const(f, other_input(ae, out_of(rm2)), 1, &lm->eps) ||
        !(lm->eps >= 0))
        return 0;
    node *sq = sole_reader(f, out_of(ae));
    if (!is_op(sq, "Sqrt", 1) || sole_reader(f, out_of(sq)) != dv || !is_op(dv, "Div", 2) ||
        dv->inputs[0] != d || dv->inputs[1] != out_of(sq))
        return 0;
    node *mul = sole_reader(f, out_of(dv));
    if (!is_op(mul, "Mul", 2)) return 0;
    lm->gamma = other_input(mul, out_of(dv));
    int64_t c = vector_const(f, lm->gamma);
    if (!c) return 0;
    node *ba = sole_reader(f, out_of(mul));
    lm->beta = is_op(ba, "Add", 2) ? other_input(ba, out_of(mul)) : -1;
    if (lm->beta >= 0 && vector_const(f, lm->beta) != c) lm->beta = -1;
    node *body[] = {rm1, sub, pw, rm2, ae, sq, dv};
    memcpy(lm->nodes, body, sizeof body);
    lm->n_nodes = 7;
    if (lm->beta >= 0) lm->nodes[lm->n_nodes++] = mul;
    lm->last = lm->beta >= 0 ? ba : mul;
    lm->x = x;
    return 1;
}

static status fuse_layernorm_at(fuser *f, node *rm1, errinfo *err) {
    ln_match lm;
    if (!match_layernorm(f, rm1, &lm)) return STATUS_OK;
    attr at[2] = {{.name = "epsilon", .type = ATTR_FLOAT, .f = lm.eps},
                  {.name = "axis", .type = ATTR_INT, .i = -1}};
    node *res = producer(f, lm.x);
    status st;
    /* A residual Add read only by this LayerNorm (the two ReduceMean/Sub
     * reads) becomes the skip input. */
    if (is_op(res, "Add", 2) && private_value(f, lm.x, 2)) {
        int ins[4] = {res->inputs[0], res->inputs[1], lm.gamma, lm.beta};
        st = rewrite(f, lm.last, DOMAIN_MS, "SkipLayerNormalization", ins, lm.beta >= 0 ? 4 : 3,
                     at, 1, err);
        if (!st) f->dead[idx_of(f, res)] = 1;
    } else {
        int ins[3] = {lm.x, lm.gamma, lm.beta};
        st = rewrite(f, lm.last, "", "LayerNormalization", ins, lm.beta >= 0 ? 3 : 2, at, 2, err);
    }
    if (st) return st;
    for (int k = 0; k < lm.n_nodes; k++) f->dead[idx_of(f, lm.nodes[k])] = 1;
    return STATUS_OK;
}

/* LayerNormalization (opset 17, or the contrib one) over the last axis
 * whose input is a private Add: the Add becomes its skip input. */
static status fuse_skip_into_layernorm(fuser *f, node *ln, errinfo *err) {
    if (ln->n_inputs < 2 || ln->n_inputs > 3 || ln->inputs[0] < 0 || ln->inputs[1] < 0 ||
        node_attr_int(ln, "axis", -1) != -1 || node_attr_int(ln, "stash_type", 1) != 1 ||
        ln->n_outputs < 1 || ln->outputs[0] < 0)
        return STATUS_OK;
    for (int k = 1; k < ln->n_outputs; k++)
        if (ln->outputs[k] >= 0) return STATUS_OK;
    node *res = producer(f, ln->inputs[0]);
    if (!is_op(res, "Add", 2) || !private_value(f, ln->inputs[0], 1)) return STATUS_OK;
    int beta = ln->n_inputs == 3 ? ln->inputs[2] : -1;
    int ins[4] = {res->inputs[0], res->inputs[1], ln->inputs[1], beta};
    attr eps = {.name = "epsilon", .type = ATTR_FLOAT, .f = node_attr_float(ln, "epsilon", 1e-5f)};
    status st = rewrite(f, ln, DOMAIN_MS, "SkipLayerNormalization", ins, beta >= 0 ? 4 : 3, &eps,
                        1, err);
    if (!st) f->dead[idx_of(f, res)] = 1;
    return st;
}

static status fuse_layernorm(fuser *f, errinfo *err) {
    for (int i = 0; i < f->g->n_nodes; i++) {
        node *n = &f->g->nodes[i];
        status st = STATUS_OK;
        if (f->dead[i]) continue;
        if (reduces_last_axis(f, n)) st = fuse_layernorm_at(f, n, err);
        else if (default_domain(n->domain) && !strcmp(n->op_type, "LayerNormalization"))
            st = fuse_skip_into_layernorm(f, n, err);
        if (st) return st;
    }
    return STATUS_OK;
}

/* --- masked softmax ------------------------------------------------------------------ */

/* Softmax over the last axis only: axis -1, or the default from opset 13
 * (before 13 the default is 1, and rows are flattened from there). */
static int softmax_last_axis(const node *n) {
    if (!is_op(n, "Softmax", 1)) return 0;
    const attr *a = node_attr(n, "axis");
    if (!a) return n->opset >= 13;
    return a->type == ATTR_INT && a->i == -1;
}

/* x / c or x * c with c a rank-0 float constant: returns x and the factor. */
static int scaled_input(const fuser *f, const node *n, float *scale) {
    float c;
    if (is_op(n, "Div", 2) && scalar_const(f, n->inputs[1], 0, &c) && c != 0) {
        *scale = 1.0f / c;
        return n->inputs[0];
    }
    if (!is_op(n, "Mul", 2)) return -1;
    for (int k = 0; k < 2; k++)
        if (scalar_const(f, n->inputs[1 - k], 0, &c)) {
            *scale = c;
            return n->inputs[k];
        }
    return -1;
}

/* From Softmax back: [Where(C, fill, .)] <- [Add(., M)] <- [x / c]. */
static status fuse_softmax_at(fuser *f, node *sm, errinfo *err) {
    node *gone[3];
    int n_gone = 0, v = sm->inputs[0], cond = -1, mask = -1, fill_if = 1;
    float fill = 0, scale = 1, c;
    node *p = producer(f, v);
    if (is_op(p, "Where", 3) && private_value(f, v, 1)) {
        int k = scalar_const(f, p->inputs[1], 1, &c) ? 1 : 2;
        if (scalar_const(f, p->inputs[k], 1, &fill) && !scalar_const(f, p->inputs[3 - k], 1, &c)) {
            fill_if = k == 1;
            cond = p->inputs[0];
            v = p->inputs[3 - k];
            gone[n_gone++] = p;
            p = producer(f, v);
        }
    }
    if (is_op(p, "Add", 2) && private_value(f, v, 1)) {
        int xs = 0; /* the operand that is scaled scores, if either is */
        for (int k = 0; k < 2; k++) {
            float s;
            if (private_value(f, p->inputs[k], 1) && scaled_input(f, producer(f, p->inputs[k]), &s) >= 0) {
                xs = k;
                break;
            }
        }
        mask = p->inputs[1 - xs];
        v = p->inputs[xs];
        gone[n_gone++] = p;
        p = producer(f, v);
    }
    int sx = p && private_value(f, v, 1) ? scaled_input(f, p, &scale) : -1;
    if (sx >= 0) {
        v = sx;
        gone[n_gone++] = p;
    }
    if (!n_gone) return STATUS_OK;
    attr at[3] = {{.name = "scale", .type = ATTR_FLOAT, .f = scale},
                  {.name = "fill", .type = ATTR_FLOAT, .f = fill},
                  {.name = "fill_if", .type = ATTR_INT, .i = fill_if}};
    int ins[3] = {v, mask, cond};
    status st = rewrite(f, sm, DOMAIN_INFERD, "MaskedSoftmax", ins, cond >= 0 ? 3 : mask >= 0 ? 2 : 1,
                        at, 3, err);
    if (st) return st;
    for (int k = 0; k < n_gone; k++) f->dead[idx_of(f, gone[k])] = 1;
    return STATUS_OK;
}

static status fuse_softmax(fuser *f, errinfo *err) {
    for (int i = 0; i < f->g->n_nodes; i++) {
        node *n = &f->g->nodes[i];
        if (f->dead[i] || !softmax_last_axis(n)) continue;
        status st = fuse_softmax_at(f, n, err);
        if (st) return st;
    }
    return STATUS_OK;
}

/* --- driver ------------------------------------------------------------------------ */

status fuse_graph(engine_model *m, graph *g, errinfo *err) {
    /* Order matters: GELU and Relu fold into the FusedMatMuls the bias pass
     * made; LayerNorm's skip Add must not have been taken as a bias Add
     * (it is not: its operands are not constants). */
    static status (*const passes[])(fuser *, errinfo *) = {fuse_bias, fuse_gelu, fuse_relu,
                                                           fuse_layernorm, fuse_softmax};
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    fuser f = {.m = m, .g = g, .readers = malloc(nv * sizeof(int)), .reader = malloc(nv * sizeof(int)),
               .dead = calloc(nn, 1)};
    int *new_index = malloc(nn * sizeof *new_index);
    status st = STATUS_OK;
    if (!f.readers || !f.reader || !f.dead || !new_index) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory fusing operators");
        goto done;
    }
    for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
        count_readers(&f);
        if ((st = passes[p](&f, err))) goto done;
    }
    if (f.fused) graph_compact(g, f.dead, new_index);
done:
    free(f.readers);
    free(f.reader);
    free(f.dead);
    free(new_index);
    return st;
}
