/* rest_submit.h -- the path every REST inference takes, whatever its wire format.
 *
 * KServe v2 (/v2/.../infer) and TF Serving (/v1/...:predict) differ only in
 * how a body becomes a serve_request and how the outputs become a body. The
 * rest is shared and lives here: look the model version up, parse, register
 * the client-disconnect hook, submit, and on completion (on the worker that
 * ran the model) answer and free everything.
 *
 *     static const rest_codec kserve = {.what = "infer", .wire_size = sizeof(kserve_infer_wire),
 *                                       .parse = parse, .respond = respond, .wire_deinit = deinit};
 *     rest_submit(api->models, ex, req, model, version, &kserve);
 */
#ifndef INFERD_REST_SUBMIT_H
#define INFERD_REST_SUBMIT_H

#include <stddef.h>
#include <stdint.h>

#include "http/http_server.h"
#include "serve/model_manager.h"

typedef struct rest_codec {
    const char *what;   /* "infer", "predict": names the request in the log */
    size_t wire_size;   /* bytes of the codec's per-request state, zeroed before parse */
    /* I/O thread: fills r from the request; inputs may borrow the body and
     * the wire state, which both live until the answer is written. */
    status (*parse)(const http_request *req, const serve_model_meta *meta, serve_request *r,
                    void *wire, errinfo *err);
    /* Worker thread, on success: writes the outputs and calls
     * http_exchange_respond (or kserve_respond_error) exactly once. */
    void (*respond)(http_exchange *ex, const serve_request *r, void *wire);
    void (*wire_deinit)(void *wire);
} rest_codec;

/* Answers the exchange exactly once: an error at once, or the outputs
 * when the model has run. I/O thread. */
void rest_submit(serve_manager *mm, http_exchange *ex, const http_request *req,
                 const char *model, int64_t version, const rest_codec *codec);

#endif
