/* grpc_model_config.c -- the effective configuration of a model version as
 * Triton's ModelConfig message (the ModelConfig method).
 *
 * Built from the version's metadata (what requests are validated against:
 * inputs, outputs, dims, max_batch_size) and its config.pbtxt (version
 * policy, dynamic batching, instance groups), so a model without a
 * config.pbtxt reports what inferd derived from the ONNX file, as Triton's
 * auto-complete does. tritonclient and perf_analyzer read max_batch_size,
 * the inputs' data types and dims (without the batch dim) and the
 * scheduling choice from it. */
#include <string.h>

#include "grpc_internal.h"
#include "serve/datatype.h"

/* Triton's DataType number of an engine type (TYPE_INVALID = 0). */
static int data_type_of(engine_dtype dt) {
    int count;
    const char *const *names = serve_datatype_config_names(&count);
    const char *name = serve_datatype_config_name(dt);
    for (int i = 0; i < count; i++)
        if (!strcmp(names[i], name)) return i;
    return 0;
}

/* dims as Triton's config has them: without the batch dim when
 * max_batch_size > 0. Unknown rank: no dims. */
static void config_dims(int rank, const int64_t *dims, int max_batch_size, size_t *n,
                        int64_t **out) {
    int skip = max_batch_size > 0 && rank > 0 ? 1 : 0;
    *n = rank > skip ? (size_t)(rank - skip) : 0;
    *out = (int64_t *)dims + skip;
}

static Inference__ModelTensorReshape *reshape_of(rpc_arena *a, const serve_io *io, int mbs) {
    if (!io->has_reshape) return NULL;
    Inference__ModelTensorReshape *r = rpc_arena_alloc(a, sizeof *r);
    if (!r) return NULL;
    inference__model_tensor_reshape__init(r);
    config_dims(io->model_rank, io->model_dims, mbs, &r->n_shape, &r->shape);
    return r;
}

static Inference__ModelInput **inputs_of(rpc_arena *a, const serve_model_meta *m) {
    Inference__ModelInput *in = rpc_arena_alloc(a, (size_t)m->n_inputs * sizeof *in);
    Inference__ModelInput **p = rpc_arena_alloc(a, (size_t)m->n_inputs * sizeof *p);
    if (!in || !p) return NULL;
    for (int i = 0; i < m->n_inputs; i++) {
        const serve_io *io = &m->inputs[i];
        inference__model_input__init(&in[i]);
        in[i].name = io->name;
        in[i].data_type = (Inference__DataType)data_type_of(io->dtype);
        config_dims(io->rank, io->dims, m->max_batch_size, &in[i].n_dims, &in[i].dims);
        in[i].optional = io->optional;
        in[i].reshape = reshape_of(a, io, m->max_batch_size);
        if (io->has_reshape && !in[i].reshape) return NULL;
        p[i] = &in[i];
    }
    return p;
}

static Inference__ModelOutput **outputs_of(rpc_arena *a, const serve_model_meta *m) {
    Inference__ModelOutput *out = rpc_arena_alloc(a, (size_t)m->n_outputs * sizeof *out);
    Inference__ModelOutput **p = rpc_arena_alloc(a, (size_t)m->n_outputs * sizeof *p);
    if (!out || !p) return NULL;
    for (int i = 0; i < m->n_outputs; i++) {
        const serve_io *io = &m->outputs[i];
        inference__model_output__init(&out[i]);
        out[i].name = io->name;
        out[i].data_type = (Inference__DataType)data_type_of(io->dtype);
        config_dims(io->rank, io->dims, m->max_batch_size, &out[i].n_dims, &out[i].dims);
        out[i].reshape = reshape_of(a, io, m->max_batch_size);
        if (io->has_reshape && !out[i].reshape) return NULL;
        p[i] = &out[i];
    }
    return p;
}

static Inference__ModelVersionPolicy *version_policy_of(rpc_arena *a, const model_config *cfg) {
    Inference__ModelVersionPolicy *p = rpc_arena_alloc(a, sizeof *p);
    if (!p) return NULL;
    inference__model_version_policy__init(p);
    model_version_policy_kind kind = cfg ? cfg->version_policy.kind : MODEL_VERSIONS_LATEST;
    if (kind == MODEL_VERSIONS_ALL) {
        Inference__ModelVersionPolicy__All *all = rpc_arena_alloc(a, sizeof *all);
        if (!all) return NULL;
        inference__model_version_policy__all__init(all);
        p->policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_ALL;
        p->all = all;
    } else if (kind == MODEL_VERSIONS_SPECIFIC) {
        Inference__ModelVersionPolicy__Specific *sp = rpc_arena_alloc(a, sizeof *sp);
        if (!sp) return NULL;
        inference__model_version_policy__specific__init(sp);
        sp->n_versions = cfg->version_policy.n_versions;
        sp->versions = cfg->version_policy.versions;
        p->policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_SPECIFIC;
        p->specific = sp;
    } else {
        Inference__ModelVersionPolicy__Latest *l = rpc_arena_alloc(a, sizeof *l);
        if (!l) return NULL;
        inference__model_version_policy__latest__init(l);
        int64_t n = cfg ? cfg->version_policy.latest : 1;
        l->num_versions = n > 0 && n <= UINT32_MAX ? (uint32_t)n : 1;
        p->policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_LATEST;
        p->latest = l;
    }
    return p;
}

static Inference__ModelDynamicBatching *dynamic_batching_of(rpc_arena *a,
                                                            const model_dynamic_batching *db) {
    Inference__ModelDynamicBatching *d = rpc_arena_alloc(a, sizeof *d);
    Inference__ModelQueuePolicy *q = rpc_arena_alloc(a, sizeof *q);
    if (!d || !q) return NULL;
    inference__model_dynamic_batching__init(d);
    inference__model_queue_policy__init(q);
    d->n_preferred_batch_size = db->n_preferred;
    d->preferred_batch_size = db->preferred_batch_sizes;
    d->max_queue_delay_microseconds = db->max_queue_delay_us;
    d->preserve_ordering = db->preserve_ordering;
    q->timeout_action = db->queue_policy.timeout_action == MODEL_TIMEOUT_DELAY
                            ? INFERENCE__MODEL_QUEUE_POLICY__TIMEOUT_ACTION__DELAY
                            : INFERENCE__MODEL_QUEUE_POLICY__TIMEOUT_ACTION__REJECT;
    q->default_timeout_microseconds = db->queue_policy.default_timeout_us;
    q->allow_timeout_override = db->queue_policy.allow_timeout_override;
    q->max_queue_size = db->queue_policy.max_queue_size;
    d->default_queue_policy = q;
    return d;
}

/* inferd runs every instance on the CPU, whatever kind the file asked for,
 * so the groups report KIND_CPU; a model without groups has one of
 * model_config_instance_count() instances, named after the model. */
static Inference__ModelInstanceGroup **instance_groups_of(rpc_arena *a, const model_config *cfg,
                                                         const char *model, size_t *n) {
    size_t groups = cfg && cfg->n_instance_groups ? cfg->n_instance_groups : 1;
    Inference__ModelInstanceGroup *g = rpc_arena_alloc(a, groups * sizeof *g);
    Inference__ModelInstanceGroup **p = rpc_arena_alloc(a, groups * sizeof *p);
    if (!g || !p) return NULL;
    for (size_t i = 0; i < groups; i++) {
        const model_instance_group *src = cfg && cfg->n_instance_groups ? &cfg->instance_groups[i]
                                                                        : NULL;
        inference__model_instance_group__init(&g[i]);
        g[i].name = src && src->name ? src->name : (char *)model;
        g[i].count = src ? src->count : model_config_instance_count(cfg);
        g[i].kind = INFERENCE__MODEL_INSTANCE_GROUP__KIND__KIND_CPU;
        p[i] = &g[i];
    }
    *n = groups;
    return p;
}

Inference__ModelConfig *rpc_model_config_build(rpc_arena *a, const serve_model_handle *h) {
    const serve_model_meta *meta = serve_model_handle_meta(h);
    const model_config *cfg = serve_model_handle_config(h);
    Inference__ModelConfig *c = rpc_arena_alloc(a, sizeof *c);
    if (!c) return NULL;
    inference__model_config__init(c);
    c->name = (char *)serve_model_handle_name(h);
    c->platform = (char *)meta->platform;
    c->backend = cfg && cfg->backend ? cfg->backend : "onnxruntime";
    c->max_batch_size = meta->max_batch_size;
    c->default_model_filename = cfg && cfg->default_model_filename ? cfg->default_model_filename
                                                                    : "model.onnx";
    c->n_input = (size_t)meta->n_inputs;
    c->n_output = (size_t)meta->n_outputs;
    if (!(c->input = inputs_of(a, meta)) || !(c->output = outputs_of(a, meta)) ||
        !(c->version_policy = version_policy_of(a, cfg)) ||
        !(c->instance_group = instance_groups_of(a, cfg, c->name, &c->n_instance_group)))
        return NULL;
    if (cfg && cfg->dynamic_batching.enabled) {
        c->scheduling_choice_case = INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_DYNAMIC_BATCHING;
        if (!(c->dynamic_batching = dynamic_batching_of(a, &cfg->dynamic_batching))) return NULL;
    }
    return c;
}
