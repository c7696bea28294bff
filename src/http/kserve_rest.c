/* kserve_rest.c -- routing of /v2 requests (and of /v1 to tfserving_rest.c),
 * health and metadata handlers. */
#include "kserve_rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "http/http_router.h"
#include "http/kserve_repository.h"
#include "http/tfserving_rest.h"
#include "serve/datatype.h"

#define SERVER_NAME "inferd"

void kserve_respond_json(http_exchange *ex, int code, char *body, size_t len) {
    if (!body) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        char *copy = malloc(sizeof oom);
        if (copy) memcpy(copy, oom, sizeof oom);
        http_exchange_respond(ex, 500, "application/json", NULL, copy, copy ? sizeof oom - 1 : 0);
        return;
    }
    http_exchange_respond(ex, code, "application/json", NULL, body, len);
}

/* {"error": msg}; NULL when out of memory. */
static char *error_body(const char *msg, size_t *len) {
    json_writer w;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "error");
    jw_cstring(&w, msg);
    jw_end_object(&w);
    return jw_finish(&w, len);
}

void kserve_respond_error(http_exchange *ex, status st, const char *msg) {
    size_t len;
    char *body = error_body(msg && msg[0] ? msg : status_message(st), &len);
    if (body && st == STATUS_RESOURCE_EXHAUSTED) { /* 429, overload: say when to retry */
        http_exchange_respond(ex, status_http_code(st), "application/json", "Retry-After: 1\r\n",
                              body, len);
        return;
    }
    kserve_respond_json(ex, status_http_code(st), body, len);
}

serve_model_handle *kserve_acquire(kserve_rest *api, http_exchange *ex, const char *model,
                                   int64_t version) {
    serve_model_handle *h;
    errinfo err;
    status st = serve_manager_acquire(api->models, model, version, &h, &err);
    if (!st) return h;
    kserve_respond_error(ex, st, err.msg);
    return NULL;
}

static void respond_method_not_allowed(http_exchange *ex, const char *allowed) {
    char msg[128], hdr[64];
    size_t len;
    snprintf(msg, sizeof msg, "method not allowed: use %s", allowed);
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allowed);
    char *body = error_body(msg, &len);
    if (!body) {
        kserve_respond_json(ex, 500, NULL, 0);
        return;
    }
    http_exchange_respond(ex, 405, "application/json", hdr, body, len);
}

/* "3" -> 3; anything but a positive decimal integer is a 400. */
static int parse_version(http_exchange *ex, const char *text, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v <= 0 || text[0] == '+' || text[0] == '-') {
        char msg[160];
        snprintf(msg, sizeof msg, "model version '%.64s' is not a positive integer", text);
        kserve_respond_error(ex, STATUS_INVALID_ARGUMENT, msg);
        return -1;
    }
    *out = v;
    return 0;
}

/* --- health and server metadata ------------------------------------------- */

static int server_ready(kserve_rest *api) {
    return !atomic_load(&api->draining) && serve_manager_ready(api->models);
}

static void handle_health(kserve_rest *api, http_exchange *ex, int ready) {
    int ok = ready ? server_ready(api) : 1;
    http_exchange_respond(ex, ok ? 200 : 503, NULL, NULL, NULL, 0);
}

static void handle_server_metadata(http_exchange *ex) {
    /* The protocol extensions clients may rely on (Triton's names). */
    static const char *const extensions[] = {"binary_tensor_data", "model_repository",
                                             "model_configuration", "statistics"};
    json_writer w;
    size_t len;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "name");
    jw_cstring(&w, SERVER_NAME);
    jw_key(&w, "version");
    jw_cstring(&w, INFERD_VERSION);
    jw_key(&w, "extensions");
    jw_begin_array(&w);
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
        jw_cstring(&w, extensions[i]);
    jw_end_array(&w);
    jw_end_object(&w);
    char *body = jw_finish(&w, &len);
    kserve_respond_json(ex, 200, body, len);
}

/* --- model metadata and readiness ----------------------------------------- */

static void write_tensor_list(json_writer *w, const serve_io *io, int n) {
    jw_begin_array(w);
    for (int i = 0; i < n; i++) {
        jw_begin_object(w);
        jw_key(w, "name");
        jw_cstring(w, io[i].name);
        jw_key(w, "datatype");
        jw_cstring(w, serve_datatype_name(io[i].dtype));
        jw_key(w, "shape");
        jw_begin_array(w);
        for (int d = 0; d < io[i].rank; d++) jw_int64(w, io[i].dims[d]);
        jw_end_array(w);
        jw_end_object(w);
    }
    jw_end_array(w);
}

/* The versions of `model` that serve requests, as strings ("1", "2"). */
static void write_ready_versions(json_writer *w, serve_manager *mm, const char *model) {
    serve_model_status *list = NULL;
    size_t n = 0;
    jw_begin_array(w);
    if (serve_manager_list(mm, &list, &n, NULL) == STATUS_OK) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(list[i].name, model) || list[i].state != SERVE_MODEL_READY) continue;
            char v[32];
            snprintf(v, sizeof v, "%lld", (long long)list[i].version);
            jw_cstring(w, v);
        }
        serve_model_status_free(list, n);
    }
    jw_end_array(w);
}

static void handle_model_metadata(kserve_rest *api, http_exchange *ex, const char *model,
                                  int64_t version) {
    serve_model_handle *h = kserve_acquire(api, ex, model, version);
    if (!h) return;
    const serve_model_meta *meta = serve_model_handle_meta(h);
    json_writer w;
    size_t len;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "name");
    jw_cstring(&w, model);
    jw_key(&w, "versions");
    write_ready_versions(&w, api->models, model);
    jw_key(&w, "platform");
    jw_cstring(&w, meta->platform);
    jw_key(&w, "inputs");
    write_tensor_list(&w, meta->inputs, meta->n_inputs);
    jw_key(&w, "outputs");
    write_tensor_list(&w, meta->outputs, meta->n_outputs);
    jw_end_object(&w);
    serve_model_handle_release(h);
    char *body = jw_finish(&w, &len);
    kserve_respond_json(ex, 200, body, len);
}

static void handle_model_ready(kserve_rest *api, http_exchange *ex, const char *model,
                               int64_t version) {
    serve_model_handle *h;
    errinfo err;
    status st = serve_manager_acquire(api->models, model, version, &h, &err);
    if (st == STATUS_NOT_FOUND) {
        kserve_respond_error(ex, st, err.msg);
        return;
    }
    serve_model_handle_release(h);
    http_exchange_respond(ex, st ? 503 : 200, NULL, NULL, NULL, 0);
}

/* --- routing ------------------------------------------------------------- */

typedef enum model_action {
    MODEL_METADATA,
    MODEL_READY,
    MODEL_CONFIG,
    MODEL_STATS,
    MODEL_INFER
} model_action;

static void dispatch_model(kserve_rest *api, http_exchange *ex, const http_request *req,
                           model_action action, const char *model, const char *version_text) {
    const char *method = action == MODEL_INFER ? "POST" : "GET";
    if (!http_method_matches(req, action == MODEL_INFER ? "POST" : "GET HEAD")) {
        respond_method_not_allowed(ex, method);
        return;
    }
    int64_t version = 0;
    if (version_text && parse_version(ex, version_text, &version)) return;
    switch (action) {
    case MODEL_METADATA: handle_model_metadata(api, ex, model, version); break;
    case MODEL_READY: handle_model_ready(api, ex, model, version); break;
    case MODEL_CONFIG: kserve_model_config(api, ex, model, version); break;
    case MODEL_STATS: kserve_model_stats(api, ex, model, version); break;
    case MODEL_INFER: kserve_infer(api, ex, req, model, version); break;
    }
}

static int route_model(kserve_rest *api, http_exchange *ex, const http_request *req) {
    static const struct {
        const char *pattern;
        model_action action;
        int has_version;
    } routes[] = {
        {"/v2/models/{}", MODEL_METADATA, 0},
        {"/v2/models/{}/ready", MODEL_READY, 0},
        {"/v2/models/{}/config", MODEL_CONFIG, 0},
        {"/v2/models/{}/stats", MODEL_STATS, 0},
        {"/v2/models/{}/infer", MODEL_INFER, 0},
        {"/v2/models/{}/versions/{}", MODEL_METADATA, 1},
        {"/v2/models/{}/versions/{}/ready", MODEL_READY, 1},
        {"/v2/models/{}/versions/{}/config", MODEL_CONFIG, 1},
        {"/v2/models/{}/versions/{}/stats", MODEL_STATS, 1},
        {"/v2/models/{}/versions/{}/infer", MODEL_INFER, 1},
    };
    http_route_match m;
    /* Every model's statistics; as in Triton, this path wins over a model
     * named "stats" (whose own are at /v2/models/stats/stats). */
    if (http_route(req, "/v2/models/stats", &m)) {
        dispatch_model(api, ex, req, MODEL_STATS, NULL, NULL);
        return 1;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!http_route(req, routes[i].pattern, &m)) continue;
        dispatch_model(api, ex, req, routes[i].action, m.cap[0],
                       routes[i].has_version ? m.cap[1] : NULL);
        return 1;
    }
    return 0;
}

static int route_server(kserve_rest *api, http_exchange *ex, const http_request *req) {
    int live = !strcmp(req->path, "/v2/health/live");
    int ready = !strcmp(req->path, "/v2/health/ready");
    int meta = !strcmp(req->path, "/v2") || !strcmp(req->path, "/v2/");
    if (!live && !ready && !meta) return 0;
    if (!http_method_matches(req, "GET HEAD")) {
        respond_method_not_allowed(ex, "GET");
        return 1;
    }
    if (meta) handle_server_metadata(ex);
    else handle_health(api, ex, ready);
    return 1;
}

/* TF Serving's REST API (tfserving_rest.c) shares the port. */
static int route_tfserving(kserve_rest *api, http_exchange *ex, const http_request *req) {
    if (!tfserving_rest_owns(req)) return 0;
    tfserving_rest_handle(api, ex, req);
    return 1;
}

/* Triton's shared-memory extensions (not advertised in GET /v2): clients
 * such as perf_analyzer --shared-memory system call these first, so they
 * get a reason rather than a bare 404. */
static int route_shared_memory(http_exchange *ex, const http_request *req) {
    if (strncmp(req->path, "/v2/systemsharedmemory", 22) &&
        strncmp(req->path, "/v2/cudasharedmemory", 20))
        return 0;
    kserve_respond_error(ex, STATUS_UNSUPPORTED,
                         "the shared-memory extensions (system and CUDA) are not supported: "
                         "send tensors in the request, e.g. with the binary tensor data "
                         "extension");
    return 1;
}

void kserve_rest_handle(http_exchange *ex, const http_request *req, void *ctx) {
    kserve_rest *api = ctx;
    if (route_server(api, ex, req) || route_model(api, ex, req) ||
        kserve_repository_route(api, ex, req) || route_tfserving(api, ex, req) ||
        route_shared_memory(ex, req))
        return;
    char msg[300];
    snprintf(msg, sizeof msg, "no such endpoint: %s %.200s", req->method, req->path);
    kserve_respond_error(ex, STATUS_NOT_FOUND, msg);
}
