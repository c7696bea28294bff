/* http_parser.h -- HTTP/1.x request parsing as pure functions over a byte
 * buffer: no I/O, no allocation, so the connection code stays small and a
 * fuzzer can drive every byte of it.
 *
 * Three steps, each resumable as more bytes arrive:
 *
 *     size_t scan = 0, head_len;
 *     while (!(head_len = http_find_head_end(buf, len, &scan)))
 *         len += read_more(buf + len);          // and check the size limit
 *     http_head h;
 *     int code = http_parse_head(buf, head_len, &lim, hdrs, HTTP_MAX_HEADERS,
 *                                path_buf, &h, &err);   // in place: writes NULs
 *     if (code) return answer_error(code, err.msg);    // 400, 413, 431, ...
 *     if (h.chunked) {
 *         http_chunked c = {0};
 *         size_t in = head_len, out = head_len;
 *         while ((code = http_chunked_decode(&c, buf, &in, len, &out, &lim, &err))
 *                == HTTP_PARSE_INCOMPLETE)
 *             len += read_more(buf + len);
 *         // the body is buf[head_len .. out); the next request starts at in
 *     }
 *
 * Return codes are 0 for done, HTTP_PARSE_INCOMPLETE for "need more bytes",
 * or the HTTP status code to answer with (err says why). Lines may end in
 * CRLF or a bare LF (RFC 9112 section 2.2); a bare CR anywhere else is an
 * error. Obsolete line folding, whitespace before a header colon, both
 * Content-Length and Transfer-Encoding, conflicting Content-Lengths and
 * Transfer-Encoding in HTTP/1.0 are rejected, as RFC 9112 permits, because
 * each is a request-smuggling vector. */
#ifndef INFERD_HTTP_PARSER_H
#define INFERD_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "http/http_server.h"

#define HTTP_PARSE_INCOMPLETE (-1)

typedef struct http_parse_limits {
    size_t max_header_bytes; /* request line + headers (checked by the caller
                                while the head is incomplete) */
    int max_headers;         /* header fields; more is 431 */
    size_t max_body_bytes;   /* Content-Length or de-chunked size; more is 413 */
} http_parse_limits;

/* A parsed head. req.body is left empty. */
typedef struct http_head {
    http_request req;
    int has_content_length;
    uint64_t content_length;
    int chunked;
    int keep_alive;      /* after the version's default and Connection */
    int expect_continue; /* HTTP/1.1 "Expect: 100-continue" */
} http_head;

/* Length of the head in buf[0..len) including its blank line (and any
 * empty lines before the request line), or 0 if it has not ended yet.
 * *scan is where to resume; start it at 0 for each new request. */
size_t http_find_head_end(const char *buf, size_t len, size_t *scan);

/* Number of lines in a head: an upper bound for its header fields. */
int http_count_lines(const char *head, size_t head_len);

/* Parses a complete head in place (NULs replace delimiters, so every string
 * in out->req points into buf). hdrs has room for hdrs_cap fields; more
 * than min(hdrs_cap, lim->max_headers) is 431. path_buf receives the
 * decoded path and needs head_len + 1 bytes. Returns 0 or an HTTP status
 * (400, 413, 417, 431, 501, 505). */
int http_parse_head(char *buf, size_t head_len, const http_parse_limits *lim, http_header *hdrs,
                    int hdrs_cap, char *path_buf, http_head *out, errinfo *err);

/* Chunked decoding state; zero it for each body. */
typedef struct http_chunked {
    int state;
    uint64_t remaining; /* data bytes left in the current chunk */
    uint64_t total;     /* decoded bytes so far */
    size_t line_bytes;  /* length of the current size or trailer line */
    size_t trailer_bytes;
} http_chunked;

/* Decodes buf[*in..len) in place: data bytes move down to buf[*out..],
 * which never passes *in. Advances *in over consumed input and *out over
 * produced data. Returns 0 once the last chunk and the trailers are
 * consumed (*in is then the first byte after the body), INCOMPLETE when
 * it needs more input, or 400 / 413 / 431. Trailer fields are skipped. */
int http_chunked_decode(http_chunked *c, char *buf, size_t *in, size_t len, size_t *out,
                        const http_parse_limits *lim, errinfo *err);

/* Case-insensitive ASCII comparison, for header names and tokens. */
int http_strcaseeq(const char *a, const char *b);

#endif
