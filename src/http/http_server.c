/* http_server.c -- listening, accepting, the queue that brings responses
 * from other threads back to the I/O thread, draining and teardown (see
 * http_server.h; connections themselves are in http_conn.c). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "http/http_internal.h"

enum { ACCEPT_BATCH = 64, ACCEPT_RETRY_MS = 100 };

/* ---- read buffer pool ------------------------------------------------- */

char *http_server_buf_get(http_server *s) {
    if (s->pool_len) return s->pool[--s->pool_len];
    return malloc(HTTP_BUF_STD);
}

void http_server_buf_put(http_server *s, char *buf, size_t cap) {
    if (cap == HTTP_BUF_STD && s->pool_len < HTTP_POOL_MAX) s->pool[s->pool_len++] = buf;
    else free(buf);
}

/* ---- accepting -------------------------------------------------------- */

static void set_accepting(http_server *s) {
    if (s->listen_fd < 0) return;
    int want = !s->accept_paused && atomic_load(&s->nconns) < s->opt.max_connections;
    if (evloop_io_set(s->loop, &s->listen_io, want ? EVLOOP_READ : 0) < 0) {
        /* cannot happen for a registered fd; retry later rather than spin */
        s->accept_paused = 1;
        evloop_timer_start(s->loop, &s->accept_timer, ACCEPT_RETRY_MS);
    }
}

static void on_accept_retry(evloop *l, evloop_timer *t) {
    (void)l;
    http_server *s = t->data;
    s->accept_paused = 0;
    set_accepting(s);
}

static void on_accept(evloop *l, evloop_io *io, unsigned events) {
    (void)l;
    (void)events;
    http_server *s = io->data;
    for (int i = 0; i < ACCEPT_BATCH && atomic_load(&s->nconns) < s->opt.max_connections; i++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: pause instead of spinning on a
                 * listening socket that stays readable. */
                log_warn("http: accept: %s; pausing accepts for %d ms", strerror(errno),
                         ACCEPT_RETRY_MS);
                s->accept_paused = 1;
                evloop_timer_start(s->loop, &s->accept_timer, ACCEPT_RETRY_MS);
            }
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        http_conn *c = http_conn_create(s, fd);
        if (!c) {
            close(fd);
            continue;
        }
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        atomic_fetch_add(&s->nconns, 1);
        http_conn_start(c);
    }
    set_accepting(s);
}

void http_server_conn_closed(http_server *s, http_conn *c) {
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (atomic_fetch_sub(&s->nconns, 1) == s->opt.max_connections) set_accepting(s);
}

static void close_listener(http_server *s) {
    if (s->listen_fd < 0) return;
    evloop_io_remove(s->loop, &s->listen_io);
    evloop_timer_stop(s->loop, &s->accept_timer);
    close(s->listen_fd);
    s->listen_fd = -1;
}

/* ---- loop hooks -------------------------------------------------------- */

static void free_graveyard(http_server *s) {
    while (s->graveyard) {
        http_conn *c = s->graveyard;
        s->graveyard = c->grave_next;
        http_conn_free(c);
    }
}

static void before_poll(evloop *l, void *data) {
    (void)l;
    free_graveyard(data);
}

static http_exchange *take_queue(http_server *s) {
    pthread_mutex_lock(&s->qlock);
    http_exchange *q = s->q_head;
    s->q_head = s->q_tail = NULL;
    pthread_mutex_unlock(&s->qlock);
    return q;
}

static void on_wake(evloop *l, void *data) {
    (void)l;
    http_server *s = data;
    if (atomic_load(&s->stop_listen_req) && s->listen_fd >= 0) {
        close_listener(s);
        atomic_store(&s->draining, 1);
        for (http_conn *c = s->conns, *next; c; c = next) {
            next = c->next;
            http_conn_drain(c);
        }
    }
    for (http_exchange *ex = take_queue(s), *next; ex; ex = next) {
        next = ex->next;
        http_conn_deliver(HTTP_CONN_OF(ex));
    }
}

/* ---- public API -------------------------------------------------------- */

static status open_listener(http_server *s, errinfo *err) {
    const char *host = s->opt.host && *s->opt.host ? s->opt.host : "0.0.0.0";
    char port[16];
    snprintf(port, sizeof port, "%d", s->opt.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "listen address %s:%s: %s", host, port,
                           gai_strerror(gai));
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
            s->listen_fd = fd;
            break;
        }
        saved = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (s->listen_fd < 0)
        return status_fail(err, STATUS_IO_ERROR, "bind %s:%s: %s", host, port, strerror(saved));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return STATUS_OK;
}

static void apply_defaults(http_server_options *o) {
    if (!o->max_request_bytes) o->max_request_bytes = HTTP_DEFAULT_MAX_REQUEST_BYTES;
    if (!o->max_header_bytes) o->max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
    if (o->header_timeout_ms <= 0) o->header_timeout_ms = HTTP_DEFAULT_HEADER_TIMEOUT_MS;
    if (o->idle_timeout_ms <= 0) o->idle_timeout_ms = HTTP_DEFAULT_IDLE_TIMEOUT_MS;
    if (o->max_connections <= 0) o->max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
}

status http_server_create(const http_server_options *o, http_handler_fn h, void *ctx,
                          http_server **out, errinfo *err) {
    *out = NULL;
    status st;
    if (!h) return status_fail(err, STATUS_INVALID_ARGUMENT, "http server: no handler");
    if (o && (o->port < 0 || o->port > 65535))
        return status_fail(err, STATUS_INVALID_ARGUMENT, "http port %d out of range 0..65535",
                           o->port);
    http_server *s = calloc(1, sizeof *s);
    if (!s) return status_fail(err, STATUS_NO_MEMORY, "out of memory creating http server");
    s->listen_fd = -1;
    if (o) s->opt = *o;
    apply_defaults(&s->opt);
    s->lim = (http_parse_limits){.max_header_bytes = s->opt.max_header_bytes,
                                 .max_headers = HTTP_MAX_HEADERS,
                                 .max_body_bytes = s->opt.max_request_bytes};
    s->handler = h;
    s->ctx = ctx;
    pthread_mutex_init(&s->qlock, NULL);
    pthread_cond_init(&s->qcond, NULL);
    if ((st = evloop_create(&s->loop, err))) goto fail;
    if (evloop_timer_reserve(s->loop, (size_t)s->opt.max_connections + 8) < 0) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory for connection timers");
        goto fail;
    }
    evloop_set_hooks(s->loop, on_wake, before_poll, s);
    if ((st = open_listener(s, err))) goto fail;
    s->listen_io = (evloop_io){.fd = s->listen_fd, .cb = on_accept, .data = s};
    s->accept_timer = (evloop_timer){.cb = on_accept_retry, .data = s};
    if (evloop_io_set(s->loop, &s->listen_io, EVLOOP_READ) < 0) {
        st = status_fail(err, STATUS_IO_ERROR, "epoll: %s", strerror(errno));
        goto fail;
    }
    *out = s;
    return STATUS_OK;
fail:
    http_server_destroy(s);
    return st;
}

int http_server_port(const http_server *s) { return s->port; }

int http_server_connections(const http_server *s) {
    return atomic_load(&((http_server *)s)->nconns);
}

status http_server_run(http_server *s) {
    s->loop_thread = pthread_self();
    atomic_store(&s->running, 1);
    on_wake(s->loop, s); /* a stop_listening or responses from before run */
    status st = evloop_run(s->loop);
    atomic_store(&s->running, 0);
    free_graveyard(s);
    return st;
}

void http_server_stop(http_server *s) { evloop_stop(s->loop); }

void http_server_stop_listening(http_server *s) {
    atomic_store(&s->stop_listen_req, 1);
    evloop_wake(s->loop);
}

void http_server_destroy(http_server *s) {
    if (!s) return;
    if (s->loop) {
        /* Every exchange must come back before its connection can go. */
        pthread_mutex_lock(&s->qlock);
        while (atomic_load(&s->outstanding) > 0) pthread_cond_wait(&s->qcond, &s->qlock);
        pthread_mutex_unlock(&s->qlock);
        for (http_exchange *ex = take_queue(s), *next; ex; ex = next) {
            next = ex->next;
            http_conn *c = HTTP_CONN_OF(ex);
            c->ex.ready = 1;
            if (c->state == CONN_ZOMBIE) http_conn_free(c);
        }
        close_listener(s);
        while (s->conns) {
            http_conn *c = s->conns;
            http_conn_close(c);  /* unlinks it and moves it to the graveyard */
            if (c->state == CONN_ZOMBIE) http_conn_free(c);
        }
        free_graveyard(s);
    }
    for (int i = 0; i < s->pool_len; i++) free(s->pool[i]);
    evloop_destroy(s->loop);
    if (s->listen_fd >= 0) close(s->listen_fd);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qcond);
    free(s);
}
