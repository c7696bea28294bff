/* http_router.h -- matching request paths against patterns such as
 * "/v2/models/{}/versions/{}/infer", for the KServe and TF Serving routes.
 *
 * Matching splits the raw request-target on '/' first and percent-decodes
 * each segment afterwards, so "/v2/models/a%2Fb/ready" has the model
 * "a/b" and still three segments after "v2". A pattern segment is either
 * literal text or contains one "{}" that captures a non-empty middle,
 * with optional literal text around it ("{}:predict" matches
 * "mnist:predict" and captures "mnist"). Literal text is compared with
 * the decoded segment, byte for byte.
 *
 *     http_route_match m;
 *     if (http_route(req, "/v2/models/{}/versions/{}/infer", &m)) {
 *         const char *model = m.cap[0], *version = m.cap[1];
 *         if (!http_method_matches(req, "POST")) return answer_405(ex, "POST");
 *         ...
 *     }
 *
 * Pure functions, any thread. */
#ifndef INFERD_HTTP_ROUTER_H
#define INFERD_HTTP_ROUTER_H

#include <stddef.h>

#include "http/http_server.h"

#define HTTP_ROUTE_MAX_CAPTURES 4
#define HTTP_ROUTE_MAX_SEGMENTS 16

typedef struct http_route_match {
    int n;                                     /* captures filled */
    const char *cap[HTTP_ROUTE_MAX_CAPTURES];  /* decoded, NUL-terminated, in buf */
    size_t cap_len[HTTP_ROUTE_MAX_CAPTURES];
    char buf[1024];
} http_route_match;

/* A raw (still percent-encoded) path segment. */
typedef struct http_segment {
    const char *p;
    size_t len;
} http_segment;

/* The raw path of req->target: without scheme and authority (absolute
 * form) and without the query. Not NUL-terminated at *len. */
const char *http_raw_path(const http_request *req, size_t *len);

/* Splits a raw path ("/a/b/") into segments ("a", "b", ""). Returns their
 * number, or -1 if the path does not start with '/' or has more than max. */
int http_path_split(const char *path, size_t len, http_segment *segs, int max);

/* 1 if the request path matches pattern, with the captures in *m; 0 if it
 * does not, including when a segment's percent-encoding is invalid,
 * decodes to a NUL byte, or the captures exceed m->buf. */
int http_route(const http_request *req, const char *pattern, http_route_match *m);
/* The same on a raw path of len bytes. */
int http_route_path(const char *raw_path, size_t len, const char *pattern, http_route_match *m);

/* 1 if req->method is one of the space-separated methods ("GET HEAD"). */
int http_method_matches(const http_request *req, const char *methods);

#endif
