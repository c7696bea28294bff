/* http_server.h -- inferd's HTTP/1.1 server: one event-loop thread,
 * non-blocking sockets, handlers that answer from any thread.
 *
 * The server parses requests, enforces limits and timeouts, and calls one
 * handler per complete request on its I/O thread. The handler must not
 * block: it validates, hands the work to another thread and returns; the
 * answer comes later through http_exchange_respond(), from any thread.
 *
 *     static void handle(http_exchange *ex, const http_request *req, void *ctx) {
 *         if (strcmp(req->path, "/v2/health/live") == 0) {
 *             http_exchange_respond(ex, 200, NULL, NULL, NULL, 0);
 *             return;
 *         }
 *         enqueue_infer(ctx, ex, req);   // a worker calls respond() later
 *     }
 *
 *     http_server_options o = {.port = 8000};
 *     http_server *s;
 *     errinfo err;
 *     if (http_server_create(&o, handle, ctx, &s, &err)) die(err.msg);
 *     http_server_run(s);        // until http_server_stop(s) from anywhere
 *     http_server_destroy(s);
 *
 * What the server answers by itself, closing the connection afterwards,
 * each with a JSON body {"error": "..."} that names what was wrong:
 *   400 malformed request line, header, Content-Length or chunked framing
 *   408 a request not received within header_timeout_ms (see below)
 *   413 a body larger than max_request_bytes (before reading it)
 *   417 an Expect other than 100-continue
 *   431 a head larger than max_header_bytes or with more than 100 fields
 *   501 a Transfer-Encoding other than chunked
 *   505 an HTTP version other than 1.0 and 1.1
 *
 * Connections: HTTP/1.1 is keep-alive unless "Connection: close"; HTTP/1.0
 * closes unless "Connection: keep-alive". One request at a time per
 * connection: pipelined requests wait until the previous response has been
 * written. Interim "100 Continue" is sent for "Expect: 100-continue" when
 * the body has not arrived yet. HEAD responses carry the Content-Length of
 * the body the handler gave but no body. Every response carries
 * Content-Length (except 204/304) and a Date; "Connection: close" when the
 * server closes after it.
 *
 * Timeouts: header_timeout_ms bounds the whole head (from its first byte,
 * or from accept for a new connection), the gap between two reads of the
 * body, and the gap between two writes of a response to a client that does
 * not read. idle_timeout_ms bounds a keep-alive connection between
 * requests; it is closed silently. A response is never timed out while its
 * exchange is with the handler: deadlines for inference are the serving
 * layer's business.
 *
 * Cancellation: if the client goes away (FIN or reset) while its exchange
 * is out, the exchange is marked cancelled (http_exchange_cancelled) and
 * the connection closed; the exchange and the request stay valid until
 * respond() is called, which then frees them without writing. A client
 * that half-closes (shutdown(SHUT_WR)) after its request counts as gone,
 * as in nginx.
 *
 * Draining: http_server_stop_listening() closes the listening socket;
 * connections then finish the request in progress, answer it with
 * "Connection: close" and close; idle ones close at once.
 * http_server_connections() reaches 0 when the drain is over. */
#ifndef INFERD_HTTP_SERVER_H
#define INFERD_HTTP_SERVER_H

#include <stddef.h>

#include "common/status.h"

typedef struct http_header {
    const char *name;  /* as sent (case preserved), NUL-terminated */
    const char *value; /* without surrounding whitespace, NUL-terminated */
} http_header;

/* A complete request. Every string is NUL-terminated and stays valid until
 * http_exchange_respond() is called for its exchange. */
typedef struct http_request {
    const char *method; /* "GET", "POST", ... (case-sensitive, as sent) */
    const char *target; /* request-target as sent: "/v2/models/a%2Fb?x=1" */
    const char *path;   /* percent-decoded path without query: "/v2/models/a/b";
                           "*" for "OPTIONS *"; never contains a NUL byte */
    const char *query;  /* raw text after '?' ("x=1"), NULL if no '?' */
    int version_minor;  /* 0 or 1: HTTP/1.0 or HTTP/1.1 */
    int n_headers;
    const http_header *headers; /* in the order received */
    const char *body;   /* de-chunked; body[body_len] == '\0'; "" when empty */
    size_t body_len;
} http_request;

/* Value of the first header with this name (case-insensitive), NULL if
 * absent. */
const char *http_request_header(const http_request *r, const char *name);

typedef struct http_server http_server;
/* One request awaiting one response. */
typedef struct http_exchange http_exchange;

/* Called on the I/O thread for each complete request; must not block. The
 * handler (or whoever it hands ex to) must call http_exchange_respond()
 * exactly once, possibly before returning. */
typedef void (*http_handler_fn)(http_exchange *ex, const http_request *req, void *ctx);

/* Zero fields take the defaults. */
typedef struct http_server_options {
    const char *host;         /* address to bind; NULL or "" = 0.0.0.0 */
    int port;                 /* 0 = an ephemeral port (see http_server_port) */
    size_t max_request_bytes; /* body limit; default 64 MiB */
    size_t max_header_bytes;  /* request line + headers; default 16 KiB */
    int header_timeout_ms;    /* slow client sending head/body, or not reading
                                 the response; default 30 s */
    int idle_timeout_ms;      /* keep-alive idle; default 60 s */
    int max_connections;      /* beyond it accept() pauses; default 4096 */
} http_server_options;

#define HTTP_DEFAULT_MAX_REQUEST_BYTES ((size_t)64 << 20)
#define HTTP_DEFAULT_MAX_HEADER_BYTES ((size_t)16 << 10)
#define HTTP_DEFAULT_HEADER_TIMEOUT_MS 30000
#define HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000
#define HTTP_DEFAULT_MAX_CONNECTIONS 4096
#define HTTP_MAX_HEADERS 100

/* Binds and listens (errors name the address: "bind 0.0.0.0:8000: Address
 * already in use"); serves nothing until http_server_run. */
status http_server_create(const http_server_options *o, http_handler_fn h, void *ctx,
                          http_server **out, errinfo *err);
/* The bound port (useful with port 0). Any thread. */
int http_server_port(const http_server *s);
/* Runs the event loop on the calling thread until http_server_stop().
 * Returns STATUS_OK, or STATUS_IO_ERROR if epoll itself fails. */
status http_server_run(http_server *s);
/* Makes http_server_run return soon. Any thread, and async-signal-safe (a
 * flag and an eventfd write), so a SIGTERM handler may call it. Open
 * connections are left as they are until destroy. */
void http_server_stop(http_server *s);
/* Closes the listening socket and drains connections (see above). Any
 * thread; not async-signal-safe. */
void http_server_stop_listening(http_server *s);
/* Open connections, for watching a drain. Any thread. */
int http_server_connections(const http_server *s);
/* Closes every connection and frees the server. Call after run returned
 * (or without ever running). Exchanges still out are waited for: every
 * exchange must be answered, so stop the threads that hold exchanges only
 * after they have answered them. Accepts NULL. */
void http_server_destroy(http_server *s);

/* Answers an exchange: exactly once per exchange, from any thread.
 * Takes ownership of body (malloc'd; NULL when len is 0) and frees it.
 * content_type: NULL for none. extra_headers: NULL, or header lines each
 * ending in "\r\n" ("Allow: GET\r\n"), copied before returning. A
 * status_code outside 200..599 (or 100..199) becomes 500. After this call
 * ex and the request are gone. */
void http_exchange_respond(http_exchange *ex, int status_code, const char *content_type,
                           const char *extra_headers, char *body, size_t len);
/* 1 if the client disconnected while the exchange was out, so the work may
 * be skipped (respond() must still be called). Any thread, until respond. */
int http_exchange_cancelled(const http_exchange *ex);
/* Asks to be told when the client goes away while the exchange is out, so
 * queued work can be dropped at once instead of polled for:
 *
 *     http_exchange_on_cancel(ex, cancel_work, work);   // before handing ex off
 *     submit(work);                                      // respond() comes later
 *
 * fn(ctx) is called at most once, on the I/O thread (or right here, if the
 * client is already gone), and never after respond() for this exchange has
 * begun: respond() and fn are serialized by a lock per exchange, so once
 * respond() returns, fn is neither running nor will it run, and ctx may be
 * freed. fn runs under that lock: keep it short (mark the work cancelled)
 * and do not call respond() from it. respond() must still be called. A
 * second call replaces the first; fn NULL removes it. Any thread, until
 * respond. */
void http_exchange_on_cancel(http_exchange *ex, void (*fn)(void *ctx), void *ctx);

/* "OK", "Not Found", ...; "Unknown" for codes it does not know. */
const char *http_status_reason(int code);

#endif
