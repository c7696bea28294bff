/* test_onnx_loader.c -- the ONNX loader on hand-built and real models.
 *
 * Models are encoded here with a tiny protobuf writer, so each test says
 * exactly which bytes it feeds: malformed framing, contradicting tensors,
 * undefined names, cycles, hostile external-data paths. Structural checks
 * (order, lifetimes, outer values) use graph_build() directly, so they do
 * not depend on which operators are registered. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/model.h"
#include "engine/onnx_loader.h"

static int failures;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

/* --- a protobuf writer ------------------------------------------------------ */

typedef struct pbuf {
    unsigned char *p;
    size_t n, cap;
} pbuf;

static void put(pbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(pbuf *b, uint64_t v) {
    unsigned char c;
    do {
        c = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        put(b, &c, 1);
    } while (v);
}

static void put_tag(pbuf *b, int field, int wire) { put_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }
static void put_int(pbuf *b, int field, int64_t v) { put_tag(b, field, 0); put_varint(b, (uint64_t)v); }
static void put_len(pbuf *b, int field, const void *d, size_t n) {
    put_tag(b, field, 2);
    put_varint(b, n);
    put(b, d, n);
}
static void put_str(pbuf *b, int field, const char *s) { put_len(b, field, s, strlen(s)); }
/* Appends sub as a nested message and frees it. */
static void put_msg(pbuf *b, int field, pbuf *sub) {
    put_len(b, field, sub->p, sub->n);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}
static void put_f32(pbuf *b, int field, float f) {
    put_tag(b, field, 5);
    put(b, &f, 4);
}

/* TensorProto: float tensor with dims and packed float_data (n values). */
static pbuf tensor_f(const char *name, int rank, const int64_t *dims, int n, const float *vals) {
    pbuf t = {0};
    for (int i = 0; i < rank; i++) put_int(&t, 1, dims[i]);
    put_int(&t, 2, ENGINE_FLOAT);
    if (n) put_len(&t, 4, vals, (size_t)n * 4);
    if (name) put_str(&t, 8, name);
    return t;
}

/* ValueInfoProto of a float tensor; rank -1 = no shape. */
static pbuf value_info(const char *name, int elem, int rank, const int64_t *dims) {
    pbuf vi = {0}, type = {0}, tt = {0}, shape = {0};
    put_str(&vi, 1, name);
    put_int(&tt, 1, elem);
    if (rank >= 0) {
        for (int i = 0; i < rank; i++) {
            pbuf d = {0};
            if (dims[i] >= 0) put_int(&d, 1, dims[i]);
            else put_str(&d, 2, "N");
            put_msg(&shape, 1, &d);
        }
        put_msg(&tt, 2, &shape);
    }
    put_msg(&type, 1, &tt);
    put_msg(&vi, 2, &type);
    return vi;
}

/* NodeProto; inputs/outputs are NULL-terminated lists. */
static pbuf mknode(const char *name, const char *op, const char *const *in, const char *const *out) {
    pbuf n = {0};
    for (; in && *in; in++) put_str(&n, 1, *in);
    for (; out && *out; out++) put_str(&n, 2, *out);
    if (name) put_str(&n, 3, name);
    put_str(&n, 4, op);
    return n;
}

static pbuf model_of(pbuf *graph, int opset) {
    pbuf m = {0}, os = {0};
    put_int(&m, 1, 8);
    put_str(&os, 1, "");
    put_int(&os, 2, opset);
    put_msg(&m, 8, &os);
    put_msg(&m, 7, graph);
    return m;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static status load(const pbuf *m, const char *base_dir, engine_model **out, errinfo *err) {
    memset(err, 0, sizeof *err);
    return engine_model_load_buffer(m->p, m->n, base_dir, NULL, out, err);
}

/* Builds the graph only (no operator binding), for structural checks. */
static status build_only(const pbuf *m, engine_model **out, errinfo *err) {
    model_arena scratch = {0};
    pb_model *pm;
    engine_model *em = calloc(1, sizeof *em);
    memset(err, 0, sizeof *err);
    status st = pb_decode_model(m->p, m->n, &scratch, &pm, err);
    if (!st) st = graph_build(em, pm, &em->main, err);
    model_arena_free(&scratch);
    if (st) {
        engine_model_destroy(em);
        em = NULL;
    }
    *out = em;
    return st;
}

static int find_value(const graph *g, const char *name) {
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0) return i;
    return -1;
}

static int has(const char *msg, const char *needle) {
    if (getenv("TEST_VERBOSE")) fprintf(stderr, "  [%s]\n", msg);
    if (strstr(msg, needle)) return 1;
    fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", msg, needle);
    return 0;
}

/* --- tests ------------------------------------------------------------------ */

/* y = x: a graph with no nodes, plus an initializer listed as an input (IR<4). */
static pbuf passthrough_model(void) {
    int64_t d[] = {-1, 3};
    int64_t wd[] = {2};
    float w[] = {1.5f, -2};
    pbuf g = {0}, t;
    put_str(&g, 2, "passthrough");
    t = tensor_f("w", 1, wd, 2, w);
    put_msg(&g, 5, &t);
    t = value_info("x", ENGINE_FLOAT, 2, d);
    put_msg(&g, 11, &t);
    t = value_info("w", ENGINE_FLOAT, 1, wd);
    put_msg(&g, 11, &t);
    t = value_info("x", ENGINE_FLOAT, 2, d);
    put_msg(&g, 12, &t);
    t = value_info("w", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &t);
    return model_of(&g, 13);
}

static void test_passthrough(void) {
    pbuf m = passthrough_model();
    engine_model *em;
    errinfo err;
    status st = load(&m, NULL, &em, &err);
    CHECK(st == STATUS_OK);
    if (st) {
        fprintf(stderr, "  %s\n", err.msg);
    } else {
        CHECK(engine_model_input_count(em) == 1);
        CHECK(engine_model_output_count(em) == 2);
        const engine_io_info *in = engine_model_input(em, 0);
        CHECK(strcmp(in->name, "x") == 0 && in->dtype == ENGINE_FLOAT && in->rank == 2);
        CHECK(in->dims[0] == -1 && in->dim_names[0] && strcmp(in->dim_names[0], "N") == 0);
        CHECK(in->dims[1] == 3 && in->dim_names[1] == NULL);
        CHECK(engine_model_find_output(em, "w") == 1 && engine_model_find_input(em, "w") == -1);
        CHECK(engine_model_output(em, 1)->dtype == ENGINE_FLOAT);
        CHECK(engine_model_weight_bytes(em) == 8);
        const graph *g = engine_model_graph(em);
        int w = find_value(g, "w");
        CHECK(w >= 0 && g->values[w].kind == VALUE_INITIALIZER);
        CHECK(w >= 0 && ((const float *)g->values[w].init.data)[1] == -2);
        CHECK(w >= 0 && g->values[w].last_use == g->n_nodes);
    }
    engine_model_destroy(em);
    /* Every truncation must fail cleanly or load; never crash or leak. */
    for (size_t len = 0; len < m.n; len++) {
        st = engine_model_load_buffer(m.p, len, NULL, NULL, &em, &err);
        CHECK(st == STATUS_OK || st == STATUS_INVALID_MODEL);
        engine_model_destroy(em);
    }
    free(m.p);
}

static void test_bad_varint(void) {
    unsigned char bad[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    pbuf m = {bad, sizeof bad, 0};
    engine_model *em;
    errinfo err;
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "varint") && has(err.msg, "byte 0"));
    unsigned char trunc[] = {0x3a, 0x05, 0x0a}; /* graph of 5 bytes, 1 present */
    m = (pbuf){trunc, sizeof trunc, 0};
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "past the end"));
    unsigned char group[] = {0x0b}; /* field 1, wire type 3 */
    m = (pbuf){group, sizeof group, 0};
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "wire type"));
    unsigned char wrong[] = {0x0a, 0x00}; /* ir_version as bytes */
    m = (pbuf){wrong, sizeof wrong, 0};
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "ModelProto.ir_version"));
}

/* A model whose single initializer is given by `t`, returned as output. */
static pbuf init_model(pbuf *t, const char *name) {
    pbuf g = {0}, vi;
    put_msg(&g, 5, t);
    vi = value_info(name, ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &vi);
    return model_of(&g, 13);
}

static void test_tensor_data(void) {
    engine_model *em;
    errinfo err;
    int64_t d23[] = {2, 3};
    float v[6] = {0};
    pbuf t = tensor_f("w", 2, d23, 5, v);
    pbuf m = init_model(&t, "w");
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "initializer 'w'") && has(err.msg, "float_data has 5 values") && has(err.msg, "need 6"));
    free(m.p);

    t = (pbuf){0};
    put_int(&t, 1, 2);
    put_int(&t, 2, ENGINE_FLOAT);
    put_str(&t, 8, "w");
    put_len(&t, 9, v, 7);
    m = init_model(&t, "w");
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "7 bytes") && has(err.msg, "need 8"));
    free(m.p);

    int64_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    t = tensor_f("w", 9, d9, 1, v);
    m = init_model(&t, "w");
    CHECK(load(&m, NULL, &em, &err) == STATUS_UNSUPPORTED);
    CHECK(has(err.msg, "rank 9"));
    free(m.p);

    int64_t huge[] = {INT64_MAX / 2, 4};
    t = tensor_f("w", 2, huge, 0, v);
    m = init_model(&t, "w");
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "overflows"));
    free(m.p);

    t = tensor_f("w", 0, NULL, 1, v);
    put_int(&t, 7, 5); /* int64_data on a float tensor */
    m = init_model(&t, "w");
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "int64_data"));
    free(m.p);
}

static void test_undefined_and_unsupported(void) {
    engine_model *em;
    errinfo err;
    pbuf g = {0}, n, vi;
    n = mknode("n1", "Relu", L("nope"), L("y"));
    put_msg(&g, 1, &n);
    vi = value_info("y", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &vi);
    pbuf m = model_of(&g, 13);
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "'n1'") && has(err.msg, "'nope'") && has(err.msg, "not defined"));
    free(m.p);

    g = (pbuf){0};
    vi = value_info("x", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 11, &vi);
    n = mknode("weird", "NoSuchOp", L("x"), L("y"));
    put_msg(&g, 1, &n);
    vi = value_info("y", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &vi);
    m = model_of(&g, 13);
    CHECK(load(&m, NULL, &em, &err) == STATUS_UNSUPPORTED);
    CHECK(has(err.msg, "node 'weird' (NoSuchOp, domain 'ai.onnx', opset 13): operator not supported by inferd"));
    free(m.p);

    /* A domain the model does not import. */
    g = (pbuf){0};
    vi = value_info("x", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 11, &vi);
    n = mknode("custom", "Foo", L("x"), L("y"));
    put_str(&n, 7, "com.example");
    put_msg(&g, 1, &n);
    vi = value_info("y", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &vi);
    m = model_of(&g, 13);
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "com.example") && has(err.msg, "opset"));
    free(m.p);
}

static void test_cycle(void) {
    engine_model *em;
    errinfo err;
    pbuf g = {0}, n, vi;
    vi = value_info("x", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 11, &vi);
    n = mknode("head", "Add", L("x", "b"), L("y"));
    put_msg(&g, 1, &n);
    n = mknode("a", "Relu", L("b"), L("a_out"));
    put_msg(&g, 1, &n);
    n = mknode("b", "Relu", L("a_out"), L("b"));
    put_msg(&g, 1, &n);
    vi = value_info("y", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &vi);
    pbuf m = model_of(&g, 13);
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "cycle") && (strstr(err.msg, "'a'") || strstr(err.msg, "'b'")));
    free(m.p);
}

/* Nodes listed out of order are sorted; Constants become initializers;
 * lifetimes are recorded; optional inputs stay -1. */
static void test_sort_and_lifetimes(void) {
    engine_model *em;
    errinfo err;
    pbuf g = {0}, n, vi, a = {0};
    vi = value_info("x", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 11, &vi);
    n = mknode("last", "Mul", L("t1", "c"), L("y", "unused"));
    put_msg(&g, 1, &n);
    n = mknode("first", "Relu", L("x", ""), L("t1"));
    put_msg(&g, 1, &n);
    n = mknode("const", "Constant", NULL, L("c"));
    put_str(&a, 1, "value_float");
    put_f32(&a, 2, 2.5f);
    put_int(&a, 20, 1);
    put_msg(&n, 5, &a);
    put_msg(&g, 1, &n);
    vi = value_info("y", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &vi);
    pbuf m = model_of(&g, 13);
    status st = build_only(&m, &em, &err);
    CHECK(st == STATUS_OK);
    if (!st) {
        const graph *gr = em->main;
        CHECK(gr->n_nodes == 2);
        CHECK(strcmp(gr->nodes[0].name, "first") == 0 && strcmp(gr->nodes[1].name, "last") == 0);
        CHECK(gr->nodes[0].n_inputs == 2 && gr->nodes[0].inputs[1] == -1);
        int c = find_value(gr, "c"), t1 = find_value(gr, "t1"), y = find_value(gr, "y");
        int x = find_value(gr, "x"), unused = find_value(gr, "unused");
        CHECK(c >= 0 && gr->values[c].kind == VALUE_INITIALIZER && gr->values[c].init.dtype == ENGINE_FLOAT);
        CHECK(c >= 0 && gr->values[c].init.shape.rank == 0 && *(const float *)gr->values[c].init.data == 2.5f);
        CHECK(t1 >= 0 && gr->values[t1].producer == 0 && gr->values[t1].last_use == 1);
        CHECK(x >= 0 && gr->values[x].last_use == 0);
        CHECK(y >= 0 && gr->values[y].producer == 1 && gr->values[y].last_use == 2 && gr->values[y].is_output);
        CHECK(unused >= 0 && gr->values[unused].last_use == 1);
        CHECK(gr->nodes[1].opset == 13 && strcmp(gr->nodes[1].domain, "") == 0);
    }
    engine_model_destroy(em);
    free(m.p);
}

/* An If whose branch reads a value of the enclosing graph that is produced
 * by a node listed after the If. */
static void test_subgraph_outer(void) {
    engine_model *em;
    errinfo err;
    pbuf g = {0}, n, vi, br = {0}, a = {0};
    vi = value_info("cond", ENGINE_BOOL, -1, NULL);
    put_msg(&g, 11, &vi);
    vi = value_info("x", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 11, &vi);
    put_str(&br, 2, "then_body");
    n = mknode("inner", "Neg", L("h"), L("z"));
    put_msg(&br, 1, &n);
    vi = value_info("z", ENGINE_FLOAT, -1, NULL);
    put_msg(&br, 12, &vi);
    n = mknode("if", "If", L("cond"), L("y"));
    put_str(&a, 1, "then_branch");
    put_int(&a, 20, 5);
    put_msg(&a, 6, &br);
    put_msg(&n, 5, &a);
    put_msg(&g, 1, &n);
    n = mknode("producer", "Relu", L("x"), L("h"));
    put_msg(&g, 1, &n);
    n = mknode("after", "Relu", L("h"), L("w"));
    put_msg(&g, 1, &n);
    vi = value_info("y", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &vi);
    vi = value_info("w", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &vi);
    pbuf m = model_of(&g, 13);
    status st = build_only(&m, &em, &err);
    CHECK(st == STATUS_OK);
    if (st) fprintf(stderr, "  %s\n", err.msg);
    if (!st) {
        const graph *gr = em->main;
        CHECK(gr->n_nodes == 3);
        CHECK(strcmp(gr->nodes[0].name, "producer") == 0 && strcmp(gr->nodes[1].name, "if") == 0);
        const attr *at = node_attr(&gr->nodes[1], "then_branch");
        CHECK(at && at->type == ATTR_GRAPH && at->g && at->g->parent == gr);
        int h = find_value(gr, "h");
        CHECK(h >= 0 && gr->values[h].last_use == 2);
        if (at && at->g) {
            const graph *sub = at->g;
            int hs = find_value(sub, "h");
            CHECK(hs >= 0 && sub->values[hs].kind == VALUE_OUTER && sub->values[hs].outer_index == h);
            CHECK(sub->n_nodes == 1 && sub->nodes[0].inputs[0] == hs);
        }
    }
    engine_model_destroy(em);
    free(m.p);

    /* The If reading its own output through the branch is a cycle. */
    g = (pbuf){0};
    br = (pbuf){0};
    a = (pbuf){0};
    vi = value_info("cond", ENGINE_BOOL, -1, NULL);
    put_msg(&g, 11, &vi);
    n = mknode("inner", "Neg", L("y"), L("z"));
    put_msg(&br, 1, &n);
    vi = value_info("z", ENGINE_FLOAT, -1, NULL);
    put_msg(&br, 12, &vi);
    n = mknode("selfish", "If", L("cond"), L("y"));
    put_str(&a, 1, "then_branch");
    put_int(&a, 20, 5);
    put_msg(&a, 6, &br);
    put_msg(&n, 5, &a);
    put_msg(&g, 1, &n);
    vi = value_info("y", ENGINE_FLOAT, -1, NULL);
    put_msg(&g, 12, &vi);
    m = model_of(&g, 13);
    CHECK(build_only(&m, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "cycle") && has(err.msg, "selfish"));
    free(m.p);
}

/* Graph attributes nested past the protobuf depth limit. */
static void test_depth_limit(void) {
    pbuf g = {0};
    put_str(&g, 2, "leaf");
    for (int i = 0; i < 40; i++) {
        pbuf a = {0}, n = {0}, outer = {0};
        put_str(&a, 1, "body");
        put_int(&a, 20, 5);
        put_msg(&a, 6, &g);
        put_str(&n, 4, "Loop");
        put_msg(&n, 5, &a);
        put_msg(&outer, 1, &n);
        g = outer;
    }
    pbuf m = model_of(&g, 13);
    engine_model *em;
    errinfo err;
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "nested deeper"));
    free(m.p);
}

static pbuf external_model(const char *location, const char *offset, const char *length) {
    pbuf t = {0}, e = {0};
    put_int(&t, 1, 4);
    put_int(&t, 2, ENGINE_FLOAT);
    put_str(&t, 8, "w");
    put_str(&e, 1, "location");
    put_str(&e, 2, location);
    put_msg(&t, 13, &e);
    if (offset) {
        put_str(&e, 1, "offset");
        put_str(&e, 2, offset);
        put_msg(&t, 13, &e);
    }
    if (length) {
        put_str(&e, 1, "length");
        put_str(&e, 2, length);
        put_msg(&t, 13, &e);
    }
    put_int(&t, 14, 1);
    return init_model(&t, "w");
}

static void test_external_data(void) {
    char dir[] = "/tmp/inferd_test_loader_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        failures++;
        return;
    }
    char path[256];
    float w[5] = {9, 1, 2, 3, 4};
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    FILE *f = fopen(path, "wb");
    fwrite(w, sizeof w, 1, f);
    fclose(f);
    engine_model *em;
    errinfo err;

    pbuf m = external_model("weights.bin", "4", "16");
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    f = fopen(path, "wb");
    fwrite(m.p, m.n, 1, f);
    fclose(f);
    status st = engine_model_load(path, NULL, &em, &err);
    CHECK(st == STATUS_OK);
    if (st) fprintf(stderr, "  %s\n", err.msg);
    if (!st) {
        const graph *g = engine_model_graph(em);
        const float *d = g->values[find_value(g, "w")].init.data;
        CHECK(d[0] == 1 && d[3] == 4);
        CHECK(engine_model_weight_bytes(em) == 16);
    }
    engine_model_destroy(em);
    /* From memory: only with a base directory. */
    CHECK(load(&m, dir, &em, &err) == STATUS_OK);
    engine_model_destroy(em);
    CHECK(load(&m, NULL, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "base directory"));
    free(m.p);

    m = external_model("../weights.bin", NULL, NULL);
    CHECK(load(&m, dir, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "..") && has(err.msg, "leaves the model's directory"));
    free(m.p);
    m = external_model("sub/../../etc/passwd", NULL, NULL);
    CHECK(load(&m, dir, &em, &err) == STATUS_INVALID_MODEL);
    free(m.p);
    m = external_model("/etc/passwd", NULL, NULL);
    CHECK(load(&m, dir, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "absolute"));
    free(m.p);
    m = external_model("weights.bin", "8", "16");
    CHECK(load(&m, dir, &em, &err) == STATUS_INVALID_MODEL);
    CHECK(has(err.msg, "past the end"));
    free(m.p);
    m = external_model("weights.bin", "4", NULL); /* rest of file: 16 bytes */
    CHECK(load(&m, dir, &em, &err) == STATUS_OK);
    engine_model_destroy(em);
    free(m.p);
    m = external_model("weights.bin", "-1", NULL);
    CHECK(load(&m, dir, &em, &err) == STATUS_INVALID_MODEL);
    free(m.p);
    m = external_model("missing.bin", NULL, NULL);
    CHECK(load(&m, dir, &em, &err) == STATUS_IO_ERROR);
    CHECK(has(err.msg, "missing.bin"));
    free(m.p);

    snprintf(path, sizeof path, "%s/weights.bin", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    unlink(path);
    rmdir(dir);
}

static void test_tensor_from_proto(void) {
    engine_tensor t;
    char *name;
    errinfo err;
    int64_t d[] = {2, 2};
    float v[] = {1, 2, 3, 4};
    pbuf b = tensor_f("in", 2, d, 4, v);
    CHECK(engine_tensor_from_proto(b.p, b.n, &t, &name, &err) == STATUS_OK);
    CHECK(t.dtype == ENGINE_FLOAT && t.shape.rank == 2 && t.nbytes == 16 && ((float *)t.data)[3] == 4);
    CHECK(name && strcmp(name, "in") == 0);
    free(name);
    engine_tensor_release(&t);
    for (size_t len = 0; len < b.n; len++) { /* truncations */
        status st = engine_tensor_from_proto(b.p, len, &t, NULL, &err);
        CHECK(st == STATUS_OK || st == STATUS_INVALID_MODEL);
        engine_tensor_release(&t);
    }
    free(b.p);

    /* float16 in int32_data; strings; bool normalisation from raw_data. */
    b = (pbuf){0};
    put_int(&b, 1, 2);
    put_int(&b, 2, ENGINE_FLOAT16);
    put_int(&b, 5, 0x3c00);
    put_int(&b, 5, 0xc000);
    CHECK(engine_tensor_from_proto(b.p, b.n, &t, NULL, &err) == STATUS_OK);
    CHECK(t.dtype == ENGINE_FLOAT16 && ((uint16_t *)t.data)[0] == 0x3c00 && ((uint16_t *)t.data)[1] == 0xc000);
    engine_tensor_release(&t);
    free(b.p);

    b = (pbuf){0};
    put_int(&b, 1, 2);
    put_int(&b, 2, ENGINE_STRING);
    put_str(&b, 6, "hello");
    put_str(&b, 6, "");
    CHECK(engine_tensor_from_proto(b.p, b.n, &t, NULL, &err) == STATUS_OK);
    const engine_string *s = t.data;
    CHECK(t.dtype == ENGINE_STRING && s[0].len == 5 && memcmp(s[0].ptr, "hello", 5) == 0 && s[1].len == 0);
    engine_tensor_release(&t);
    free(b.p);

    b = (pbuf){0};
    put_int(&b, 1, 3);
    put_int(&b, 2, ENGINE_BOOL);
    put_len(&b, 9, "\x00\x01\x07", 3);
    CHECK(engine_tensor_from_proto(b.p, b.n, &t, NULL, &err) == STATUS_OK);
    CHECK(((uint8_t *)t.data)[2] == 1);
    engine_tensor_release(&t);
    free(b.p);

    /* External data is refused for standalone tensors. */
    b = (pbuf){0};
    put_int(&b, 2, ENGINE_FLOAT);
    put_int(&b, 14, 1);
    CHECK(engine_tensor_from_proto(b.p, b.n, &t, NULL, &err) == STATUS_INVALID_MODEL);
    free(b.p);

    /* Complex is unsupported, type 99 invalid, no type invalid. */
    b = (pbuf){0};
    put_int(&b, 2, 14);
    CHECK(engine_tensor_from_proto(b.p, b.n, &t, NULL, &err) == STATUS_UNSUPPORTED);
    free(b.p);
    b = (pbuf){0};
    put_int(&b, 2, 99);
    CHECK(engine_tensor_from_proto(b.p, b.n, &t, NULL, &err) == STATUS_INVALID_MODEL);
    free(b.p);
    CHECK(engine_tensor_from_proto("", 0, &t, NULL, &err) == STATUS_INVALID_MODEL);
}

/* Real files from Debian's ONNX test data, when installed. */
static void test_real_files(void) {
    const char *dir = "/usr/share/libonnx-testdata/data/node";
    char path[512];
    snprintf(path, sizeof path, "%s/test_if/model.onnx", dir);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "  (skipping real files: %s not found)\n", path);
        return;
    }
    static const char *const cases[] = {"test_if", "test_loop11", "test_scan9_sum", "test_conv_with_strides_padding",
                                         "test_cast_FLOAT_to_FLOAT16", "test_constant", "test_resize_upsample_scales_linear"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        engine_model *em;
        errinfo err;
        snprintf(path, sizeof path, "%s/%s/model.onnx", dir, cases[i]);
        status st = engine_model_load(path, NULL, &em, &err);
        /* Which operators exist changes; the loader must never fail otherwise. */
        CHECK(st == STATUS_OK || st == STATUS_UNSUPPORTED);
        if (st && st != STATUS_UNSUPPORTED) fprintf(stderr, "  %s: %s\n", cases[i], err.msg);
        engine_model_destroy(em);

        FILE *f = fopen(path, "rb");
        pbuf m = {0};
        char chunk[4096];
        size_t r;
        while (f && (r = fread(chunk, 1, sizeof chunk, f)) > 0) put(&m, chunk, r);
        if (f) fclose(f);
        st = build_only(&m, &em, &err);
        CHECK(st == STATUS_OK);
        engine_model_destroy(em);
        free(m.p);
    }
    snprintf(path, sizeof path, "%s/test_if/test_data_set_0/output_0.pb", dir);
    FILE *f = fopen(path, "rb");
    if (f) {
        char buf[4096];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        engine_tensor t;
        errinfo err;
        CHECK(engine_tensor_from_proto(buf, len, &t, NULL, &err) == STATUS_OK);
        CHECK(t.dtype == ENGINE_FLOAT && t.shape.rank == 1 && t.shape.dims[0] == 5);
        engine_tensor_release(&t);
    }
}

/* Resident set size of this process, in bytes. */
static size_t rss_bytes(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* A weight whose raw bytes are misaligned in the file is copied; the file's
 * pages under it must not stay resident as well (weights counted twice). */
static void test_copied_weights_rss(void) {
    enum { N = 8 << 20 }; /* 32 MB of floats */
    float *w = malloc((size_t)N * sizeof *w);
    if (!w) return;
    for (int i = 0; i < N; i++) w[i] = (float)(i % 1000);
    char path[] = "/tmp/inferd_test_rss_XXXXXX";
    int copied_once = 0;
    /* The name's length moves raw_data's offset in the file: try until
     * the bytes are misaligned, so the loader has to copy them. */
    for (int name_len = 1; name_len <= 4 && !copied_once; name_len++) {
        char name[8] = "wwww";
        name[name_len] = '\0';
        pbuf t = {0};
        int64_t dims[] = {N};
        put_int(&t, 1, dims[0]);
        put_int(&t, 2, ENGINE_FLOAT);
        put_str(&t, 8, name);
        put_len(&t, 9, w, (size_t)N * sizeof *w);
        pbuf m = init_model(&t, name);
        free(t.p);
        int fd = mkstemp(path);
        CHECK(fd >= 0 && write(fd, m.p, m.n) == (ssize_t)m.n);
        if (fd >= 0) close(fd);
        free(m.p);
        size_t before = rss_bytes();
        engine_model *em;
        errinfo err;
        CHECK(engine_model_load(path, NULL, &em, &err) == STATUS_OK);
        const graph *g = engine_model_graph(em);
        const float *d = g->values[find_value(g, name)].init.data;
        const char *map = em->file_map;
        int copied = !((const char *)d >= map && (const char *)d < map + em->file_len);
        if (copied) {
            copied_once = 1;
            CHECK(d[N - 1] == (float)((N - 1) % 1000));
            size_t grown = rss_bytes() - before, size = (size_t)N * sizeof *w;
            CHECK(grown < size + size / 2);
            if (grown >= size + size / 2)
                fprintf(stderr, "  RSS grew by %zu bytes loading %zu bytes of weights\n", grown, size);
        }
        engine_model_destroy(em);
        unlink(path);
        strcpy(path, "/tmp/inferd_test_rss_XXXXXX");
    }
    CHECK(copied_once);
    free(w);
}

int main(void) {
    test_passthrough();
    test_bad_varint();
    test_tensor_data();
    test_undefined_and_unsupported();
    test_cycle();
    test_sort_and_lifetimes();
    test_subgraph_outer();
    test_depth_limit();
    test_external_data();
    test_copied_weights_rss();
    test_tensor_from_proto();
    test_real_files();
    if (failures) {
        fprintf(stderr, "test_onnx_loader: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_onnx_loader: ok\n");
    return 0;
}
