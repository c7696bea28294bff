/* grpc_kserve.c -- inference.GRPCInferenceService: the method table, health,
 * metadata, statistics and the repository extension. Inference is in
 * grpc_infer.c, ModelConfig in grpc_model_config.c.
 *
 * Every answer mirrors the REST frontend's (kserve_rest.c): the same serving
 * core calls, the same error messages, with status_grpc_code() for the code.
 * One deliberate difference follows Triton's gRPC server: ModelReady for an
 * unknown model answers ready = false rather than NOT_FOUND, which is what
 * tritonclient.grpc's is_model_ready expects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_arena.h"
#include "grpc_codec.h"
#include "grpc_internal.h"
#include "serve/datatype.h"
#include "serve/model_stats.h"

#define SERVER_NAME "inferd"

static serve_manager *models_of(rpc_call *c) { return rpc_server_models(rpc_call_server(c)); }

/* Looks up (name, version text) as REST does for /v2/models/{m}/versions/{v}. */
static status acquire(rpc_call *c, const char *name, const char *version, serve_model_handle **h,
                      errinfo *err) {
    int64_t v;
    *h = NULL;
    status st = rpc_parse_version(version, &v, err);
    if (st) return st;
    if (!name || !name[0])
        return status_fail(err, STATUS_INVALID_ARGUMENT, "the request has no model name");
    return serve_manager_acquire(models_of(c), name, v, h, err);
}

/* Unpacks into `type *var` or returns (the call is then finished). */
#define UNPACK(var, type, prefix, c, data, len)                                    \
    type *var = rpc_call_unpack(c, &prefix##__descriptor, data, len);              \
    if (!var) return

#define FREE(var) protobuf_c_message_free_unpacked(&(var)->base, NULL)

/* --- health ------------------------------------------------------------------- */

static void server_live(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__ServerLiveRequest, inference__server_live_request, c, data, len);
    FREE(req);
    Inference__ServerLiveResponse resp = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
    resp.live = 1;
    rpc_call_reply(c, &resp.base);
}

static void server_ready(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__ServerReadyRequest, inference__server_ready_request, c, data, len);
    FREE(req);
    Inference__ServerReadyResponse resp = INFERENCE__SERVER_READY_RESPONSE__INIT;
    resp.ready = rpc_server_ready(rpc_call_server(c));
    rpc_call_reply(c, &resp.base);
}

static void model_ready(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__ModelReadyRequest, inference__model_ready_request, c, data, len);
    serve_model_handle *h;
    errinfo err;
    status st = acquire(c, req->name, req->version, &h, &err);
    FREE(req);
    if (st == STATUS_INVALID_ARGUMENT) {
        rpc_call_finish(c, st, err.msg);
        return;
    }
    serve_model_handle_release(h);
    Inference__ModelReadyResponse resp = INFERENCE__MODEL_READY_RESPONSE__INIT;
    resp.ready = st == STATUS_OK;
    rpc_call_reply(c, &resp.base);
}

/* --- metadata ----------------------------------------------------------------- */

static void server_metadata(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__ServerMetadataRequest, inference__server_metadata_request, c, data, len);
    FREE(req);
    static char *extensions[] = {"model_repository", "model_configuration", "statistics"};
    Inference__ServerMetadataResponse resp = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
    resp.name = SERVER_NAME;
    resp.version = INFERD_VERSION;
    resp.n_extensions = sizeof extensions / sizeof extensions[0];
    resp.extensions = extensions;
    rpc_call_reply(c, &resp.base);
}

static Inference__ModelMetadataResponse__TensorMetadata **tensor_list(rpc_arena *a,
                                                                      const serve_io *io, int n) {
    Inference__ModelMetadataResponse__TensorMetadata *t = rpc_arena_alloc(a, (size_t)n * sizeof *t);
    Inference__ModelMetadataResponse__TensorMetadata **p = rpc_arena_alloc(a, (size_t)n * sizeof *p);
    if (!t || !p) return NULL;
    for (int i = 0; i < n; i++) {
        inference__model_metadata_response__tensor_metadata__init(&t[i]);
        t[i].name = io[i].name;
        t[i].datatype = (char *)serve_datatype_name(io[i].dtype);
        t[i].n_shape = io[i].rank > 0 ? (size_t)io[i].rank : 0;
        t[i].shape = (int64_t *)io[i].dims;
        p[i] = &t[i];
    }
    return p;
}

/* The versions of `model` that serve requests ("1", "2"), as REST lists them. */
static bool ready_versions(rpc_arena *a, serve_manager *mm, const char *model, char ***out,
                           size_t *n_out) {
    serve_model_status *list = NULL;
    size_t n = 0;
    *out = NULL;
    *n_out = 0;
    if (serve_manager_list(mm, &list, &n, NULL)) return true;   /* none listed */
    bool ok = (*out = rpc_arena_alloc(a, n * sizeof **out)) != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (strcmp(list[i].name, model) || list[i].state != SERVE_MODEL_READY) continue;
        ok = ((*out)[*n_out] = rpc_arena_printf(a, "%lld", (long long)list[i].version)) != NULL;
        *n_out += ok;
    }
    serve_model_status_free(list, n);
    return ok;
}

static void model_metadata(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__ModelMetadataRequest, inference__model_metadata_request, c, data, len);
    serve_model_handle *h;
    errinfo err;
    status st = acquire(c, req->name, req->version, &h, &err);
    if (st) {
        FREE(req);
        rpc_call_finish(c, st, err.msg);
        return;
    }
    const serve_model_meta *meta = serve_model_handle_meta(h);
    rpc_arena a = {0};
    Inference__ModelMetadataResponse resp = INFERENCE__MODEL_METADATA_RESPONSE__INIT;
    resp.name = req->name;
    resp.platform = (char *)meta->platform;
    resp.n_inputs = (size_t)meta->n_inputs;
    resp.inputs = tensor_list(&a, meta->inputs, meta->n_inputs);
    resp.n_outputs = (size_t)meta->n_outputs;
    resp.outputs = tensor_list(&a, meta->outputs, meta->n_outputs);
    bool ok = resp.inputs && resp.outputs &&
              ready_versions(&a, models_of(c), req->name, &resp.versions, &resp.n_versions);
    if (ok) rpc_call_reply(c, &resp.base);
    else rpc_call_finish(c, STATUS_NO_MEMORY, "out of memory building model metadata");
    rpc_arena_free(&a);
    serve_model_handle_release(h);
    FREE(req);
}

static void model_configuration(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__ModelConfigRequest, inference__model_config_request, c, data, len);
    serve_model_handle *h;
    errinfo err;
    status st = acquire(c, req->name, req->version, &h, &err);
    FREE(req);
    if (st) {
        rpc_call_finish(c, st, err.msg);
        return;
    }
    rpc_arena a = {0};
    Inference__ModelConfigResponse resp = INFERENCE__MODEL_CONFIG_RESPONSE__INIT;
    resp.config = rpc_model_config_build(&a, h);
    if (resp.config) rpc_call_reply(c, &resp.base);
    else rpc_call_finish(c, STATUS_NO_MEMORY, "out of memory building the model configuration");
    rpc_arena_free(&a);
    serve_model_handle_release(h);
}

/* --- statistics --------------------------------------------------------------- */

static Inference__StatisticDuration *duration(rpc_arena *a, uint64_t count, uint64_t ns) {
    Inference__StatisticDuration *d = rpc_arena_alloc(a, sizeof *d);
    if (!d) return NULL;
    inference__statistic_duration__init(d);
    d->count = count;
    d->ns = ns;
    return d;
}

/* One row of serve_model_stats_collect (model_stats.h, which REST shares)
 * as Triton's message. */
static Inference__ModelStatistics *model_stats(rpc_arena *a, const serve_model_stats *s) {
    Inference__ModelStatistics *m = rpc_arena_alloc(a, sizeof *m);
    Inference__InferStatistics *is = rpc_arena_alloc(a, sizeof *is);
    if (!m || !is) return NULL;
    inference__model_statistics__init(m);
    inference__infer_statistics__init(is);
    m->name = s->name;
    m->version = rpc_arena_printf(a, "%lld", (long long)s->version);
    m->inference_count = s->inference_count;
    m->execution_count = s->execution_count;
    m->inference_stats = is;
    is->success = duration(a, s->success_count, s->success_ns);
    is->fail = duration(a, s->fail_count, 0);
    is->queue = duration(a, s->success_count, s->queue_ns);
    is->compute_input = duration(a, s->success_count, 0);
    is->compute_infer = duration(a, s->success_count, s->compute_infer_ns);
    is->compute_output = duration(a, s->success_count, 0);
    is->cache_hit = duration(a, 0, 0);
    is->cache_miss = duration(a, 0, 0);
    bool ok = m->version && is->success && is->fail && is->queue && is->compute_input &&
              is->compute_infer && is->compute_output && is->cache_hit && is->cache_miss;
    return ok ? m : NULL;
}

/* Empty name: every model; empty version: every ready version. */
static void model_statistics(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__ModelStatisticsRequest, inference__model_statistics_request, c, data,
           len);
    errinfo err;
    int64_t version = 0;
    serve_model_stats *rows = NULL;
    size_t n = 0;
    status st = rpc_parse_version(req->version, &version, &err);
    if (!st) st = serve_model_stats_collect(models_of(c), req->name, version, &rows, &n, &err);
    rpc_arena a = {0};
    Inference__ModelStatisticsResponse resp = INFERENCE__MODEL_STATISTICS_RESPONSE__INIT;
    if (!st && n && !(resp.model_stats = rpc_arena_alloc(&a, n * sizeof *resp.model_stats)))
        st = status_fail(&err, STATUS_NO_MEMORY, "out of memory");
    for (size_t i = 0; !st && i < n; i++) {
        if (!(resp.model_stats[i] = model_stats(&a, &rows[i])))
            st = status_fail(&err, STATUS_NO_MEMORY, "out of memory");
        else resp.n_model_stats++;
    }
    if (st) rpc_call_finish(c, st, err.msg);
    else rpc_call_reply(c, &resp.base);
    rpc_arena_free(&a);
    serve_model_stats_free(rows, n);
    FREE(req);
}

/* --- repository ---------------------------------------------------------------- */

static void repository_index(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__RepositoryIndexRequest, inference__repository_index_request, c, data,
           len);
    bool only_ready = req->ready;
    FREE(req);
    serve_model_status *list = NULL;
    size_t n = 0;
    errinfo err;
    status st = serve_manager_index(models_of(c), only_ready, &list, &n, &err);
    if (st) {
        rpc_call_finish(c, st, err.msg);
        return;
    }
    rpc_arena a = {0};
    Inference__RepositoryIndexResponse resp = INFERENCE__REPOSITORY_INDEX_RESPONSE__INIT;
    Inference__RepositoryIndexResponse__ModelIndex *rows = rpc_arena_alloc(&a, n * sizeof *rows);
    resp.models = rpc_arena_alloc(&a, n * sizeof *resp.models);
    bool ok = rows && resp.models;
    for (size_t i = 0; ok && i < n; i++) {
        Inference__RepositoryIndexResponse__ModelIndex *m = &rows[i];
        inference__repository_index_response__model_index__init(m);
        m->name = list[i].name;
        m->version = list[i].version ? rpc_arena_printf(&a, "%lld", (long long)list[i].version)
                                     : "";
        m->state = (char *)serve_model_state_name(list[i].state);
        m->reason = list[i].reason ? list[i].reason : "";
        ok = m->version != NULL;
        resp.models[resp.n_models++] = m;
    }
    if (ok) rpc_call_reply(c, &resp.base);
    else rpc_call_finish(c, STATUS_NO_MEMORY, "out of memory building the repository index");
    rpc_arena_free(&a);
    serve_model_status_free(list, n);
}

/* The manager answers here (on its thread, or at once) when the load or
 * unload is done. Both responses are empty messages. */
static void control_done(void *ctx, status st, const char *msg) {
    rpc_call *c = ctx;
    Inference__RepositoryModelLoadResponse resp = INFERENCE__REPOSITORY_MODEL_LOAD_RESPONSE__INIT;
    if (st) rpc_call_finish(c, st, msg);
    else rpc_call_reply(c, &resp.base);
    rpc_call_unref(c);
}

/* Triton's load parameters "config" and "file:<path>" would load something
 * that is not in the repository; inferd serves the repository as it is
 * (the REST frontend's rule and message). */
static bool refuse_overrides(rpc_call *c, const Inference__RepositoryModelLoadRequest *req) {
    for (size_t i = 0; i < req->n_parameters; i++) {
        const char *key = req->parameters[i]->key ? req->parameters[i]->key : "";
        if (strcmp(key, "config") && strncmp(key, "file:", 5)) continue;
        char msg[200];
        snprintf(msg, sizeof msg, "load parameter '%.64s' is not supported: models load from "
                 "the repository as it is on disk", key);
        rpc_call_finish(c, STATUS_UNSUPPORTED, msg);
        return true;
    }
    return false;
}

static void repository_load(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__RepositoryModelLoadRequest, inference__repository_model_load_request,
           c, data, len);
    if (!refuse_overrides(c, req)) {
        rpc_call_ref(c);
        serve_manager_load(models_of(c), req->model_name, control_done, c);
    }
    FREE(req);
}

static void repository_unload(rpc_call *c, const uint8_t *data, size_t len) {
    UNPACK(req, Inference__RepositoryModelUnloadRequest,
           inference__repository_model_unload_request, c, data, len);
    rpc_call_ref(c);
    serve_manager_unload(models_of(c), req->model_name, control_done, c);
    FREE(req);
}

/* --- the service -------------------------------------------------------------- */

#define SVC "/inference.GRPCInferenceService/"

const rpc_method rpc_kserve_methods[] = {
    {SVC "ServerLive", RPC_UNARY, server_live, NULL, NULL, NULL, NULL, NULL},
    {SVC "ServerReady", RPC_UNARY, server_ready, NULL, NULL, NULL, NULL, NULL},
    {SVC "ModelReady", RPC_UNARY, model_ready, NULL, NULL, NULL, NULL, NULL},
    {SVC "ServerMetadata", RPC_UNARY, server_metadata, NULL, NULL, NULL, NULL, NULL},
    {SVC "ModelMetadata", RPC_UNARY, model_metadata, NULL, NULL, NULL, NULL, NULL},
    {SVC "ModelInfer", RPC_UNARY, rpc_infer_on_message, NULL, rpc_infer_on_cancel, NULL, NULL,
     rpc_infer_on_destroy},
    {SVC "ModelStreamInfer", RPC_BIDI_STREAM, rpc_infer_on_message, rpc_infer_on_half_close,
     rpc_infer_on_cancel, rpc_infer_on_stop, NULL, rpc_infer_on_destroy},
    {SVC "ModelConfig", RPC_UNARY, model_configuration, NULL, NULL, NULL, NULL, NULL},
    {SVC "ModelStatistics", RPC_UNARY, model_statistics, NULL, NULL, NULL, NULL, NULL},
    {SVC "RepositoryIndex", RPC_UNARY, repository_index, NULL, NULL, NULL, NULL, NULL},
    {SVC "RepositoryModelLoad", RPC_UNARY, repository_load, NULL, NULL, NULL, NULL, NULL},
    {SVC "RepositoryModelUnload", RPC_UNARY, repository_unload, NULL, NULL, NULL, NULL, NULL},
};

const int rpc_kserve_method_count = sizeof rpc_kserve_methods / sizeof rpc_kserve_methods[0];
