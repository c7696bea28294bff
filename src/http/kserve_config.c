/* kserve_config.c -- GET /v2/models/{m}[/versions/{v}]/config: the effective
 * configuration of a model version as Triton's HTTP API gives it (the JSON
 * form of the ModelConfig message, field names as in model_config.proto).
 *
 * The same content as gRPC's ModelConfig (grpc_model_config.c): built from
 * the version's metadata (what requests are validated against) and its
 * config.pbtxt (version policy, dynamic batching, instance groups), so a
 * model without a config.pbtxt reports what inferd derived from the ONNX
 * file, as Triton's auto-complete does. perf_analyzer reads max_batch_size,
 * the inputs and the scheduling choice (dynamic_batching present or not)
 * from it; tritonclient's get_model_config returns it as it is. */
#include <string.h>

#include "common/json.h"
#include "http/kserve_rest.h"
#include "serve/datatype.h"

/* dims as Triton's config has them: without the batch dim when
 * max_batch_size > 0. Unknown rank: no dims. */
static void write_dims(json_writer *w, int rank, const int64_t *dims, int max_batch_size) {
    int skip = max_batch_size > 0 && rank > 0 ? 1 : 0;
    jw_begin_array(w);
    for (int d = skip; d < rank; d++) jw_int64(w, dims[d]);
    jw_end_array(w);
}

/* The members an input and an output have in common. */
static void write_io_common(json_writer *w, const serve_io *io, int max_batch_size) {
    jw_key(w, "name");
    jw_cstring(w, io->name);
    jw_key(w, "data_type");
    jw_cstring(w, serve_datatype_config_name(io->dtype));
    jw_key(w, "dims");
    write_dims(w, io->rank, io->dims, max_batch_size);
    if (io->has_reshape) {
        jw_key(w, "reshape");
        jw_begin_object(w);
        jw_key(w, "shape");
        write_dims(w, io->model_rank, io->model_dims, max_batch_size);
        jw_end_object(w);
    }
    jw_key(w, "is_shape_tensor");
    jw_bool(w, 0);
}

static void write_inputs(json_writer *w, const serve_model_meta *m) {
    jw_begin_array(w);
    for (int i = 0; i < m->n_inputs; i++) {
        jw_begin_object(w);
        write_io_common(w, &m->inputs[i], m->max_batch_size);
        jw_key(w, "format");
        jw_cstring(w, "FORMAT_NONE");
        jw_key(w, "allow_ragged_batch");
        jw_bool(w, 0);
        jw_key(w, "optional");
        jw_bool(w, m->inputs[i].optional);
        jw_end_object(w);
    }
    jw_end_array(w);
}

static void write_outputs(json_writer *w, const serve_model_meta *m) {
    jw_begin_array(w);
    for (int i = 0; i < m->n_outputs; i++) {
        jw_begin_object(w);
        write_io_common(w, &m->outputs[i], m->max_batch_size);
        jw_key(w, "label_filename");
        jw_cstring(w, "");
        jw_end_object(w);
    }
    jw_end_array(w);
}

static void write_version_policy(json_writer *w, const model_config *cfg) {
    model_version_policy_kind kind = cfg ? cfg->version_policy.kind : MODEL_VERSIONS_LATEST;
    jw_begin_object(w);
    if (kind == MODEL_VERSIONS_ALL) {
        jw_key(w, "all");
        jw_begin_object(w);
        jw_end_object(w);
    } else if (kind == MODEL_VERSIONS_SPECIFIC) {
        jw_key(w, "specific");
        jw_begin_object(w);
        jw_key(w, "versions");
        jw_begin_array(w);
        for (size_t i = 0; i < cfg->version_policy.n_versions; i++)
            jw_int64(w, cfg->version_policy.versions[i]);
        jw_end_array(w);
        jw_end_object(w);
    } else {
        int64_t n = cfg ? cfg->version_policy.latest : 1;
        jw_key(w, "latest");
        jw_begin_object(w);
        jw_key(w, "num_versions");
        jw_int64(w, n > 0 ? n : 1);
        jw_end_object(w);
    }
    jw_end_object(w);
}

static void write_dynamic_batching(json_writer *w, const model_dynamic_batching *db) {
    jw_begin_object(w);
    jw_key(w, "preferred_batch_size");
    jw_begin_array(w);
    for (size_t i = 0; i < db->n_preferred; i++) jw_int64(w, db->preferred_batch_sizes[i]);
    jw_end_array(w);
    jw_key(w, "max_queue_delay_microseconds");
    jw_uint64(w, db->max_queue_delay_us);
    jw_key(w, "preserve_ordering");
    jw_bool(w, db->preserve_ordering);
    jw_key(w, "default_queue_policy");
    jw_begin_object(w);
    jw_key(w, "timeout_action");
    jw_cstring(w, db->queue_policy.timeout_action == MODEL_TIMEOUT_DELAY ? "DELAY" : "REJECT");
    jw_key(w, "default_timeout_microseconds");
    jw_uint64(w, db->queue_policy.default_timeout_us);
    jw_key(w, "allow_timeout_override");
    jw_bool(w, db->queue_policy.allow_timeout_override);
    jw_key(w, "max_queue_size");
    jw_uint64(w, db->queue_policy.max_queue_size);
    jw_end_object(w);
    jw_end_object(w);
}

/* inferd runs every instance on the CPU, whatever kind the file asked for,
 * so the groups report KIND_CPU; a model without groups has one of
 * model_config_instance_count() instances, named after the model. */
static void write_instance_groups(json_writer *w, const model_config *cfg, const char *model) {
    size_t groups = cfg && cfg->n_instance_groups ? cfg->n_instance_groups : 1;
    jw_begin_array(w);
    for (size_t i = 0; i < groups; i++) {
        const model_instance_group *g = cfg && cfg->n_instance_groups ? &cfg->instance_groups[i]
                                                                      : NULL;
        jw_begin_object(w);
        jw_key(w, "name");
        jw_cstring(w, g && g->name ? g->name : model);
        jw_key(w, "kind");
        jw_cstring(w, "KIND_CPU");
        jw_key(w, "count");
        jw_int64(w, g ? g->count : model_config_instance_count(cfg));
        jw_end_object(w);
    }
    jw_end_array(w);
}

static char *config_json(const serve_model_handle *h, size_t *len) {
    const serve_model_meta *meta = serve_model_handle_meta(h);
    const model_config *cfg = serve_model_handle_config(h);
    const char *name = serve_model_handle_name(h);
    json_writer w;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "name");
    jw_cstring(&w, name);
    jw_key(&w, "platform");
    jw_cstring(&w, meta->platform);
    jw_key(&w, "backend");
    jw_cstring(&w, cfg && cfg->backend ? cfg->backend : "onnxruntime");
    jw_key(&w, "version_policy");
    write_version_policy(&w, cfg);
    jw_key(&w, "max_batch_size");
    jw_int64(&w, meta->max_batch_size);
    jw_key(&w, "input");
    write_inputs(&w, meta);
    jw_key(&w, "output");
    write_outputs(&w, meta);
    if (cfg && cfg->dynamic_batching.enabled) {     /* its presence is the scheduling choice */
        jw_key(&w, "dynamic_batching");
        write_dynamic_batching(&w, &cfg->dynamic_batching);
    }
    jw_key(&w, "instance_group");
    write_instance_groups(&w, cfg, name);
    jw_key(&w, "default_model_filename");
    jw_cstring(&w, cfg && cfg->default_model_filename ? cfg->default_model_filename
                                                       : "model.onnx");
    jw_end_object(&w);
    return jw_finish(&w, len);
}

void kserve_model_config(kserve_rest *api, http_exchange *ex, const char *model,
                         int64_t version) {
    serve_model_handle *h = kserve_acquire(api, ex, model, version);
    if (!h) return;
    size_t len = 0;
    char *body = config_json(h, &len);
    serve_model_handle_release(h);
    kserve_respond_json(ex, 200, body, len);
}
