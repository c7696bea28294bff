/* tfserving_rest.c -- routing and handlers of TF Serving's /v1 REST API. */
#include "tfserving_rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "http/http_router.h"
#include "http/rest_submit.h"
#include "http/tfserving_json.h"

int tfserving_rest_owns(const http_request *req) {
    return !strncmp(req->path, "/v1", 3) && (req->path[3] == '\0' || req->path[3] == '/');
}

/* TF Serving answers any /v1 request it cannot route with a 400. */
static void respond_malformed(http_exchange *ex, const http_request *req) {
    char msg[300];
    snprintf(msg, sizeof msg, "Malformed request: %s %.200s", req->method, req->path);
    kserve_respond_error(ex, STATUS_INVALID_ARGUMENT, msg);
}

/* --- predict --------------------------------------------------------------------------- */

static status predict_parse(const http_request *req, const serve_model_meta *meta,
                            serve_request *r, void *wire, errinfo *err) {
    return tfserving_predict_parse(req->body, req->body_len, meta, r, wire, err);
}

static void predict_respond(http_exchange *ex, const serve_request *r, void *wire) {
    errinfo err;
    char *body;
    size_t len;
    status st = tfserving_predict_response(r, ((tfserving_wire *)wire)->format, &body, &len, &err);
    if (st) kserve_respond_error(ex, st, err.msg);
    else kserve_respond_json(ex, 200, body, len);
}

static void predict_wire_deinit(void *wire) { tfserving_wire_deinit(wire); }

static const rest_codec tfserving_codec = {
    .what = "predict",
    .wire_size = sizeof(tfserving_wire),
    .parse = predict_parse,
    .respond = predict_respond,
    .wire_deinit = predict_wire_deinit,
};

static void handle_predict(kserve_rest *api, http_exchange *ex, const http_request *req,
                           const char *model, int64_t version) {
    rest_submit(api->models, ex, req, model, version, &tfserving_codec);
}

/* --- model status ----------------------------------------------------------------------- */

/* TF Serving's ManagerState names and its status for one version. */
static void write_version_status(json_writer *w, const serve_model_status *s) {
    static const char *const states[] = {
        [SERVE_MODEL_LOADING] = "LOADING", [SERVE_MODEL_READY] = "AVAILABLE",
        [SERVE_MODEL_UNAVAILABLE] = "END", [SERVE_MODEL_FAILED] = "END"};
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)s->version);
    bool failed = s->state == SERVE_MODEL_FAILED;
    jw_begin_object(w);
    jw_key(w, "version");
    jw_cstring(w, v);
    jw_key(w, "state");
    jw_cstring(w, (unsigned)s->state < sizeof states / sizeof states[0] ? states[s->state] : "UNKNOWN");
    jw_key(w, "status");
    jw_begin_object(w);
    jw_key(w, "error_code");
    jw_cstring(w, failed ? "UNKNOWN" : "OK");
    jw_key(w, "error_message");
    jw_cstring(w, failed ? s->reason : "");
    jw_end_object(w);
    jw_end_object(w);
}

static void handle_status(kserve_rest *api, http_exchange *ex, const char *model, int64_t version) {
    serve_model_status *list = NULL;
    size_t n = 0, found = 0;
    errinfo err;
    status st = serve_manager_list(api->models, &list, &n, &err);
    if (st) {
        kserve_respond_error(ex, st, err.msg);
        return;
    }
    json_writer w;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "model_version_status");
    jw_begin_array(&w);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, model) || (version && list[i].version != version)) continue;
        write_version_status(&w, &list[i]);
        found++;
    }
    jw_end_array(&w);
    jw_end_object(&w);
    serve_model_status_free(list, n);
    if (!found) {
        jw_deinit(&w);
        char msg[400];
        if (version)
            snprintf(msg, sizeof msg, "Could not find version %lld of model %.200s",
                     (long long)version, model);
        else snprintf(msg, sizeof msg, "Could not find any versions of model %.200s", model);
        kserve_respond_error(ex, STATUS_NOT_FOUND, msg);
        return;
    }
    size_t len;
    char *body = jw_finish(&w, &len);
    kserve_respond_json(ex, 200, body, len);
}

/* --- model metadata --------------------------------------------------------------------- */

/* A TensorInfo: dtype, tensor_shape (sizes as strings, as protobuf's JSON
 * mapping writes int64) and name. */
static void write_tensor_infos(json_writer *w, const serve_io *io, int n) {
    jw_begin_object(w);
    for (int i = 0; i < n; i++) {
        jw_key(w, io[i].name);
        jw_begin_object(w);
        jw_key(w, "dtype");
        jw_cstring(w, tfserving_dtype_name(io[i].dtype));
        jw_key(w, "tensor_shape");
        jw_begin_object(w);
        jw_key(w, "dim");
        jw_begin_array(w);
        for (int d = 0; d < io[i].rank; d++) {
            char size[32];
            snprintf(size, sizeof size, "%lld", (long long)io[i].dims[d]);
            jw_begin_object(w);
            jw_key(w, "size");
            jw_cstring(w, size);
            jw_key(w, "name");
            jw_cstring(w, "");
            jw_end_object(w);
        }
        jw_end_array(w);
        jw_key(w, "unknown_rank");
        jw_bool(w, io[i].rank < 0);
        jw_end_object(w);
        jw_key(w, "name");
        jw_cstring(w, io[i].name);
        jw_end_object(w);
    }
    jw_end_object(w);
}

static void write_signature_def(json_writer *w, const serve_model_meta *meta) {
    jw_begin_object(w);
    jw_key(w, "signature_def");
    jw_begin_object(w);
    jw_key(w, "serving_default");
    jw_begin_object(w);
    jw_key(w, "inputs");
    write_tensor_infos(w, meta->inputs, meta->n_inputs);
    jw_key(w, "outputs");
    write_tensor_infos(w, meta->outputs, meta->n_outputs);
    jw_key(w, "method_name");
    jw_cstring(w, "tensorflow/serving/predict");
    jw_end_object(w);
    jw_end_object(w);
    jw_end_object(w);
}

static void handle_metadata(kserve_rest *api, http_exchange *ex, const char *model,
                            int64_t version) {
    serve_model_handle *h = kserve_acquire(api, ex, model, version);
    if (!h) return;
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)serve_model_handle_version(h));
    json_writer w;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "model_spec");
    jw_begin_object(&w);
    jw_key(&w, "name");
    jw_cstring(&w, model);
    jw_key(&w, "signature_name");
    jw_cstring(&w, "");
    jw_key(&w, "version");
    jw_cstring(&w, v);
    jw_end_object(&w);
    jw_key(&w, "metadata");
    jw_begin_object(&w);
    jw_key(&w, "signature_def");
    write_signature_def(&w, serve_model_handle_meta(h));
    jw_end_object(&w);
    jw_end_object(&w);
    serve_model_handle_release(h);
    size_t len;
    char *body = jw_finish(&w, &len);
    kserve_respond_json(ex, 200, body, len);
}

/* --- routing ---------------------------------------------------------------------------- */

typedef enum tfs_action { TFS_PREDICT, TFS_STATUS, TFS_METADATA, TFS_UNSUPPORTED } tfs_action;

/* TF Serving's versions are \d+; 0 names no version inferd can have. */
static int parse_version(const char *text, int64_t *out) {
    int64_t v = 0;
    if (!*text) return -1;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

static void dispatch(kserve_rest *api, http_exchange *ex, const http_request *req,
                     tfs_action action, const char *model, const char *version_text) {
    int64_t version = 0;
    bool post = action == TFS_PREDICT || action == TFS_UNSUPPORTED;
    if (!http_method_matches(req, post ? "POST" : "GET HEAD") || strchr(model, ':') ||
        (version_text && parse_version(version_text, &version))) {
        respond_malformed(ex, req);
        return;
    }
    if (version_text && version == 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "Could not find version 0 of model %.200s", model);
        kserve_respond_error(ex, STATUS_NOT_FOUND, msg);
        return;
    }
    switch (action) {
    case TFS_PREDICT: handle_predict(api, ex, req, model, version); break;
    case TFS_STATUS: handle_status(api, ex, model, version); break;
    case TFS_METADATA: handle_metadata(api, ex, model, version); break;
    case TFS_UNSUPPORTED:
        kserve_respond_error(ex, STATUS_INVALID_ARGUMENT,
                             "only :predict is served: :classify and :regress need tf.Example "
                             "signatures, which ONNX models do not have");
        break;
    }
}

void tfserving_rest_handle(kserve_rest *api, http_exchange *ex, const http_request *req) {
    static const struct {
        const char *pattern;
        tfs_action action;
        int has_version;
    } routes[] = {
        {"/v1/models/{}:predict", TFS_PREDICT, 0},
        {"/v1/models/{}/versions/{}:predict", TFS_PREDICT, 1},
        {"/v1/models/{}:classify", TFS_UNSUPPORTED, 0},
        {"/v1/models/{}:regress", TFS_UNSUPPORTED, 0},
        {"/v1/models/{}/versions/{}:classify", TFS_UNSUPPORTED, 1},
        {"/v1/models/{}/versions/{}:regress", TFS_UNSUPPORTED, 1},
        {"/v1/models/{}", TFS_STATUS, 0},
        {"/v1/models/{}/versions/{}", TFS_STATUS, 1},
        {"/v1/models/{}/metadata", TFS_METADATA, 0},
        {"/v1/models/{}/versions/{}/metadata", TFS_METADATA, 1},
    };
    http_route_match m;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!http_route(req, routes[i].pattern, &m)) continue;
        dispatch(api, ex, req, routes[i].action, m.cap[0], routes[i].has_version ? m.cap[1] : NULL);
        return;
    }
    if (strstr(req->path, "/labels/")) {
        kserve_respond_error(ex, STATUS_INVALID_ARGUMENT,
                             "model version labels are not supported: use /versions/{N}");
        return;
    }
    if (http_method_matches(req, "GET HEAD") &&
        (!strcmp(req->path, "/v1/models") || !strcmp(req->path, "/v1/models/"))) {
        kserve_respond_error(ex, STATUS_INVALID_ARGUMENT, "Missing model name in request.");
        return;
    }
    respond_malformed(ex, req);
}
