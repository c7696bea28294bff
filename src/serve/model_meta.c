/* model_meta.c -- merges config.pbtxt with the model's own description. */
#include "model_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datatype.h"

static status meta_oom(errinfo *err) {
    return status_fail(err, STATUS_NO_MEMORY, "out of memory building model metadata");
}

void serve_meta_free(serve_model_meta *m) {
    if (!m) return;
    for (int i = 0; i < m->n_inputs; i++) free(m->inputs[i].name);
    for (int i = 0; i < m->n_outputs; i++) free(m->outputs[i].name);
    free(m->inputs);
    free(m->outputs);
    free(m->name);
    free(m);
}

static int find_io(const serve_io *arr, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(arr[i].name, name)) return i;
    return -1;
}

int serve_meta_find_input(const serve_model_meta *m, const char *name) {
    return find_io(m->inputs, m->n_inputs, name);
}

int serve_meta_find_output(const serve_model_meta *m, const char *name) {
    return find_io(m->outputs, m->n_outputs, name);
}

/* "a, b, c" into buf, as far as it fits. */
static const char *names_list(const serve_io *arr, int n, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", arr[i].name);
    if (!n) snprintf(buf, len, "none");
    return buf;
}

/* --- from the model alone ------------------------------------------------- */

static status io_from_model(serve_io *dst, const serve_io *m, int mbs, const char *kind,
                            errinfo *err) {
    *dst = *m;
    dst->name = strdup(m->name);
    if (!dst->name) return meta_oom(err);
    dst->has_reshape = false;
    if (mbs > 0 && dst->rank == 0)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "max_batch_size %d needs a batch dimension, but model %s '%s' is a scalar",
                           mbs, kind, m->name);
    if (mbs > 0 && dst->rank > 0) {
        int64_t d0 = dst->dims[0];
        if (d0 >= 0 && !(d0 == 1 && mbs == 1))
            return status_fail(err, STATUS_INVALID_MODEL,
                               "max_batch_size %d makes the first dimension of %s '%s' the batch "
                               "dimension, but the model fixes it to %lld",
                               mbs, kind, m->name, (long long)d0);
        dst->dims[0] = -1;
    }
    dst->model_rank = dst->rank;
    memcpy(dst->model_dims, dst->dims, sizeof dst->dims);
    return STATUS_OK;
}

/* --- from config.pbtxt, checked against the model ---------------------------- */

static status io_from_config(serve_io *dst, const model_io_config *c, const serve_io *m, int mbs,
                             const char *kind, errinfo *err) {
    if (c->dtype != m->dtype)
        return status_fail(err, STATUS_INVALID_MODEL,
                           "config.pbtxt:%d:%d: %s '%s': data_type %s does not match the model's %s",
                           c->line, c->col, kind, c->name, serve_datatype_config_name(c->dtype),
                           serve_datatype_config_name(m->dtype));
    status st = io_from_model(dst, m, c->rank < 0 ? mbs : 0, kind, err);
    if (st || c->rank < 0) {
        dst->optional = c->optional;
        return st;
    }
    dst->optional = c->optional;
    int b = mbs > 0;
    /* What the config says the backend sees. */
    int mrank = b + (c->has_reshape ? c->reshape_rank : c->rank);
    int64_t mdims[ENGINE_MAX_RANK];
    if (b) mdims[0] = -1;
    memcpy(mdims + b, c->has_reshape ? c->reshape : c->dims,
           (size_t)(mrank - b) * sizeof(int64_t));
    char cs[128], ms[128];
    if (m->rank >= 0) {
        if (m->rank != mrank)
            return status_fail(err, STATUS_INVALID_MODEL,
                               "config.pbtxt:%d:%d: %s '%s': the config gives the model shape %s%s, "
                               "but the model declares %s", c->line, c->col, kind, c->name,
                               serve_dims_format(cs, sizeof cs, mrank, mdims),
                               b ? " (max_batch_size adds the batch dimension)" : "",
                               serve_dims_format(ms, sizeof ms, m->rank, m->dims));
        if (b && m->dims[0] >= 0 && !(m->dims[0] == 1 && mbs == 1))
            return status_fail(err, STATUS_INVALID_MODEL,
                               "max_batch_size %d makes the first dimension of %s '%s' the batch "
                               "dimension, but the model fixes it to %lld",
                               mbs, kind, c->name, (long long)m->dims[0]);
        for (int i = b; i < mrank; i++) {
            if (mdims[i] >= 0 && m->dims[i] >= 0 && mdims[i] != m->dims[i])
                return status_fail(err, STATUS_INVALID_MODEL,
                                   "config.pbtxt:%d:%d: %s '%s': dimension %d is %lld in the config "
                                   "but %lld in the model (config %s, model %s)", c->line, c->col, kind, c->name, i,
                                   (long long)mdims[i], (long long)m->dims[i],
                                   serve_dims_format(cs, sizeof cs, mrank, mdims),
                                   serve_dims_format(ms, sizeof ms, m->rank, m->dims));
            /* A -1 in the config where the model is fixed: take the model's
             * value, so a bad request fails validation, not the engine. */
            if (mdims[i] < 0 && m->dims[i] >= 0 && !c->has_reshape) mdims[i] = m->dims[i];
        }
    }
    dst->model_rank = mrank;
    memcpy(dst->model_dims, mdims, sizeof mdims);
    dst->has_reshape = c->has_reshape;
    if (c->has_reshape) {
        dst->rank = b + c->rank;
        if (b) dst->dims[0] = -1;
        memcpy(dst->dims + b, c->dims, (size_t)c->rank * sizeof(int64_t));
    } else {
        dst->rank = mrank;
        memcpy(dst->dims, mdims, sizeof mdims);
    }
    return STATUS_OK;
}

static status build_ios(const model_io_config *cfg_ios, size_t n_cfg, const serve_io *model_ios,
                        int n_model, int mbs, bool all_required, const char *kind,
                        serve_io **out, int *n_out, errinfo *err) {
    int n = n_cfg ? (int)n_cfg : n_model;
    serve_io *arr = calloc((size_t)(n ? n : 1), sizeof *arr);
    if (!arr) return meta_oom(err);
    *out = arr;
    *n_out = 0;
    char names[300];
    status st;
    for (int i = 0; i < n; i++) {
        if (n_cfg) {
            int j = find_io(model_ios, n_model, cfg_ios[i].name);
            if (j < 0)
                return status_fail(err, STATUS_INVALID_MODEL,
                                   "config.pbtxt:%d:%d: %s '%s' is not an %s of the model (model "
                                   "%ss: %s)", cfg_ios[i].line, cfg_ios[i].col, kind, cfg_ios[i].name, kind, kind,
                                   names_list(model_ios, n_model, names, sizeof names));
            st = io_from_config(&arr[i], &cfg_ios[i], &model_ios[j], mbs, kind, err);
        } else {
            st = io_from_model(&arr[i], &model_ios[i], mbs, kind, err);
        }
        if (arr[i].name) (*n_out)++;
        if (st) return st;
    }
    if (n_cfg && all_required) {
        for (int j = 0; j < n_model; j++) {
            bool listed = false;
            for (size_t i = 0; i < n_cfg && !listed; i++) listed = !strcmp(cfg_ios[i].name, model_ios[j].name);
            if (!listed)
                return status_fail(err, STATUS_INVALID_MODEL,
                                   "model %s '%s' is missing from config.pbtxt (list every %s of "
                                   "the model, or none to take them from the model)",
                                   kind, model_ios[j].name, kind);
        }
    }
    return STATUS_OK;
}

status serve_meta_build(const char *name, int64_t version, const model_config *cfg,
                        const serve_model_meta *model, serve_model_meta **out, errinfo *err) {
    *out = NULL;
    serve_model_meta *m = calloc(1, sizeof *m);
    if (!m) return meta_oom(err);
    status st = STATUS_OK;
    if (name && !(m->name = strdup(name))) {
        st = meta_oom(err);
        goto fail;
    }
    m->version = version;
    m->platform = model->platform;
    m->max_batch_size = cfg ? cfg->max_batch_size : 0;
    st = build_ios(cfg ? cfg->inputs : NULL, cfg ? cfg->n_inputs : 0, model->inputs,
                   model->n_inputs, m->max_batch_size, true, "input", &m->inputs, &m->n_inputs, err);
    if (st) goto fail;
    st = build_ios(cfg ? cfg->outputs : NULL, cfg ? cfg->n_outputs : 0, model->outputs,
                   model->n_outputs, m->max_batch_size, false, "output", &m->outputs,
                   &m->n_outputs, err);
    if (st) goto fail;
    *out = m;
    return STATUS_OK;
fail:
    serve_meta_free(m);
    return st;
}

status serve_meta_clone(const serve_model_meta *src, serve_model_meta **out, errinfo *err) {
    *out = NULL;
    serve_model_meta *m = calloc(1, sizeof *m);
    if (!m) return meta_oom(err);
    *m = *src;
    m->name = NULL;
    m->inputs = calloc((size_t)(src->n_inputs ? src->n_inputs : 1), sizeof *m->inputs);
    m->outputs = calloc((size_t)(src->n_outputs ? src->n_outputs : 1), sizeof *m->outputs);
    m->n_inputs = m->n_outputs = 0;
    if (!m->inputs || !m->outputs || (src->name && !(m->name = strdup(src->name)))) goto fail;
    for (int i = 0; i < src->n_inputs; i++, m->n_inputs++) {
        m->inputs[i] = src->inputs[i];
        if (!(m->inputs[i].name = strdup(src->inputs[i].name))) goto fail;
    }
    for (int i = 0; i < src->n_outputs; i++, m->n_outputs++) {
        m->outputs[i] = src->outputs[i];
        if (!(m->outputs[i].name = strdup(src->outputs[i].name))) goto fail;
    }
    *out = m;
    return STATUS_OK;
fail:
    serve_meta_free(m);
    return meta_oom(err);
}

/* --- reshape ------------------------------------------------------------------ */

static int64_t span_numel(const int64_t *dims, int from, int to) {
    int64_t n = 1;
    for (int i = from; i < to; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] && n > INT64_MAX / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

status serve_meta_map_shape(const serve_io *io, int max_batch_size, int to_model,
                            const engine_shape *from, engine_shape *to, errinfo *err) {
    if (!io->has_reshape) {
        *to = *from;
        return STATUS_OK;
    }
    int b = max_batch_size > 0;
    int frank = to_model ? io->rank : io->model_rank;
    const int64_t *fdecl = to_model ? io->dims : io->model_dims;
    int trank = to_model ? io->model_rank : io->rank;
    const int64_t *tdecl = to_model ? io->model_dims : io->dims;
    char a[128], c[128];
    if (from->rank != frank)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "'%s': shape %s does not have rank %d",
                           io->name, serve_dims_format(a, sizeof a, from->rank, from->dims), frank);
    to->rank = trank;
    if (b) to->dims[0] = from->dims[0];
    int fw = 0, tw = 0;
    for (int i = b; i < frank; i++) fw += fdecl[i] < 0;
    for (int i = b; i < trank; i++) tw += tdecl[i] < 0;
    int64_t fn = span_numel(from->dims, b, frank);
    int64_t fixed = 1;
    int next_from = b;
    for (int i = b; i < trank; i++) {
        to->dims[i] = tdecl[i];
        if (tdecl[i] >= 0) {
            fixed *= tdecl[i];
            continue;
        }
        if (tw == fw) { /* take the source's wildcard values in order */
            while (fdecl[next_from] >= 0) next_from++;
            to->dims[i] = from->dims[next_from++];
        }
    }
    if (tw == 1 && tw != fw) {
        for (int i = b; i < trank; i++) {
            if (tdecl[i] >= 0) continue;
            to->dims[i] = fixed > 0 && fn >= 0 && fn % fixed == 0 ? fn / fixed : -1;
        }
    }
    int64_t tn = span_numel(to->dims, b, trank);
    if (fn < 0 || tn != fn)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "'%s': shape %s cannot be reshaped to %s", io->name,
                           serve_dims_format(a, sizeof a, from->rank, from->dims),
                           serve_dims_format(c, sizeof c, trank, tdecl));
    return STATUS_OK;
}
