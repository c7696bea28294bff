/* test_http_parser.c -- request heads and chunked bodies: every byte
 * boundary, extensions and trailers, limits, malformed input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parser.h"
#include "http/http_router.h"

static int failures, checks;

#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            printf("%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);    \
        }                                                                      \
    } while (0)

static const http_parse_limits LIM = {
    .max_header_bytes = 16384, .max_headers = 100, .max_body_bytes = 1 << 20};

typedef struct parsed {
    char buf[8192];
    http_header hdrs[128];
    char path[8192];
    http_head head;
    size_t head_len;
    int code;
    errinfo err;
} parsed;

/* Finds and parses the head of text; code is its result. */
static void parse(parsed *p, const char *text, size_t len, const http_parse_limits *lim) {
    memcpy(p->buf, text, len);
    size_t scan = 0;
    p->head_len = http_find_head_end(p->buf, len, &scan);
    p->err.msg[0] = '\0';
    if (!p->head_len) {
        p->code = HTTP_PARSE_INCOMPLETE;
        return;
    }
    p->code = http_parse_head(p->buf, p->head_len, lim, p->hdrs, 128, p->path, &p->head, &p->err);
}

static void expect_code(const char *text, int code, const char *msg) {
    static parsed p;
    parse(&p, text, strlen(text), &LIM);
    checks++;
    if (p.code != code || (msg && strcmp(p.err.msg, msg) != 0)) {
        failures++;
        printf("%s\n  -> %d '%s', want %d '%s'\n", text, p.code, p.err.msg, code, msg ? msg : "");
    }
}

static void test_basic(void) {
    static parsed p;
    const char *req = "POST /v2/models/m%20x/infer?a=1&b HTTP/1.1\r\nHost: localhost:8000\r\n"
                      "content-type:application/json \r\nContent-Length: 5\r\nX-Empty:\r\n"
                      "Connection: keep-alive, Upgrade\r\n\r\nhello";
    parse(&p, req, strlen(req), &LIM);
    CHECK(p.code == 0);
    CHECK(p.head_len == strlen(req) - 5);
    http_request *r = &p.head.req;
    CHECK(strcmp(r->method, "POST") == 0);
    CHECK(strcmp(r->target, "/v2/models/m%20x/infer?a=1&b") == 0);
    CHECK(strcmp(r->path, "/v2/models/m x/infer") == 0);
    CHECK(strcmp(r->query, "a=1&b") == 0);
    CHECK(r->version_minor == 1);
    CHECK(r->n_headers == 5);
    CHECK(strcmp(http_request_header(r, "CONTENT-TYPE"), "application/json") == 0);
    CHECK(strcmp(http_request_header(r, "x-empty"), "") == 0);
    CHECK(strcmp(r->headers[0].name, "Host") == 0);
    CHECK(http_request_header(r, "missing") == NULL);
    CHECK(p.head.has_content_length && p.head.content_length == 5);
    CHECK(p.head.keep_alive == 1 && !p.head.chunked && !p.head.expect_continue);

    /* HTTP/1.0: close by default, keep-alive on request; bare LF lines;
     * empty lines before the request line; no query */
    const char *r10 = "\r\n\r\nGET /x HTTP/1.0\nConnection: Keep-Alive\n\n";
    parse(&p, r10, strlen(r10), &LIM);
    CHECK(p.code == 0 && p.head_len == strlen(r10));
    CHECK(p.head.keep_alive == 1 && p.head.req.version_minor == 0 && p.head.req.query == NULL);
    parse(&p, "GET / HTTP/1.0\r\n\r\n", 18, &LIM);
    CHECK(p.code == 0 && p.head.keep_alive == 0 && p.head.req.n_headers == 0);
    const char *close11 = "GET /?x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    parse(&p, close11, strlen(close11), &LIM);
    CHECK(p.code == 0 && p.head.keep_alive == 0 && strcmp(p.head.req.query, "x") == 0);
    const char *both = "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: "
                       "close\r\n\r\n";
    parse(&p, both, strlen(both), &LIM);
    CHECK(p.code == 0 && p.head.keep_alive == 0);

    /* absolute-form, asterisk-form, Expect */
    const char *abs = "GET http://example.com:80/v2/health/ready?q=1 HTTP/1.1\r\nHost: e\r\n\r\n";
    parse(&p, abs, strlen(abs), &LIM);
    CHECK(p.code == 0 && strcmp(p.head.req.path, "/v2/health/ready") == 0);
    CHECK(strcmp(p.head.req.query, "q=1") == 0);
    size_t rl;
    const char *raw = http_raw_path(&p.head.req, &rl);
    CHECK(rl == 16 && memcmp(raw, "/v2/health/ready", rl) == 0);
    const char *abs2 = "GET https://example.com HTTP/1.1\r\nHost: e\r\n\r\n";
    parse(&p, abs2, strlen(abs2), &LIM);
    CHECK(p.code == 0 && strcmp(p.head.req.path, "/") == 0);
    const char *star = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
    parse(&p, star, strlen(star), &LIM);
    CHECK(p.code == 0 && strcmp(p.head.req.path, "*") == 0);
    const char *exp = "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: "
                      "10\r\n\r\n";
    parse(&p, exp, strlen(exp), &LIM);
    CHECK(p.code == 0 && p.head.expect_continue == 1);
    const char *exp10 = "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
    parse(&p, exp10, strlen(exp10), &LIM);
    CHECK(p.code == 0 && p.head.expect_continue == 0);
    const char *te = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n";
    parse(&p, te, strlen(te), &LIM);
    CHECK(p.code == 0 && p.head.chunked == 1 && !p.head.has_content_length);
    const char *obs = "GET /caf\xC3\xA9 HTTP/1.1\r\nHost: h\r\nX-Obs: \xFF\xFE text\r\n\r\n";
    parse(&p, obs, strlen(obs), &LIM);
    CHECK(p.code == 400); /* raw non-ASCII in the target is not allowed */
    const char *obs2 = "GET / HTTP/1.1\r\nHost: h\r\nX-Obs: \xFF\xFE text\r\n\r\n";
    parse(&p, obs2, strlen(obs2), &LIM);
    CHECK(p.code == 0 && strcmp(http_request_header(&p.head.req, "x-obs"), "\xFF\xFE text") == 0);
}

/* Feeding a request one byte more at a time: the head is found exactly
 * when its last byte arrives, and parses the same each time. */
static void test_every_boundary(void) {
    const char *req = "\r\nPOST /v2/models/x/infer HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                      "X-A: b\r\n\r\nabc";
    size_t full = strlen(req), head_len = full - 3;
    static parsed p;
    int bad = 0;
    for (size_t cut = 0; cut <= full; cut++) {
        /* incrementally, with a persistent scan position */
        size_t scan = 0, found = 0;
        char buf[256];
        for (size_t n = 0; n <= cut && !found; n++) {
            memcpy(buf, req, n);
            found = http_find_head_end(buf, n, &scan);
            if (found && n != head_len) bad++;
        }
        if ((cut >= head_len) != (found != 0)) bad++;
        /* and in one go */
        parse(&p, req, cut, &LIM);
        if (cut < head_len && p.code != HTTP_PARSE_INCOMPLETE) bad++;
        if (cut >= head_len && (p.code != 0 || p.head.content_length != 3 ||
                                strcmp(p.head.req.path, "/v2/models/x/infer") != 0))
            bad++;
    }
    CHECK(bad == 0);
}

/* Decodes a chunked body arriving in pieces of `step` bytes, the way the
 * connection does (framing dropped after each incomplete call). */
static int decode_stepwise(const char *raw, size_t raw_len, size_t step, char *body,
                           size_t *body_len, size_t *rest, const http_parse_limits *lim,
                           errinfo *err) {
    char buf[4096];
    http_chunked c = {0};
    size_t len = 0, in = 0, out = 0, fed = 0;
    for (;;) {
        size_t n = raw_len - fed < step ? raw_len - fed : step;
        memcpy(buf + len, raw + fed, n);
        len += n;
        fed += n;
        int rc = http_chunked_decode(&c, buf, &in, len, &out, lim, err);
        if (rc >= 0) {
            memcpy(body, buf, out);
            *body_len = out;
            *rest = len - in + (raw_len - fed);
            return rc;
        }
        if (in != len) return -100; /* the decoder must consume all input */
        len = in = out;
        if (fed == raw_len) return HTTP_PARSE_INCOMPLETE;
    }
}

static void test_chunked(void) {
    const char *raw = "5;name=value;x=\"q s\"\r\nhello\r\n1A  ; ext\r\n"
                      "abcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer-A: 1\r\nB: 2\r\n\r\nNEXT";
    size_t raw_len = strlen(raw);
    int bad = 0;
    for (size_t step = 1; step <= raw_len; step++) {
        char body[256];
        size_t blen = 0, rest = 0;
        errinfo err;
        int rc = decode_stepwise(raw, raw_len, step, body, &blen, &rest, &LIM, &err);
        if (rc != 0 || blen != 31 || memcmp(body, "helloabcdefghijklmnopqrstuvwxyz", 31) != 0 ||
            rest != 4) {
            if (bad++ < 3) printf("chunked step %zu: rc %d len %zu rest %zu\n", step, rc, blen, rest);
        }
    }
    CHECK(bad == 0);

    char body[256];
    size_t blen, rest;
    errinfo err;
    /* bare LF framing, uppercase hex, empty body */
    CHECK(decode_stepwise("A\nabcdefghij\n0\n\n", 17, 3, body, &blen, &rest, &LIM, &err) == 0 &&
          blen == 10);
    CHECK(decode_stepwise("0\r\n\r\n", 5, 1, body, &blen, &rest, &LIM, &err) == 0 && blen == 0);
    /* malformed framing */
    CHECK(decode_stepwise("x\r\n", 3, 3, body, &blen, &rest, &LIM, &err) == 400);
    CHECK(strcmp(err.msg, "invalid chunk size (expected hex digits)") == 0);
    CHECK(decode_stepwise("\r\n", 2, 2, body, &blen, &rest, &LIM, &err) == 400);
    CHECK(decode_stepwise("3\r\nabcX\r\n", 9, 4, body, &blen, &rest, &LIM, &err) == 400);
    CHECK(strcmp(err.msg, "expected CRLF after chunk data") == 0);
    CHECK(decode_stepwise("3\rx", 3, 1, body, &blen, &rest, &LIM, &err) == 400);
    CHECK(decode_stepwise("3x\r\n", 4, 1, body, &blen, &rest, &LIM, &err) == 400);
    CHECK(decode_stepwise("3;\x01\r\n", 5, 1, body, &blen, &rest, &LIM, &err) == 400);
    CHECK(decode_stepwise("3\r\nab", 5, 2, body, &blen, &rest, &LIM, &err) ==
          HTTP_PARSE_INCOMPLETE);
    /* limits: body size (even announced by a huge chunk size), trailers, size line */
    http_parse_limits small = {.max_header_bytes = 20, .max_headers = 10, .max_body_bytes = 8};
    CHECK(decode_stepwise("5\r\nhello\r\n4\r\nabcd\r\n0\r\n\r\n", 27, 5, body, &blen, &rest,
                          &small, &err) == 413);
    CHECK(strcmp(err.msg, "request body exceeds the limit of 8 bytes") == 0);
    CHECK(decode_stepwise("FFFFFFFFFFFFFFFFFFFFFFFF\r\n", 26, 26, body, &blen, &rest, &LIM, &err) ==
          413);
    CHECK(decode_stepwise("8\r\n12345678\r\n0\r\n\r\n", 18, 1, body, &blen, &rest, &small, &err) ==
          0 && blen == 8);
    CHECK(decode_stepwise("0\r\nX-Long-Trailer: 0123456789\r\n\r\n", 33, 7, body, &blen, &rest,
                          &small, &err) == 431);
    char longext[5000];
    memset(longext, 'a', sizeof longext);
    longext[0] = '1';
    longext[1] = ';';
    CHECK(decode_stepwise(longext, sizeof longext, 1000, body, &blen, &rest, &LIM, &err) == 400);
}

static void test_malformed(void) {
    expect_code("GET / HTTP/1.1\r\n\r\n", 400, "missing Host header (required in HTTP/1.1)");
    expect_code("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host header");
    expect_code("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505,
                "HTTP version 2.0 is not supported (expected HTTP/1.1 or HTTP/1.0)");
    expect_code("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, NULL);
    expect_code("GET / HTTP/0.9\r\n\r\n", 505, NULL);
    expect_code("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400,
                "malformed HTTP version 'HTTP/1.10' (expected HTTP/1.1 or HTTP/1.0)");
    expect_code("GET / http/1.1\r\nHost: a\r\n\r\n", 400, NULL);
    expect_code("GET /\r\n\r\n", 400, "malformed request line (expected 'METHOD /path HTTP/1.1')");
    expect_code("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL);
    expect_code(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL);
    expect_code("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request method");
    expect_code("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                "invalid character 0x01 in request target");
    expect_code("GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                "invalid request target (expected a path starting with '/')");
    expect_code("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                "request target '*' is only valid for OPTIONS");
    expect_code("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                "invalid percent-encoding in request path (expected %XX with two hex digits)");
    expect_code("GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n", 400, NULL);
    expect_code("GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "%00 (NUL) is not allowed in the path");
    expect_code("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "whitespace before ':' in header line 2");
    expect_code("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400,
                "obsolete line folding in header line 3 is not allowed");
    expect_code("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400,
                "malformed header line 3 (expected 'Name: value')");
    expect_code("GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, NULL);
    expect_code("GET / HTTP/1.1\r\nHo\x01st: a\r\n\r\n", 400, "invalid character in header name on line 2");
    expect_code("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400,
                "invalid character 0x7f in the value of header 'Host'");
    expect_code("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "bare CR in header line 2");
    expect_code("GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n", 400, "bare CR in request line");
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400,
                "invalid Content-Length '-1' (expected a decimal number)");
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400, NULL);
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, NULL);
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400,
                NULL);
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
                "conflicting Content-Length headers");
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0,
                NULL);
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
                "\r\n", 400, "both Content-Length and Transfer-Encoding present");
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
                "Transfer-Encoding 'gzip' is not supported (only chunked is)");
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400,
                "Transfer-Encoding lists chunked twice");
    expect_code("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                "Transfer-Encoding is not allowed in HTTP/1.0");
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417,
                "unsupported Expect 'something' (only 100-continue is)");
    expect_code("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413,
                "request body of 2000000 bytes exceeds the limit of 1048576 bytes");
    expect_code("GET / HTTP/1.1\r\nHost: a\r\n", HTTP_PARSE_INCOMPLETE, NULL);

    /* too many header fields */
    static char many[8192];
    static parsed p;
    size_t n = (size_t)sprintf(many, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 100; i++) n += (size_t)sprintf(many + n, "X-%d: v\r\n", i);
    n += (size_t)sprintf(many + n, "\r\n");
    parse(&p, many, n, &LIM);
    CHECK(p.code == 431 && strcmp(p.err.msg, "more than 100 header fields") == 0);
    http_parse_limits lim = LIM;
    lim.max_headers = 101;
    parse(&p, many, n, &lim);
    CHECK(p.code == 0 && p.head.req.n_headers == 101);
    /* http_parse_head on something that is not a complete head */
    char junk[] = "GET / HTTP/1.1\r\nHost: a";
    CHECK(http_parse_head(junk, sizeof junk - 1, &LIM, p.hdrs, 10, p.path, &p.head, &p.err) == 400);
    CHECK(http_count_lines("a\nb\nc", 5) == 2);
}

static void test_router(void) {
    http_route_match m;
    const char *p = "/v2/models/res%2Fnet/versions/2/infer";
    CHECK(http_route_path(p, strlen(p), "/v2/models/{}/versions/{}/infer", &m) == 1);
    CHECK(m.n == 2 && strcmp(m.cap[0], "res/net") == 0 && m.cap_len[0] == 7 &&
          strcmp(m.cap[1], "2") == 0);
    CHECK(http_route_path(p, strlen(p), "/v2/models/{}/infer", &m) == 0);
    p = "/v2/models/mnist/infer";
    CHECK(http_route_path(p, strlen(p), "/v2/models/{}/infer", &m) == 1 &&
          strcmp(m.cap[0], "mnist") == 0);
    CHECK(http_route_path(p, strlen(p), "/v2/models/{}/ready", &m) == 0);
    p = "/v2/models//infer";
    CHECK(http_route_path(p, strlen(p), "/v2/models/{}/infer", &m) == 0); /* empty capture */
    p = "/v2/models/mnist/infer/";
    CHECK(http_route_path(p, strlen(p), "/v2/models/{}/infer", &m) == 0);
    p = "/v1/models/mnist:predict";
    CHECK(http_route_path(p, strlen(p), "/v1/models/{}:predict", &m) == 1 &&
          strcmp(m.cap[0], "mnist") == 0);
    CHECK(http_route_path(p, strlen(p), "/v1/models/{}:classify", &m) == 0);
    p = "/v1/models/:predict";
    CHECK(http_route_path(p, strlen(p), "/v1/models/{}:predict", &m) == 0);
    p = "/v2/m%6Fdels/a%20b";
    CHECK(http_route_path(p, strlen(p), "/v2/models/{}", &m) == 1 && strcmp(m.cap[0], "a b") == 0);
    p = "/v2/models/a%00b";
    CHECK(http_route_path(p, strlen(p), "/v2/models/{}", &m) == 0);
    p = "/v2/models/a%zz";
    CHECK(http_route_path(p, strlen(p), "/v2/models/{}", &m) == 0);
    CHECK(http_route_path("/v2", 3, "/v2", &m) == 1 && m.n == 0);
    CHECK(http_route_path("/", 1, "/", &m) == 1);
    CHECK(http_route_path("v2", 2, "/v2", &m) == 0);
    static char longp[3000];
    memset(longp, 'a', sizeof longp);
    longp[0] = '/';
    CHECK(http_route_path(longp, sizeof longp, "/{}", &m) == 0); /* capture exceeds m.buf */
    http_segment segs[4];
    CHECK(http_path_split("/a/b/", 5, segs, 4) == 3 && segs[2].len == 0 && segs[1].p[0] == 'b');
    CHECK(http_path_split("/a/b/c/d/e", 10, segs, 4) == -1);
    http_request req = {.method = "GET", .target = "/v2/models/x?y=1"};
    CHECK(http_route(&req, "/v2/models/{}", &m) == 1 && strcmp(m.cap[0], "x") == 0);
    CHECK(http_method_matches(&req, "GET HEAD") && !http_method_matches(&req, "POST") &&
          !http_method_matches(&req, "GE"));
}

int main(void) {
    test_basic();
    test_every_boundary();
    test_chunked();
    test_malformed();
    test_router();
    printf("test_http_parser: %d checks, %d failures\n", checks, failures);
    return failures != 0;
}
