/* layout_pass.c -- channels-last convolution regions (see layout_pass.h).
 *
 * Three steps over the topologically sorted nodes:
 *   classify  which nodes join the region: eligible Convs always, an
 *             agnostic op when all its tensor inputs are region values;
 *   fuse      each region Conv absorbs the chain of activations and one
 *             residual Add that follows it, while each link has exactly one
 *             reader and is not a graph output;
 *   rewrite   region nodes produce "<name>__nhwc" twins, region readers read
 *             them, and Transposes are put at the region's edges. */
#include "layout_pass.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_edit.h"
#include "kernels/dnnl_conv.h"
#include "onnx_loader.h"

typedef enum role {
    R_NONE = 0,
    R_CONV,
    R_UNARY,
    R_BINARY,
    R_POOL,
    R_CONCAT,
    R_BN,                    /* inference BatchNormalization -> BatchNormNhwc */
    R_PASS                   /* a Pad that pads nothing: its readers read its input */
} role;

typedef struct fused {
    int n_post;
    dnnl_post post[DNNL_CONV_MAX_POST];
    int z;                   /* the fused Add's other operand, -1 if none */
    int out;                 /* the chain's last value: what the fused node produces */
} fused;

typedef struct lp {
    graph *g;
    model_arena *arena;
    int nv, nn;              /* value and node counts before the rewrite */
    int *readers;            /* per value: node inputs reading it */
    int *reader;             /* per value: one node reading it */
    unsigned char *sub_read; /* per value: read by a subgraph */
    unsigned char *region;   /* per value: produced channels-last */
    unsigned char *role;     /* per node */
    unsigned char *dead;     /* per node: absorbed into a Conv */
    int *host;               /* per node: Conv emitted in its place, -1 */
    fused *fz;               /* per node (Convs) */
    int *twin;               /* per value: its channels-last twin, -1 */
    int *twin_in;            /* per value: Transpose-to-NHWC copy of an input, -1 */
    unsigned char *back;     /* per value: needs a Transpose back */
    node *out;               /* the rewritten node list */
    int n_out;
} lp;

static const int64_t to_nhwc[4] = {0, 2, 3, 1}, to_nchw[4] = {0, 3, 1, 2};

static int is_op(const node *n, const char *type) { return !n->domain[0] && !strcmp(n->op_type, type); }

static int in_list(const node *n, const char *const *list) {
    if (n->domain[0]) return 0;
    for (; *list; list++)
        if (!strcmp(n->op_type, *list)) return 1;
    return 0;
}

static int has_subgraph(const node *n) {
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == ATTR_GRAPH || n->attrs[a].type == ATTR_GRAPHS) return 1;
    return 0;
}

/* ---- classify ---------------------------------------------------------------- */

/* A list attribute, if present, has `want` entries. */
static int ints_len_ok(const node *n, const char *name, int want) {
    const int64_t *v;
    int c = node_attr_ints(n, name, &v);
    return c < 0 || c == want;
}

/* Explicit pads smaller than the dilated kernel: an output row made only of
 * padding crashes oneDNN 2.6's brgconv (with a sum post-op), and no real
 * model has one. auto_pad's pads are always smaller. */
static int pads_within_kernel(const node *n, const int64_t *kernel) {
    const int64_t *p, *d;
    int np = node_attr_ints(n, "pads", &p), nd = node_attr_ints(n, "dilations", &d);
    for (int i = 0; i < np; i++) {
        int64_t ek = (kernel[i % 2] - 1) * (nd == 2 ? d[i % 2] : 1) + 1;
        if (p[i] < 0 || p[i] >= ek) return 0;
    }
    return 1;
}

static int conv_ok(const graph *g, const node *n) {
    if (!is_op(n, "Conv") || n->n_inputs < 2 || n->n_inputs > 3 || n->n_outputs != 1 ||
        n->inputs[0] < 0 || n->outputs[0] < 0)
        return 0;
    const engine_tensor *w = node_input_const(g, n, 1);
    const engine_tensor *b = n->n_inputs > 2 && n->inputs[2] >= 0 ? node_input_const(g, n, 2) : NULL;
    int64_t grp = node_attr_int(n, "group", 1);
    if (!w || w->dtype != ENGINE_FLOAT || w->shape.rank != 4 || grp < 1 ||
        w->shape.dims[0] % grp || w->shape.dims[0] < 1 || w->shape.dims[1] < 1 ||
        w->shape.dims[2] < 1 || w->shape.dims[3] < 1)
        return 0;
    if (n->n_inputs > 2 && n->inputs[2] >= 0 &&
        (!b || b->dtype != ENGINE_FLOAT || b->shape.rank != 1 || b->shape.dims[0] != w->shape.dims[0]))
        return 0;
    if (!ints_len_ok(n, "kernel_shape", 2) || !ints_len_ok(n, "strides", 2) ||
        !ints_len_ok(n, "dilations", 2) || !ints_len_ok(n, "pads", 4))
        return 0;
    return pads_within_kernel(n, w->shape.dims + 2);
}

/* 2-D pools oneDNN computes as ONNX does: pads smaller than the kernel, no
 * Indices output, no include-pad average with ceil_mode. */
static int pool_ok(const node *n) {
    if (n->n_inputs != 1 || (n->n_outputs > 1 && n->outputs[1] >= 0)) return 0;
    if (is_op(n, "GlobalAveragePool") || is_op(n, "GlobalMaxPool")) return 1;
    if (!is_op(n, "MaxPool") && !is_op(n, "AveragePool")) return 0;
    const int64_t *k, *p;
    if (node_attr_ints(n, "kernel_shape", &k) != 2 || !ints_len_ok(n, "strides", 2) ||
        !ints_len_ok(n, "dilations", 2))
        return 0;
    int np = node_attr_ints(n, "pads", &p);
    if (np >= 0 && np != 4) return 0;
    for (int i = 0; i < np; i++)
        if (p[i] < 0 || p[i] >= k[i % 2]) return 0;
    if (is_op(n, "AveragePool") && node_attr_int(n, "count_include_pad", 0) &&
        node_attr_int(n, "ceil_mode", 0))
        return 0;
    return 1;
}

/* A constant with one element broadcasts the same way in any layout. */
static int single_const(const graph *g, int v) {
    if (v < 0 || g->values[v].kind != VALUE_INITIALIZER) return 0;
    const engine_shape *s = &g->values[v].init.shape;
    if (s->rank > 4) return 0;
    for (int d = 0; d < s->rank; d++)
        if (s->dims[d] != 1) return 0;
    return 1;
}

/* Inference BatchNormalization with constant per-channel statistics. */
static int bn_ok(const graph *g, const node *n) {
    if (!is_op(n, "BatchNormalization") || n->opset < 7 || n->n_inputs != 5 ||
        node_attr_int(n, "spatial", 1) != 1 || node_attr_int(n, "training_mode", 0) != 0)
        return 0;
    const engine_tensor *sc = node_input_const(g, n, 1);
    if (!sc || sc->dtype != ENGINE_FLOAT || sc->shape.rank != 1) return 0;
    for (int k = 2; k < 5; k++) {
        const engine_tensor *t = node_input_const(g, n, k);
        if (!t || t->dtype != ENGINE_FLOAT || t->shape.rank != 1 || t->shape.dims[0] != sc->shape.dims[0])
            return 0;
    }
    return 1;
}

/* Pad (opset >= 11) with constant all-zero pads: torchvision's DenseNet
 * exports one before each transition's AveragePool. */
static int zero_pad(const graph *g, const node *n) {
    if (!is_op(n, "Pad") || n->opset < 11 || n->n_inputs < 2 || n->outputs[0] < 0 ||
        g->values[n->outputs[0]].is_output || (n->n_inputs > 3 && n->inputs[3] >= 0))
        return 0;
    const engine_tensor *t = node_input_const(g, n, 1);
    if (!t || t->dtype != ENGINE_INT64 || t->shape.rank != 1) return 0;
    const int64_t *pads = t->data;
    for (int64_t i = 0; i < t->shape.dims[0]; i++)
        if (pads[i] != 0) return 0;
    return 1;
}

static role classify_node(const lp *p, const node *n) {
    static const char *const unary[] = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid",
                                        "HardSwish", "Tanh", "Elu", "Selu", "Softplus", "Neg",
                                        "Abs", "Sqrt", "Exp", NULL};
    static const char *const binary[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", NULL};
    const graph *g = p->g;
    if (conv_ok(g, n)) return R_CONV;
    if (n->n_inputs < 1 || n->n_outputs < 1 || n->outputs[0] < 0 || has_subgraph(n) ||
        n->inputs[0] < 0)
        return R_NONE;
    int in0 = p->region[n->inputs[0]];
    if (in0 && pool_ok(n)) return R_POOL;
    if (n->n_outputs != 1) return R_NONE;
    if (in_list(n, unary)) {
        if (!in0 || (n->n_inputs > 1 && !is_op(n, "Clip"))) return R_NONE;
        for (int k = 1; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && p->region[n->inputs[k]]) return R_NONE;
        return R_UNARY;
    }
    if (in_list(n, binary)) {
        int any = 0;
        if (n->n_inputs != 2) return R_NONE;
        for (int k = 0; k < 2; k++) {
            int v = n->inputs[k];
            if (v < 0 || (!p->region[v] && !single_const(g, v))) return R_NONE;
            any |= p->region[v];
        }
        return any ? R_BINARY : R_NONE;
    }
    if (in0 && bn_ok(g, n)) return R_BN;
    if (in0 && zero_pad(g, n)) return R_PASS;
    if (is_op(n, "Concat")) {
        int64_t axis = node_attr_int(n, "axis", 0);
        if (axis != 1 && axis != -3) return R_NONE;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] < 0 || !p->region[n->inputs[k]]) return R_NONE;
        return R_CONCAT;
    }
    return R_NONE;
}

static void classify(lp *p) {
    for (int i = 0; i < p->nn; i++) {
        node *n = &p->g->nodes[i];
        p->role[i] = (unsigned char)classify_node(p, n);
        if (p->role[i]) p->region[n->outputs[0]] = 1;
    }
}

/* ---- fuse -------------------------------------------------------------------- */

/* The float of a one-element constant input, or dflt when the input is
 * absent; 0 when it is present but not a float constant. */
static int const_scalar(const graph *g, const node *n, int k, float dflt, float *out) {
    if (k >= n->n_inputs || n->inputs[k] < 0) {
        *out = dflt;
        return 1;
    }
    const engine_tensor *t = node_input_const(g, n, k);
    if (!t || t->dtype != ENGINE_FLOAT || !single_const(g, n->inputs[k])) return 0;
    *out = ((const float *)t->data)[0];
    return 1;
}

/* The post-ops an activation node becomes (their count: 0 when oneDNN
 * lacks it). HardSigmoid is clip(alpha * x + beta, 0, 1): two of them. */
static int as_post(const graph *g, const node *n, dnnl_post *po) {
    po[0] = po[1] = (dnnl_post){0, 0, 0};
    if (is_op(n, "HardSigmoid")) {
        po[0] = (dnnl_post){DNNL_POST_LINEAR, node_attr_float(n, "alpha", 0.2f),
                            node_attr_float(n, "beta", 0.5f)};
        po[1] = (dnnl_post){DNNL_POST_CLIP, 0.0f, 1.0f};
        return 2;
    }
    if (is_op(n, "Relu")) po->kind = DNNL_POST_RELU;
    else if (is_op(n, "LeakyRelu")) po->kind = DNNL_POST_RELU, po->alpha = node_attr_float(n, "alpha", 0.01f);
    else if (is_op(n, "HardSwish")) po->kind = DNNL_POST_HARDSWISH;
    else if (is_op(n, "Sigmoid")) po->kind = DNNL_POST_SIGMOID;
    else if (is_op(n, "Tanh")) po->kind = DNNL_POST_TANH;
    else if (is_op(n, "Clip")) {
        po->kind = DNNL_POST_CLIP;
        if (n->opset < 11) {
            po->alpha = node_attr_float(n, "min", -FLT_MAX);
            po->beta = node_attr_float(n, "max", FLT_MAX);
        } else if (!const_scalar(g, n, 1, -FLT_MAX, &po->alpha) ||
                   !const_scalar(g, n, 2, FLT_MAX, &po->beta)) {
            return 0;
        }
    }
    return po->kind != 0;
}

/* Absorbs what follows Conv i; a chain that grew is emitted at its last
 * node's place (host), where a residual operand is sure to exist. */
/* x * gate(x) as one post-op: x * Sigmoid(x) is SiLU (EfficientNet), and
 * x * HardSigmoid(x) with alpha 1/6, beta 1/2 is HardSwish as torch exports
 * it before opset 14 (MobileNetV3). 0 if n is neither gate. */
static dnnl_post_kind gate_kind(const node *n) {
    if (is_op(n, "Sigmoid")) return DNNL_POST_SWISH;
    if (is_op(n, "HardSigmoid") && fabsf(node_attr_float(n, "alpha", 0.2f) - 1.0f / 6) < 1e-6f &&
        node_attr_float(n, "beta", 0.5f) == 0.5f)
        return DNNL_POST_HARDSWISH;
    return 0;
}

/* cur's two readers are a gate and the Mul of cur by the gate's result:
 * returns the Mul (the gate in *gate, the post-op in *kind), or -1. */
static int gated_at(const lp *p, int cur, int *gate, dnnl_post_kind *kind) {
    const graph *g = p->g;
    for (int s = 0; s < p->nn; s++) {
        const node *n = &g->nodes[s];
        if (p->dead[s] || p->role[s] != R_UNARY || n->inputs[0] != cur || !(*kind = gate_kind(n)))
            continue;
        int so = n->outputs[0], m = p->reader[so];
        if (p->readers[so] != 1 || p->sub_read[so] || g->values[so].is_output) return -1;
        const node *mul = &g->nodes[m];
        if (p->dead[m] || p->role[m] != R_BINARY || !is_op(mul, "Mul") ||
            !((mul->inputs[0] == cur && mul->inputs[1] == so) ||
              (mul->inputs[1] == cur && mul->inputs[0] == so)))
            return -1;
        *gate = s;
        return m;
    }
    return -1;
}

/* Whether the chain already has one of po's kinds. One of each kind only:
 * oneDNN 2.6's depthwise kernel applies LeakyRelu then Relu wrong (the
 * second relu is lost; tests/unit/test_dnnl_conv.c), and real models never
 * stack two activations of a kind. */
static int has_kind(const fused *f, const dnnl_post *po, int np) {
    for (int k = 0; k < f->n_post; k++)
        for (int q = 0; q < np; q++)
            if (f->post[k].kind == po[q].kind) return 1;
    return 0;
}

static void fuse_one(lp *p, int i, int allow_sum) {
    graph *g = p->g;
    fused *f = &p->fz[i];
    int cur = g->nodes[i].outputs[0], last = i;
    f->z = -1;
    while (f->n_post < DNNL_CONV_MAX_POST && !p->sub_read[cur] && !g->values[cur].is_output) {
        int sig = -1, m;
        dnnl_post_kind kind = 0;
        if (p->readers[cur] == 2 && (m = gated_at(p, cur, &sig, &kind)) > last && sig > last) {
            dnnl_post gp = {kind, 0, 0};
            if (has_kind(f, &gp, 1)) break;
            f->post[f->n_post++] = gp;
            p->dead[sig] = p->dead[m] = 1;
            last = m;
            cur = g->nodes[m].outputs[0];
            continue;
        }
        if (p->readers[cur] != 1) break;
        int j = p->reader[cur];
        node *r = &g->nodes[j];
        dnnl_post po[2];
        int np;
        if (p->dead[j] || j <= last) break;
        if (p->role[j] == R_UNARY && r->inputs[0] == cur && (np = as_post(g, r, po)) > 0) {
            if (f->n_post + np > DNNL_CONV_MAX_POST || has_kind(f, po, np)) break;
            for (int k = 0; k < np; k++) f->post[f->n_post++] = po[k];
        } else if (allow_sum && p->role[j] == R_BINARY && is_op(r, "Add") && f->z < 0) {
            int other = r->inputs[0] == cur ? r->inputs[1] : r->inputs[0];
            if (other == cur || !p->region[other]) break;
            f->z = other;
            f->post[f->n_post++] = (dnnl_post){DNNL_POST_SUM, 0, 0};
        } else {
            break;
        }
        p->dead[j] = 1;
        last = j;
        cur = r->outputs[0];
    }
    f->out = cur;
    if (last != i) p->host[last] = i;
}

/* Nodes that absorb a chain of followers. */
static int is_chain(const lp *p, int i) { return p->role[i] == R_CONV || p->role[i] == R_BN; }

static void fuse(lp *p) {
    for (int i = 0; i < p->nn; i++) p->host[i] = -1;
    for (int i = 0; i < p->nn; i++)
        if (is_chain(p, i) && !p->dead[i]) fuse_one(p, i, p->role[i] == R_CONV);
}

/* ---- rewrite ----------------------------------------------------------------- */

static int new_value(lp *p, int from) {
    graph *g = p->g;
    const char *base = g->values[from].name;
    size_t len = strlen(base);
    char *name = model_arena_alloc(p->arena, len + 7, 1);
    if (!name) return -1;
    memcpy(name, base, len);
    memcpy(name + len, "__nhwc", 7);
    value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->kind = VALUE_INTERMEDIATE;
    v->dtype = ENGINE_UNDEFINED;
    v->decl.name = name;
    v->decl.rank = -1;
    v->producer = -1;
    v->last_use = -1;
    return g->n_values++;
}

static int push_transpose(lp *p, int from, int to, const int64_t *perm) {
    node *n = &p->out[p->n_out++];
    int *io = model_arena_array(p->arena, 2, sizeof(int), 8);
    attr *a = model_arena_alloc(p->arena, sizeof *a, 8);
    if (!io || !a) return -1;
    memset(n, 0, sizeof *n);
    io[0] = from, io[1] = to;
    a->name = "perm";
    a->type = ATTR_INTS;
    a->count = 4;
    a->ints = perm;
    n->name = p->g->values[to].name;
    n->op_type = "Transpose";
    n->domain = "";
    n->opset = 13;
    n->n_inputs = n->n_outputs = 1;
    n->inputs = io, n->outputs = io + 1;
    n->n_attrs = 1;
    n->attrs = a;
    return 0;
}

/* The fused post-ops become attributes; the node produces the chain's end. */
static int add_post_attrs(lp *p, node *n, const fused *f) {
    int np = f->n_post;
    attr *at = model_arena_array(p->arena, (size_t)n->n_attrs + 3, sizeof *at, 8);
    int64_t *kinds = model_arena_array(p->arena, (size_t)np + 1, sizeof *kinds, 8);
    float *al = model_arena_array(p->arena, (size_t)np + 1, sizeof *al, 8);
    float *be = model_arena_array(p->arena, (size_t)np + 1, sizeof *be, 8);
    if (!at || !kinds || !al || !be) return -1;
    for (int k = 0; k < np; k++)
        kinds[k] = f->post[k].kind, al[k] = f->post[k].alpha, be[k] = f->post[k].beta;
    memcpy(at, n->attrs, sizeof *at * (size_t)n->n_attrs);
    at[n->n_attrs] = (attr){.name = "post_ops", .type = ATTR_INTS, .count = np, .ints = kinds};
    at[n->n_attrs + 1] = (attr){.name = "post_alpha", .type = ATTR_FLOATS, .count = np, .floats = al};
    at[n->n_attrs + 2] = (attr){.name = "post_beta", .type = ATTR_FLOATS, .count = np, .floats = be};
    n->attrs = at;
    n->n_attrs += np ? 3 : 0;
    n->outputs[0] = f->out;
    n->domain = "ai.inferd";
    n->opset = 1;
    return 0;
}

/* Conv -> ConvNhwc, with Z (a fused Add's operand) as a 4th input. */
static int rewrite_conv(lp *p, node *n, const fused *f) {
    int *in = model_arena_array(p->arena, 4, sizeof(int), 8);
    if (!in || add_post_attrs(p, n, f)) return -1;
    in[0] = n->inputs[0], in[1] = n->inputs[1];
    in[2] = n->n_inputs > 2 ? n->inputs[2] : -1;
    in[3] = f->z;
    n->inputs = in;
    n->n_inputs = f->z >= 0 ? 4 : 3;
    n->op_type = "ConvNhwc";
    return 0;
}

static void rewrite_other(node *n) {
    static const char *const from[] = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"};
    static const char *const to[] = {"MaxPoolNhwc", "AveragePoolNhwc", "GlobalAveragePoolNhwc",
                                     "GlobalMaxPoolNhwc"};
    for (int k = 0; k < 4; k++)
        if (is_op(n, from[k])) {
            n->op_type = to[k];
            n->domain = "ai.inferd";
            n->opset = 1;
            n->n_outputs = 1;
            return;
        }
    if (is_op(n, "Concat"))
        for (int a = 0; a < n->n_attrs; a++)
            if (!strcmp(n->attrs[a].name, "axis")) n->attrs[a].i = 3;
}

/* Emits region node i (rewritten), with a Transpose in front for an input
 * coming from outside and one behind for an output read outside. */
static int emit_region(lp *p, int i) {
    node *n = &p->g->nodes[i];
    if (p->role[i] == R_CONV) {
        int x = n->inputs[0];
        if (!p->region[x] && p->twin_in[x] < 0) {
            if ((p->twin_in[x] = new_value(p, x)) < 0) return -1;
            if (push_transpose(p, x, p->twin_in[x], to_nhwc)) return -1;
        }
        if (rewrite_conv(p, n, &p->fz[i])) return -1;
        if (!p->region[x]) n->inputs[0] = p->twin_in[x];
    } else if (p->role[i] == R_BN) {
        if (add_post_attrs(p, n, &p->fz[i])) return -1;
        n->op_type = "BatchNormNhwc";
    } else {
        rewrite_other(n);
    }
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && n->inputs[k] < p->nv && p->twin[n->inputs[k]] >= 0)
            n->inputs[k] = p->twin[n->inputs[k]];
    int v = n->outputs[0];
    n->outputs[0] = p->twin[v];
    p->out[p->n_out++] = *n;
    return p->back[v] ? push_transpose(p, p->twin[v], v, to_nchw) : 0;
}

/* A Pad that pads nothing emits only the Transpose back, if its output is
 * read outside the region. */
static int emit_pass(lp *p, int i) {
    int v = p->g->nodes[i].outputs[0];
    return p->back[v] ? push_transpose(p, p->twin[v], v, to_nchw) : 0;
}

/* Twins for region outputs; which of them are read outside the region. */
static int plan_edges(lp *p, int *n_new_nodes) {
    graph *g = p->g;
    int extra = 0;
    for (int i = 0; i < p->nn; i++) {
        if (!p->role[i] || p->dead[i]) continue;
        int v = is_chain(p, i) ? p->fz[i].out : g->nodes[i].outputs[0];
        if (p->role[i] == R_PASS) {
            p->twin[v] = p->twin[g->nodes[i].inputs[0]];
            continue;
        }
        if ((p->twin[v] = new_value(p, v)) < 0) return -1;
        if (p->role[i] == R_CONV && !p->region[g->nodes[i].inputs[0]]) extra++;
    }
    for (int i = 0; i < p->nn; i++) {
        const node *n = &g->nodes[i];
        if (p->role[i] || p->dead[i]) continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && p->twin[n->inputs[k]] >= 0) p->back[n->inputs[k]] = 1;
    }
    for (int v = 0; v < p->nv; v++) {
        if (p->twin[v] >= 0 && (p->sub_read[v] || g->values[v].is_output)) p->back[v] = 1;
        extra += p->back[v];
    }
    *n_new_nodes = p->nn + extra;
    return 0;
}

static status rewrite(lp *p, errinfo *err) {
    graph *g = p->g;
    int n_region = 0, cap_nodes;
    for (int i = 0; i < p->nn; i++) n_region += p->role[i] != 0;
    /* Each region node adds at most one output twin and one input twin. */
    value *vals = model_arena_array(p->arena, (size_t)p->nv + 2 * (size_t)n_region, sizeof *vals, 8);
    if (!vals) goto oom;
    memcpy(vals, g->values, sizeof *vals * (size_t)p->nv);
    g->values = vals;
    if (plan_edges(p, &cap_nodes)) goto oom;
    if (!(p->out = model_arena_array(p->arena, (size_t)cap_nodes, sizeof *p->out, 8))) goto oom;
    for (int i = 0; i < p->nn; i++) {
        int rc = 0;
        if (p->dead[i]) rc = p->host[i] >= 0 ? emit_region(p, p->host[i]) : 0;
        else if (is_chain(p, i) && p->fz[i].out != g->nodes[i].outputs[0]) rc = 0; /* hosted later */
        else if (p->role[i] == R_PASS) rc = emit_pass(p, i);
        else if (p->role[i]) rc = emit_region(p, i);
        else p->out[p->n_out++] = g->nodes[i];
        if (rc) goto oom;
    }
    g->nodes = p->out;
    g->n_nodes = p->n_out;
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].kind == VALUE_INTERMEDIATE) g->values[v].producer = -1;
        g->values[v].last_use = -1;
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (g->nodes[i].outputs[k] >= 0) g->values[g->nodes[i].outputs[k]].producer = i;
    graph_lifetimes(g);
    return STATUS_OK;
oom:
    return status_fail(err, STATUS_NO_MEMORY, "out of memory rewriting convolutions to channels-last");
}

/* ---- driver ------------------------------------------------------------------ */

static void note_read(void *ctx, int v, int i, int in_subgraph) {
    lp *p = ctx;
    if (in_subgraph) {
        p->sub_read[v] = 1;
        return;
    }
    p->readers[v]++;
    p->reader[v] = i;
}

status layout_pass_run(engine_model *m, graph *g, errinfo *err) {
    lp p = {.g = g, .arena = &m->arena, .nv = g->n_values, .nn = g->n_nodes};
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    status st = STATUS_OK;
    int any = 0;
    p.readers = calloc(nv, sizeof *p.readers);
    p.reader = calloc(nv, sizeof *p.reader);
    p.twin = malloc(nv * sizeof *p.twin);
    p.twin_in = malloc(nv * sizeof *p.twin_in);
    p.sub_read = calloc(nv, 1);
    p.region = calloc(nv, 1);
    p.back = calloc(nv, 1);
    p.role = calloc(nn, 1);
    p.dead = calloc(nn, 1);
    p.host = calloc(nn, sizeof *p.host);
    p.fz = calloc(nn, sizeof *p.fz);
    if (!p.readers || !p.reader || !p.twin || !p.twin_in || !p.sub_read || !p.region || !p.back ||
        !p.role || !p.dead || !p.host || !p.fz) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory optimizing the graph");
        goto done;
    }
    for (size_t v = 0; v < nv; v++) p.twin[v] = p.twin_in[v] = -1;
    graph_for_each_read(p.g, note_read, &p);
    classify(&p);
    for (int i = 0; i < p.nn; i++) any |= p.role[i] == R_CONV;
    if (!any) goto done;
    fuse(&p);
    st = rewrite(&p, err);
done:
    free(p.readers), free(p.reader), free(p.twin), free(p.twin_in), free(p.sub_read);
    free(p.region), free(p.back), free(p.role), free(p.dead), free(p.host), free(p.fz);
    return st;
}
