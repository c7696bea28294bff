/* fuzz_http_parser.c -- libFuzzer target for the HTTP request parser, the
 * chunked decoder and the router.
 *
 * The first input byte picks how the rest arrives: in pieces of 1..256
 * bytes, as a connection would see it. The head is searched for
 * incrementally and must be found at the same place as in one pass; a
 * parsed head is checked for consistency; a chunked body is decoded in
 * place piece by piece, the way http_conn.c does it.
 *
 *     build-fuzz/fuzz_http_parser -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parser.h"
#include "http/http_router.h"

static const http_parse_limits LIM = {
    .max_header_bytes = 4096, .max_headers = 32, .max_body_bytes = 1 << 16};

static void check_request(const http_head *h) {
    const http_request *r = &h->req;
    if (r->version_minor != 0 && r->version_minor != 1) abort();
    if (!r->method[0] || !r->target[0] || !r->path[0]) abort();
    if (r->n_headers < 0 || r->n_headers > LIM.max_headers) abort();
    for (int i = 0; i < r->n_headers; i++) {
        if (!r->headers[i].name[0]) abort();
        if (http_request_header(r, r->headers[i].name) == NULL) abort();
    }
    if (h->chunked && h->has_content_length) abort();
    if (h->has_content_length && h->content_length > LIM.max_body_bytes) abort();
    http_route_match m;
    if (http_route(r, "/v2/models/{}/versions/{}/infer", &m)) {
        if (m.n != 2 || strlen(m.cap[0]) != m.cap_len[0] || !m.cap_len[1]) abort();
    }
    if (http_route(r, "/v1/models/{}:predict", &m) && m.n != 1) abort();
    http_method_matches(r, "GET HEAD POST");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 65536) return 0;
    size_t step = 1 + data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;

    char *buf = malloc(n + 1);
    char *once = malloc(n + 1);
    memcpy(once, in, n);
    size_t scan0 = 0;
    size_t head_once = http_find_head_end(once, n, &scan0);

    /* incremental search for the head */
    size_t len = 0, scan = 0, head_len = 0;
    while (len < n && !head_len) {
        size_t k = n - len < step ? n - len : step;
        memcpy(buf + len, in + len, k);
        len += k;
        head_len = http_find_head_end(buf, len, &scan);
    }
    if (head_len != head_once) abort();
    if (!head_len) goto out;

    http_header hdrs[64];
    char *path = malloc(head_len + 1);
    http_head h;
    errinfo err;
    int code = http_parse_head(buf, head_len, &LIM, hdrs, 64, path, &h, &err);
    if (code) {
        if (code < 400 || code > 505) abort();
        free(path);
        goto out;
    }
    check_request(&h);
    if (h.chunked) {
        /* the rest of the input, arriving in pieces, decoded in place */
        size_t total = n - head_len, fed = 0, blen = 0, bin = 0, bout = 0;
        http_chunked c = {0};
        int rc = HTTP_PARSE_INCOMPLETE;
        while (rc == HTTP_PARSE_INCOMPLETE && fed < total) {
            size_t k = total - fed < step ? total - fed : step;
            memmove(buf + blen, in + head_len + fed, k); /* after compaction */
            blen += k;
            fed += k;
            rc = http_chunked_decode(&c, buf, &bin, blen, &bout, &LIM, &err);
            if (bout > bin || bin > blen) abort();
            if (rc == HTTP_PARSE_INCOMPLETE) {
                if (bin != blen) abort();
                blen = bin = bout;
            }
        }
        if (rc != HTTP_PARSE_INCOMPLETE && rc != 0 && rc != 400 && rc != 413 && rc != 431) abort();
        if (c.total > LIM.max_body_bytes) abort();
    }
    free(path);
out:
    free(buf);
    free(once);
    return 0;
}
