/* kserve_repository.c -- POST /v2/repository/{index, models/{m}/load, models/{m}/unload}. */
#include "kserve_repository.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "http/http_router.h"

/* A body that is empty or a JSON object; NULL doc for an empty one. */
static int parse_body(http_exchange *ex, const http_request *req, json_doc **doc) {
    *doc = NULL;
    size_t i = 0;
    while (i < req->body_len && strchr(" \t\r\n", req->body[i])) i++;
    if (i == req->body_len) return 0;
    errinfo err;
    json_limits lim = {.max_depth = 8, .max_bytes = 1 << 20};
    status st = json_parse(req->body, req->body_len, &lim, doc, &err);
    if (!st && json_type_of(json_root(*doc)) != JSON_OBJECT) {
        snprintf(err.msg, sizeof err.msg, "the request body must be a JSON object");
        st = STATUS_INVALID_ARGUMENT;
    }
    if (st) {
        json_doc_free(*doc);
        *doc = NULL;
        kserve_respond_error(ex, st, err.msg);
        return -1;
    }
    return 0;
}

static void respond_empty_object(http_exchange *ex) {
    char *body = malloc(2);
    if (body) memcpy(body, "{}", 2);
    kserve_respond_json(ex, 200, body, 2);
}

/* --- index ------------------------------------------------------------------------ */

static void handle_index(kserve_rest *api, http_exchange *ex, const http_request *req) {
    json_doc *doc;
    if (parse_body(ex, req, &doc)) return;
    const json_value *ready = json_object_get(json_root(doc), "ready");
    if (ready && json_type_of(ready) != JSON_BOOL) {
        json_doc_free(doc);
        kserve_respond_error(ex, STATUS_INVALID_ARGUMENT, "'ready' must be true or false");
        return;
    }
    bool only_ready = json_get_bool(ready) == 1;
    json_doc_free(doc);
    serve_model_status *rows = NULL;
    size_t n = 0;
    errinfo err;
    status st = serve_manager_index(api->models, only_ready, &rows, &n, &err);
    if (st) {
        kserve_respond_error(ex, st, err.msg);
        return;
    }
    json_writer w;
    size_t len;
    jw_init(&w);
    jw_begin_array(&w);
    for (size_t i = 0; i < n; i++) {
        jw_begin_object(&w);
        jw_key(&w, "name");
        jw_cstring(&w, rows[i].name);
        if (rows[i].version) {
            char v[32];
            snprintf(v, sizeof v, "%lld", (long long)rows[i].version);
            jw_key(&w, "version");
            jw_cstring(&w, v);
        }
        jw_key(&w, "state");
        jw_cstring(&w, serve_model_state_name(rows[i].state));
        jw_key(&w, "reason");
        jw_cstring(&w, rows[i].reason);
        jw_end_object(&w);
    }
    jw_end_array(&w);
    serve_model_status_free(rows, n);
    char *body = jw_finish(&w, &len);
    kserve_respond_json(ex, 200, body, len);
}

/* --- load / unload -------------------------------------------------------------------- */

/* The manager answers here when the load or unload is done. */
static void on_done(void *ctx, status st, const char *msg) {
    http_exchange *ex = ctx;
    if (st) kserve_respond_error(ex, st, msg);
    else respond_empty_object(ex);
}

/* Triton's load parameters "config" (a config.pbtxt in JSON) and
 * "file:<path>" (model files in base64) would load something that is not
 * in the repository; inferd serves the repository as it is. */
static int refuse_overrides(http_exchange *ex, const json_doc *doc) {
    const json_value *params = json_object_get(json_root(doc), "parameters");
    for (int i = 0; i < json_object_size(params); i++) {
        size_t klen;
        const char *key = json_object_key_at(params, i, &klen);
        if ((klen == 6 && !memcmp(key, "config", 6)) || (klen >= 5 && !memcmp(key, "file:", 5))) {
            char msg[200];
            snprintf(msg, sizeof msg, "load parameter '%.*s' is not supported: models load from "
                     "the repository as it is on disk", (int)(klen > 64 ? 64 : klen), key);
            kserve_respond_error(ex, STATUS_UNSUPPORTED, msg);
            return -1;
        }
    }
    return 0;
}

static void handle_control(kserve_rest *api, http_exchange *ex, const http_request *req,
                           const char *model, bool unload) {
    json_doc *doc;
    if (parse_body(ex, req, &doc)) return;
    int refused = !unload && doc && refuse_overrides(ex, doc);
    json_doc_free(doc);
    if (refused) return;
    if (unload) serve_manager_unload(api->models, model, on_done, ex);
    else serve_manager_load(api->models, model, on_done, ex);
}

/* --- routing ----------------------------------------------------------------------------- */

static void method_not_allowed(http_exchange *ex) {
    static const char msg[] = "{\"error\":\"method not allowed: use POST\"}";
    char *body = malloc(sizeof msg);
    if (body) memcpy(body, msg, sizeof msg);
    if (!body) {
        kserve_respond_json(ex, 500, NULL, 0);
        return;
    }
    http_exchange_respond(ex, 405, "application/json", "Allow: POST\r\n", body, sizeof msg - 1);
}

int kserve_repository_route(kserve_rest *api, http_exchange *ex, const http_request *req) {
    if (strncmp(req->path, "/v2/repository", 14)) return 0;
    http_route_match m;
    int index = http_route(req, "/v2/repository/index", &m);
    int load = !index && http_route(req, "/v2/repository/models/{}/load", &m);
    int unload = !index && !load && http_route(req, "/v2/repository/models/{}/unload", &m);
    if (!index && !load && !unload) return 0;
    if (!http_method_matches(req, "POST")) {
        method_not_allowed(ex);
        return 1;
    }
    if (index) handle_index(api, ex, req);
    else handle_control(api, ex, req, m.cap[0], unload);
    return 1;
}
