/* test_http_cancel.c -- http_exchange_on_cancel over real sockets: the hook
 * runs once, on the I/O thread, when the client goes away while the
 * exchange is out (FIN or reset); never after respond(); at once when
 * registered for a client already gone. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_server.h"
#include "serve_test.h"

/* The handler keeps every exchange here until the test answers it. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static http_exchange *held[8];
static int n_held;
static atomic_int hooks;           /* hook calls */
static atomic_int hook_ctx_ok;     /* ... with the registered ctx */
static pthread_t loop_thread;
static atomic_int hook_on_loop;    /* ... on the I/O thread */
static int marker;

static void on_cancel(void *ctx) {
    atomic_fetch_add(&hooks, 1);
    if (ctx == &marker) atomic_fetch_add(&hook_ctx_ok, 1);
    if (pthread_equal(pthread_self(), loop_thread)) atomic_fetch_add(&hook_on_loop, 1);
}

static void handler(http_exchange *ex, const http_request *req, void *ctx) {
    (void)ctx;
    (void)req;
    http_exchange_on_cancel(ex, on_cancel, &marker);
    pthread_mutex_lock(&mu);
    held[n_held++] = ex;
    pthread_mutex_unlock(&mu);
}

static http_exchange *take(void) {
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&mu);
        http_exchange *ex = n_held ? held[--n_held] : NULL;
        pthread_mutex_unlock(&mu);
        if (ex) return ex;
        usleep(1000);
    }
    return NULL;
}

static void *loop_main(void *arg) {
    loop_thread = pthread_self();
    http_server_run(arg);
    return NULL;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static const char get[] = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";

static void wait_hooks(int n) {
    for (int i = 0; i < 5000 && atomic_load(&hooks) < n; i++) usleep(1000);
}

int main(void) {
    http_server_options o = {.host = "127.0.0.1"};
    http_server *srv;
    errinfo err;
    if (http_server_create(&o, handler, NULL, &srv, &err)) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    int port = http_server_port(srv);
    pthread_t th;
    pthread_create(&th, NULL, loop_main, srv);

    /* the client leaves (FIN, then a reset): the hook runs once each, on the loop */
    for (int k = 0; k < 2; k++) {
        int fd = connect_to(port);
        CHECK(fd >= 0);
        send(fd, get, sizeof get - 1, MSG_NOSIGNAL);
        http_exchange *ex = take();
        CHECK(ex != NULL);
        if (k == 1) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(fd);
        wait_hooks(k + 1);
        CHECK(atomic_load(&hooks) == k + 1);
        if (ex) {
            CHECK(http_exchange_cancelled(ex));
            /* registering now, for a client already gone, calls at once */
            http_exchange_on_cancel(ex, on_cancel, &marker);
            CHECK(atomic_load(&hooks) == k + 2);
            atomic_fetch_sub(&hooks, 1);
            atomic_fetch_sub(&hook_ctx_ok, 1);
            http_exchange_respond(ex, 200, "text/plain", NULL, NULL, 0);
        }
    }
    CHECK(atomic_load(&hook_ctx_ok) == 2 && atomic_load(&hook_on_loop) == 2);

    /* answered, then the client leaves: no hook */
    int fd = connect_to(port);
    send(fd, get, sizeof get - 1, MSG_NOSIGNAL);
    http_exchange *ex = take();
    CHECK(ex != NULL);
    if (ex) {
        char *body = malloc(2);
        memcpy(body, "ok", 2);
        http_exchange_respond(ex, 200, "text/plain", NULL, body, 2);
    }
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    CHECK(n > 0 && !strncmp(buf, "HTTP/1.1 200", 12));
    close(fd);
    usleep(50000);
    CHECK(atomic_load(&hooks) == 2);

    /* a removed hook (fn NULL) is not called */
    fd = connect_to(port);
    send(fd, get, sizeof get - 1, MSG_NOSIGNAL);
    ex = take();
    if (ex) http_exchange_on_cancel(ex, NULL, NULL);
    close(fd);
    for (int i = 0; ex && i < 5000 && !http_exchange_cancelled(ex); i++) usleep(1000);
    CHECK(ex && http_exchange_cancelled(ex));
    CHECK(atomic_load(&hooks) == 2);
    if (ex) http_exchange_respond(ex, 200, NULL, NULL, NULL, 0);

    http_server_stop(srv);
    pthread_join(th, NULL);
    http_server_destroy(srv);
    return test_report("test_http_cancel");
}
