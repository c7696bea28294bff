/* batch_exec.c -- running one batch: inputs concatenated along dim 0, one
 * backend execution with the union of the requested outputs, outputs split
 * back along dim 0.
 *
 * A batch of one request is the common case under light load and costs no
 * copy: its tensors go to the backend as they are and the backend's outputs
 * move into the request. Larger batches copy each input once into a
 * per-worker buffer that is kept between batches (so a steady load does
 * not allocate), and each request's slice of every output it asked for into
 * a buffer of its own (requests outlive the batch and are freed one by
 * one). BYTES tensors are arrays of engine_string: input arrays concatenate
 * as they are (the strings stay in the requests, which live until the
 * batch completes); output slices are deep-copied. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datatype.h"
#include "scheduler_int.h"

status sched_worker_scratch_init(sched_worker *w, errinfo *err) {
    const serve_model_meta *m = w->s->meta;
    size_t ni = (size_t)(m->n_inputs > 0 ? m->n_inputs : 1);
    size_t no = (size_t)(m->n_outputs > 0 ? m->n_outputs : 1);
    size_t nr = (size_t)w->s->max_requests;
    w->batch = calloc(nr, sizeof *w->batch);
    w->run.sizes = calloc(nr, sizeof *w->run.sizes);
    w->run.ins = calloc(ni, sizeof *w->run.ins);
    w->run.wanted = calloc(no, sizeof *w->run.wanted);
    w->run.outs = calloc(no, sizeof *w->run.outs);
    w->run.per_row = calloc(no, sizeof *w->run.per_row);
    w->concat = calloc(ni, sizeof *w->concat);
    w->concat_cap = calloc(ni, sizeof *w->concat_cap);
    if (!w->batch || !w->run.sizes || !w->run.ins || !w->run.wanted || !w->run.outs ||
        !w->run.per_row || !w->concat || !w->concat_cap)
        return status_fail(err, STATUS_NO_MEMORY, "out of memory creating worker %d", w->index);
    return STATUS_OK;
}

void sched_worker_scratch_free(sched_worker *w) {
    for (int i = 0; w->concat && i < w->s->meta->n_inputs; i++) free(w->concat[i]);
    free(w->concat);
    free(w->concat_cap);
    free(w->batch);
    free(w->run.sizes);
    free(w->run.ins);
    free(w->run.wanted);
    free(w->run.outs);
    free(w->run.per_row);
}

/* --- inputs ------------------------------------------------------------------------- */

/* Copies input j of every request, in order, into the worker's buffer. */
static status concat_input(sched_worker *w, serve_request **reqs, int n, int j, serve_tensor *in,
                           errinfo *err) {
    const char *name = reqs[0]->inputs[j].t.name;
    size_t total = 0;
    for (int q = 0; q < n; q++) {
        const serve_tensor *t = sched_request_input(reqs[q], j, name);
        if (!t) /* the batcher only groups requests with the same inputs */
            return status_fail(err, STATUS_INTERNAL, "batched request %d lacks input '%s'", q,
                               name);
        total += t->nbytes;
    }
    if (total > w->concat_cap[j]) {
        void *p = realloc(w->concat[j], total);
        if (!p)
            return status_fail(err, STATUS_NO_MEMORY,
                               "out of memory concatenating input '%s' (%zu bytes)", name, total);
        w->concat[j] = p;
        w->concat_cap[j] = total;
    }
    size_t off = 0;
    for (int q = 0; q < n; q++) {
        const serve_tensor *t = sched_request_input(reqs[q], j, name);
        if (t->nbytes) memcpy((char *)w->concat[j] + off, t->data, t->nbytes);
        off += t->nbytes;
    }
    in->data = w->concat[j];
    in->nbytes = total;
    in->shape.dims[0] = w->run.samples;
    return STATUS_OK;
}

static status build_inputs(sched_worker *w, serve_request **reqs, int n, errinfo *err) {
    const serve_model_meta *m = w->s->meta;
    sched_run *run = &w->run;
    const serve_request *r0 = reqs[0];
    status st = STATUS_OK;
    for (int j = 0; j < r0->n_inputs && !st; j++) {
        serve_tensor in = r0->inputs[j].t;
        if (n > 1) st = concat_input(w, reqs, n, j, &in, err);
        if (st) break;
        engine_shape client = in.shape;
        int k = serve_meta_find_input(m, in.name);
        if (k >= 0)
            st = serve_meta_map_shape(&m->inputs[k], m->max_batch_size, 1, &client, &in.shape, err);
        run->ins[j] = in;
    }
    run->n_ins = r0->n_inputs;
    return st;
}

/* The outputs to compute: all of them if any request asked for none, else
 * the union of the names asked for, in order of first appearance. */
static int union_outputs(const serve_model_meta *m, serve_request **reqs, int n, const char **out) {
    int k = 0;
    for (int q = 0; q < n; q++) {
        if (reqs[q]->n_wanted) continue;
        for (int i = 0; i < m->n_outputs; i++) out[i] = m->outputs[i].name;
        return m->n_outputs;
    }
    for (int q = 0; q < n; q++) {
        for (int i = 0; i < reqs[q]->n_wanted; i++) {
            const char *name = reqs[q]->wanted[i];
            bool seen = false;
            for (int j = 0; j < k && !seen; j++) seen = !strcmp(out[j], name);
            if (!seen && k < m->n_outputs) out[k++] = name;
        }
    }
    return k;
}

status sched_execute(sched_worker *w, serve_request **reqs, int n, errinfo *err) {
    serve_scheduler *s = w->s;
    sched_run *run = &w->run;
    run->n_outs = 0;
    run->samples = 0;
    run->compute_start_ns = run->compute_end_ns = 0;
    for (int q = 0; q < n; q++) {
        run->sizes[q] = sched_request_samples(s, reqs[q]);
        run->samples += run->sizes[q];
    }
    int n_wanted = union_outputs(s->meta, reqs, n, run->wanted);
    status st = build_inputs(w, reqs, n, err);
    if (st) return st;
    run->compute_start_ns = serve_clock_ns();
    st = s->be->execute(w->inst, run->ins, run->n_ins, run->wanted, n_wanted, run->outs, err);
    run->compute_end_ns = serve_clock_ns();
    if (!st) run->n_outs = n_wanted;
    return st;
}

void sched_run_release(sched_worker *w) {
    sched_run *run = &w->run;
    for (int i = 0; i < run->n_outs; i++)
        if (run->outs[i].data || run->outs[i].nbytes) w->s->be->tensor_release(&run->outs[i]);
    run->n_outs = 0;
}

/* --- outputs ------------------------------------------------------------------------ */

/* Copies `count` strings starting at `from` into one malloc'd block: the
 * engine_string array followed by the bytes it points to. */
static void *copy_strings(const engine_string *from, int64_t count) {
    size_t bytes = 0;
    for (int64_t i = 0; i < count; i++) bytes += from[i].len;
    engine_string *arr = malloc((size_t)count * sizeof *arr + bytes + 1);
    if (!arr) return NULL;
    char *p = (char *)(arr + count);
    for (int64_t i = 0; i < count; i++) {
        if (from[i].len) memcpy(p, from[i].ptr, from[i].len);
        arr[i].ptr = p;
        arr[i].len = from[i].len;
        p += from[i].len;
    }
    return arr;
}

/* Request q's rows of output t (rows first..first+rows of the batch). */
static status slice_output(const serve_tensor *t, int64_t per_row, int64_t first, int64_t rows,
                           serve_tensor *piece, errinfo *err) {
    size_t elem = serve_datatype_size(t->dtype);
    int64_t count = rows * per_row;
    *piece = *t;
    piece->shape.dims[0] = rows;
    piece->nbytes = (size_t)count * elem;
    if (t->dtype == ENGINE_STRING)
        piece->data = copy_strings((const engine_string *)t->data + first * per_row, count);
    else if ((piece->data = malloc(piece->nbytes ? piece->nbytes : 1)))
        memcpy(piece->data, (const char *)t->data + (size_t)(first * per_row) * elem,
               piece->nbytes);
    if (!piece->data)
        return status_fail(err, STATUS_NO_MEMORY, "out of memory splitting output '%s'", t->name);
    return STATUS_OK;
}

/* The backend's output must have the batch's rows along dim 0. */
static status check_rows(const serve_tensor *t, int64_t samples, int64_t *per_row, errinfo *err) {
    char got[160];
    int64_t numel = engine_shape_numel(&t->shape);
    size_t elem = serve_datatype_size(t->dtype);
    if (t->shape.rank < 1 || t->shape.dims[0] != samples || numel < 0 || !elem ||
        (t->dtype != ENGINE_STRING && t->nbytes != (size_t)numel * elem))
        return status_fail(err, STATUS_INTERNAL,
                           "output '%s' has shape %s, but a batch of %lld samples needs %lld "
                           "along the first dimension to split it among the requests", t->name,
                           serve_dims_format(got, sizeof got, t->shape.rank, t->shape.dims),
                           (long long)samples, (long long)samples);
    *per_row = samples ? numel / samples : 0;
    return STATUS_OK;
}

static status scatter_batch(sched_worker *w, serve_request **reqs, int n, errinfo *err) {
    const serve_model_meta *m = w->s->meta;
    sched_run *run = &w->run;
    int64_t *per_row = run->per_row;
    for (int i = 0; i < run->n_outs; i++) {
        status st = check_rows(&run->outs[i], run->samples, &per_row[i], err);
        if (st) return st;
    }
    int64_t first = 0;
    for (int q = 0; q < n; q++) {
        serve_request *r = reqs[q];
        int nw = r->n_wanted ? r->n_wanted : m->n_outputs;
        for (int k = 0; k < nw; k++) {
            const char *name = r->n_wanted ? r->wanted[k] : m->outputs[k].name;
            int i = 0;
            while (i < run->n_outs && strcmp(run->wanted[i], name)) i++;
            if (i == run->n_outs)
                return status_fail(err, STATUS_INTERNAL, "output '%s' was not computed", name);
            serve_tensor piece;
            status st = slice_output(&run->outs[i], per_row[i], first, run->sizes[q], &piece, err);
            if (!st) st = serve_request_take_output(r, &piece, NULL, err);
            if (st) return st;
        }
        first += run->sizes[q];
    }
    return STATUS_OK;
}

status sched_scatter(sched_worker *w, serve_request **reqs, int n, errinfo *err) {
    const serve_model_meta *m = w->s->meta;
    sched_run *run = &w->run;
    status st = STATUS_OK;
    /* The backend's shapes -> the client's (config.pbtxt reshape). */
    for (int i = 0; i < run->n_outs && !st; i++) {
        int k = serve_meta_find_output(m, run->wanted[i]);
        engine_shape model = run->outs[i].shape;
        if (k >= 0)
            st = serve_meta_map_shape(&m->outputs[k], m->max_batch_size, 0, &model,
                                      &run->outs[i].shape, err);
    }
    if (!st && n == 1) {
        /* No copy: the union is the request's own list, in its order. */
        for (int i = 0; i < run->n_outs && !st; i++)
            st = serve_request_take_output(reqs[0], &run->outs[i], w->s->be->tensor_release, err);
    } else if (!st) {
        st = scatter_batch(w, reqs, n, err);
    }
    sched_run_release(w);
    return st;
}
