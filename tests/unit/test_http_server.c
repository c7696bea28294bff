/* test_http_server.c -- the HTTP server over real sockets: a server on an
 * ephemeral port in a thread, an echo handler that answers from a worker
 * thread (or inline for /sync), and plain blocking clients. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_server.h"

static int failures, checks;

#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            printf("%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);    \
        }                                                                      \
    } while (0)

/* ---- the worker: answers exchanges from another thread ------------------ */

typedef struct job {
    http_exchange *ex;
    const http_request *req;
    int hold; /* wait for release_held before answering */
    struct job *next;
} job;

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcond = PTHREAD_COND_INITIALIZER;
static job *jobs_head, *jobs_tail;
static int worker_quit;
static atomic_int release_held, held_count, cancelled_seen, handled;

static char *echo_body(const http_request *req, size_t *len) {
    size_t n = strlen(req->method) + strlen(req->path) + req->body_len + 32;
    char *b = malloc(n);
    int h = snprintf(b, n, "%s %s %zu:", req->method, req->path, req->body_len);
    memcpy(b + h, req->body, req->body_len);
    *len = (size_t)h + req->body_len;
    return b;
}

static void *worker_main(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&wlock);
        while (!jobs_head && !worker_quit) pthread_cond_wait(&wcond, &wlock);
        job *j = jobs_head;
        if (j) {
            jobs_head = j->next;
            if (!jobs_head) jobs_tail = NULL;
        }
        pthread_mutex_unlock(&wlock);
        if (!j) return NULL;
        if (j->hold) {
            atomic_fetch_add(&held_count, 1);
            while (!atomic_load(&release_held)) {
                if (http_exchange_cancelled(j->ex)) {
                    atomic_fetch_add(&cancelled_seen, 1);
                    break;
                }
                usleep(1000);
            }
        }
        size_t len;
        char *body;
        if (strcmp(j->req->path, "/big") == 0) {
            len = 4 << 20;
            body = malloc(len);
            for (size_t i = 0; i < len; i++) body[i] = (char)('a' + i % 26);
        } else {
            body = echo_body(j->req, &len);
        }
        http_exchange_respond(j->ex, 200, "text/plain", "X-Worker: 1\r\n", body, len);
        free(j);
    }
}

static void handler(http_exchange *ex, const http_request *req, void *ctx) {
    (void)ctx;
    atomic_fetch_add(&handled, 1);
    if (strcmp(req->path, "/sync") == 0 || strcmp(req->method, "HEAD") == 0) {
        size_t len;
        char *body = echo_body(req, &len);
        http_exchange_respond(ex, 200, "text/plain", NULL, body, len);
        return;
    }
    if (strcmp(req->path, "/nocontent") == 0) {
        http_exchange_respond(ex, 204, NULL, NULL, NULL, 0);
        return;
    }
    job *j = calloc(1, sizeof *j);
    j->ex = ex;
    j->req = req;
    j->hold = strcmp(req->path, "/hold") == 0;
    pthread_mutex_lock(&wlock);
    if (jobs_tail) jobs_tail->next = j;
    else jobs_head = j;
    jobs_tail = j;
    pthread_cond_signal(&wcond);
    pthread_mutex_unlock(&wlock);
}

/* ---- server in a thread -------------------------------------------------- */

typedef struct running {
    http_server *srv;
    pthread_t thread;
    pthread_t worker;
    int port;
} running;

static void *server_main(void *arg) {
    http_server_run(arg);
    return NULL;
}

static void start(running *r, const http_server_options *o) {
    errinfo err;
    worker_quit = 0;
    if (http_server_create(o, handler, NULL, &r->srv, &err)) {
        printf("create: %s\n", err.msg);
        exit(1);
    }
    r->port = http_server_port(r->srv);
    pthread_create(&r->worker, NULL, worker_main, NULL);
    pthread_create(&r->thread, NULL, server_main, r->srv);
}

static void stop(running *r) {
    atomic_store(&release_held, 1);
    http_server_stop(r->srv);
    pthread_join(r->thread, NULL);
    /* destroy waits for exchanges still with the worker */
    pthread_mutex_lock(&wlock);
    worker_quit = 1;
    pthread_cond_broadcast(&wcond);
    pthread_mutex_unlock(&wlock);
    http_server_destroy(r->srv);
    pthread_join(r->worker, NULL);
    atomic_store(&release_held, 0);
}

/* ---- a tiny blocking client ---------------------------------------------- */

typedef struct client {
    int fd;
    char buf[1 << 16];
    size_t len;
} client;

typedef struct response {
    int status;
    char headers[4096];
    char *body;
    size_t body_len;
} response;

/* rcvbuf: 0 for the default; set before connect so the window is sane */
static int connect_buf(int port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
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

static int connect_to(int port) { return connect_buf(port, 0); }

static void client_open(client *c, int port) {
    c->fd = connect_to(port);
    c->len = 0;
}

static void send_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(client *c, const char *s) { send_all(c->fd, s, strlen(s)); }

/* Reads more into c->buf; 0 on EOF/error/timeout. */
static int fill(client *c) {
    if (c->len == sizeof c->buf) return 0;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n <= 0) return 0;
    c->len += (size_t)n;
    return 1;
}

static void consume(client *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static const char *find_header(const response *r, const char *name) {
    static char val[256];
    size_t nl = strlen(name);
    for (const char *p = r->headers; *p;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol) break;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            snprintf(val, sizeof val, "%.*s", (int)(eol - v), v);
            return val;
        }
        p = eol + 2;
    }
    return NULL;
}

/* Reads one response (head_only: for HEAD requests). 0 if none came. */
static int read_response(client *c, response *r, int head_only) {
    free(r->body);
    memset(r, 0, sizeof *r);
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (!fill(c)) return 0;
    size_t head_len = (size_t)(end - c->buf) + 4;
    char *sp = memchr(c->buf, ' ', head_len);
    r->status = sp ? atoi(sp + 1) : 0;
    char *first_eol = memmem(c->buf, head_len, "\r\n", 2);
    size_t hl = head_len - (size_t)(first_eol + 2 - c->buf);
    if (hl >= sizeof r->headers) hl = sizeof r->headers - 1;
    memcpy(r->headers, first_eol + 2, hl);
    r->headers[hl] = '\0';
    consume(c, head_len);
    const char *cl = find_header(r, "Content-Length");
    size_t n = cl && !head_only ? (size_t)atol(cl) : 0;
    r->body = malloc(n + 1);
    size_t got = 0;
    while (got < n) {
        if (!c->len && !fill(c)) break;
        size_t take = c->len < n - got ? c->len : n - got;
        memcpy(r->body + got, c->buf, take);
        got += take;
        consume(c, take);
    }
    r->body[got] = '\0';
    r->body_len = got;
    return got == n;
}

/* 1 if the server closed the connection (EOF) within the timeout. */
static int closed_by_server(client *c) {
    char tmp[256];
    for (;;) {
        ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
        if (n == 0) return 1;
        if (n < 0) return errno == ECONNRESET;
    }
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the tests ------------------------------------------------------------ */

static void test_keepalive(int port) {
    client *c = malloc(sizeof *c);
    client_open(c, port);
    response r = {0};
    for (int i = 0; i < 20; i++) {
        const char *path = i % 2 ? "/sync" : "/echo";
        char req[256];
        snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s",
                 path, 5, "hello");
        send_str(c, req);
        CHECK(read_response(c, &r, 0));
        char want[64];
        snprintf(want, sizeof want, "POST %s 5:hello", path);
        CHECK(r.status == 200 && strcmp(r.body, want) == 0);
        CHECK(find_header(&r, "Connection") == NULL);
        CHECK(find_header(&r, "Date") != NULL);
        CHECK(strcmp(find_header(&r, "Content-Type"), "text/plain") == 0);
    }
    CHECK(strcmp(find_header(&r, "X-Worker") ? "w" : "s", "s") == 0); /* last was /sync */

    /* pipelined: three requests in one write, answered in order */
    send_str(c, "GET /echo?q=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /sync HTTP/1.1\r\nHost: x\r\n\r\n"
                "POST /a%20b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz");
    CHECK(read_response(c, &r, 0) && strcmp(r.body, "GET /echo 0:") == 0);
    CHECK(read_response(c, &r, 0) && strcmp(r.body, "GET /sync 0:") == 0);
    CHECK(read_response(c, &r, 0) && strcmp(r.body, "POST /a b 3:xyz") == 0);

    /* HEAD: Content-Length of the body, no body */
    send_str(c, "HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /sync HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(c, &r, 1) && r.status == 200 && atoi(find_header(&r, "Content-Length")) == 10);
    CHECK(read_response(c, &r, 0) && strcmp(r.body, "GET /sync 0:") == 0);

    /* 204 has no Content-Length */
    send_str(c, "GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(c, &r, 0) && r.status == 204 && !find_header(&r, "Content-Length"));

    /* Connection: close is honoured */
    send_str(c, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(read_response(c, &r, 0) && r.status == 200);
    CHECK(strcmp(find_header(&r, "Connection"), "close") == 0);
    CHECK(closed_by_server(c));
    close(c->fd);

    /* HTTP/1.0: close by default, keep-alive on request */
    client_open(c, port);
    send_str(c, "GET /sync HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(read_response(c, &r, 0) && strcmp(find_header(&r, "Connection"), "keep-alive") == 0);
    send_str(c, "GET /sync HTTP/1.0\r\n\r\n");
    CHECK(read_response(c, &r, 0) && strcmp(find_header(&r, "Connection"), "close") == 0);
    CHECK(closed_by_server(c));
    close(c->fd);
    free(r.body);
    free(c);
}

static void test_chunked_upload(int port) {
    client *c = malloc(sizeof *c);
    client_open(c, port);
    response r = {0};
    send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5;ext=1\r\nhello\r\n");
    usleep(20000);
    send_str(c, "6\r\n world\r\n0\r\nTrailer: t\r\n\r\n");
    CHECK(read_response(c, &r, 0) && strcmp(r.body, "POST /echo 11:hello world") == 0);
    /* a big chunked body, byte-exact */
    size_t n = 300000;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (char)('A' + i % 23);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t off = 0; off < n; off += 7001) {
        size_t k = n - off < 7001 ? n - off : 7001;
        char line[32];
        snprintf(line, sizeof line, "%zx\r\n", k);
        send_str(c, line);
        send_all(c->fd, big + off, k);
        send_str(c, "\r\n");
    }
    send_str(c, "0\r\n\r\n");
    /* the response is bigger than the client buffer: read it in pieces */
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)) && fill(c)) {}
    CHECK(end != NULL);
    if (end) {
        consume(c, (size_t)(end - c->buf) + 4);
        size_t prefix = strlen("POST /echo 300000:"), got = 0;
        int same = 1;
        while (got < prefix + n) {
            if (!c->len && !fill(c)) break;
            for (size_t i = 0; i < c->len && got < prefix + n; i++, got++)
                if (got >= prefix && c->buf[i] != big[got - prefix]) same = 0;
            consume(c, c->len);
        }
        CHECK(got == prefix + n && same);
    }
    free(big);
    close(c->fd);
    free(r.body);
    free(c);
}

static void test_errors(int port) {
    client *c = malloc(sizeof *c);
    response r = {0};
    struct {
        const char *req;
        int status;
        const char *body;
    } cases[] = {
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505,
         "{\"error\":\"HTTP version 2.0 is not supported (expected HTTP/1.1 or HTTP/1.0)\"}"},
        {"GET /\r\n\r\n", 400,
         "{\"error\":\"malformed request line (expected 'METHOD /path HTTP/1.1')\"}"},
        {"GET / HTTP/1.1\r\n\r\n", 400, "{\"error\":\"missing Host header (required in HTTP/1.1)\"}"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413,
         "{\"error\":\"request body of 99999999 bytes exceeds the limit of 1048576 bytes\"}"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, NULL},
        {"POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 417, NULL},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
         "{\"error\":\"invalid chunk size (expected hex digits)\"}"},
        {"GET /\x01\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400,
         "{\"error\":\"invalid character 0x01 in request target\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        client_open(c, port);
        send_str(c, cases[i].req);
        CHECK(read_response(c, &r, 0));
        if (r.status != cases[i].status || (cases[i].body && strcmp(r.body, cases[i].body) != 0)) {
            failures++;
            printf("error case %zu: got %d %s\n", i, r.status, r.body);
        }
        CHECK(strcmp(find_header(&r, "Connection"), "close") == 0);
        CHECK(strcmp(find_header(&r, "Content-Type"), "application/json") == 0);
        CHECK(closed_by_server(c));
        close(c->fd);
    }

    /* 413 for a chunked body growing past the limit */
    client_open(c, port);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char *chunk = calloc(1, 600001);
    memset(chunk, 'z', 600000);
    send_str(c, "927C0\r\n");
    send_all(c->fd, chunk, 600000);
    send_str(c, "\r\n927C0\r\n");
    send_all(c->fd, chunk, 600000);
    CHECK(read_response(c, &r, 0) && r.status == 413);
    CHECK(closed_by_server(c));
    close(c->fd);
    free(chunk);

    /* 413 before the body is sent, with Expect: 100-continue */
    client_open(c, port);
    send_str(c, "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
                "5000000\r\n\r\n");
    CHECK(read_response(c, &r, 0) && r.status == 413);
    close(c->fd);

    /* 431 for a huge head */
    client_open(c, port);
    char *hdr = malloc(20000);
    int n = sprintf(hdr, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(hdr + n, 'b', 19000);
    strcpy(hdr + n + 19000, "\r\n\r\n");
    send_str(c, hdr);
    CHECK(read_response(c, &r, 0) && r.status == 431);
    CHECK(strcmp(r.body, "{\"error\":\"request head exceeds 16384 bytes\"}") == 0);
    close(c->fd);
    free(hdr);

    /* after all that, the server still serves */
    client_open(c, port);
    send_str(c, "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(c, &r, 0) && r.status == 200);
    close(c->fd);
    free(r.body);
    free(c);
}

static void test_expect_continue(int port) {
    client *c = malloc(sizeof *c);
    response r = {0};
    client_open(c, port);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    CHECK(read_response(c, &r, 0) && r.status == 100);
    send_str(c, "data");
    CHECK(read_response(c, &r, 0) && r.status == 200 && strcmp(r.body, "POST /echo 4:data") == 0);
    /* body sent along with the head: no interim response */
    send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                "\r\nok");
    CHECK(read_response(c, &r, 0) && r.status == 200 && strcmp(r.body, "POST /echo 2:ok") == 0);
    close(c->fd);
    free(r.body);
    free(c);
}

static void test_big_response(int port) {
    /* 4 MiB answered from the worker to a client that reads slowly:
     * partial writes and EPOLLOUT. */
    client *c = malloc(sizeof *c);
    response r = {0};
    c->fd = connect_buf(port, 65536);
    c->len = 0;
    send_str(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(100000);
    CHECK(read_response(c, &r, 0) && r.status == 200 && r.body_len == 4u << 20);
    int ok = 1;
    for (size_t i = 0; i < r.body_len; i++)
        if (r.body[i] != (char)('a' + i % 26)) ok = 0;
    CHECK(ok);
    send_str(c, "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(c, &r, 0) && r.status == 200);
    close(c->fd);
    free(r.body);
    free(c);
}

/* Input that arrives while the exchange is with the handler (a pipelined
 * request sent after the first one went out) waits in the socket: the
 * connection stops polling for it, answers the first request, then reads
 * and answers the second, in order. A hang-up in that state still cancels
 * the exchange. */
static void test_pipelined_while_waiting(int port) {
    client *c = malloc(sizeof *c);
    response r = {0};
    atomic_store(&held_count, 0);
    atomic_store(&release_held, 0);
    client_open(c, port);
    send_str(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    while (atomic_load(&held_count) < 1) usleep(1000);
    send_str(c, "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(20000); /* the loop sees the input while the exchange is out */
    atomic_store(&release_held, 1);
    CHECK(read_response(c, &r, 0) && r.status == 200 && strcmp(r.body, "GET /hold 0:") == 0);
    CHECK(read_response(c, &r, 0) && r.status == 200 && strcmp(r.body, "GET /sync 0:") == 0);
    send_str(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(c, &r, 0) && strcmp(r.body, "GET /echo 0:") == 0);
    close(c->fd);
    atomic_store(&release_held, 0);

    int before = atomic_load(&cancelled_seen);
    client_open(c, port);
    send_str(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    while (atomic_load(&held_count) < 2) usleep(1000);
    send_str(c, "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(20000);
    close(c->fd);
    int64_t t0 = now_ms();
    while (atomic_load(&cancelled_seen) < before + 1 && now_ms() - t0 < 5000) usleep(1000);
    CHECK(atomic_load(&cancelled_seen) == before + 1);
    atomic_store(&held_count, 0);
    free(r.body);
    free(c);
}

static void test_disconnect(running *rs) {
    client *c = malloc(sizeof *c);
    response r = {0};
    int before = atomic_load(&cancelled_seen);
    atomic_store(&held_count, 0);
    for (int k = 0; k < 3; k++) {
        client_open(c, rs->port);
        send_str(c, k == 2 ? "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                           : "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
        while (atomic_load(&held_count) < k + 1) usleep(1000);
        if (k == 1) {
            /* a reset rather than a FIN */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c->fd);
    }
    int64_t t0 = now_ms();
    while (atomic_load(&cancelled_seen) < before + 3 && now_ms() - t0 < 5000) usleep(1000);
    CHECK(atomic_load(&cancelled_seen) == before + 3);
    /* the server is fine afterwards */
    client_open(c, rs->port);
    send_str(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(c, &r, 0) && r.status == 200);
    close(c->fd);

    /* a held exchange outstanding at shutdown is waited for by destroy */
    client_open(c, rs->port);
    send_str(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    while (atomic_load(&held_count) < 4) usleep(1000);
    close(c->fd);
    free(r.body);
    free(c);
}

static void test_timeouts(void) {
    running rs;
    http_server_options o = {.host = "127.0.0.1", .header_timeout_ms = 200,
                             .idle_timeout_ms = 300, .max_request_bytes = 1 << 20,
                             .max_header_bytes = 1024};
    start(&rs, &o);
    client *c = malloc(sizeof *c);
    response r = {0};

    /* a complete head over max_header_bytes, arriving in one piece: 431 */
    client_open(c, rs.port);
    char head[1600];
    int hn = sprintf(head, "GET /sync HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(head + hn, 'p', 1500 - (size_t)hn);
    strcpy(head + 1500, "\r\n\r\n");
    send_str(c, head);
    CHECK(read_response(c, &r, 0) && r.status == 431);
    CHECK(strcmp(r.body, "{\"error\":\"request head exceeds 1024 bytes\"}") == 0);
    close(c->fd);

    /* slow head: 408 after header_timeout, then close */
    client_open(c, rs.port);
    int64_t t0 = now_ms();
    send_str(c, "GET /sync HTTP/1.1\r\nHo");
    CHECK(read_response(c, &r, 0) && r.status == 408);
    int64_t dt = now_ms() - t0;
    CHECK(dt >= 180 && dt < 2000);
    CHECK(strcmp(r.body, "{\"error\":\"request head not received within 200 ms\"}") == 0);
    CHECK(closed_by_server(c));
    close(c->fd);

    /* a trickling head still times out: the limit is for the whole head */
    client_open(c, rs.port);
    t0 = now_ms();
    const char *slow = "GET /sync HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n";
    size_t i = 0;
    for (; slow[i] && now_ms() - t0 < 600; i++) {
        send_all(c->fd, slow + i, 1);
        usleep(50000);
    }
    CHECK(read_response(c, &r, 0) && r.status == 408);
    close(c->fd);

    /* stalled body: 408 */
    client_open(c, rs.port);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(read_response(c, &r, 0) && r.status == 408);
    CHECK(strcmp(r.body, "{\"error\":\"request body stalled: no data for 200 ms\"}") == 0);
    close(c->fd);

    /* a connection that never sends is closed silently */
    client_open(c, rs.port);
    CHECK(closed_by_server(c) && c->len == 0);
    close(c->fd);

    /* keep-alive idle: closed without a response after idle_timeout */
    client_open(c, rs.port);
    send_str(c, "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(c, &r, 0) && r.status == 200);
    t0 = now_ms();
    CHECK(closed_by_server(c));
    dt = now_ms() - t0;
    CHECK(dt >= 250 && dt < 2000 && c->len == 0);
    close(c->fd);

    /* drain: stop_listening closes idle connections, refuses new ones and
     * answers a request in progress with Connection: close */
    client *busy = malloc(sizeof *busy), *idle = malloc(sizeof *idle);
    client_open(busy, rs.port);
    client_open(idle, rs.port);
    send_str(idle, "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(idle, &r, 0) && r.status == 200);
    atomic_store(&held_count, 0);
    send_str(busy, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    while (atomic_load(&held_count) < 1) usleep(1000);
    http_server_stop_listening(rs.srv);
    CHECK(closed_by_server(idle));
    CHECK(connect_to(rs.port) < 0);
    CHECK(http_server_connections(rs.srv) == 1);
    atomic_store(&release_held, 1);
    CHECK(read_response(busy, &r, 0) && r.status == 200);
    CHECK(strcmp(find_header(&r, "Connection"), "close") == 0);
    CHECK(closed_by_server(busy));
    t0 = now_ms();
    while (http_server_connections(rs.srv) && now_ms() - t0 < 3000) usleep(1000);
    CHECK(http_server_connections(rs.srv) == 0);
    close(busy->fd);
    close(idle->fd);
    free(busy);
    free(idle);
    free(r.body);
    free(c);
    stop(&rs);
}

/* Many connections at once, each with a request in flight. */
static void test_many_connections(int port) {
    enum { N = 400 };
    static client cs[N];
    int opened = 0;
    for (int i = 0; i < N; i++) {
        client_open(&cs[i], port);
        if (cs[i].fd >= 0) opened++;
    }
    CHECK(opened == N);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            char req[128];
            snprintf(req, sizeof req, "POST /%s%d HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n"
                     "%c", i % 3 ? "e" : "sync", i, 'a' + i % 26);
            send_str(&cs[i], req);
        }
        int good = 0;
        response r = {0};
        for (int i = 0; i < N; i++) {
            char want[64];
            snprintf(want, sizeof want, "POST /%s%d 1:%c", i % 3 ? "e" : "sync", i, 'a' + i % 26);
            if (read_response(&cs[i], &r, 0) && r.status == 200 && strcmp(r.body, want) == 0) good++;
        }
        free(r.body);
        CHECK(good == N);
    }
    for (int i = 0; i < N; i++) close(cs[i].fd);
}

/* max_connections: the next connection waits in the backlog until one
 * closes. */
static void test_max_connections(void) {
    running rs;
    http_server_options o = {.host = "127.0.0.1", .max_connections = 2};
    start(&rs, &o);
    client *c = calloc(3, sizeof *c);
    response r = {0};
    for (int i = 0; i < 3; i++) client_open(&c[i], rs.port);
    for (int i = 0; i < 3; i++) send_str(&c[i], "GET /sync HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(read_response(&c[0], &r, 0) && r.status == 200);
    CHECK(read_response(&c[1], &r, 0) && r.status == 200);
    struct pollfd p = {.fd = c[2].fd, .events = POLLIN};
    CHECK(poll(&p, 1, 200) == 0); /* not accepted yet */
    close(c[0].fd);
    CHECK(read_response(&c[2], &r, 0) && r.status == 200);
    close(c[1].fd);
    close(c[2].fd);
    free(r.body);
    free(c);
    stop(&rs);
}

int main(void) {
    running rs;
    http_server_options o = {.host = "127.0.0.1", .port = 0, .max_request_bytes = 1 << 20};
    start(&rs, &o);
    CHECK(rs.port > 0);
#define RUN(call)                                                              \
    do {                                                                       \
        int64_t t0_ = now_ms();                                                \
        call;                                                                  \
        printf("  %-40s %5lld ms\n", #call, (long long)(now_ms() - t0_));     \
    } while (0)
    RUN(test_keepalive(rs.port));
    RUN(test_chunked_upload(rs.port));
    RUN(test_errors(rs.port));
    RUN(test_expect_continue(rs.port));
    RUN(test_big_response(rs.port));
    RUN(test_many_connections(rs.port));
    RUN(test_pipelined_while_waiting(rs.port));
    RUN(test_disconnect(&rs));
    RUN(stop(&rs));
    RUN(test_timeouts());
    RUN(test_max_connections());

    /* create errors name the address */
    http_server *s;
    errinfo err;
    http_server_options bad = {.host = "256.1.1.1", .port = 1};
    CHECK(http_server_create(&bad, handler, NULL, &s, &err) != STATUS_OK && s == NULL);
    http_server_options used = {.host = "127.0.0.1"};
    http_server *s1;
    if (http_server_create(&used, handler, NULL, &s1, &err) == STATUS_OK) {
        used.port = http_server_port(s1);
        CHECK(http_server_create(&used, handler, NULL, &s, &err) == STATUS_IO_ERROR);
        CHECK(strstr(err.msg, "bind 127.0.0.1:") && strstr(err.msg, "Address already in use"));
        http_server_destroy(s1);
    }
    http_server_destroy(NULL);
    printf("test_http_server: %d checks, %d failures\n", checks, failures);
    return failures != 0;
}
