/* serve_drain.h -- graceful shutdown of `inferd serve` on SIGTERM / SIGINT.
 *
 * What Kubernetes (and any load balancer) needs from a pod that is asked
 * to stop, in order:
 *   1. at the signal, readiness fails at once (/v2/health/ready 503, gRPC
 *      health NOT_SERVING), so probes and endpoint controllers take the pod
 *      out of rotation;
 *   2. for --drain-delay-secs the server still accepts new connections and
 *      answers everything: until every proxy has noticed, traffic keeps
 *      arriving, and refusing it would fail requests;
 *   3. then listening stops (HTTP, and gRPC through the stop_others hook);
 *      open connections finish their request in progress and close, queued
 *      and running inferences finish;
 *   4. the process exits 0 once all of that and the cleanup are done; if
 *      --exit-timeout-secs (counted from the signal) runs out first, it logs
 *      what was still open and exits 1 at once.
 * A second signal exits at once (status 128 + signal): an operator's
 * second Ctrl-C.
 *
 * One drain per process (signals are process-wide), so the state is
 * static and the signal handler needs no pointer:
 *
 *     serve_drain_options o = {.delay_secs = 5, .exit_timeout_secs = 30,
 *                              .draining = &rest.draining, .http = srv,
 *                              .stop_others = stop_grpc, .others_ctx = grpc};
 *     serve_drain_start(&o, &err);         // then install the handler:
 *     ... handler: serve_drain_signal(sig);
 *     http_server_run(srv);                // returns once step 3 is over
 *     ... stop the rest, free everything ...
 *     serve_drain_finish();                // the watchdog stands down; joins
 */
#ifndef INFERD_CLI_SERVE_DRAIN_H
#define INFERD_CLI_SERVE_DRAIN_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/status.h"
#include "http/http_server.h"

typedef struct serve_drain_options {
    int delay_secs;            /* >= 0: accept connections this long after the signal */
    int exit_timeout_secs;     /* >= delay_secs: the whole shutdown, from the signal */
    atomic_int *draining;      /* set at the signal: readiness fails */
    http_server *http;         /* stops listening after the delay; stopped when idle */
    /* Other frontends (gRPC): called once the delay is over, on the drain
     * thread, with the milliseconds left before the exit timeout; stops
     * accepting and returns when their calls are done. NULL: none. */
    void (*stop_others)(void *ctx, int64_t ms_left);
    void *others_ctx;
} serve_drain_options;

/* Starts the drain thread, which waits for a signal. */
status serve_drain_start(const serve_drain_options *o, errinfo *err);
/* From a signal handler: async-signal-safe. */
void serve_drain_signal(int sig);
/* True once a signal started the drain (for the exit log). */
int serve_drain_signalled(void);
/* After cleanup: stops the watchdog and joins the drain thread. */
void serve_drain_finish(void);

#endif
