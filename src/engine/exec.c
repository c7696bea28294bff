/* exec.c -- runs a graph: frames of values, node dispatch, buffer lifetimes.
 *
 * A frame holds the tensors of one graph execution: the main graph's frame
 * lives in the session, each subgraph call gets its own. Values are released
 * after their last reader: into the session's arena plan (see planner.h)
 * when they fit their planned slot, or with free() otherwise. */
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "model.h"
#include "op.h"
#include "planner.h"
#include "session.h"
#include "shape.h"

#define EXEC_ALIGN 64

typedef enum slot_kind {
    SLOT_EMPTY = 0,
    SLOT_BORROWED,      /* caller input, initializer: not ours to free */
    SLOT_HEAP,          /* malloc'd, freed after the last reader */
    SLOT_ARENA          /* inside the session's planned arena */
} slot_kind;

typedef struct frame {
    const graph *g;
    struct frame *parent;
    engine_tensor *t;           /* per value */
    unsigned char *kind;        /* slot_kind per value */
    int planned;                /* outputs go to the session's arena plan */
    int record;                 /* record output sizes to build a plan */
} frame;

struct exec_ctx {
    engine_session *s;
    frame *f;
    const node *n;
    int node_index;
    errinfo *err;
};

/* --- values ------------------------------------------------------------ */

/* Resolves outer-scope references to the frame that owns the value. */
static frame *frame_owner(frame *f, int *idx) {
    while (f && f->g->values[*idx].kind == VALUE_OUTER) {
        *idx = f->g->values[*idx].outer_index;
        f = f->parent;
    }
    return f;
}

static void *alloc_aligned(size_t bytes) {
    size_t rounded = (bytes + EXEC_ALIGN - 1) & ~(size_t)(EXEC_ALIGN - 1);
    return aligned_alloc(EXEC_ALIGN, rounded ? rounded : EXEC_ALIGN);
}

static void slot_release(frame *f, int idx) {
    if (f->kind[idx] == SLOT_HEAP) free(f->t[idx].data);
    f->kind[idx] = SLOT_EMPTY;
    memset(&f->t[idx], 0, sizeof f->t[idx]);
}

static void frame_bind_constants(frame *f) {
    for (int i = 0; i < f->g->n_values; i++) {
        if (f->g->values[i].kind != VALUE_INITIALIZER) continue;
        f->t[i] = f->g->values[i].init;
        f->kind[i] = SLOT_BORROWED;
    }
}

static status frame_init(frame *f, const graph *g, frame *parent) {
    memset(f, 0, sizeof *f);
    f->g = g;
    f->parent = parent;
    f->t = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *f->t);
    f->kind = calloc((size_t)(g->n_values ? g->n_values : 1), 1);
    if (!f->t || !f->kind) {
        free(f->t);
        free(f->kind);
        return STATUS_NO_MEMORY;
    }
    frame_bind_constants(f);
    return STATUS_OK;
}

static void frame_clear(frame *f) {
    for (int i = 0; i < f->g->n_values; i++) slot_release(f, i);
}

static void frame_deinit(frame *f) {
    if (!f->t) return;
    frame_clear(f);
    free(f->t);
    free(f->kind);
    f->t = NULL;
    f->kind = NULL;
}

/* Releases what node i was the last reader of, and outputs nobody reads. */
static void frame_release_dead(frame *f, int i) {
    const node *n = &f->g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v < 0) continue;
        const value *val = &f->g->values[v];
        if (val->kind != VALUE_INTERMEDIATE || val->is_output) continue;
        if (val->last_use <= i) slot_release(f, v);
    }
    for (int k = 0; k < n->n_outputs; k++) {
        int v = n->outputs[k];
        if (v < 0) continue;
        const value *val = &f->g->values[v];
        if (!val->is_output && val->last_use <= i) slot_release(f, v);
    }
}

/* --- the interface ops see ----------------------------------------------- */

int exec_input_count(const exec_ctx *x) { return x->n->n_inputs; }
int exec_output_count(const exec_ctx *x) { return x->n->n_outputs; }
int exec_threads(const exec_ctx *x) { return x->s->threads; }

const engine_tensor *exec_input(const exec_ctx *x, int i) {
    if (i < 0 || i >= x->n->n_inputs || x->n->inputs[i] < 0) return NULL;
    int idx = x->n->inputs[i];
    frame *f = frame_owner(x->f, &idx);
    if (!f || f->kind[idx] == SLOT_EMPTY) return NULL;
    return &f->t[idx];
}

int exec_output_wanted(const exec_ctx *x, int k) {
    return k >= 0 && k < x->n->n_outputs && x->n->outputs[k] >= 0;
}

status exec_fail(exec_ctx *x, status st, const char *fmt, ...) {
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return status_fail(x->err, st, "node '%s' (%s): %s", x->n->name, x->n->op_type, detail);
}

void *exec_scratch(exec_ctx *x, size_t bytes) { return scratch_alloc(&x->s->scratch, bytes); }

static status output_bytes(exec_ctx *x, int k, engine_dtype dt, const engine_shape *shape,
                           size_t *bytes) {
    char buf[128];
    int64_t numel = engine_shape_numel(shape);
    size_t esize = engine_dtype_size(dt);
    if (shape->rank < 0 || shape->rank > ENGINE_MAX_RANK || numel < 0)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output %d has invalid shape %s", k,
                         shape_format(shape, buf, sizeof buf));
    if (esize == 0)
        return exec_fail(x, STATUS_INTERNAL, "output %d has no element type", k);
    if ((uint64_t)numel > SIZE_MAX / esize / 2)
        return exec_fail(x, STATUS_INVALID_ARGUMENT, "output %d shape %s is too large", k,
                         shape_format(shape, buf, sizeof buf));
    *bytes = (size_t)numel * esize;
    return STATUS_OK;
}

static void *output_memory(exec_ctx *x, int idx, size_t bytes, unsigned char *kind) {
    frame *f = x->f;
    engine_session *s = x->s;
    const value *val = &f->g->values[idx];
    if (f->record && !val->is_output && bytes > s->recorded[idx]) s->recorded[idx] = bytes;
    if (f->planned && !val->is_output && bytes && s->plan.size[idx] >= bytes) {
        *kind = SLOT_ARENA;
        return s->plan.arena + s->plan.offset[idx];
    }
    *kind = SLOT_HEAP;
    return alloc_aligned(bytes);
}

status exec_output(exec_ctx *x, int k, engine_dtype dt, const engine_shape *shape,
                   engine_tensor **out) {
    size_t bytes = 0;
    if (k < 0 || k >= x->n->n_outputs)
        return exec_fail(x, STATUS_INTERNAL, "output %d out of range", k);
    status st = output_bytes(x, k, dt, shape, &bytes);
    if (st) return st;
    int idx = x->n->outputs[k];
    engine_tensor *t;
    void *data;
    if (idx < 0) { /* omitted output: scratch, gone when the node returns */
        t = exec_scratch(x, sizeof *t);
        data = exec_scratch(x, bytes);
        if (!t || !data) return exec_fail(x, STATUS_NO_MEMORY, "out of memory for output %d", k);
    } else {
        if (x->f->kind[idx] != SLOT_EMPTY)
            return exec_fail(x, STATUS_INTERNAL, "output %d produced twice", k);
        unsigned char kind;
        data = output_memory(x, idx, bytes, &kind);
        if (!data)
            return exec_fail(x, STATUS_NO_MEMORY, "out of memory for output %d (%zu bytes)", k,
                             bytes);
        t = &x->f->t[idx];
        x->f->kind[idx] = kind;
    }
    t->dtype = dt;
    t->shape = *shape;
    t->data = data;
    t->nbytes = bytes;
    *out = t;
    return STATUS_OK;
}

void exec_parallel_for(const exec_ctx *x, int64_t n,
                       void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx) {
    int threads = x->s->threads;
    if (threads > n) threads = (int)n;
    if (threads <= 1) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        int id = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t begin = n * id / nt, end = n * (id + 1) / nt;
        if (begin < end) fn(ctx, begin, end);
    }
}

/* --- running a frame ----------------------------------------------------- */

static status node_check_outputs(exec_ctx *x) {
    for (int k = 0; k < x->n->n_outputs; k++) {
        int idx = x->n->outputs[k];
        if (idx >= 0 && x->f->kind[idx] == SLOT_EMPTY)
            return exec_fail(x, STATUS_INTERNAL, "operator did not produce output %d", k);
    }
    return STATUS_OK;
}

static status frame_run(engine_session *s, frame *f, errinfo *err) {
    for (int i = 0; i < f->g->n_nodes; i++) {
        exec_ctx x = {.s = s, .f = f, .n = &f->g->nodes[i], .node_index = i, .err = err};
        scratch_mark mark = scratch_push(&s->scratch);
        status st = x.n->op->run(x.n, &x);
        scratch_pop(&s->scratch, mark);
        if (!st) st = node_check_outputs(&x);
        if (st) return st;
        frame_release_dead(f, i);
    }
    return STATUS_OK;
}

/* Hands graph output k to the caller: moves heap data, copies the rest. */
static status frame_take_output(frame *f, int k, engine_tensor *out, errinfo *err) {
    int idx = f->g->outputs[k];
    frame *owner = frame_owner(f, &idx);
    if (!owner || owner->kind[idx] == SLOT_EMPTY)
        return status_fail(err, STATUS_INTERNAL, "graph output '%s' was not computed",
                           f->g->values[f->g->outputs[k]].name);
    engine_tensor *t = &owner->t[idx];
    *out = *t;
    if (owner == f && f->kind[idx] == SLOT_HEAP) {
        /* moved: a second listing of the same value will copy from `out` */
        f->kind[idx] = SLOT_BORROWED;
        return STATUS_OK;
    }
    out->data = alloc_aligned(t->nbytes);
    if (!out->data) return status_fail(err, STATUS_NO_MEMORY, "out of memory for outputs");
    if (t->nbytes) memcpy(out->data, t->data, t->nbytes);
    return STATUS_OK;
}

static status frame_take_outputs(frame *f, engine_tensor *outputs, errinfo *err) {
    for (int k = 0; k < f->g->n_outputs; k++) {
        status st = frame_take_output(f, k, &outputs[k], err);
        if (st) {
            for (int j = 0; j < k; j++) engine_tensor_release(&outputs[j]);
            return st;
        }
    }
    return STATUS_OK;
}

status exec_run_subgraph(exec_ctx *x, const graph *g, const engine_tensor *inputs,
                         int n_inputs, engine_tensor *outputs) {
    if (n_inputs != g->n_inputs)
        return exec_fail(x, STATUS_INVALID_MODEL, "subgraph '%s' takes %d inputs, given %d",
                         g->name ? g->name : "", g->n_inputs, n_inputs);
    frame sub;
    if (frame_init(&sub, g, x->f)) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
    for (int i = 0; i < n_inputs; i++) {
        sub.t[g->inputs[i]] = inputs[i];
        sub.kind[g->inputs[i]] = SLOT_BORROWED;
    }
    status st = frame_run(x->s, &sub, x->err);
    if (!st) st = frame_take_outputs(&sub, outputs, x->err);
    frame_deinit(&sub);
    return st;
}

/* --- sessions -------------------------------------------------------------- */

static void plan_clear(exec_plan *p, int n_values) {
    free(p->arena);
    p->arena = NULL;
    p->arena_size = 0;
    p->valid = 0;
    if (p->size) memset(p->size, 0, sizeof(size_t) * (size_t)n_values);
}

/* True when a value of the last run did not fit its slot (or there is no
 * plan yet): the plan should grow. */
static int plan_outgrown(const engine_session *s) {
    if (!s->plan.valid) return 1;
    for (int v = 0; v < s->g->n_values; v++)
        if (s->recorded[v] > s->plan.size[v]) return 1;
    return 0;
}

/* Lays out, for each intermediate value, the larger of its planned size and
 * the size the last run recorded. Slots depend on lifetimes only, which are
 * the same for every input shape, so a plan serves any shapes whose values
 * fit: it grows to the largest run seen instead of being rebuilt whenever
 * the shapes change (a dynamic batcher sends every batch size up to its
 * maximum). Failing to plan is not an error: the old plan (or malloc)
 * keeps serving. */
static void plan_build(engine_session *s, const engine_tensor *inputs) {
    const graph *g = s->g;
    exec_plan *p = &s->plan;
    planner_item *items = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *items);
    if (!items) return;
    for (int v = 0; v < g->n_values; v++) {
        const value *val = &g->values[v];
        size_t size = s->recorded[v];
        if (p->valid && p->size[v] > size) size = p->size[v];
        if (val->kind != VALUE_INTERMEDIATE || val->is_output || !size) continue;
        items[v].size = size;
        items[v].first = val->producer;
        items[v].last = val->last_use > val->producer ? val->last_use : val->producer;
    }
    size_t total;
    unsigned char *arena = NULL;
    if (planner_assign(items, g->n_values, &total) == 0 &&
        (arena = aligned_alloc(EXEC_ALIGN, total ? total : EXEC_ALIGN)) != NULL) {
        free(p->arena);
        p->arena = arena;
        for (int v = 0; v < g->n_values; v++) {
            p->size[v] = items[v].size;
            p->offset[v] = items[v].offset;
        }
        for (int i = 0; i < g->n_inputs; i++) {
            p->input_shapes[i] = inputs[i].shape;
            p->input_dtypes[i] = inputs[i].dtype;
        }
        p->arena_size = total;
        p->valid = 1;
    }
    free(items);
}

status engine_session_create(const engine_model *m, const engine_session_options *opts,
                             engine_session **out, errinfo *err) {
    engine_session *s = calloc(1, sizeof *s);
    if (!s) goto fail;
    s->model = m;
    s->g = engine_model_graph(m);
    s->threads = opts && opts->threads > 0 ? opts->threads : 1;
    size_t nv = (size_t)(s->g->n_values ? s->g->n_values : 1);
    size_t ni = (size_t)(s->g->n_inputs ? s->g->n_inputs : 1);
    s->recorded = calloc(nv, sizeof(size_t));
    s->plan.size = calloc(nv, sizeof(size_t));
    s->plan.offset = calloc(nv, sizeof(size_t));
    s->plan.input_shapes = calloc(ni, sizeof(engine_shape));
    s->plan.input_dtypes = calloc(ni, sizeof(engine_dtype));
    if (!s->recorded || !s->plan.size || !s->plan.offset || !s->plan.input_shapes ||
        !s->plan.input_dtypes)
        goto fail;
    *out = s;
    return STATUS_OK;
fail:
    engine_session_destroy(s);
    return status_fail(err, STATUS_NO_MEMORY, "out of memory creating a session");
}

void engine_session_destroy(engine_session *s) {
    if (!s) return;
    plan_clear(&s->plan, 0);
    free(s->plan.size);
    free(s->plan.offset);
    free(s->plan.input_shapes);
    free(s->plan.input_dtypes);
    free(s->recorded);
    scratch_free(&s->scratch);
    free(s);
}

static status check_input(const value *v, const engine_tensor *t, errinfo *err) {
    char want[128], got[128];
    if (t->dtype != v->dtype)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "input '%s': expected %s, got %s",
                           v->name, engine_dtype_name(v->dtype), engine_dtype_name(t->dtype));
    int64_t numel = engine_shape_numel(&t->shape);
    if (t->shape.rank < 0 || t->shape.rank > ENGINE_MAX_RANK || numel < 0)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "input '%s': invalid shape", v->name);
    const engine_io_info *d = &v->decl;
    int shape_ok = d->rank < 0 || d->rank == t->shape.rank;
    for (int i = 0; shape_ok && d->rank >= 0 && i < d->rank; i++)
        if (d->dims[i] >= 0 && d->dims[i] != t->shape.dims[i]) shape_ok = 0;
    if (!shape_ok) {
        engine_shape ds = {.rank = d->rank};
        memcpy(ds.dims, d->dims, sizeof ds.dims);
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': expected shape %s (-1 = any), got %s", v->name,
                           shape_format(&ds, want, sizeof want),
                           shape_format(&t->shape, got, sizeof got));
    }
    size_t need = (size_t)numel * engine_dtype_size(t->dtype);
    if (t->nbytes < need || (need && !t->data))
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "input '%s': shape %s needs %zu bytes of data, got %zu", v->name,
                           shape_format(&t->shape, got, sizeof got), need, t->nbytes);
    return STATUS_OK;
}

status engine_session_run(engine_session *s, const engine_tensor *inputs,
                          engine_tensor *outputs, errinfo *err) {
    const graph *g = s->g;
    for (int i = 0; i < g->n_inputs; i++) {
        status st = check_input(&g->values[g->inputs[i]], &inputs[i], err);
        if (st) return st;
    }
    frame f;
    if (frame_init(&f, g, NULL)) return status_fail(err, STATUS_NO_MEMORY, "out of memory");
    for (int i = 0; i < g->n_inputs; i++) {
        f.t[g->inputs[i]] = inputs[i];
        f.kind[g->inputs[i]] = SLOT_BORROWED;
    }
    scratch_reset(&s->scratch);
    f.planned = s->plan.valid;
    f.record = 1;
    memset(s->recorded, 0, sizeof(size_t) * (size_t)g->n_values);
    status st = frame_run(s, &f, err);
    if (!st) st = frame_take_outputs(&f, outputs, err);
    frame_deinit(&f);
    if (!st && plan_outgrown(s)) plan_build(s, inputs);
    return st;
}
