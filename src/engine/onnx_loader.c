/* onnx_loader.c -- engine_model_load: file -> decoded views -> graph ->
 * operators bound and prepared.
 *
 * After graph_build.c has turned the ModelProto into a graph, two passes
 * finish the model:
 *  - bind: every node (subgraphs included) gets its op_desc from the
 *    registry for its (domain, op_type, opset); the first node the engine
 *    cannot run fails the load with STATUS_UNSUPPORTED, naming it.
 *  - prepare: in topological order each op's prepare() checks its attributes
 *    and input types and sets its outputs' types: the load-time type
 *    inference pass. A subgraph is prepared just before the node that owns
 *    it, so its outer values are typed and the owner (If, Loop) can read the
 *    subgraph's output types. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_loader.h"
#include "op.h"
#include "optimize.h"

const graph *engine_model_graph(const engine_model *m) { return m->main; }

const char *engine_version(void) { return INFERD_VERSION; }

/* Calls fn on every subgraph attribute of n. Stops at the first error. */
static status for_each_subgraph(graph *g, node *n, status (*fn)(graph *sub, graph *owner, node *n, errinfo *err),
                                errinfo *err) {
    for (int a = 0; a < n->n_attrs; a++) {
        attr *at = &n->attrs[a];
        int count = at->type == ATTR_GRAPH ? 1 : at->type == ATTR_GRAPHS ? at->count : 0;
        for (int q = 0; q < count; q++) {
            graph *sub = at->type == ATTR_GRAPH ? at->g : at->graphs[q];
            status st = sub ? fn(sub, g, n, err) : STATUS_OK;
            if (st)
                return status_wrap(err, st, "in subgraph '%s' (attribute '%s') of node '%s' (%s)",
                                   sub->name, at->name, n->name, n->op_type);
        }
    }
    return STATUS_OK;
}

/* --- bind ------------------------------------------------------------------ */

static status bind_graph(graph *g, errinfo *err);

static status bind_sub(graph *sub, graph *owner, node *n, errinfo *err) {
    (void)owner;
    (void)n;
    return bind_graph(sub, err);
}

static status bind_graph(graph *g, errinfo *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        node *n = &g->nodes[i];
        n->op = op_registry_find(n->domain, n->op_type, n->opset);
        if (!n->op) {
            /* An unnamed node is best found by what it produces. */
            const value *out = node_output_value(g, n, 0);
            char who[160] = "";
            if (!n->name[0] && out) snprintf(who, sizeof who, " producing '%.120s'", out->name);
            return status_fail(err, STATUS_UNSUPPORTED,
                               "node '%s' (%s, domain '%s', opset %d)%s: operator not supported by inferd",
                               n->name, n->op_type, n->domain[0] ? n->domain : "ai.onnx", n->opset, who);
        }
        status st = for_each_subgraph(g, n, bind_sub, err);
        if (st) return st;
    }
    return STATUS_OK;
}

/* --- prepare --------------------------------------------------------------- */

static status prepare_graph(graph *g, errinfo *err);

/* Exporters may leave a Loop or Scan body's inputs untyped (ONNX's own
 * function expansions do); their types follow from the node's inputs, as
 * ONNX type inference derives them:
 *   Loop body:  (iteration_num int64, condition bool, carried = node input 2+)
 *   Scan body:  (states and scan elements = node inputs; Scan-8 first takes
 *               sequence_lens, which has no body counterpart). */
static void infer_body_input_types(graph *sub, const graph *owner, const node *n) {
    int is_loop = strcmp(n->op_type, "Loop") == 0, is_scan = strcmp(n->op_type, "Scan") == 0;
    if (n->domain[0] || (!is_loop && !is_scan)) return;
    int shift = is_scan && n->opset < 9 ? 1 : 0;
    for (int k = 0; k < sub->n_inputs; k++) {
        value *v = &sub->values[sub->inputs[k]];
        if (v->dtype != ENGINE_UNDEFINED) continue;
        if (is_loop && k < 2) v->dtype = k == 0 ? ENGINE_INT64 : ENGINE_BOOL;
        else v->dtype = node_input_dtype(owner, n, k + shift);
        v->decl.dtype = v->dtype;
    }
}

static status prepare_sub(graph *sub, graph *owner, node *n, errinfo *err) {
    infer_body_input_types(sub, owner, n);
    return prepare_graph(sub, err);
}

static status check_outputs_typed(const graph *g, const node *n, errinfo *err) {
    for (int k = 0; k < n->n_outputs; k++) {
        const value *v = node_output_value(g, n, k);
        if (v && v->dtype == ENGINE_UNDEFINED)
            return status_fail(err, STATUS_INTERNAL,
                               "node '%s' (%s): the operator's prepare left output %d ('%s') without a type",
                               n->name, n->op_type, k, v->name);
    }
    return STATUS_OK;
}

/* Graph outputs must be typed, and agree with what the model declares. */
static status check_graph_outputs(graph *g, errinfo *err) {
    for (int i = 0; i < g->n_outputs; i++) {
        value *v = &g->values[g->outputs[i]];
        if (v->dtype == ENGINE_UNDEFINED)
            return status_fail(err, STATUS_INVALID_MODEL, "graph '%s': output '%s' has no known type",
                               g->name, v->name);
        if (v->decl.dtype == ENGINE_UNDEFINED) v->decl.dtype = v->dtype;
        if (v->decl.dtype != v->dtype)
            return status_fail(err, STATUS_INVALID_MODEL,
                               "graph '%s': output '%s' is declared %s but computed as %s", g->name,
                               v->name, engine_dtype_name(v->decl.dtype), engine_dtype_name(v->dtype));
    }
    return STATUS_OK;
}

static status prepare_graph(graph *g, errinfo *err) {
    for (int v = 0; v < g->n_values; v++) {
        value *val = &g->values[v];
        if (val->kind == VALUE_OUTER && g->parent) val->dtype = g->parent->values[val->outer_index].dtype;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        node *n = &g->nodes[i];
        status st = for_each_subgraph(g, n, prepare_sub, err);
        if (st) return st;
        if (!n->op->prepare)
            return status_fail(err, STATUS_INTERNAL, "node '%s' (%s): operator has no prepare()",
                               n->name, n->op_type);
        st = n->op->prepare(g, n, err);
        if (st) return st;
        if ((st = check_outputs_typed(g, n, err))) return st;
    }
    return check_graph_outputs(g, err);
}

/* --- teardown -------------------------------------------------------------- */

static void free_states(graph *g);

static status free_sub(graph *sub, graph *owner, node *n, errinfo *err) {
    (void)owner;
    (void)n;
    (void)err;
    free_states(sub);
    return STATUS_OK;
}

static void free_states(graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        node *n = &g->nodes[i];
        for_each_subgraph(g, n, free_sub, NULL);
        if (!n->state) continue;
        if (n->op && n->op->free_state)
            n->op->free_state(n->state);
        else
            free(n->state);
        n->state = NULL;
    }
}

void engine_model_destroy(engine_model *m) {
    if (!m) return;
    if (m->main) free_states(m->main);
    model_arena_free(&m->arena);
    external_data_unmap(m->external);
    if (m->file_map) munmap(m->file_map, m->file_len);
    free(m->base_dir);
    free(m);
}

/* --- load ------------------------------------------------------------------ */

static status model_build(engine_model *m, const void *buf, size_t len,
                          const engine_load_options *opts, errinfo *err) {
    model_arena scratch = {0};
    pb_model *pm;
    graph *g;
    status st = pb_decode_model(buf, len, &scratch, &pm, err);
    if (st) goto done;
    m->ir_version = pm->ir_version;
    /* Nothing built below points into the scratch views: names, lists and
     * converted tensors are copied into m->arena, raw data points into buf. */
    if ((st = graph_build(m, pm, &g, err))) goto done;
    m->main = g;
    if (g->n_outputs == 0) {
        st = status_fail(err, STATUS_INVALID_MODEL, "the graph declares no outputs");
        goto done;
    }
    if ((!opts || opts->optimize) && (st = graph_optimize(m, g, err))) goto done;
    if ((st = bind_graph(g, err))) goto done;
    st = prepare_graph(g, err);
done:
    model_arena_free(&scratch);
    return st;
}

status engine_model_load_buffer(const void *buf, size_t len, const char *base_dir,
                                const engine_load_options *opts, engine_model **out, errinfo *err) {
    *out = NULL;
    engine_model *m = calloc(1, sizeof *m);
    status st;
    if (!m) return status_fail(err, STATUS_NO_MEMORY, "out of memory loading a model");
    if (base_dir && !(m->base_dir = strdup(base_dir))) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory loading a model");
        goto fail;
    }
    if ((st = model_build(m, buf, len, opts, err))) goto fail;
    *out = m;
    return STATUS_OK;
fail:
    engine_model_destroy(m);
    return st;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

status engine_model_load(const char *path, const engine_load_options *opts, engine_model **out,
                         errinfo *err) {
    *out = NULL;
    engine_model *m = calloc(1, sizeof *m);
    int fd = -1;
    status st;
    struct stat sb;
    if (!m || !(m->base_dir = dir_of(path))) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory loading %s", path);
        goto fail;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st = status_fail(err, errno == ENOENT ? STATUS_NOT_FOUND : STATUS_IO_ERROR, "cannot open %s: %s",
                         path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = status_fail(err, STATUS_INVALID_MODEL, "%s is not a regular file", path);
        goto fail;
    }
    if (sb.st_size == 0) {
        st = status_fail(err, STATUS_INVALID_MODEL, "%s is empty", path);
        goto fail;
    }
    m->file_len = (size_t)sb.st_size;
    m->file_map = mmap(NULL, m->file_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->file_map == MAP_FAILED) {
        m->file_map = NULL;
        st = status_fail(err, STATUS_IO_ERROR, "cannot map %s: %s", path, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    if ((st = model_build(m, m->file_map, m->file_len, opts, err))) {
        status_wrap(err, st, "%s", path);
        goto fail;
    }
    *out = m;
    return STATUS_OK;
fail:
    if (fd >= 0) close(fd);
    engine_model_destroy(m);
    return st;
}

/* --- metadata -------------------------------------------------------------- */

int engine_model_input_count(const engine_model *m) { return m->main->n_inputs; }
int engine_model_output_count(const engine_model *m) { return m->main->n_outputs; }

const engine_io_info *engine_model_input(const engine_model *m, int i) {
    if (i < 0 || i >= m->main->n_inputs) return NULL;
    return &m->main->values[m->main->inputs[i]].decl;
}

const engine_io_info *engine_model_output(const engine_model *m, int i) {
    if (i < 0 || i >= m->main->n_outputs) return NULL;
    return &m->main->values[m->main->outputs[i]].decl;
}

int engine_model_find_input(const engine_model *m, const char *name) {
    for (int i = 0; i < m->main->n_inputs; i++)
        if (strcmp(m->main->values[m->main->inputs[i]].name, name) == 0) return i;
    return -1;
}

int engine_model_find_output(const engine_model *m, const char *name) {
    for (int i = 0; i < m->main->n_outputs; i++)
        if (strcmp(m->main->values[m->main->outputs[i]].name, name) == 0) return i;
    return -1;
}

size_t engine_model_weight_bytes(const engine_model *m) { return m->weight_bytes; }
