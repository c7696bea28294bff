/* kserve_infer.c -- POST /v2/models/{m}[/versions/{v}]/infer.
 *
 * The I/O thread looks the model version up, turns the body into a
 * serve_request (kserve_codec.h: JSON tensors, binary tensors after a JSON
 * header, or one raw binary input) and submits it; the worker that ran the
 * model writes the answer and hands it to the connection. The parsed JSON
 * and the HTTP body live until then: inputs point into both. */
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "http/kserve_binary.h"
#include "http/kserve_codec.h"
#include "http/kserve_rest.h"

/* What the completion callback needs, allocated per request. */
typedef struct infer_call {
    http_exchange *ex;
    serve_request *r;            /* for infer_cancel, until respond() */
    kserve_infer_wire wire;
} infer_call;

/* The client went away (I/O thread, before respond): its queued work is
 * dropped instead of run. */
static void infer_cancel(void *ctx) { serve_request_cancel(((infer_call *)ctx)->r); }

static void respond_outputs(http_exchange *ex, const serve_request *r,
                            const kserve_infer_wire *wire) {
    char *body, hdr[80];
    size_t len, json_len;
    errinfo err;
    status st = kserve_response_write(r, wire, &body, &len, &json_len, &err);
    if (st) {
        kserve_respond_error(ex, st, err.msg);
        return;
    }
    if (json_len == len) {
        kserve_respond_json(ex, 200, body, len);
        return;
    }
    snprintf(hdr, sizeof hdr, KSERVE_HEADER_LENGTH ": %zu\r\n", json_len);
    http_exchange_respond(ex, 200, "application/octet-stream", hdr, body, len);
}

/* On the worker that ran the request (or the submitting thread if it was
 * refused at once). */
static void infer_done(serve_request *r, void *ctx) {
    infer_call *call = ctx;
    status st = serve_request_status(r);
    if (st) kserve_respond_error(call->ex, st, serve_request_error(r));
    else respond_outputs(call->ex, r, &call->wire);
    /* The exchange (and the body the inputs may borrow) is gone now; the
     * request only frees what it owns. */
    serve_request_destroy(r);
    kserve_infer_wire_deinit(&call->wire);
    free(call);
}

void kserve_infer(kserve_rest *api, http_exchange *ex, const http_request *req,
                  const char *model, int64_t version) {
    errinfo err;
    serve_model_handle *h = NULL;
    serve_request *r = NULL;
    infer_call *call = NULL;
    status st = serve_manager_acquire(api->models, model, version, &h, &err);
    if (st) goto fail;
    if (!(call = calloc(1, sizeof *call))) {
        st = status_fail(&err, STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    call->ex = ex;
    st = serve_request_create(model, version, &r, &err);
    if (!st)
        st = kserve_request_parse(req->body, req->body_len,
                                  http_request_header(req, KSERVE_HEADER_LENGTH),
                                  serve_model_handle_meta(h), r, &call->wire, &err);
    if (st) goto fail;
    serve_request_set_callback(r, infer_done, call);
    call->r = r;
    http_exchange_on_cancel(ex, infer_cancel, call);
    serve_model_handle_submit(h, r);
    serve_model_handle_release(h);
    return;
fail:
    log_verbose("infer %s: %s", model, err.msg);
    kserve_respond_error(ex, st, err.msg);
    serve_request_destroy(r);
    free(call);
    serve_model_handle_release(h);
}
