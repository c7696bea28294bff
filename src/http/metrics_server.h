/* metrics_server.h -- the Prometheus endpoint: GET /metrics on its own port.
 *
 * A second http_server instance with its own event-loop thread, so scrapes
 * never queue behind inference traffic on the main port and a Kubernetes
 * NetworkPolicy can expose one without the other. It answers
 *   GET|HEAD /metrics   200, serve_metrics_render's text (format 0.0.4)
 *   other methods       405 with Allow: GET, HEAD
 *   any other path      404
 *
 *     metrics_server_options o = {.host = "0.0.0.0", .port = 8002, .metrics = reg};
 *     metrics_server *ms;
 *     if (metrics_server_start(&o, &ms, &err)) die(err.msg);   // bound, serving
 *     ... metrics_server_port(ms) ...
 *     metrics_server_stop(ms);     // joins the thread and frees; NULL is fine
 *
 * start and stop from one controlling thread (the main thread); the
 * registry must outlive the server. */
#ifndef INFERD_HTTP_METRICS_SERVER_H
#define INFERD_HTTP_METRICS_SERVER_H

#include "common/status.h"
#include "serve/serve_metrics.h"

typedef struct metrics_server metrics_server;

typedef struct metrics_server_options {
    const char *host;          /* NULL or "" = 0.0.0.0 */
    int port;                  /* 0 = an ephemeral port */
    serve_metrics *metrics;    /* required */
} metrics_server_options;

/* Binds (a busy port is an error naming the address) and starts serving on
 * a new thread that blocks every signal. */
status metrics_server_start(const metrics_server_options *o, metrics_server **out,
                            errinfo *err);
int metrics_server_port(const metrics_server *ms);
/* Stops the event loop, joins the thread, closes connections, frees.
 * Accepts NULL. */
void metrics_server_stop(metrics_server *ms);

#endif
