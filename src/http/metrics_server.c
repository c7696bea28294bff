/* metrics_server.c -- GET /metrics on a dedicated http_server thread.
 *
 * Rendering takes the registry lock for one pass over the series and reads
 * a few /proc files: well under a millisecond for hundreds of models, so
 * the handler answers on the I/O thread instead of handing off. */
#include "metrics_server.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_server.h"

struct metrics_server {
    http_server *http;
    serve_metrics *metrics;
    pthread_t thread;
    bool started;
};

static void respond_text(http_exchange *ex, int code, const char *extra, const char *text) {
    size_t len = strlen(text);
    char *body = malloc(len + 1);
    if (body) memcpy(body, text, len + 1);
    http_exchange_respond(ex, body ? code : 500, "application/json", extra, body,
                          body ? len : 0);
}

static void metrics_handle(http_exchange *ex, const http_request *req, void *ctx) {
    metrics_server *ms = ctx;
    if (strcmp(req->path, "/metrics") != 0) {
        respond_text(ex, 404, NULL, "{\"error\":\"not found: this port serves /metrics only\"}");
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        respond_text(ex, 405, "Allow: GET, HEAD\r\n",
                     "{\"error\":\"method not allowed: /metrics takes GET or HEAD\"}");
        return;
    }
    char *text;
    size_t len;
    errinfo err;
    if (serve_metrics_render(ms->metrics, &text, &len, &err)) {
        respond_text(ex, 500, NULL, "{\"error\":\"out of memory rendering metrics\"}");
        return;
    }
    http_exchange_respond(ex, 200, SERVE_METRICS_CONTENT_TYPE, NULL, text, len);
}

static void *metrics_thread(void *arg) {
    metrics_server *ms = arg;
    pthread_setname_np(pthread_self(), "inferd-metrics");
    http_server_run(ms->http);
    return NULL;
}

status metrics_server_start(const metrics_server_options *o, metrics_server **out,
                            errinfo *err) {
    *out = NULL;
    if (!o->metrics)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "metrics server: no metrics registry");
    metrics_server *ms = calloc(1, sizeof *ms);
    if (!ms) return status_fail(err, STATUS_NO_MEMORY, "out of memory starting the metrics server");
    ms->metrics = o->metrics;
    /* Scrapes are small GETs: small limits, and a short idle time since
     * Prometheus reconnects cheaply. */
    http_server_options ho = {.host = o->host, .port = o->port, .max_request_bytes = 1 << 16,
                              .max_connections = 256};
    status st = http_server_create(&ho, metrics_handle, ms, &ms->http, err);
    if (st) goto fail;
    /* The thread takes no signals: the main thread handles SIGTERM/SIGINT. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&ms->thread, NULL, metrics_thread, ms);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        st = status_fail(err, STATUS_INTERNAL, "metrics server: cannot start its thread: %s",
                         strerror(rc));
        goto fail;
    }
    ms->started = true;
    *out = ms;
    return STATUS_OK;
fail:
    metrics_server_stop(ms);
    return st;
}

int metrics_server_port(const metrics_server *ms) { return http_server_port(ms->http); }

void metrics_server_stop(metrics_server *ms) {
    if (!ms) return;
    if (ms->started) {
        http_server_stop(ms->http);
        pthread_join(ms->thread, NULL);
    }
    http_server_destroy(ms->http);
    free(ms);
}
