/* http_router.c -- path segments and pattern matching (see http_router.h). */
#include "http/http_router.h"

#include <string.h>

const char *http_raw_path(const http_request *req, size_t *len) {
    const char *t = req->target;
    if (t[0] != '/' && strcmp(t, "*") != 0) { /* absolute-form: skip scheme://authority */
        const char *s = strstr(t, "://");
        if (s) {
            s += 3;
            t = s + strcspn(s, "/?");
        }
    }
    *len = strcspn(t, "?");
    return t;
}

int http_path_split(const char *path, size_t len, http_segment *segs, int max) {
    if (len == 0 || path[0] != '/') return -1;
    int n = 0;
    size_t i = 1;
    for (;;) {
        const char *slash = memchr(path + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - path) : len;
        if (n == max) return -1;
        segs[n].p = path + i;
        segs[n].len = end - i;
        n++;
        if (!slash) return n;
        i = end + 1;
    }
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes seg into out (room bytes, NUL-terminated). Returns its length or
 * -1 for bad encoding, a NUL byte or no room. */
static long decode(const http_segment *seg, char *out, size_t room) {
    size_t o = 0;
    for (size_t i = 0; i < seg->len; i++) {
        int c = (unsigned char)seg->p[i];
        if (c == '%') {
            int hi = i + 1 < seg->len ? hexval((unsigned char)seg->p[i + 1]) : -1;
            int lo = i + 2 < seg->len ? hexval((unsigned char)seg->p[i + 2]) : -1;
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= room) return -1;
        out[o++] = (char)c;
    }
    if (o >= room) return -1;
    out[o] = '\0';
    return (long)o;
}

/* Matches one decoded segment d[0..n) against pattern segment p[0..plen).
 * For a capture, cap_off and cap_len give the captured middle. Returns 0 no
 * match, 1 literal match, 2 capture. */
static int match_segment(const char *d, size_t n, const char *p, size_t plen, size_t *cap_off,
                         size_t *cap_len) {
    const char *brace = NULL;
    for (size_t i = 0; i + 1 < plen; i++)
        if (p[i] == '{' && p[i + 1] == '}') {
            brace = p + i;
            break;
        }
    if (!brace) return n == plen && memcmp(d, p, n) == 0;
    size_t pre = (size_t)(brace - p), suf = plen - pre - 2;
    if (n < pre + suf + 1) return 0;
    if (memcmp(d, p, pre) != 0 || memcmp(d + n - suf, brace + 2, suf) != 0) return 0;
    *cap_off = pre;
    *cap_len = n - pre - suf;
    return 2;
}

int http_route_path(const char *raw_path, size_t len, const char *pattern, http_route_match *m) {
    http_segment segs[HTTP_ROUTE_MAX_SEGMENTS], pats[HTTP_ROUTE_MAX_SEGMENTS];
    m->n = 0;
    int ns = http_path_split(raw_path, len, segs, HTTP_ROUTE_MAX_SEGMENTS);
    int np = http_path_split(pattern, strlen(pattern), pats, HTTP_ROUTE_MAX_SEGMENTS);
    if (ns < 0 || np < 0 || ns != np) return 0;
    size_t used = 0;
    for (int i = 0; i < ns; i++) {
        char *d = m->buf + used;
        long n = decode(&segs[i], d, sizeof m->buf - used);
        if (n < 0) return 0;
        size_t off, clen;
        int r = match_segment(d, (size_t)n, pats[i].p, pats[i].len, &off, &clen);
        if (!r) return 0;
        if (r == 2) {
            if (m->n == HTTP_ROUTE_MAX_CAPTURES) return 0;
            memmove(d, d + off, clen); /* keep only the middle */
            d[clen] = '\0';
            m->cap[m->n] = d;
            m->cap_len[m->n] = clen;
            m->n++;
            used += clen + 1;
        }
    }
    return 1;
}

int http_route(const http_request *req, const char *pattern, http_route_match *m) {
    size_t len;
    const char *p = http_raw_path(req, &len);
    if (len == 0) { /* "http://host" means "/" */
        p = "/";
        len = 1;
    }
    return http_route_path(p, len, pattern, m);
}

int http_method_matches(const http_request *req, const char *methods) {
    size_t mlen = strlen(req->method);
    for (const char *p = methods; *p;) {
        size_t n = strcspn(p, " ");
        if (n == mlen && memcmp(p, req->method, n) == 0) return 1;
        p += n;
        while (*p == ' ') p++;
    }
    return 0;
}
