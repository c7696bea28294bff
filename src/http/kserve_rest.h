/* kserve_rest.h -- the KServe v2 / Open Inference Protocol REST API.
 *
 * Routes every /v2 request of the HTTP server to the serving core: health,
 * server and model metadata, model configuration and statistics (Triton's
 * extensions, which perf_analyzer needs), model readiness, and inference
 * with JSON tensors. Handlers run on the HTTP I/O thread, parse and
 * validate, and queue the work; the answer to an inference is written by
 * the worker that ran it (http_exchange_respond is thread-safe), so the I/O
 * thread never waits on a model.
 *
 *     kserve_rest api = {.models = mm, .max_request_bytes = 64 << 20};
 *     http_server_create(&o, kserve_rest_handle, &api, &srv, &err);
 */
#ifndef INFERD_KSERVE_REST_H
#define INFERD_KSERVE_REST_H

#include <stdatomic.h>

#include "http/http_server.h"
#include "serve/model_manager.h"

typedef struct kserve_rest {
    serve_manager *models;
    atomic_int draining;        /* set on SIGTERM: readiness answers 503 */
} kserve_rest;

/* The http_handler_fn for the whole HTTP port; ctx is a kserve_rest. */
void kserve_rest_handle(http_exchange *ex, const http_request *req, void *ctx);

/* Answers {"error": msg} with the HTTP code of st. Used by all handlers. */
void kserve_respond_error(http_exchange *ex, status st, const char *msg);
/* The model version a request names, or NULL after answering why not
 * (unknown model or version, not ready). version 0 = the latest ready one.
 * Release the handle with serve_model_handle_release(). */
serve_model_handle *kserve_acquire(kserve_rest *api, http_exchange *ex, const char *model,
                                   int64_t version);
/* Answers with a JSON body (takes ownership; NULL = out of memory -> 500). */
void kserve_respond_json(http_exchange *ex, int code, char *body, size_t len);

/* GET /v2/models/{m}[/versions/{v}]/config: Triton's model configuration
 * as JSON (kserve_config.c). version 0 = the latest ready one. */
void kserve_model_config(kserve_rest *api, http_exchange *ex, const char *model,
                         int64_t version);
/* GET /v2/models[/{m}[/versions/{v}]]/stats: Triton's statistics extension
 * (kserve_stats.c). model NULL = every model, version 0 = every ready one. */
void kserve_model_stats(kserve_rest *api, http_exchange *ex, const char *model,
                        int64_t version);

/* Inference: POST /v2/models/{m}[/versions/{v}]/infer (kserve_infer.c). */
void kserve_infer(kserve_rest *api, http_exchange *ex, const http_request *req,
                  const char *model, int64_t version);

#endif
