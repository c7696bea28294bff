/* http_hello.c -- the HTTP server with a handler that answers every
 * request with a fixed 200 "OK" on the I/O thread: the ceiling of inferd's
 * HTTP layer, to compare with nginx returning a fixed 200 (see
 * http_vs_nginx.sh). `--async` answers from a second thread instead, which
 * is the path inference responses take.
 *
 *     http_hello PORT [--async] */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_server.h"

static http_server *srv;
static int async_mode;
static int pipefd[2]; /* exchanges handed to the answering thread */

static void on_signal(int sig) {
    (void)sig;
    http_server_stop(srv);
}

static void answer(http_exchange *ex) {
    char *body = malloc(2);
    if (body) memcpy(body, "OK", 2);
    http_exchange_respond(ex, 200, "text/plain", NULL, body, body ? 2 : 0);
}

static void handler(http_exchange *ex, const http_request *req, void *ctx) {
    (void)req;
    (void)ctx;
    if (!async_mode || write(pipefd[1], &ex, sizeof ex) != sizeof ex) answer(ex);
}

static void *answer_thread(void *arg) {
    (void)arg;
    http_exchange *ex;
    while (read(pipefd[0], &ex, sizeof ex) == sizeof ex) answer(ex);
    return NULL;
}

int main(int argc, char **argv) {
    http_server_options o = {.host = "127.0.0.1", .port = argc > 1 ? atoi(argv[1]) : 8080};
    async_mode = argc > 2 && strcmp(argv[2], "--async") == 0;
    errinfo err;
    if (http_server_create(&o, handler, NULL, &srv, &err)) {
        fprintf(stderr, "http_hello: %s\n", err.msg);
        return 1;
    }
    pthread_t t;
    if (async_mode) {
        if (pipe(pipefd)) return 1;
        pthread_create(&t, NULL, answer_thread, NULL);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    http_server_run(srv);
    if (async_mode) {
        close(pipefd[1]);
        pthread_join(t, NULL);
    }
    http_server_destroy(srv);
    return 0;
}
