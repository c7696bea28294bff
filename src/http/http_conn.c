/* http_conn.c -- one connection's state machine: read, parse, dispatch,
 * write, keep-alive or lingering close (see http_internal.h for the
 * layout and lifetime rules).
 *
 * conn_drive() is the only place that moves a connection forward. Each
 * step does at most one system call and says whether it made progress;
 * the loop stops when a step has to wait for the socket or the handler,
 * and then sets the epoll interest and the timer for the state it stopped
 * in. A handler that answers before returning is served in the same pass
 * with no epoll change, so a keep-alive request costs one read and one
 * sendmsg. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "http/http_internal.h"

static const char CONTINUE_100[] = "HTTP/1.1 100 Continue\r\n\r\n";
enum { LINGER_MS = 2000, LINGER_MAX_BYTES = 1 << 20, CHUNK_SLACK = 16384 };

static void conn_drive(http_conn *c);

/* ---- responses ------------------------------------------------------- */

const char *http_status_reason(int code) {
    switch (code) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* "Sun, 06 Nov 1994 08:49:37 GMT", formatted once a second per thread.
 * By hand rather than strftime, whose names follow the locale. */
static const char *http_date(void) {
    static _Thread_local time_t cached = -1;
    static _Thread_local char buf[80];
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(buf, sizeof buf, "%.3s, %02d %.3s %04d %02d:%02d:%02d GMT",
                 days + 3 * tm.tm_wday, tm.tm_mday, months + 3 * tm.tm_mon,
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached = now;
    }
    return buf;
}

static char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

static char *put_uint(char *p, size_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static const char OOM_RESPONSE[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                   "Content-Length: 0\r\nConnection: close\r\n\r\n";

static void release_response(http_conn *c) {
    http_exchange *ex = &c->ex;
    if (ex->head != ex->head_inline && ex->head != OOM_RESPONSE) free(ex->head);
    free(ex->body);
    ex->head = NULL;
    ex->body = NULL;
    ex->head_len = ex->body_len = 0;
    ex->ready = 0;
}

/* Fills c->ex's response. Runs on the responding thread: it reads only
 * fields that are fixed while the exchange is out. */
static void build_response(http_conn *c, int code, const char *ctype, const char *extra,
                           char *body, size_t len, int force_close) {
    http_exchange *ex = &c->ex;
    if (code < 200 || code > 599) code = 500;
    int bodiless = code == 204 || code == 304;
    int keep = !force_close && c->head.keep_alive && !atomic_load(&c->srv->draining);
    ex->send_body = !bodiless && !c->head_method && len > 0;
    if (!ex->send_body) {
        free(body);
        body = NULL;
    }
    ex->body = body;
    ex->body_len = ex->send_body ? len : 0;
    ex->close_after = !keep;

    const char *reason = http_status_reason(code);
    const char *conn_hdr = !keep ? "Connection: close\r\n"
                           : c->head.req.version_minor == 0 ? "Connection: keep-alive\r\n"
                                                            : "";
    const char *date = http_date();
    size_t ct_len = ctype ? strlen(ctype) : 0, extra_len = extra ? strlen(extra) : 0;
    size_t date_len = strlen(date);
    size_t need = 13 + strlen(reason) + 2 + (ctype ? 14 + ct_len + 2 : 0) + 16 + 20 + 2 +
                  6 + date_len + 2 + strlen(conn_hdr) + extra_len + 2;
    char *h = need <= sizeof ex->head_inline ? ex->head_inline : malloc(need);
    if (!h) {
        free(ex->body);
        ex->body = NULL;
        ex->body_len = 0;
        ex->head = (char *)OOM_RESPONSE; /* static: release_response knows */
        ex->head_len = sizeof OOM_RESPONSE - 1;
        ex->close_after = 1;
        return;
    }
    char *p = put(h, "HTTP/1.1 ", 9);
    p = put_uint(p, (size_t)code);
    *p++ = ' ';
    p = put(p, reason, strlen(reason));
    p = put(p, "\r\n", 2);
    if (ctype) {
        p = put(p, "Content-Type: ", 14);
        p = put(p, ctype, ct_len);
        p = put(p, "\r\n", 2);
    }
    if (!bodiless) {
        p = put(p, "Content-Length: ", 16);
        p = put_uint(p, len);
        p = put(p, "\r\n", 2);
    }
    p = put(p, "Date: ", 6);
    p = put(p, date, date_len);
    p = put(p, "\r\n", 2);
    p = put(p, conn_hdr, strlen(conn_hdr));
    if (extra_len) p = put(p, extra, extra_len);
    p = put(p, "\r\n", 2);
    ex->head = h;
    ex->head_len = (size_t)(p - h);
}

/* ---- socket teardown ------------------------------------------------- */

static void detach_socket(http_conn *c) {
    http_server *s = c->srv;
    evloop_timer_stop(s->loop, &c->timer);
    c->timer_kind = TIMER_NONE;
    if (c->io.fd >= 0) {
        /* Counted out before the close, so whoever sees the EOF also sees
         * the count drop (tests and drains rely on it). */
        http_server_conn_closed(s, c);
        evloop_io_remove(s->loop, &c->io);
        close(c->io.fd);
        c->io.fd = -1;
    }
}

static void bury(http_conn *c) {
    c->state = CONN_CLOSED;
    c->grave_next = c->srv->graveyard;
    c->srv->graveyard = c;
}

void http_conn_close(http_conn *c) {
    if (c->state == CONN_CLOSED) return;
    detach_socket(c);
    if (c->state == CONN_WAIT) { /* never freed under a handler's feet */
        c->state = CONN_ZOMBIE;
        return;
    }
    release_response(c);
    bury(c);
}

/* The client left while its exchange is out. */
static void conn_cancel(http_conn *c) {
    http_exchange *ex = &c->ex;
    atomic_store(&ex->cancelled, 1);
    pthread_mutex_lock(&ex->cancel_mu);
    if (ex->on_cancel && !ex->responded) ex->on_cancel(ex->on_cancel_ctx);
    ex->on_cancel = NULL;
    pthread_mutex_unlock(&ex->cancel_mu);
    detach_socket(c);
    c->state = CONN_ZOMBIE;
}

void http_conn_free(http_conn *c) {
    if (!c) return;
    release_response(c);
    if (c->buf) http_server_buf_put(c->srv, c->buf, c->cap);
    free(c->hdrs);
    free(c->path);
    pthread_mutex_destroy(&c->ex.cancel_mu);
    free(c);
}

/* ---- buffers --------------------------------------------------------- */

/* Moves the read buffer to one of newcap bytes. With a parsed head, its
 * strings are re-pointed (offsets are taken while the old buffer lives). */
static int grow_buf(http_conn *c, size_t newcap, int rebase) {
    char *nb = malloc(newcap);
    if (!nb) return -1;
    char *old = c->buf;
    if (old) memcpy(nb, old, c->len);
    if (rebase && old) {
        http_request *r = &c->head.req;
#define REBASE(ptr) ((ptr) = nb + ((const char *)(ptr) - old))
        REBASE(r->method);
        REBASE(r->target);
        if (r->query) REBASE(r->query);
        for (int i = 0; i < r->n_headers; i++) {
            REBASE(c->hdrs[i].name);
            REBASE(c->hdrs[i].value);
        }
#undef REBASE
    }
    if (old) http_server_buf_put(c->srv, old, c->cap);
    c->buf = nb;
    c->cap = newcap;
    return 0;
}

/* ---- errors answered by the server itself ---------------------------- */

static char *error_body(const char *msg, size_t *len) {
    char clean[sizeof(((errinfo *)0)->msg)];
    size_t n = 0;
    for (; msg[n] && n < sizeof clean - 1; n++) {
        unsigned char ch = (unsigned char)msg[n];
        clean[n] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?'; /* keep the JSON valid UTF-8 */
    }
    clean[n] = '\0';
    json_writer w;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "error");
    jw_string(&w, clean, n);
    jw_end_object(&w);
    return jw_finish(&w, len);
}

/* Answers with code and closes afterwards. */
static void conn_fail(http_conn *c, int code, const char *msg) {
    if (c->interim_left && c->interim != CONTINUE_100) {
        http_conn_close(c); /* half an interim response is on the wire */
        return;
    }
    c->interim_left = 0;
    size_t len = 0;
    char *body = error_body(msg, &len);
    build_response(c, code, body ? "application/json" : NULL, NULL, body, len, 1);
    c->sent = 0;
    c->state = CONN_WRITE;
}

/* ---- reading ---------------------------------------------------------- */

/* One read into the buffer's free space. Returns 1 on progress (bytes, or
 * the connection closed), 0 if the socket had nothing. */
static int read_more(http_conn *c) {
    if (!c->buf) {
        c->buf = http_server_buf_get(c->srv);
        if (!c->buf) {
            http_conn_close(c);
            return 1;
        }
        c->cap = HTTP_BUF_STD;
    }
    size_t space = c->cap - c->len - 1; /* one byte kept for the body's NUL */
    ssize_t n = read(c->io.fd, c->buf + c->len, space);
    if (n > 0) {
        c->len += (size_t)n;
        if ((size_t)n < space) c->readable = 0;
        return 1;
    }
    if (n < 0 && errno == EINTR) return 1;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->readable = 0;
        return 0;
    }
    http_conn_close(c); /* EOF or error */
    return 1;
}

static void dispatch(http_conn *c, const char *body, size_t body_len) {
    http_server *s = c->srv;
    http_exchange *ex = &c->ex;
    if (body_len) {
        c->nul_at = (size_t)(body - c->buf) + body_len;
        c->saved = c->buf[c->nul_at];
        c->buf[c->nul_at] = '\0';
    } else {
        body = "";
        c->nul_at = SIZE_MAX;
    }
    ex->req = c->head.req;
    ex->req.body = body;
    ex->req.body_len = body_len;
    atomic_store(&ex->cancelled, 0);
    ex->responded = 0; /* no respond() can be running: the exchange was idle */
    ex->on_cancel = NULL;
    ex->ready = 0;
    c->reads_muted = 0;
    c->state = CONN_WAIT;
    evloop_timer_stop(s->loop, &c->timer);
    c->timer_kind = TIMER_NONE;
    atomic_fetch_add(&s->outstanding, 1);
    c->in_handler = 1;
    s->handler(ex, &ex->req, s->ctx);
    c->in_handler = 0;
}

static void expect_continue(http_conn *c, size_t body_needed) {
    if (c->head.expect_continue && c->len - c->head_len < body_needed) {
        c->interim = CONTINUE_100;
        c->interim_left = sizeof CONTINUE_100 - 1;
    }
}

static int on_head(http_conn *c, size_t head_len) {
    http_server *s = c->srv;
    int lines = http_count_lines(c->buf, head_len);
    int want = lines < s->lim.max_headers ? lines : s->lim.max_headers;
    if (want > c->hdrs_cap) {
        http_header *nh = realloc(c->hdrs, (size_t)want * sizeof *nh);
        if (!nh) goto oom;
        c->hdrs = nh;
        c->hdrs_cap = want;
    }
    if (head_len + 1 > c->path_cap) {
        size_t ncap = head_len + 1 < 128 ? 128 : head_len + 1;
        char *np = realloc(c->path, ncap);
        if (!np) goto oom;
        c->path = np;
        c->path_cap = ncap;
    }
    errinfo err;
    int code = http_parse_head(c->buf, head_len, &s->lim, c->hdrs, c->hdrs_cap, c->path,
                               &c->head, &err);
    if (code) {
        conn_fail(c, code, err.msg);
        return 1;
    }
    c->head_len = head_len;
    c->head_method = strcmp(c->head.req.method, "HEAD") == 0;
    if (c->head.chunked) {
        memset(&c->chunked, 0, sizeof c->chunked);
        c->chunk_in = c->chunk_out = head_len;
        c->state = CONN_READ_BODY;
        expect_continue(c, 1);
        return 1;
    }
    if (c->head.content_length) {
        size_t total = head_len + (size_t)c->head.content_length;
        if (c->cap < total + 1 && grow_buf(c, total + 1, 1)) {
            conn_fail(c, 503, "out of memory for the request body");
            return 1;
        }
        c->state = CONN_READ_BODY;
        expect_continue(c, (size_t)c->head.content_length);
        return 1;
    }
    c->req_end = head_len;
    dispatch(c, NULL, 0);
    return 1;
oom:
    conn_fail(c, 503, "out of memory parsing the request head");
    return 1;
}

static int step_read_head(http_conn *c) {
    http_server *s = c->srv;
    if (c->len) {
        size_t head_len = http_find_head_end(c->buf, c->len, &c->scan);
        if (head_len && head_len <= s->opt.max_header_bytes) return on_head(c, head_len);
        if (head_len || c->len >= s->opt.max_header_bytes) {
            char msg[96];
            snprintf(msg, sizeof msg, "request head exceeds %zu bytes", s->opt.max_header_bytes);
            conn_fail(c, 431, msg);
            return 1;
        }
    } else if (atomic_load(&s->draining)) {
        http_conn_close(c);
        return 1;
    }
    if (!c->readable) return 0;
    if (c->buf && c->len + 1 >= c->cap) {
        size_t ncap = 2 * c->cap;
        if (ncap > s->opt.max_header_bytes + 2) ncap = s->opt.max_header_bytes + 2;
        if (ncap <= c->cap || grow_buf(c, ncap, 0)) {
            conn_fail(c, 503, "out of memory reading the request head");
            return 1;
        }
    }
    return read_more(c);
}

/* Sends what is left of "100 Continue". 1 when done. */
static int send_interim(http_conn *c) {
    ssize_t n = send(c->io.fd, c->interim, c->interim_left, MSG_NOSIGNAL);
    if (n > 0) {
        c->interim += n;
        c->interim_left -= (size_t)n;
        return c->interim_left == 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    http_conn_close(c);
    return 0;
}

static int step_read_body(http_conn *c) {
    http_server *s = c->srv;
    if (c->interim_left && !send_interim(c)) return c->state == CONN_CLOSED;
    if (!c->head.chunked) {
        size_t total = c->head_len + (size_t)c->head.content_length;
        if (c->len >= total) {
            c->req_end = total;
            dispatch(c, c->buf + c->head_len, (size_t)c->head.content_length);
            return 1;
        }
        return c->readable ? read_more(c) : 0;
    }
    if (c->len > c->chunk_in) {
        errinfo err;
        int rc = http_chunked_decode(&c->chunked, c->buf, &c->chunk_in, c->len, &c->chunk_out,
                                     &s->lim, &err);
        if (rc > 0) {
            conn_fail(c, rc, err.msg);
            return 1;
        }
        if (rc == 0) {
            c->req_end = c->chunk_in;
            dispatch(c, c->buf + c->head_len, c->chunk_out - c->head_len);
            return 1;
        }
        c->len = c->chunk_in = c->chunk_out; /* all input consumed: drop the framing */
    }
    if (!c->readable) return 0;
    if (c->cap - c->len - 1 < 4096) {
        size_t limit = c->head_len + s->lim.max_body_bytes + CHUNK_SLACK;
        size_t ncap = c->cap * 2 < limit ? c->cap * 2 : limit;
        if (ncap <= c->cap || grow_buf(c, ncap, 1)) {
            conn_fail(c, 503, "out of memory for the request body");
            return 1;
        }
    }
    return read_more(c);
}

/* ---- writing ---------------------------------------------------------- */

/* After the response: keep-alive (the next request may already be in the
 * buffer) or lingering close. */
static void finish_response(http_conn *c) {
    http_server *s = c->srv;
    int close_now = c->ex.close_after || atomic_load(&s->draining);
    release_response(c);
    c->served++;
    evloop_timer_stop(s->loop, &c->timer);
    c->timer_kind = TIMER_NONE;
    if (close_now) {
        shutdown(c->io.fd, SHUT_WR);
        c->state = CONN_LINGER;
        c->readable = 1;
        c->linger_bytes = 0;
        return;
    }
    if (c->nul_at != SIZE_MAX && c->nul_at < c->len) c->buf[c->nul_at] = c->saved;
    c->nul_at = SIZE_MAX;
    c->head_method = 0;
    size_t left = c->len - c->req_end;
    if (left) memmove(c->buf, c->buf + c->req_end, left);
    c->len = left;
    c->scan = 0;
    c->req_end = 0;
    c->state = CONN_READ_HEAD;
    if (c->cap != HTTP_BUF_STD && left < HTTP_BUF_STD) { /* give a big buffer back */
        char *old = c->buf;
        size_t oldcap = c->cap;
        c->buf = NULL;
        c->cap = 0;
        if (left) {
            c->buf = http_server_buf_get(s);
            if (c->buf) {
                memcpy(c->buf, old, left);
                c->cap = HTTP_BUF_STD;
            } else {
                c->buf = old; /* keep the big one */
                c->cap = oldcap;
                old = NULL;
            }
        }
        if (old) http_server_buf_put(s, old, oldcap);
    }
    if (!left && c->buf) { /* idle: the buffer goes back to the pool */
        http_server_buf_put(s, c->buf, c->cap);
        c->buf = NULL;
        c->cap = 0;
    }
}

static int step_write(http_conn *c) {
    http_exchange *ex = &c->ex;
    size_t total = ex->head_len + ex->body_len;
    while (c->sent < total) {
        struct iovec iov[2];
        int n = 0;
        if (c->sent < ex->head_len) {
            iov[n++] = (struct iovec){ex->head + c->sent, ex->head_len - c->sent};
            if (ex->body_len) iov[n++] = (struct iovec){ex->body, ex->body_len};
        } else {
            size_t off = c->sent - ex->head_len;
            iov[n++] = (struct iovec){ex->body + off, ex->body_len - off};
        }
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->io.fd, &msg, MSG_NOSIGNAL);
        if (w > 0) {
            c->sent += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        http_conn_close(c);
        return 1;
    }
    finish_response(c);
    return 1;
}

static int step_linger(http_conn *c) {
    if (!c->readable) return 0;
    char tmp[4096];
    ssize_t n = read(c->io.fd, tmp, sizeof tmp);
    if (n > 0) {
        c->linger_bytes += (size_t)n;
        if (c->linger_bytes > LINGER_MAX_BYTES) http_conn_close(c);
        return 1;
    }
    if (n < 0 && errno == EINTR) return 1;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->readable = 0;
        return 0;
    }
    http_conn_close(c);
    return 1;
}

/* ---- the driver ------------------------------------------------------- */

static int arm(http_conn *c, conn_timer_kind kind, int ms, int restart) {
    if (c->timer_kind == kind && !restart && evloop_timer_armed(&c->timer)) return 0;
    c->timer_kind = kind;
    return evloop_timer_start(c->srv->loop, &c->timer, ms);
}

static void update_interest(http_conn *c) {
    http_server *s = c->srv;
    unsigned ev = 0;
    int hdr_ms = s->opt.header_timeout_ms, rc = 0;
    switch (c->state) {
    case CONN_READ_HEAD:
        /* READ|RDHUP in every reading state and while the exchange is
         * out: a keep-alive request then changes no epoll interest at all
         * (see CONN_WAIT). A hang-up also reports READ, so adding RDHUP
         * changes nothing for the reading states. */
        ev = EVLOOP_READ | EVLOOP_RDHUP;
        if (c->len == 0 && c->served > 0) rc = arm(c, TIMER_IDLE, s->opt.idle_timeout_ms, 0);
        else rc = arm(c, TIMER_HEAD, hdr_ms, 0);
        break;
    case CONN_READ_BODY:
        ev = c->interim_left ? EVLOOP_WRITE : EVLOOP_READ | EVLOOP_RDHUP;
        rc = arm(c, TIMER_BODY, hdr_ms, 1);
        break;
    case CONN_WAIT:
        /* Only a hang-up matters now, but dropping READ and adding it back
         * would cost two epoll_ctl calls per request. Input that arrives
         * meanwhile (a pipelined request) mutes READ then: on_io. */
        ev = c->reads_muted ? EVLOOP_RDHUP : EVLOOP_READ | EVLOOP_RDHUP;
        evloop_timer_stop(s->loop, &c->timer);
        c->timer_kind = TIMER_NONE;
        break;
    case CONN_WRITE:
        ev = EVLOOP_WRITE;
        rc = arm(c, TIMER_WRITE, hdr_ms, 1);
        break;
    case CONN_LINGER:
        ev = EVLOOP_READ;
        rc = arm(c, TIMER_LINGER, hdr_ms < LINGER_MS ? hdr_ms : LINGER_MS, 0);
        break;
    default:
        return;
    }
    if (rc < 0 || evloop_io_set(s->loop, &c->io, ev) < 0) {
        if (c->state == CONN_WAIT) conn_cancel(c);
        else http_conn_close(c);
    }
}

static void conn_drive(http_conn *c) {
    if (c->in_drive) return; /* the outer call will see the change */
    c->in_drive = 1;
    for (int progress = 1; progress;) {
        switch (c->state) {
        case CONN_READ_HEAD: progress = step_read_head(c); break;
        case CONN_READ_BODY: progress = step_read_body(c); break;
        case CONN_WAIT:
            progress = c->ex.ready;
            if (progress) {
                c->sent = 0;
                c->state = CONN_WRITE;
            }
            break;
        case CONN_WRITE: progress = step_write(c); break;
        case CONN_LINGER: progress = step_linger(c); break;
        default: progress = 0; break;
        }
    }
    c->in_drive = 0;
    update_interest(c);
}

static void on_io(evloop *l, evloop_io *io, unsigned events) {
    (void)l;
    http_conn *c = io->data;
    if (c->state == CONN_WAIT) {
        if (events & (EVLOOP_RDHUP | EVLOOP_ERROR)) {
            conn_cancel(c);
        } else if (events & EVLOOP_READ) {
            /* Pipelined input: it waits in the socket until the answer is
             * out; stop polling it, or level-triggered epoll would report
             * it on every turn of the loop. */
            c->reads_muted = 1;
            if (evloop_io_set(c->srv->loop, &c->io, EVLOOP_RDHUP) < 0) conn_cancel(c);
        }
        return;
    }
    if (c->state == CONN_CLOSED || c->state == CONN_ZOMBIE) return;
    if (events & (EVLOOP_READ | EVLOOP_RDHUP | EVLOOP_ERROR)) c->readable = 1;
    conn_drive(c);
}

static void on_timer(evloop *l, evloop_timer *t) {
    (void)l;
    http_conn *c = t->data;
    conn_timer_kind kind = c->timer_kind;
    c->timer_kind = TIMER_NONE;
    char msg[128];
    int ms = c->srv->opt.header_timeout_ms;
    if (kind == TIMER_HEAD && c->len > 0) {
        snprintf(msg, sizeof msg, "request head not received within %d ms", ms);
        conn_fail(c, 408, msg);
    } else if (kind == TIMER_BODY) {
        snprintf(msg, sizeof msg, "request body stalled: no data for %d ms", ms);
        conn_fail(c, 408, msg);
    } else {
        http_conn_close(c);
    }
    if (c->state != CONN_CLOSED) conn_drive(c);
}

/* ---- entry points ----------------------------------------------------- */

http_conn *http_conn_create(http_server *s, int fd) {
    http_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = s;
    c->io.fd = fd;
    c->io.cb = on_io;
    c->io.data = c;
    c->timer.cb = on_timer;
    c->timer.data = c;
    c->state = CONN_READ_HEAD;
    c->nul_at = SIZE_MAX;
    atomic_init(&c->ex.cancelled, 0);
    pthread_mutex_init(&c->ex.cancel_mu, NULL);
    return c;
}

void http_conn_start(http_conn *c) { update_interest(c); }

void http_conn_deliver(http_conn *c) {
    c->ex.ready = 1;
    if (c->state == CONN_ZOMBIE) {
            release_response(c);
        bury(c);
        return;
    }
    conn_drive(c);
}

void http_conn_drain(http_conn *c) {
    if (c->state == CONN_READ_HEAD && c->len == 0) http_conn_close(c);
}

void http_exchange_respond(http_exchange *ex, int status_code, const char *content_type,
                           const char *extra_headers, char *body, size_t len) {
    http_conn *c = HTTP_CONN_OF(ex);
    http_server *s = c->srv;
    pthread_mutex_lock(&ex->cancel_mu); /* waits for a running on_cancel hook */
    int again = ex->responded;
    ex->responded = 1;
    ex->on_cancel = NULL;
    pthread_mutex_unlock(&ex->cancel_mu);
    if (again) { /* a second answer is a caller bug; drop it */
        free(body);
        return;
    }
    if (atomic_load(&ex->cancelled)) {
        free(body);
        body = NULL;
        len = 0;
    }
    build_response(c, status_code, content_type, extra_headers, body, len, 0);
    if (atomic_load(&s->running) && pthread_equal(pthread_self(), s->loop_thread)) {
        atomic_fetch_sub(&s->outstanding, 1);
        if (c->in_handler) {
            c->ex.ready = 1; /* dispatch's caller picks it up */
            return;
        }
        http_conn_deliver(c);
        return;
    }
    pthread_mutex_lock(&s->qlock);
    ex->next = NULL;
    if (s->q_tail) s->q_tail->next = ex;
    else s->q_head = ex;
    s->q_tail = ex;
    if (atomic_fetch_sub(&s->outstanding, 1) == 1) pthread_cond_broadcast(&s->qcond);
    evloop_wake(s->loop); /* under the lock: destroy cannot free the loop meanwhile */
    pthread_mutex_unlock(&s->qlock);
}

int http_exchange_cancelled(const http_exchange *ex) {
    return atomic_load(&((http_exchange *)ex)->cancelled);
}

void http_exchange_on_cancel(http_exchange *ex, void (*fn)(void *ctx), void *ctx) {
    pthread_mutex_lock(&ex->cancel_mu);
    int gone = atomic_load(&ex->cancelled) && !ex->responded;
    ex->on_cancel = gone ? NULL : fn;
    ex->on_cancel_ctx = ctx;
    if (gone && fn) fn(ctx);
    pthread_mutex_unlock(&ex->cancel_mu);
}

const char *http_request_header(const http_request *r, const char *name) {
    for (int i = 0; i < r->n_headers; i++)
        if (http_strcaseeq(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}
