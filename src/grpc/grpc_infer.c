/* grpc_infer.c -- ModelInfer and ModelStreamInfer.
 *
 * Both decode each request on the CQ thread (grpc_codec.c) and submit it to
 * the serving core, exactly as the REST frontend does; the model worker
 * that ran it encodes and sends the answer. A call keeps a list of its
 * requests still in the serving core, so a client cancel or a passed
 * deadline drops the queued ones (serve_request_cancel).
 *
 * ModelInfer answers with the response or a status whose code comes from
 * status_grpc_code() and whose message is the serving core's, as REST's is.
 * ModelStreamInfer answers every request with one ModelStreamInferResponse,
 * in completion order: the response, or error_message (the stream goes on).
 * The stream ends with OK after the client's half-close once every answer
 * is out, or with UNAVAILABLE when the server stops. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "grpc_codec.h"
#include "grpc_internal.h"

typedef struct infer_job {
    rpc_call *call;               /* referenced until the job is done */
    rpc_infer_input in;
    struct infer_job *prev, *next;
} infer_job;

/* Per call (unary or stream). */
typedef struct infer_state {
    pthread_mutex_t lock;         /* below */
    infer_job *pending;           /* submitted and not completed */
    bool half_closed;             /* stream: the client sent its last request */
    bool stopping;                /* stream: the server is stopping */
} infer_state;

static bool is_stream(rpc_call *c) { return rpc_call_method(c)->kind == RPC_BIDI_STREAM; }

static infer_state *state_of(rpc_call *c) {
    infer_state *st = rpc_call_state(c);
    if (st) return st;
    if (!(st = calloc(1, sizeof *st))) return NULL;
    pthread_mutex_init(&st->lock, NULL);
    rpc_call_set_state(c, st);
    return st;
}

/* A stream's error message; the id and model say which request it was. */
static void stream_error(rpc_call *c, const serve_request *r, const char *msg) {
    Inference__ModelStreamInferResponse m = INFERENCE__MODEL_STREAM_INFER_RESPONSE__INIT;
    Inference__ModelInferResponse id = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    m.error_message = (char *)msg;
    if (r) {
        id.model_name = (char *)serve_request_model(r);
        id.id = (char *)serve_request_id(r);
        m.infer_response = &id;
    }
    if (!rpc_call_send(c, &m.base))
        rpc_call_finish(c, STATUS_NO_MEMORY, "out of memory sending an error");
}

/* On the worker that ran the request (or the CQ thread if it was refused
 * at once). */
static void answer(rpc_call *c, const infer_job *job) {
    const serve_request *r = job->in.req;
    status st = serve_request_status(r);
    rpc_infer_output out;
    errinfo err;
    memset(&out, 0, sizeof out);
    if (st) snprintf(err.msg, sizeof err.msg, "%s", serve_request_error(r));
    else st = rpc_infer_encode(r, job->in.raw, &out, &err);
    if (st) log_verbose("infer %s: %s", serve_request_model(r), err.msg);
    if (!is_stream(c)) {
        if (st) rpc_call_finish(c, st, err.msg);
        else rpc_call_reply(c, &out.msg.base);
    } else if (st) {
        stream_error(c, r, err.msg);
    } else {
        Inference__ModelStreamInferResponse m = INFERENCE__MODEL_STREAM_INFER_RESPONSE__INIT;
        m.infer_response = &out.msg;
        if (!rpc_call_send(c, &m.base))
            rpc_call_finish(c, STATUS_NO_MEMORY, "out of memory sending a response");
    }
    if (!st) rpc_infer_output_free(&out);
}

static void infer_done(serve_request *r, void *ctx) {
    (void)r;
    infer_job *job = ctx;
    rpc_call *c = job->call;
    infer_state *st = rpc_call_state(c);
    answer(c, job);
    pthread_mutex_lock(&st->lock);
    if (job->prev) job->prev->next = job->next;
    else st->pending = job->next;
    if (job->next) job->next->prev = job->prev;
    bool last = is_stream(c) && !st->pending && (st->half_closed || st->stopping);
    bool stopped = st->stopping && !st->half_closed;
    pthread_mutex_unlock(&st->lock);
    serve_request_destroy(job->in.req);
    rpc_infer_input_free_message(&job->in);
    free(job);
    if (last) rpc_call_finish(c, stopped ? STATUS_UNAVAILABLE : STATUS_OK,
                              stopped ? "the server is shutting down" : NULL);
    rpc_call_unref(c);
}

void rpc_infer_on_message(rpc_call *c, const uint8_t *data, size_t len) {
    infer_state *st = state_of(c);
    infer_job *job = st ? calloc(1, sizeof *job) : NULL;
    errinfo err;
    status s = STATUS_NO_MEMORY;
    if (!job) {
        snprintf(err.msg, sizeof err.msg, "out of memory accepting a request");
        goto refuse;
    }
    s = rpc_infer_decode(data, len, &job->in, &err);
    if (s) goto refuse;
    job->call = c;
    rpc_call_ref(c);
    pthread_mutex_lock(&st->lock);
    job->next = st->pending;
    if (st->pending) st->pending->prev = job;
    st->pending = job;
    pthread_mutex_unlock(&st->lock);
    serve_request_set_callback(job->in.req, infer_done, job);
    serve_manager_submit(rpc_server_models(rpc_call_server(c)), job->in.req);
    return;
refuse:
    free(job);
    log_verbose("infer: %s", err.msg);
    if (is_stream(c) && s != STATUS_NO_MEMORY) stream_error(c, NULL, err.msg);
    else rpc_call_finish(c, s, err.msg);
}

void rpc_infer_on_cancel(rpc_call *c) {
    infer_state *st = rpc_call_state(c);
    if (!st) return;
    pthread_mutex_lock(&st->lock);
    for (infer_job *j = st->pending; j; j = j->next) serve_request_cancel(j->in.req);
    pthread_mutex_unlock(&st->lock);
}

/* Stream hooks: end once every answer is out. */
static void end_when_idle(rpc_call *c, bool half_close) {
    infer_state *st = state_of(c);
    if (!st) {
        rpc_call_finish(c, STATUS_NO_MEMORY, "out of memory");
        return;
    }
    pthread_mutex_lock(&st->lock);
    if (half_close) st->half_closed = true;
    else st->stopping = true;
    bool idle = !st->pending;
    pthread_mutex_unlock(&st->lock);
    if (!idle) return;
    if (half_close) rpc_call_finish(c, STATUS_OK, NULL);
    else rpc_call_finish(c, STATUS_UNAVAILABLE, "the server is shutting down");
}

void rpc_infer_on_half_close(rpc_call *c) { end_when_idle(c, true); }
void rpc_infer_on_stop(rpc_call *c) { end_when_idle(c, false); }

void rpc_infer_on_destroy(rpc_call *c) {
    infer_state *st = rpc_call_state(c);
    if (!st) return;
    pthread_mutex_destroy(&st->lock);
    free(st);
}
