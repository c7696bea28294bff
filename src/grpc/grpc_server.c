/* grpc_server.c -- the gRPC server: listening, the completion-queue thread
 * and the life of every call, on the gRPC core C API.
 *
 * One completion queue (CQ) and one thread draining it. Every method of
 * every service is registered with gRPC core, so a call arrives already
 * matched to its handler (and, for unary and server-streaming methods, with
 * its request message read). The life of a call:
 *
 *   requested  grpc_server_request_registered_call is pending (a few per
 *              method, re-armed as each is taken)
 *   NEW        started: RECV_CLOSE_ON_SERVER goes in flight for the whole
 *              call (it reports a client cancel or a passed deadline), then
 *              the handler gets the message; a bidi stream instead keeps one
 *              RECV_MESSAGE in flight and gets each message, then the
 *              half-close
 *   sending    an outbox of messages and the final status, sent one batch
 *              at a time (gRPC allows one send in flight per call); sends
 *              come from any thread, serialized by the call's lock, while
 *              receives are only started on the CQ thread -- gRPC core lets
 *              send-only and receive-only batches be synchronized apart
 *   freed      when the last reference drops
 *
 * Unknown methods are taken by a generic request and answered UNIMPLEMENTED.
 * Graceful stop: grpc_server_shutdown_and_notify (no new calls), the
 * services' on_stop hooks (streams end), then the CQ thread runs until the
 * shutdown is notified and every call object is gone; past the grace period
 * the remaining calls are cancelled. */
#include "grpc_internal.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

/* Requests kept pending per method: calls that arrive together are
 * matched without waiting for the CQ thread to re-arm. */
#define RPC_PENDING_PER_METHOD 4
/* How often the CQ thread looks at the call count while stopping. */
#define RPC_STOP_POLL_MS 20

typedef enum rpc_op { OP_NEW, OP_RECV, OP_SEND, OP_CLOSE, OP_SHUTDOWN } rpc_op;

/* What a completion is about; embedded in the call it belongs to. */
typedef struct rpc_tag {
    rpc_op op;
    rpc_call *call;
} rpc_tag;

typedef struct rpc_out {
    struct rpc_out *next;
    grpc_byte_buffer *msg;
} rpc_out;

struct rpc_call {
    rpc_server *srv;
    int slot;                       /* index into srv->methods; -1: unknown method */
    const rpc_method *method;       /* NULL for an unknown method */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_call_details details;      /* unknown methods: the path asked for */
    grpc_metadata_array md;
    grpc_byte_buffer *payload;      /* the request message being received */
    rpc_tag tag_new, tag_recv, tag_send, tag_close;
    int cancelled;                  /* out parameter of RECV_CLOSE_ON_SERVER */
    atomic_int refs;
    void *state;                    /* the handler's */
    bool listed;                    /* in srv->calls (started) */
    struct rpc_call *prev, *next;

    pthread_mutex_t lock;           /* the send side, below */
    rpc_out *out_head, *out_tail;
    grpc_byte_buffer *in_flight;    /* message of the send batch in flight */
    bool sending;                   /* a send batch is in flight */
    bool sent_md;                   /* initial metadata went out */
    bool finishing;                 /* the final status is queued */
    bool status_sent;
    bool dead;                      /* cancelled or failed: sends are dropped */
    grpc_status_code final_code;
    char final_msg[sizeof(errinfo)];
};

struct rpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    serve_manager *models;
    atomic_int *draining;
    int port;
    const rpc_method **methods;     /* every service's methods, flattened */
    void **registered;              /* their grpc_server_register_method handles */
    int n_methods;
    pthread_t thread;
    atomic_bool stopping;
    rpc_tag shutdown_tag;

    /* CQ thread only */
    bool stop_hooks_done;
    bool shutdown_done;

    pthread_mutex_t lock;           /* below */
    pthread_cond_t exited;          /* the CQ thread left its loop, or stop ended */
    bool thread_done;
    enum { RUNNING, STOPPING, STOPPED } stop_state;
    rpc_call *calls;                /* started calls */
    int live;                       /* call objects, requested or started */
};

/* --- helpers ------------------------------------------------------------------- */

static gpr_timespec in_ms(int64_t ms) {
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static const char *call_path(const rpc_call *c) {
    return c->method ? c->method->path : "(unknown method)";
}

/* The message as one contiguous slice (shared when it already is one). */
static bool flatten(grpc_byte_buffer *bb, grpc_slice *out) {
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1) {
        *out = grpc_slice_ref(bb->data.raw.slice_buffer.slices[0]);
        return true;
    }
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb)) return false;
    *out = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    return true;
}

/* A byte buffer holding the serialized message; NULL if out of memory. */
static grpc_byte_buffer *pack(const ProtobufCMessage *msg) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice slice;
    if (n == 0) {
        slice = grpc_empty_slice();
    } else {
        uint8_t *buf = malloc(n);
        if (!buf) return NULL;
        protobuf_c_message_pack(msg, buf);
        slice = grpc_slice_new(buf, n, free);
    }
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return bb;
}

/* --- call objects ------------------------------------------------------------ */

static rpc_call *call_new(rpc_server *s, int slot) {
    rpc_call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = s;
    c->slot = slot;
    c->method = slot >= 0 ? s->methods[slot] : NULL;
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    c->tag_new = (rpc_tag){OP_NEW, c};
    c->tag_recv = (rpc_tag){OP_RECV, c};
    c->tag_send = (rpc_tag){OP_SEND, c};
    c->tag_close = (rpc_tag){OP_CLOSE, c};
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_lock(&s->lock);
    s->live++;
    pthread_mutex_unlock(&s->lock);
    return c;
}

static void drop_outbox_locked(rpc_call *c) {
    while (c->out_head) {
        rpc_out *o = c->out_head;
        c->out_head = o->next;
        grpc_byte_buffer_destroy(o->msg);
        free(o);
    }
    c->out_tail = NULL;
}

static void call_destroy(rpc_call *c) {
    rpc_server *s = c->srv;
    if (c->method && c->method->on_destroy) c->method->on_destroy(c);
    pthread_mutex_lock(&s->lock);
    if (c->listed) {
        if (c->prev) c->prev->next = c->next;
        else s->calls = c->next;
        if (c->next) c->next->prev = c->prev;
    }
    s->live--;
    pthread_mutex_unlock(&s->lock);
    drop_outbox_locked(c);
    if (c->in_flight) grpc_byte_buffer_destroy(c->in_flight);
    if (c->payload) grpc_byte_buffer_destroy(c->payload);
    if (c->call) grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void rpc_call_ref(rpc_call *c) { atomic_fetch_add(&c->refs, 1); }

void rpc_call_unref(rpc_call *c) {
    if (atomic_fetch_sub(&c->refs, 1) == 1) call_destroy(c);
}

/* A reference unless the call is already being destroyed. */
static bool call_try_ref(rpc_call *c) {
    int n = atomic_load(&c->refs);
    while (n > 0)
        if (atomic_compare_exchange_weak(&c->refs, &n, n + 1)) return true;
    return false;
}

rpc_server *rpc_call_server(const rpc_call *c) { return c->srv; }
const rpc_method *rpc_call_method(const rpc_call *c) { return c->method; }
void *rpc_call_state(const rpc_call *c) { return c->state; }
void rpc_call_set_state(rpc_call *c, void *state) { c->state = state; }

/* Starts a batch holding a reference for it; false if gRPC refused. */
static bool start_batch(rpc_call *c, const grpc_op *ops, size_t n, rpc_tag *tag) {
    rpc_call_ref(c);
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    if (e == GRPC_CALL_OK) return true;
    log_error("gRPC %s: batch refused: %s", call_path(c), grpc_call_error_to_string(e));
    /* The caller holds a reference too, so this is never the last. */
    atomic_fetch_sub(&c->refs, 1);
    return false;
}

/* --- sending ---------------------------------------------------------------- */

/* With c->lock held: starts the next send batch unless one is in flight.
 * The final status rides with the last queued message. */
static void send_next_locked(rpc_call *c) {
    if (c->sending || c->dead || c->status_sent) return;
    rpc_out *o = c->out_head;
    bool with_status = c->finishing && (!o || !o->next);
    if (!o && !with_status) return;
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->sent_md) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (o) {
        c->out_head = o->next;
        if (!c->out_head) c->out_tail = NULL;
        c->in_flight = o->msg;
        free(o);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->in_flight;
    }
    grpc_slice details = grpc_empty_slice();
    if (with_status) {
        details = grpc_slice_from_copied_string(c->final_msg);
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status = c->final_code;
        ops[n++].data.send_status_from_server.status_details = &details;
    }
    bool ok = start_batch(c, ops, n, &c->tag_send);
    grpc_slice_unref(details);
    if (!ok) {
        c->dead = true;
        drop_outbox_locked(c);
        if (c->in_flight) grpc_byte_buffer_destroy(c->in_flight);
        c->in_flight = NULL;
        return;
    }
    c->sending = c->sent_md = true;
    c->status_sent = with_status;
}

bool rpc_call_send(rpc_call *c, const ProtobufCMessage *msg) {
    grpc_byte_buffer *bb = pack(msg);
    rpc_out *o = bb ? malloc(sizeof *o) : NULL;
    if (!o) {
        if (bb) grpc_byte_buffer_destroy(bb);
        return false;
    }
    o->next = NULL;
    o->msg = bb;
    pthread_mutex_lock(&c->lock);
    bool open = !c->finishing && !c->dead;
    if (open) {
        if (c->out_tail) c->out_tail->next = o;
        else c->out_head = o;
        c->out_tail = o;
        send_next_locked(c);
    }
    pthread_mutex_unlock(&c->lock);
    if (!open) {
        grpc_byte_buffer_destroy(bb);
        free(o);
    }
    return open;
}

void rpc_call_finish(rpc_call *c, status st, const char *msg) {
    pthread_mutex_lock(&c->lock);
    if (!c->finishing && !c->dead) {
        c->finishing = true;
        c->final_code = (grpc_status_code)status_grpc_code(st);
        snprintf(c->final_msg, sizeof c->final_msg, "%s",
                 st == STATUS_OK ? "" : msg && msg[0] ? msg : status_message(st));
        send_next_locked(c);
    }
    pthread_mutex_unlock(&c->lock);
}

void rpc_call_reply(rpc_call *c, const ProtobufCMessage *msg) {
    if (rpc_call_send(c, msg)) rpc_call_finish(c, STATUS_OK, NULL);
    else rpc_call_finish(c, STATUS_NO_MEMORY, "out of memory serializing the response");
}

void *rpc_call_unpack(rpc_call *c, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                      size_t len) {
    void *msg = protobuf_c_message_unpack(desc, NULL, len, data);
    if (!msg) {
        char text[200];
        snprintf(text, sizeof text, "malformed %s message (protobuf decoding failed)", desc->name);
        rpc_call_finish(c, STATUS_INVALID_ARGUMENT, text);
    }
    return msg;
}

static bool call_open(rpc_call *c) {
    pthread_mutex_lock(&c->lock);
    bool open = !c->finishing && !c->dead;
    pthread_mutex_unlock(&c->lock);
    return open;
}

/* --- completions (CQ thread) ------------------------------------------------- */

static void request_call(rpc_server *s, int slot);

static void deliver(rpc_call *c, grpc_byte_buffer *bb) {
    grpc_slice slice;
    if (!flatten(bb, &slice)) {
        rpc_call_finish(c, STATUS_INTERNAL, "cannot read the request message");
        return;
    }
    c->method->on_message(c, GRPC_SLICE_START_PTR(slice), GRPC_SLICE_LENGTH(slice));
    grpc_slice_unref(slice);
}

static void start_recv(rpc_call *c) {
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->payload;
    start_batch(c, &op, 1, &c->tag_recv);
}

static void on_unknown_method(rpc_call *c) {
    char *path = grpc_slice_to_c_string(c->details.method);
    char msg[300];
    snprintf(msg, sizeof msg, "unknown method %.200s (inferd serves "
             "inference.GRPCInferenceService and grpc.health.v1.Health)", path);
    log_verbose("gRPC: %s", msg);
    gpr_free(path);
    rpc_call_finish(c, STATUS_UNSUPPORTED, msg);
}

static void on_new(rpc_server *s, rpc_call *c, bool ok) {
    if (!atomic_load(&s->stopping)) request_call(s, c->slot);
    if (!ok) {
        rpc_call_unref(c);
        return;
    }
    pthread_mutex_lock(&s->lock);
    c->listed = true;
    c->next = s->calls;
    if (s->calls) s->calls->prev = c;
    s->calls = c;
    pthread_mutex_unlock(&s->lock);

    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->cancelled;
    start_batch(c, &op, 1, &c->tag_close);

    if (!c->method) {
        on_unknown_method(c);
    } else if (c->method->kind == RPC_BIDI_STREAM) {
        start_recv(c);
    } else if (!c->payload) {
        rpc_call_finish(c, STATUS_INVALID_ARGUMENT, "the call carried no request message");
    } else {
        grpc_byte_buffer *bb = c->payload;
        c->payload = NULL;
        deliver(c, bb);
        grpc_byte_buffer_destroy(bb);
    }
    rpc_call_unref(c);      /* the reference of the request */
}

static void on_recv(rpc_call *c, bool ok) {
    grpc_byte_buffer *bb = c->payload;
    c->payload = NULL;
    if (ok && !bb) {
        if (c->method->on_half_close) c->method->on_half_close(c);
        else rpc_call_finish(c, STATUS_OK, NULL);
    } else if (ok) {
        deliver(c, bb);
        if (call_open(c)) start_recv(c);
    }
    if (bb) grpc_byte_buffer_destroy(bb);
}

static void on_send(rpc_call *c, bool ok) {
    pthread_mutex_lock(&c->lock);
    if (c->in_flight) grpc_byte_buffer_destroy(c->in_flight);
    c->in_flight = NULL;
    c->sending = false;
    if (!ok) {
        c->dead = true;
        drop_outbox_locked(c);
    }
    send_next_locked(c);
    pthread_mutex_unlock(&c->lock);
}

static void on_close(rpc_call *c) {
    if (!c->cancelled) return;
    pthread_mutex_lock(&c->lock);
    c->dead = true;
    drop_outbox_locked(c);
    pthread_mutex_unlock(&c->lock);
    log_verbose("gRPC %s: cancelled by the client or its deadline", call_path(c));
    if (c->method && c->method->on_cancel) c->method->on_cancel(c);
}

static void handle_event(rpc_server *s, rpc_tag *t, bool ok) {
    if (t->op == OP_SHUTDOWN) {
        s->shutdown_done = true;
        return;
    }
    rpc_call *c = t->call;
    switch (t->op) {
    case OP_NEW: on_new(s, c, ok); return;      /* consumes its reference */
    case OP_RECV: on_recv(c, ok); break;
    case OP_SEND: on_send(c, ok); break;
    case OP_CLOSE: on_close(c); break;
    case OP_SHUTDOWN: break;
    }
    rpc_call_unref(c);      /* the reference of the batch */
}

typedef enum call_hook { HOOK_STOP, HOOK_TICK } call_hook;

static void (*hook_of(const rpc_call *c, call_hook h))(rpc_call *) {
    if (!c->method) return NULL;
    return h == HOOK_STOP ? c->method->on_stop : c->method->on_tick;
}

/* Runs a hook of every started call whose method has it, outside the
 * server's lock (a hook may finish and release its call). */
static void for_each_call(rpc_server *s, call_hook h) {
    pthread_mutex_lock(&s->lock);
    int n = 0;
    for (rpc_call *c = s->calls; c; c = c->next) n += hook_of(c, h) != NULL;
    rpc_call **list = n ? malloc((size_t)n * sizeof *list) : NULL;
    int k = 0;
    for (rpc_call *c = s->calls; c && list; c = c->next)
        if (hook_of(c, h) && call_try_ref(c)) list[k++] = c;
    pthread_mutex_unlock(&s->lock);
    if (n && !list) log_error("gRPC: out of memory visiting calls");
    for (int i = 0; i < k; i++) {
        hook_of(list[i], h)(list[i]);
        rpc_call_unref(list[i]);
    }
    free(list);
}

static int live_calls(rpc_server *s) {
    pthread_mutex_lock(&s->lock);
    int n = s->live;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void *cq_main(void *arg) {
    rpc_server *s = arg;
    gpr_timespec next_tick = in_ms(RPC_TICK_MS);
    for (;;) {
        bool stopping = atomic_load(&s->stopping);
        gpr_timespec until = stopping ? in_ms(RPC_STOP_POLL_MS) : next_tick;
        grpc_event ev = grpc_completion_queue_next(s->cq, until, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type == GRPC_OP_COMPLETE) handle_event(s, ev.tag, ev.success != 0);
        if (stopping && !s->stop_hooks_done) {
            s->stop_hooks_done = true;
            for_each_call(s, HOOK_STOP);
        }
        if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), next_tick) >= 0) {
            for_each_call(s, HOOK_TICK);
            next_tick = in_ms(RPC_TICK_MS);
        }
        if (s->shutdown_done && live_calls(s) == 0) break;
    }
    pthread_mutex_lock(&s->lock);
    s->thread_done = true;
    pthread_cond_broadcast(&s->exited);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* --- the server ------------------------------------------------------------- */

serve_manager *rpc_server_models(const rpc_server *s) { return s->models; }
bool rpc_server_stopping(const rpc_server *s) { return atomic_load(&s->stopping); }
int rpc_server_port(const rpc_server *s) { return s->port; }

bool rpc_server_draining(const rpc_server *s) {
    return atomic_load(&s->stopping) || (s->draining && atomic_load(s->draining));
}

bool rpc_server_ready(const rpc_server *s) {
    return !rpc_server_draining(s) && serve_manager_ready(s->models);
}

static void request_call(rpc_server *s, int slot) {
    rpc_call *c = call_new(s, slot);
    if (!c) {
        log_error("gRPC: out of memory accepting calls");
        return;
    }
    grpc_call_error e;
    if (slot < 0) {
        e = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, s->cq, s->cq,
                                     &c->tag_new);
    } else {
        bool payload = s->methods[slot]->kind != RPC_BIDI_STREAM;
        e = grpc_server_request_registered_call(s->server, s->registered[slot], &c->call,
                                                &c->deadline, &c->md,
                                                payload ? &c->payload : NULL, s->cq, s->cq,
                                                &c->tag_new);
    }
    if (e != GRPC_CALL_OK) {
        log_error("gRPC: cannot accept calls for %s: %s",
                  slot >= 0 ? s->methods[slot]->path : "unknown methods",
                  grpc_call_error_to_string(e));
        rpc_call_unref(c);
    }
}

static status collect_methods(rpc_server *s, errinfo *err) {
    const struct {
        const rpc_method *list;
        int n;
    } services[] = {{rpc_kserve_methods, rpc_kserve_method_count},
                    {rpc_health_methods, rpc_health_method_count}};
    int n = 0;
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) n += services[i].n;
    s->methods = calloc((size_t)n, sizeof *s->methods);
    s->registered = calloc((size_t)n, sizeof *s->registered);
    if (!s->methods || !s->registered)
        return status_fail(err, STATUS_NO_MEMORY, "out of memory starting the gRPC server");
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        for (int k = 0; k < services[i].n; k++) {
            const rpc_method *m = &services[i].list[k];
            s->registered[s->n_methods] = grpc_server_register_method(
                s->server, m->path, NULL,
                m->kind == RPC_BIDI_STREAM ? GRPC_SRM_PAYLOAD_NONE
                                           : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
            if (!s->registered[s->n_methods])
                return status_fail(err, STATUS_INTERNAL, "gRPC: cannot register %s", m->path);
            s->methods[s->n_methods++] = m;
        }
    }
    return STATUS_OK;
}

static status bind_port(rpc_server *s, const rpc_server_options *o, errinfo *err) {
    const char *host = o->host && o->host[0] ? o->host : "0.0.0.0";
    char addr[300];
    bool v6 = strchr(host, ':') && host[0] != '[';
    snprintf(addr, sizeof addr, v6 ? "[%s]:%d" : "%s:%d", host, o->port);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    s->port = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (s->port <= 0)
        return status_fail(err, STATUS_IO_ERROR, "cannot listen on %s for gRPC (port in use, or "
                           "not an address of this machine?)", addr);
    return STATUS_OK;
}

static grpc_server *create_core_server(const rpc_server_options *o) {
    size_t max = o->max_message_bytes ? o->max_message_bytes : (size_t)64 << 20;
    grpc_arg args[2];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = max > INT_MAX ? INT_MAX : (int)max;
    /* gRPC core binds with SO_REUSEPORT by default, which would let a second
     * server share (and silently split) a port that is already in use. */
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_ALLOW_REUSEPORT;
    args[1].value.integer = 0;
    grpc_channel_args ca = {2, args};
    return grpc_server_create(&ca, NULL);
}

/* Tears down a server that started listening but never ran its thread. */
static void abort_start(rpc_server *s) {
    atomic_store(&s->stopping, true);
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    grpc_server_cancel_all_calls(s->server);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, in_ms(1000), NULL);
        if (ev.type != GRPC_OP_COMPLETE) break;
        if (ev.tag == &s->shutdown_tag) s->shutdown_done = true;
        else handle_event(s, ev.tag, false);
        if (s->shutdown_done && live_calls(s) == 0) break;
    }
}

static void release(rpc_server *s) {
    if (s->server) grpc_server_destroy(s->server);
    if (s->cq) {
        grpc_completion_queue_shutdown(s->cq);
        while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN) {
        }
        grpc_completion_queue_destroy(s->cq);
    }
    s->server = NULL;
    s->cq = NULL;
}

status rpc_server_start(const rpc_server_options *o, rpc_server **out, errinfo *err) {
    status st = STATUS_NO_MEMORY;
    *out = NULL;
    grpc_init();
    rpc_server *s = calloc(1, sizeof *s);
    if (!s) {
        grpc_shutdown_blocking();
        return status_fail(err, st, "out of memory starting the gRPC server");
    }
    s->models = o->models;
    s->draining = o->draining;
    s->shutdown_tag = (rpc_tag){OP_SHUTDOWN, NULL};
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->exited, NULL);
    s->server = create_core_server(o);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    if ((st = collect_methods(s, err)) || (st = bind_port(s, o, err))) goto fail;
    grpc_server_start(s->server);
    for (int m = 0; m < s->n_methods; m++)
        for (int k = 0; k < RPC_PENDING_PER_METHOD; k++) request_call(s, m);
    request_call(s, -1);
    if (pthread_create(&s->thread, NULL, cq_main, s)) {
        st = status_fail(err, STATUS_INTERNAL, "cannot start the gRPC thread");
        abort_start(s);
        goto fail;
    }
    *out = s;
    return STATUS_OK;
fail:
    s->stop_state = STOPPED;
    rpc_server_destroy(s);
    return st;
}

/* Waits until the CQ thread has left its loop, up to grace_ms (< 0: no
 * limit). True if it did. */
static bool wait_thread_done(rpc_server *s, int64_t grace_ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (grace_ms > 0) {
        int64_t ns = until.tv_nsec + grace_ms % 1000 * 1000000;
        until.tv_sec += (time_t)(grace_ms / 1000 + ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
    }
    pthread_mutex_lock(&s->lock);
    while (!s->thread_done && grace_ms != 0) {
        if (grace_ms < 0) pthread_cond_wait(&s->exited, &s->lock);
        else if (pthread_cond_timedwait(&s->exited, &s->lock, &until)) break;
    }
    bool done = s->thread_done;
    pthread_mutex_unlock(&s->lock);
    return done;
}

/* The first caller stops; a concurrent one (the drain thread and the main
 * thread) waits until that is done. */
void rpc_server_stop(rpc_server *s, int64_t grace_ms) {
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    bool first = s->stop_state == RUNNING;
    if (first) s->stop_state = STOPPING;
    while (!first && s->stop_state != STOPPED) pthread_cond_wait(&s->exited, &s->lock);
    pthread_mutex_unlock(&s->lock);
    if (!first) return;
    atomic_store(&s->stopping, true);
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    if (!wait_thread_done(s, grace_ms)) {
        if (grace_ms > 0)
            log_warn("gRPC: cancelling the calls still open after the %lld ms grace period",
                     (long long)grace_ms);
        grpc_server_cancel_all_calls(s->server);
    }
    pthread_join(s->thread, NULL);
    release(s);
    pthread_mutex_lock(&s->lock);
    s->stop_state = STOPPED;
    pthread_cond_broadcast(&s->exited);
    pthread_mutex_unlock(&s->lock);
}

void rpc_server_destroy(rpc_server *s) {
    if (!s) return;
    rpc_server_stop(s, 0);
    release(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->exited);
    free(s->methods);
    free(s->registered);
    free(s);
    grpc_shutdown_blocking();
}
