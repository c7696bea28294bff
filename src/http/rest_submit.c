/* rest_submit.c -- lookup, parse, submit and answer of a REST inference. */
#include "rest_submit.h"

#include <stdalign.h>
#include <stdlib.h>

#include "common/log.h"
#include "http/kserve_rest.h"

/* What the completion callback needs, allocated per request; the codec's
 * wire state follows it. */
typedef struct rest_call {
    http_exchange *ex;
    serve_request *r;            /* for rest_cancel, until respond() */
    const rest_codec *codec;
    alignas(max_align_t) unsigned char wire[];
} rest_call;

/* The client went away (I/O thread, before respond): its queued work is
 * dropped instead of run. */
static void rest_cancel(void *ctx) { serve_request_cancel(((rest_call *)ctx)->r); }

/* On the worker that ran the request (or the submitting thread if it was
 * refused at once). */
static void rest_done(serve_request *r, void *ctx) {
    rest_call *call = ctx;
    status st = serve_request_status(r);
    if (st) kserve_respond_error(call->ex, st, serve_request_error(r));
    else call->codec->respond(call->ex, r, call->wire);
    /* The exchange (and the body the inputs may borrow) is gone now; the
     * request only frees what it owns. */
    serve_request_destroy(r);
    call->codec->wire_deinit(call->wire);
    free(call);
}

void rest_submit(serve_manager *mm, http_exchange *ex, const http_request *req,
                 const char *model, int64_t version, const rest_codec *codec) {
    errinfo err;
    serve_model_handle *h = NULL;
    serve_request *r = NULL;
    rest_call *call = NULL;
    status st = serve_manager_acquire(mm, model, version, &h, &err);
    if (st) goto fail;
    if (!(call = calloc(1, sizeof *call + codec->wire_size))) {
        st = status_fail(&err, STATUS_NO_MEMORY, "out of memory");
        goto fail;
    }
    call->ex = ex;
    call->codec = codec;
    st = serve_request_create(model, version, &r, &err);
    if (!st) st = codec->parse(req, serve_model_handle_meta(h), r, call->wire, &err);
    if (st) goto fail;
    serve_request_set_callback(r, rest_done, call);
    call->r = r;
    http_exchange_on_cancel(ex, rest_cancel, call);
    serve_model_handle_submit(h, r);
    serve_model_handle_release(h);
    return;
fail:
    log_verbose("%s %s: %s", codec->what, model, err.msg);
    kserve_respond_error(ex, st, err.msg);
    serve_request_destroy(r);
    free(call);             /* a failed parse has released its wire state */
    serve_model_handle_release(h);
}
