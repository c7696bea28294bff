/* http_internal.h -- private layouts shared by http_server.c (listening,
 * accepting, the response queue) and http_conn.c (one connection's state
 * machine). Nothing outside src/http includes this.
 *
 * Threads: everything here belongs to the I/O thread except the fields
 * marked [any thread], which are atomics or guarded by http_server.qlock.
 * A connection owns exactly one exchange (one request at a time), so a
 * request costs no allocation of its own: the read buffer comes from a
 * small pool and the header array and path buffer are kept per connection.
 *
 * Lifetime: a connection whose client vanished while its exchange is out
 * becomes a zombie: its socket is closed but the memory (which the request
 * strings point into) lives until respond() hands the exchange back
 * through the queue. Connections are freed only in the loop's before_poll
 * hook, so a stale epoll event in the same batch never touches freed
 * memory. */
#ifndef INFERD_HTTP_INTERNAL_H
#define INFERD_HTTP_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>

#include "http/event_loop.h"
#include "http/http_parser.h"
#include "http/http_server.h"

typedef struct http_conn http_conn;

typedef enum conn_state {
    CONN_READ_HEAD,  /* waiting for (the rest of) a request head */
    CONN_READ_BODY,  /* reading a Content-Length or chunked body */
    CONN_WAIT,       /* the exchange is with the handler */
    CONN_WRITE,      /* writing the response */
    CONN_LINGER,     /* final response sent; discarding input until EOF */
    CONN_ZOMBIE,     /* socket closed, exchange still out */
    CONN_CLOSED,     /* waiting to be freed */
} conn_state;

typedef enum conn_timer_kind {
    TIMER_NONE,
    TIMER_HEAD,   /* total time for a head, from its first byte */
    TIMER_BODY,   /* gap between body reads */
    TIMER_IDLE,   /* keep-alive idle */
    TIMER_WRITE,  /* gap between response writes */
    TIMER_LINGER, /* lingering close */
} conn_timer_kind;

enum { HTTP_HEAD_INLINE = 320 };

struct http_exchange {
    http_request req;
    atomic_int cancelled;   /* [any thread] */
    int responded;          /* [cancel_mu] set by respond(); guards double calls */
    pthread_mutex_t cancel_mu;        /* orders on_cancel against respond() */
    void (*on_cancel)(void *ctx);     /* [cancel_mu] http_exchange_on_cancel */
    void *on_cancel_ctx;
    int ready;              /* the response below is complete (loop thread) */
    http_exchange *next;    /* [qlock] response queue link */
    /* The response, filled in by respond() on the responding thread. */
    char *head;             /* head_inline or malloc'd */
    size_t head_len;
    char *body;             /* owned */
    size_t body_len;
    int send_body;          /* 0 for HEAD requests, 204 and 304 */
    int close_after;        /* head says "Connection: close" */
    char head_inline[HTTP_HEAD_INLINE];
};

struct http_conn {
    http_server *srv;
    evloop_io io;
    evloop_timer timer;
    conn_timer_kind timer_kind;
    conn_state state;
    http_conn *prev, *next;  /* the server's list of open connections */
    http_conn *grave_next;   /* the server's list of connections to free */

    char *buf;               /* read buffer: [head][body][next request...] */
    size_t len, cap;
    size_t scan;             /* http_find_head_end resume point */
    size_t head_len;         /* of the current request */
    size_t req_end;          /* first byte after the current request */
    size_t nul_at;           /* where the body's terminating NUL went */
    char saved;              /* the byte the NUL replaced */
    int head_method;         /* the current request is a HEAD */
    size_t linger_bytes;     /* discarded while lingering */
    int readable;            /* the socket may have unread bytes */
    int served;              /* responses completed on this connection */
    int in_drive;            /* re-entrancy guard for conn_drive */
    int in_handler;
    int reads_muted;         /* CONN_WAIT with input pending: polling RDHUP only */

    http_head head;          /* the current request's parsed head */
    http_header *hdrs;
    int hdrs_cap;
    char *path;
    size_t path_cap;
    http_chunked chunked;
    size_t chunk_in, chunk_out;

    const char *interim;     /* unsent part of "100 Continue" */
    size_t interim_left;
    size_t sent;             /* bytes of the response written */

    http_exchange ex;
};

enum { HTTP_POOL_MAX = 64, HTTP_BUF_STD = 8192 };

struct http_server {
    http_server_options opt;
    http_parse_limits lim;
    http_handler_fn handler;
    void *ctx;
    evloop *loop;
    int listen_fd;
    int port;
    evloop_io listen_io;
    evloop_timer accept_timer;  /* retry after EMFILE */
    int accept_paused;

    pthread_t loop_thread;
    atomic_int running;         /* [any thread] */
    atomic_int nconns;          /* [any thread] open connections */
    atomic_int draining;        /* [any thread] stop_listening was called */
    atomic_int stop_listen_req; /* [any thread] */
    atomic_int outstanding;     /* [any thread] exchanges with a handler */

    http_conn *conns;           /* open connections */
    http_conn *graveyard;       /* closed, to free before the next poll */

    pthread_mutex_t qlock;      /* guards the response queue */
    pthread_cond_t qcond;       /* signalled when outstanding drops */
    http_exchange *q_head, *q_tail;

    char *pool[HTTP_POOL_MAX];  /* free HTTP_BUF_STD read buffers */
    int pool_len;
};

#define HTTP_CONN_OF(ex) ((http_conn *)((char *)(ex) - offsetof(http_conn, ex)))

/* http_conn.c */
http_conn *http_conn_create(http_server *s, int fd);
void http_conn_free(http_conn *c);
/* Registers a new connection's interest and first timer. */
void http_conn_start(http_conn *c);
/* Closes the socket and moves c to the graveyard (not for CONN_WAIT). */
void http_conn_close(http_conn *c);
/* A response for c's exchange arrived through the queue (loop thread). */
void http_conn_deliver(http_conn *c);
/* stop_listening took effect: close c if idle. */
void http_conn_drain(http_conn *c);

/* http_server.c */
void http_server_conn_closed(http_server *s, http_conn *c);
char *http_server_buf_get(http_server *s);
/* Returns a read buffer: pooled if it has HTTP_BUF_STD bytes, else freed. */
void http_server_buf_put(http_server *s, char *buf, size_t cap);

#endif
