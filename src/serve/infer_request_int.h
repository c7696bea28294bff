/* infer_request_int.h -- the request's layout and the serving core's side of
 * its life (private to src/serve: scheduler, model manager).
 *
 * The scheduler links queued requests through `next`, stamps timing, stores
 * outputs and completes each request exactly once:
 *
 *     r->timing.queue_end_ns = serve_clock_ns();
 *     ... execute ...
 *     serve_request_take_output(r, &out[i], backend->tensor_release);
 *     serve_request_complete(r, STATUS_OK, NULL);   // r may be gone now
 */
#ifndef INFERD_SERVE_INFER_REQUEST_INT_H
#define INFERD_SERVE_INFER_REQUEST_INT_H

#include <stdatomic.h>

#include "infer_request.h"

typedef struct req_input {
    serve_tensor t;              /* name malloc'd */
    bool owned;                  /* free(t.data) at destroy */
} req_input;

typedef struct req_output {
    serve_tensor t;              /* name malloc'd */
    void (*release)(serve_tensor *t);  /* frees t.data; NULL = free() */
} req_output;

struct serve_request {
    char *id;
    char *model;
    int64_t version;             /* requested; 0 = latest ready */
    int64_t model_version;       /* the version that took it */
    struct serve_model_metrics *metrics; /* that version's series (serve_metrics.h);
                                            observed once at completion; NULL = none */

    req_input *inputs;
    int n_inputs, cap_inputs;
    char **wanted;               /* requested outputs */
    int n_wanted, cap_wanted;

    req_output *outputs;
    int n_outputs, cap_outputs;

    serve_request_done_fn done;
    void *done_ctx;
    status st;
    errinfo err;

    serve_timing timing;
    uint64_t timeout_us;         /* asked for by the client; 0 = none */
    uint64_t deadline_ns;        /* set by the scheduler; 0 = none */
    atomic_bool cancelled;
    atomic_bool completed;

    struct serve_request *next;  /* scheduler queue link */
};

/* Moves a backend output into the request (shape may be rewritten first).
 * On failure (out of memory) the tensor is released and an error returned. */
status serve_request_take_output(serve_request *r, serve_tensor *t,
                                 void (*release)(serve_tensor *t), errinfo *err);
/* Drops all outputs (an execution failed after some were stored). */
void serve_request_clear_outputs(serve_request *r);
/* Sets the final status and calls the callback, once; `msg` may be NULL.
 * After this returns the request may already be destroyed. */
void serve_request_complete(serve_request *r, status st, const char *msg);

#endif
