/* graph_build.c -- turns decoded GraphProto views into the engine's graph.
 *
 * One graph is built in passes, because ONNX names may be used before the
 * node that defines them appears (models are usually, not always, sorted):
 *   1. define every name: initializers, inputs, Constant outputs (folded into
 *      initializers right here), and every other node's outputs;
 *   2. build the nodes: resolve input names (a name the graph does not define
 *      is looked up in the enclosing graphs and becomes a VALUE_OUTER),
 *      convert attributes, build subgraphs recursively;
 *   3. resolve the graph outputs;
 *   4. sort the nodes topologically and record lifetimes (graph_order.c).
 * While a graph is being built its values live in a growable array (nested
 * subgraphs may append VALUE_OUTER entries to it); at the end everything
 * moves into the model's arena. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_loader.h"

typedef struct build_ctx {
    engine_model *m;
    const pb_model *pm;
    tensor_source tsrc;
    errinfo *err;
} build_ctx;

typedef struct name_slot {
    int idx;                    /* value index, -1 = empty */
    uint32_t hash;
    size_t len;
} name_slot;

/* The graph under construction. */
typedef struct scope {
    struct scope *parent;
    graph *g;
    value *values;              /* malloc'd while building */
    int n_values, cap_values;
    name_slot *slots;           /* open-addressing name -> value index */
    size_t cap_slots;
} scope;

/* --- names --------------------------------------------------------------- */

static uint32_t name_hash(const uint8_t *p, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

/* The graph's name for messages: exporters often leave subgraphs unnamed. */
static const char *gname(const graph *g) { return g->name && g->name[0] ? g->name : "(unnamed)"; }

/* Short printable form of a name for error messages. */
#define NAME_FMT "%.*s"
#define NAME_ARG(b) (int)((b).len > 120 ? 120 : (b).len), (const char *)(b).ptr

static int scope_lookup(const scope *s, const uint8_t *p, size_t len) {
    if (!s->cap_slots) return -1;
    uint32_t h = name_hash(p, len);
    for (size_t i = h & (s->cap_slots - 1);; i = (i + 1) & (s->cap_slots - 1)) {
        const name_slot *sl = &s->slots[i];
        if (sl->idx < 0) return -1;
        if (sl->hash == h && sl->len == len && memcmp(s->values[sl->idx].name, p, len) == 0)
            return sl->idx;
    }
}

static int slots_insert(name_slot *slots, size_t cap, int idx, uint32_t h, size_t len) {
    size_t i = h & (cap - 1);
    while (slots[i].idx >= 0) i = (i + 1) & (cap - 1);
    slots[i] = (name_slot){idx, h, len};
    return 0;
}

/* Keeps the table at most half full. */
static int slots_grow(scope *s) {
    if ((size_t)(s->n_values + 1) * 2 <= s->cap_slots) return 0;
    size_t cap = s->cap_slots ? s->cap_slots * 2 : 64;
    name_slot *ns = malloc(cap * sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < cap; i++) ns[i].idx = -1;
    for (size_t i = 0; i < s->cap_slots; i++)
        if (s->slots[i].idx >= 0)
            slots_insert(ns, cap, s->slots[i].idx, s->slots[i].hash, s->slots[i].len);
    free(s->slots);
    s->slots = ns;
    s->cap_slots = cap;
    return 0;
}

/* Appends a value named `name` (already in the arena) to the scope. */
static status scope_push(build_ctx *bc, scope *s, const char *name, size_t len,
                         value_kind kind, int *out) {
    if (s->n_values == s->cap_values) {
        if (s->cap_values > INT_MAX / 2)
            return status_fail(bc->err, STATUS_INVALID_MODEL, "too many values in one graph");
        int cap = s->cap_values ? s->cap_values * 2 : 32;
        value *nv = realloc(s->values, (size_t)cap * sizeof *nv);
        if (!nv) return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory building the graph");
        s->values = nv;
        s->cap_values = cap;
    }
    if (slots_grow(s)) return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory building the graph");
    int idx = s->n_values++;
    value *v = &s->values[idx];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->kind = kind;
    v->producer = -1;
    v->last_use = -1;
    v->outer_index = -1;
    v->decl.name = name;
    v->decl.rank = -1;
    slots_insert(s->slots, s->cap_slots, idx, name_hash((const uint8_t *)name, len), len);
    *out = idx;
    return STATUS_OK;
}

/* Copies a name from the model into the arena, refusing embedded NULs. */
static status dup_name(build_ctx *bc, pb_bytes b, const char *what, const char **out) {
    if (b.len && memchr(b.ptr, '\0', b.len))
        return status_fail(bc->err, STATUS_INVALID_MODEL, "%s name '" NAME_FMT "' contains a NUL byte",
                           what, NAME_ARG(b));
    *out = model_arena_strndup(&bc->m->arena, b.ptr, b.len);
    if (!*out) return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory copying a name");
    return STATUS_OK;
}

/* Defines a new name in this graph; a second definition breaks SSA. */
static status scope_define(build_ctx *bc, scope *s, pb_bytes name, value_kind kind,
                           const char *what, int *out) {
    if (scope_lookup(s, name.ptr, name.len) >= 0)
        return status_fail(bc->err, STATUS_INVALID_MODEL,
                           "graph '%s': %s '" NAME_FMT "' is defined twice (names must be unique)",
                           gname(s->g), what, NAME_ARG(name));
    const char *copy;
    status st = dup_name(bc, name, what, &copy);
    if (st) return st;
    return scope_push(bc, s, copy, name.len, kind, out);
}

/* Index of `name` in s, creating VALUE_OUTER entries down from the
 * enclosing graph that defines it. -1 if no graph defines it. */
static status scope_resolve(build_ctx *bc, scope *s, pb_bytes name, int *out) {
    *out = scope_lookup(s, name.ptr, name.len);
    if (*out >= 0 || !s->parent) return STATUS_OK;
    int outer;
    status st = scope_resolve(bc, s->parent, name, &outer);
    if (st || outer < 0) return st;
    st = scope_push(bc, s, s->parent->values[outer].name, name.len, VALUE_OUTER, out);
    if (st) return st;
    s->values[*out].outer_index = outer;
    return STATUS_OK;
}

/* --- types and opsets ---------------------------------------------------- */

/* Fills a declared type. `need_dtype`: a main-graph input must say its type. */
static status decl_from_type(build_ctx *bc, const pb_type *t, const char *what, int need_dtype,
                             engine_io_info *decl) {
    errinfo *err = bc->err;
    if (!t || !t->tensor_type) {
        if (t && (t->has_sequence_type || t->has_map_type || t->has_optional_type || t->has_sparse_tensor_type))
            return status_fail(err, STATUS_UNSUPPORTED, "%s has %s type; inferd supports tensors only",
                               what, t->has_sequence_type ? "a sequence" : t->has_map_type ? "a map"
                               : t->has_optional_type ? "an optional" : "a sparse tensor");
        if (need_dtype) return status_fail(err, STATUS_INVALID_MODEL, "%s declares no type", what);
        return STATUS_OK;
    }
    const pb_tensor_type *tt = t->tensor_type;
    if (tt->elem_type || need_dtype) {
        status st = tensor_check_dtype(tt->elem_type, what, err);
        if (st) return st;
    }
    engine_io_info d = {.name = decl->name, .dtype = (engine_dtype)tt->elem_type, .rank = -1};
    if (tt->shape) {
        if (tt->shape->n_dim > ENGINE_MAX_RANK)
            return status_fail(err, STATUS_UNSUPPORTED, "%s has rank %zu; inferd supports rank <= %d",
                               what, tt->shape->n_dim, ENGINE_MAX_RANK);
        d.rank = (int)tt->shape->n_dim;
        for (int i = 0; i < d.rank; i++) {
            const pb_dim *pd = &tt->shape->dim[i];
            d.dims[i] = pd->has_dim_value && pd->dim_value >= 0 ? pd->dim_value : -1;
            if (pd->has_dim_value || !pd->dim_param.len) continue;
            status st = dup_name(bc, pd->dim_param, "dimension", &d.dim_names[i]);
            if (st) return st;
        }
    }
    *decl = d;
    return STATUS_OK;
}

static int domain_is_default(pb_bytes d) { return d.len == 0 || pb_bytes_eq(d, "ai.onnx"); }

static int same_domain(pb_bytes a, pb_bytes b) {
    if (domain_is_default(a) || domain_is_default(b)) return domain_is_default(a) && domain_is_default(b);
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static status node_opset(build_ctx *bc, const pb_node *pn, const char *label, int *out) {
    const pb_model *pm = bc->pm;
    for (size_t i = pm->n_opset_import; i-- > 0;) {
        if (!same_domain(pm->opset_import[i].domain, pn->domain)) continue;
        int64_t v = pm->opset_import[i].version;
        if (v < 1 || v > 10000)
            return status_fail(bc->err, STATUS_INVALID_MODEL, "%s: opset version %lld of domain '"
                               NAME_FMT "' is invalid", label, (long long)v, NAME_ARG(pn->domain));
        *out = (int)v;
        return STATUS_OK;
    }
    /* IR version 1 and 2 predate opset_import and mean ai.onnx opset 1. */
    if (pm->n_opset_import == 0 && pm->ir_version < 3 && domain_is_default(pn->domain)) {
        *out = 1;
        return STATUS_OK;
    }
    pb_bytes shown = domain_is_default(pn->domain) ? (pb_bytes){(const uint8_t *)"ai.onnx", 7} : pn->domain;
    return status_fail(bc->err, STATUS_INVALID_MODEL,
                       "%s: the model imports no opset for domain '" NAME_FMT "'", label, NAME_ARG(shown));
}

static void node_label(const pb_node *pn, size_t idx, char *buf, size_t len) {
    if (pn->name.len)
        snprintf(buf, len, "node '" NAME_FMT "' (" NAME_FMT ")", NAME_ARG(pn->name), NAME_ARG(pn->op_type));
    else
        snprintf(buf, len, "node #%zu (" NAME_FMT ")", idx, NAME_ARG(pn->op_type));
}

/* --- attributes ---------------------------------------------------------- */

static status build_graph(build_ctx *bc, const pb_graph *pg, scope *parent, graph **out);

/* Older exporters leave AttributeProto.type unset; the field in use says it. */
static int attr_type_of(const pb_attr *pa) {
    if (pa->has_type && pa->type) return pa->type;
    if (pa->t) return ATTR_TENSOR;
    if (pa->g) return ATTR_GRAPH;
    if (pa->n_floats) return ATTR_FLOATS;
    if (pa->n_ints) return ATTR_INTS;
    if (pa->n_strings) return ATTR_STRINGS;
    if (pa->n_tensors) return ATTR_TENSORS;
    if (pa->n_graphs) return ATTR_GRAPHS;
    if (pa->has_s) return ATTR_STRING;
    if (pa->has_i) return ATTR_INT;
    if (pa->has_f) return ATTR_FLOAT;
    if (pa->has_sparse_tensor) return ATTR_SPARSE_TENSOR;
    if (pa->n_sparse_tensors) return ATTR_SPARSE_TENSORS;
    if (pa->has_tp) return ATTR_TYPE_PROTO;
    if (pa->n_type_protos) return ATTR_TYPE_PROTOS;
    return ATTR_UNDEFINED;
}

static status attr_tensor(build_ctx *bc, const pb_tensor *pt, const char *what, engine_tensor *t) {
    status st = tensor_from_pb(pt, &bc->tsrc, what, t, bc->err);
    if (!st) bc->m->weight_bytes += t->nbytes;
    return st;
}

static status attr_count(build_ctx *bc, size_t n, const char *what, int *out) {
    if (n > INT_MAX / 16)
        return status_fail(bc->err, STATUS_INVALID_MODEL, "%s has too many elements (%zu)", what, n);
    *out = (int)n;
    return STATUS_OK;
}

static void *arena_copy(build_ctx *bc, const void *src, size_t n, size_t size) {
    void *d = model_arena_array(&bc->m->arena, n, size, 16);
    if (d && n) memcpy(d, src, n * size);
    return d;
}

/* The list-valued attribute kinds. */
static status attr_lists(build_ctx *bc, scope *s, const pb_attr *pa, const char *what, attr *a) {
    model_arena *ar = &bc->m->arena;
    status st = STATUS_OK;
    switch (a->type) {
    case ATTR_FLOATS:
        if ((st = attr_count(bc, pa->n_floats, what, &a->count))) return st;
        if (!(a->floats = arena_copy(bc, pa->floats, pa->n_floats, sizeof(float)))) goto oom;
        return STATUS_OK;
    case ATTR_INTS:
        if ((st = attr_count(bc, pa->n_ints, what, &a->count))) return st;
        if (!(a->ints = arena_copy(bc, pa->ints, pa->n_ints, sizeof(int64_t)))) goto oom;
        return STATUS_OK;
    case ATTR_STRINGS: {
        if ((st = attr_count(bc, pa->n_strings, what, &a->count))) return st;
        engine_string *v = model_arena_array(ar, pa->n_strings, sizeof *v, 16);
        if (!v) goto oom;
        for (size_t i = 0; i < pa->n_strings; i++) {
            char *c = model_arena_strndup(ar, pa->strings[i].ptr, pa->strings[i].len);
            if (!c) goto oom;
            v[i] = (engine_string){c, pa->strings[i].len};
        }
        a->strings = v;
        return STATUS_OK;
    }
    case ATTR_TENSORS: {
        if ((st = attr_count(bc, pa->n_tensors, what, &a->count))) return st;
        engine_tensor *v = model_arena_array(ar, pa->n_tensors, sizeof *v, 16);
        if (!v) goto oom;
        for (size_t i = 0; i < pa->n_tensors && !st; i++) st = attr_tensor(bc, &pa->tensors[i], what, &v[i]);
        a->tensors = v;
        return st;
    }
    case ATTR_GRAPHS: {
        if ((st = attr_count(bc, pa->n_graphs, what, &a->count))) return st;
        graph **v = model_arena_array(ar, pa->n_graphs, sizeof *v, 16);
        if (!v) goto oom;
        for (size_t i = 0; i < pa->n_graphs && !st; i++) st = build_graph(bc, &pa->graphs[i], s, &v[i]);
        a->graphs = v;
        return st;
    }
    default:
        return STATUS_OK;
    }
oom:
    return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory for %s", what);
}

static status build_attr(build_ctx *bc, scope *s, const pb_attr *pa, const char *label, attr *a) {
    char what[512];
    snprintf(what, sizeof what, "%s: attribute '" NAME_FMT "'", label, NAME_ARG(pa->name));
    if (!pa->name.len)
        return status_fail(bc->err, STATUS_INVALID_MODEL, "%s: an attribute has no name", label);
    status st = dup_name(bc, pa->name, "attribute", &a->name);
    if (st) return st;
    if (pa->has_ref_attr_name)
        return status_fail(bc->err, STATUS_INVALID_MODEL,
                           "%s refers to a function attribute (ref_attr_name), which only function bodies may do",
                           what);
    int type = attr_type_of(pa);
    if (type <= ATTR_UNDEFINED || type > ATTR_TYPE_PROTOS)
        return status_fail(bc->err, STATUS_INVALID_MODEL, "%s has %s type %d", what,
                           type ? "unknown" : "no value and no", type);
    a->type = (attr_type)type;
    switch (a->type) {
    case ATTR_FLOAT: a->f = pa->f; return STATUS_OK;
    case ATTR_INT: a->i = pa->i; return STATUS_OK;
    case ATTR_STRING:
        a->s_len = pa->s.len;
        if (!(a->s = model_arena_strndup(&bc->m->arena, pa->s.ptr, pa->s.len)))
            return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory for %s", what);
        return STATUS_OK;
    case ATTR_TENSOR:
        if (!pa->t) return status_fail(bc->err, STATUS_INVALID_MODEL, "%s has type TENSOR but no tensor", what);
        return attr_tensor(bc, pa->t, what, &a->t);
    case ATTR_GRAPH:
        if (!pa->g) return status_fail(bc->err, STATUS_INVALID_MODEL, "%s has type GRAPH but no graph", what);
        st = build_graph(bc, pa->g, s, &a->g);
        return st ? status_wrap(bc->err, st, "%s", what) : st;
    case ATTR_SPARSE_TENSOR: case ATTR_SPARSE_TENSORS:
        return status_fail(bc->err, STATUS_UNSUPPORTED, "%s: sparse tensors are not supported", what);
    case ATTR_TYPE_PROTO: a->count = 1; return STATUS_OK;
    case ATTR_TYPE_PROTOS: return attr_count(bc, pa->n_type_protos, what, &a->count);
    default:
        st = attr_lists(bc, s, pa, what, a);
        return st && a->type == ATTR_GRAPHS ? status_wrap(bc->err, st, "%s", what) : st;
    }
}

/* --- Constant nodes become initializers ---------------------------------- */

static int is_constant(const pb_node *pn) {
    return domain_is_default(pn->domain) && pb_bytes_eq(pn->op_type, "Constant");
}

static status constant_tensor(build_ctx *bc, const pb_node *pn, const char *label, engine_tensor *t) {
    errinfo *err = bc->err;
    if (pn->n_attribute != 1)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "%s: Constant needs exactly one value attribute, has %zu", label, pn->n_attribute);
    const pb_attr *pa = &pn->attribute[0];
    int type = attr_type_of(pa);
    static const struct { const char *name; int type; engine_dtype dt; int rank; } forms[] = {
        {"value", ATTR_TENSOR, ENGINE_UNDEFINED, 0},
        {"value_float", ATTR_FLOAT, ENGINE_FLOAT, 0},
        {"value_floats", ATTR_FLOATS, ENGINE_FLOAT, 1},
        {"value_int", ATTR_INT, ENGINE_INT64, 0},
        {"value_ints", ATTR_INTS, ENGINE_INT64, 1},
        {"value_string", ATTR_STRING, ENGINE_STRING, 0},
        {"value_strings", ATTR_STRINGS, ENGINE_STRING, 1},
    };
    if (pb_bytes_eq(pa->name, "sparse_value"))
        return status_fail(err, STATUS_UNSUPPORTED, "%s: sparse constants are not supported", label);
    size_t f = 0;
    while (f < sizeof forms / sizeof forms[0] && !pb_bytes_eq(pa->name, forms[f].name)) f++;
    if (f == sizeof forms / sizeof forms[0])
        return status_fail(err, STATUS_INVALID_MODEL, "%s: unknown Constant attribute '" NAME_FMT "'",
                           label, NAME_ARG(pa->name));
    if (type != forms[f].type)
        return status_fail(err, STATUS_INVALID_MODEL, "%s: attribute '%s' has attribute type %d, expected %d",
                           label, forms[f].name, type, forms[f].type);
    if (forms[f].type == ATTR_TENSOR) {
        char what[512];
        snprintf(what, sizeof what, "%s: attribute 'value'", label);
        if (!pa->t) return status_fail(err, STATUS_INVALID_MODEL, "%s is missing", what);
        return attr_tensor(bc, pa->t, what, t);
    }
    /* The scalar and list forms: build a tensor of the attribute's values. */
    size_t n = 1;
    const void *src = NULL;
    switch (forms[f].type) {
    case ATTR_FLOAT: src = &pa->f; break;
    case ATTR_INT: src = &pa->i; break;
    case ATTR_FLOATS: n = pa->n_floats; src = pa->floats; break;
    case ATTR_INTS: n = pa->n_ints; src = pa->ints; break;
    case ATTR_STRING: src = &pa->s; break;
    case ATTR_STRINGS: n = pa->n_strings; src = pa->strings; break;
    }
    memset(t, 0, sizeof *t);
    t->dtype = forms[f].dt;
    t->shape.rank = forms[f].rank;
    t->shape.dims[0] = (int64_t)n;
    if (n > (size_t)INT_MAX) return status_fail(err, STATUS_INVALID_MODEL, "%s: Constant too large", label);
    size_t esize = engine_dtype_size(t->dtype);
    t->nbytes = n * esize;
    if (t->dtype != ENGINE_STRING) {
        t->data = arena_copy(bc, src, n, esize);
    } else {
        const pb_bytes *s = src;
        engine_string *v = model_arena_array(&bc->m->arena, n, sizeof *v, 64);
        for (size_t i = 0; v && i < n; i++) {
            char *c = model_arena_strndup(&bc->m->arena, s[i].ptr, s[i].len);
            if (!c) v = NULL;
            else v[i] = (engine_string){c, s[i].len};
        }
        t->data = v;
    }
    if (!t->data) return status_fail(err, STATUS_NO_MEMORY, "out of memory for %s", label);
    bc->m->weight_bytes += t->nbytes;
    return STATUS_OK;
}

static status define_constant(build_ctx *bc, scope *s, const pb_node *pn, const char *label) {
    if (pn->n_input != 0 || pn->n_output != 1 || pn->output[0].len == 0)
        return status_fail(bc->err, STATUS_INVALID_MODEL,
                           "%s: Constant must have no inputs and one named output", label);
    int idx;
    engine_tensor t;
    status st = constant_tensor(bc, pn, label, &t);
    if (st) return st;
    st = scope_define(bc, s, pn->output[0], VALUE_INITIALIZER, "value", &idx);
    if (st) return st;
    value *v = &s->values[idx];
    v->init = t;
    v->dtype = t.dtype;
    v->decl.dtype = t.dtype;
    v->decl.rank = t.shape.rank;
    memcpy(v->decl.dims, t.shape.dims, sizeof v->decl.dims);
    return STATUS_OK;
}

/* --- definitions: initializers, inputs, node outputs --------------------- */

static status define_initializers(build_ctx *bc, scope *s, const pb_graph *pg) {
    for (size_t i = 0; i < pg->n_initializer; i++) {
        const pb_tensor *pt = &pg->initializer[i];
        char what[200];
        int idx;
        if (!pt->name.len)
            return status_fail(bc->err, STATUS_INVALID_MODEL, "graph '%s': initializer #%zu has no name",
                               gname(s->g), i);
        status st = scope_define(bc, s, pt->name, VALUE_INITIALIZER, "initializer", &idx);
        if (st) return st;
        snprintf(what, sizeof what, "initializer '" NAME_FMT "'", NAME_ARG(pt->name));
        value *v = &s->values[idx];
        st = tensor_from_pb(pt, &bc->tsrc, what, &v->init, bc->err);
        if (st) return st;
        bc->m->weight_bytes += v->init.nbytes;
        v->dtype = v->init.dtype;
        v->decl.dtype = v->init.dtype;
        v->decl.rank = v->init.shape.rank;
        memcpy(v->decl.dims, v->init.shape.dims, sizeof v->decl.dims);
    }
    return STATUS_OK;
}

/* Graph inputs that are also initializers (ONNX IR < 4 lists every weight as
 * an input) are weights, not something the caller feeds. */
static status define_inputs(build_ctx *bc, scope *s, const pb_graph *pg, int *list, int *n_list) {
    *n_list = 0;
    for (size_t i = 0; i < pg->n_input; i++) {
        const pb_value_info *vi = &pg->input[i];
        char what[200];
        int idx = scope_lookup(s, vi->name.ptr, vi->name.len);
        if (!vi->name.len)
            return status_fail(bc->err, STATUS_INVALID_MODEL, "graph '%s': input #%zu has no name",
                               gname(s->g), i);
        if (idx >= 0 && s->values[idx].kind == VALUE_INITIALIZER) continue;
        status st = scope_define(bc, s, vi->name, VALUE_INPUT, "input", &idx);
        if (st) return st;
        snprintf(what, sizeof what, "graph input '" NAME_FMT "'", NAME_ARG(vi->name));
        st = decl_from_type(bc, vi->type, what, s->parent == NULL, &s->values[idx].decl);
        if (st) return st;
        s->values[idx].dtype = s->values[idx].decl.dtype;
        list[(*n_list)++] = idx;
    }
    return STATUS_OK;
}

/* Defines every node output (Constants become initializers). `real` gets
 * the indices of the nodes that stay nodes; their outputs' producer is the
 * position in that list until sorting renumbers it. */
static status define_node_outputs(build_ctx *bc, scope *s, const pb_graph *pg, size_t *real,
                                  int *n_real) {
    *n_real = 0;
    for (size_t j = 0; j < pg->n_node; j++) {
        const pb_node *pn = &pg->node[j];
        char label[300];
        node_label(pn, j, label, sizeof label);
        if (!pn->op_type.len)
            return status_fail(bc->err, STATUS_INVALID_MODEL, "graph '%s': %s has no op_type",
                               gname(s->g), label);
        if (pn->n_input > INT_MAX / 16 || pn->n_output > INT_MAX / 16 || pn->n_attribute > INT_MAX / 16)
            return status_fail(bc->err, STATUS_INVALID_MODEL, "%s has too many inputs, outputs or attributes", label);
        status st;
        if (is_constant(pn)) {
            if ((st = define_constant(bc, s, pn, label))) return st;
            continue;
        }
        for (size_t k = 0; k < pn->n_output; k++) {
            int idx;
            if (!pn->output[k].len) continue;
            if ((st = scope_define(bc, s, pn->output[k], VALUE_INTERMEDIATE, "value", &idx))) return st;
            s->values[idx].producer = *n_real;
        }
        real[(*n_real)++] = j;
    }
    return STATUS_OK;
}

/* value_info declares intermediate types; a malformed one is only a hint
 * lost, not a reason to refuse the model. */
static void apply_value_info(build_ctx *bc, scope *s, const pb_graph *pg) {
    errinfo ignored;
    errinfo *saved = bc->err;
    bc->err = &ignored;
    for (size_t i = 0; i < pg->n_value_info; i++) {
        const pb_value_info *vi = &pg->value_info[i];
        int idx = scope_lookup(s, vi->name.ptr, vi->name.len);
        if (idx < 0 || s->values[idx].kind != VALUE_INTERMEDIATE) continue;
        engine_io_info d = s->values[idx].decl;
        if (decl_from_type(bc, vi->type, "value_info", 0, &d) == STATUS_OK) s->values[idx].decl = d;
    }
    bc->err = saved;
}

/* --- nodes ----------------------------------------------------------------- */

static int cmp_attr_name(const void *a, const void *b) {
    return strcmp((*(const attr *const *)a)->name, (*(const attr *const *)b)->name);
}

/* Each attribute name at most once; sorted, so a hostile node with
 * thousands of attributes costs n log n, not n^2. */
static status check_attr_names(build_ctx *bc, const node *n, const char *label) {
    if (n->n_attrs < 2) return STATUS_OK;
    const attr **v = malloc((size_t)n->n_attrs * sizeof *v);
    if (!v) return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory checking %s", label);
    for (int k = 0; k < n->n_attrs; k++) v[k] = &n->attrs[k];
    qsort(v, (size_t)n->n_attrs, sizeof *v, cmp_attr_name);
    const char *dup = NULL;
    for (int k = 1; k < n->n_attrs && !dup; k++)
        if (strcmp(v[k - 1]->name, v[k]->name) == 0) dup = v[k]->name;
    free(v);
    if (dup)
        return status_fail(bc->err, STATUS_INVALID_MODEL, "%s: attribute '%.120s' appears twice", label, dup);
    return STATUS_OK;
}

static status build_node(build_ctx *bc, scope *s, const pb_node *pn, size_t j, node *n) {
    model_arena *ar = &bc->m->arena;
    char label[300];
    node_label(pn, j, label, sizeof label);
    status st;
    /* Exporters often leave nodes unnamed; errors then name the node after
     * its first output, which is what a user can find in Netron. */
    pb_bytes name = pn->name.len || !pn->n_output ? pn->name : pn->output[0];
    if ((st = dup_name(bc, name, "node", &n->name)) || (st = dup_name(bc, pn->op_type, "op_type", &n->op_type)))
        return st;
    pb_bytes dom = domain_is_default(pn->domain) ? (pb_bytes){NULL, 0} : pn->domain;
    if ((st = dup_name(bc, dom, "domain", &n->domain))) return st;
    if ((st = node_opset(bc, pn, label, &n->opset))) return st;
    n->n_inputs = (int)pn->n_input;
    n->n_outputs = (int)pn->n_output;
    n->n_attrs = (int)pn->n_attribute;
    n->inputs = model_arena_array(ar, pn->n_input, sizeof(int), 16);
    n->outputs = model_arena_array(ar, pn->n_output, sizeof(int), 16);
    n->attrs = model_arena_array(ar, pn->n_attribute, sizeof(attr), 16);
    if (!n->inputs || !n->outputs || !n->attrs)
        return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory building %s", label);
    for (size_t k = 0; k < pn->n_input; k++) {
        n->inputs[k] = -1;
        if (!pn->input[k].len) continue;
        if ((st = scope_resolve(bc, s, pn->input[k], &n->inputs[k]))) return st;
        if (n->inputs[k] < 0)
            return status_fail(bc->err, STATUS_INVALID_MODEL,
                               "%s: input %zu '" NAME_FMT "' is not defined by any node, graph input or initializer",
                               label, k, NAME_ARG(pn->input[k]));
    }
    for (size_t k = 0; k < pn->n_output; k++)
        n->outputs[k] = pn->output[k].len ? scope_lookup(s, pn->output[k].ptr, pn->output[k].len) : -1;
    for (size_t k = 0; k < pn->n_attribute; k++)
        if ((st = build_attr(bc, s, &pn->attribute[k], label, &n->attrs[k]))) return st;
    return check_attr_names(bc, n, label);
}

static status build_outputs(build_ctx *bc, scope *s, const pb_graph *pg) {
    graph *g = s->g;
    g->n_outputs = (int)pg->n_output;
    g->outputs = model_arena_array(&bc->m->arena, pg->n_output, sizeof(int), 16);
    if (!g->outputs) return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory building graph outputs");
    for (size_t i = 0; i < pg->n_output; i++) {
        const pb_value_info *vi = &pg->output[i];
        char what[200];
        int idx;
        snprintf(what, sizeof what, "graph '%s': output '" NAME_FMT "'", gname(g), NAME_ARG(vi->name));
        if (!vi->name.len)
            return status_fail(bc->err, STATUS_INVALID_MODEL, "graph '%s': output #%zu has no name", gname(g), i);
        status st = scope_resolve(bc, s, vi->name, &idx);
        if (st) return st;
        if (idx < 0)
            return status_fail(bc->err, STATUS_INVALID_MODEL,
                               "%s is not defined by any node, graph input or initializer", what);
        value *v = &s->values[idx];
        engine_io_info d = v->decl;
        if ((st = decl_from_type(bc, vi->type, what, 0, &d))) return st;
        if (v->kind == VALUE_INTERMEDIATE || v->kind == VALUE_OUTER) v->decl = d;
        v->is_output = 1;
        g->outputs[i] = idx;
    }
    return STATUS_OK;
}

/* --- one graph ------------------------------------------------------------- */

static status build_nodes(build_ctx *bc, scope *s, const pb_graph *pg) {
    size_t *real = malloc((pg->n_node + 1) * sizeof *real);
    node *tmp = NULL;
    int n_real = 0;
    status st;
    if (!real) return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory building the graph");
    if ((st = define_node_outputs(bc, s, pg, real, &n_real))) goto done;
    apply_value_info(bc, s, pg);
    tmp = calloc((size_t)n_real + 1, sizeof *tmp);
    if (!tmp) {
        st = status_fail(bc->err, STATUS_NO_MEMORY, "out of memory building the graph");
        goto done;
    }
    for (int j = 0; j < n_real; j++)
        if ((st = build_node(bc, s, &pg->node[real[j]], real[j], &tmp[j]))) goto done;
    if ((st = build_outputs(bc, s, pg))) goto done;
    /* No more values appear: they can move to their final home. */
    s->g->n_values = s->n_values;
    if (!(s->g->values = arena_copy(bc, s->values, (size_t)s->n_values, sizeof(value)))) {
        st = status_fail(bc->err, STATUS_NO_MEMORY, "out of memory building a graph");
        goto done;
    }
    if ((st = graph_sort(s->g, tmp, n_real, &bc->m->arena, bc->err))) goto done;
    graph_lifetimes(s->g);
done:
    free(tmp);
    free(real);
    return st;
}

static status build_graph(build_ctx *bc, const pb_graph *pg, scope *parent, graph **out) {
    model_arena *ar = &bc->m->arena;
    scope s = {.parent = parent};
    status st;
    int n_inputs = 0;
    int *inputs = NULL;
    *out = NULL;
    if (!(s.g = model_arena_alloc(ar, sizeof(graph), 16)))
        return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory building a graph");
    s.g->parent = parent ? parent->g : NULL;
    if ((st = dup_name(bc, pg->name, "graph", &s.g->name))) return st;
    if (pg->n_sparse_initializer)
        return status_fail(bc->err, STATUS_UNSUPPORTED, "graph '%s': sparse initializers are not supported",
                           gname(s.g));
    if (pg->n_node > INT_MAX / 8 || pg->n_input > INT_MAX / 8 || pg->n_output > INT_MAX / 8 ||
        pg->n_initializer > INT_MAX / 8)
        return status_fail(bc->err, STATUS_INVALID_MODEL, "graph '%s' is too large", gname(s.g));
    inputs = model_arena_array(ar, pg->n_input, sizeof(int), 16);
    if (!inputs) return status_fail(bc->err, STATUS_NO_MEMORY, "out of memory building a graph");
    if ((st = define_initializers(bc, &s, pg))) goto fail;
    if ((st = define_inputs(bc, &s, pg, inputs, &n_inputs))) goto fail;
    if ((st = build_nodes(bc, &s, pg))) goto fail;
    s.g->n_inputs = n_inputs;
    s.g->inputs = inputs;
    *out = s.g;
fail:
    free(s.values);
    free(s.slots);
    return st;
}

status graph_build(engine_model *m, const pb_model *pm, graph **out, errinfo *err) {
    build_ctx bc = {m, pm, {.alloc = model_arena_alloc64, .ctx = &m->arena, .zero_copy = 1, .model = m}, err};
    *out = NULL;
    if (!pm->graph) return status_fail(err, STATUS_INVALID_MODEL, "the model has no graph");
    return build_graph(&bc, pm->graph, NULL, out);
}
