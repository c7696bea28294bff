/* http_parser.c -- request head and chunked body parsing (see http_parser.h). */
#include "http/http_parser.h"

#include <stdarg.h>
#include <string.h>

/* ---- character classes (RFC 9110 section 5.6.2) ---------------------- */

static int is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB; obs-text (>= 0x80) allowed. */
static int is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

int http_strcaseeq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b)) return 0;
    return *a == *b;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int fail(errinfo *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(errinfo *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        status_vfail(err, STATUS_INVALID_ARGUMENT, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- finding the head ------------------------------------------------ */

size_t http_find_head_end(const char *buf, size_t len, size_t *scan) {
    size_t lead = 0;
    while (lead < len && (buf[lead] == '\r' || buf[lead] == '\n')) lead++;
    size_t i = *scan > lead ? *scan : lead;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) break;
        i = (size_t)(nl - buf);
        if (i + 1 >= len) break;
        if (buf[i + 1] == '\n') return i + 2;
        if (buf[i + 1] == '\r') {
            if (i + 2 >= len) break;
            if (buf[i + 2] == '\n') return i + 3;
        }
        i++;
    }
    *scan = i < len ? i : len;
    return 0;
}

int http_count_lines(const char *head, size_t head_len) {
    int n = 0;
    for (const char *p = head, *end = head + head_len; (p = memchr(p, '\n', (size_t)(end - p)));
         p++)
        n++;
    return n;
}

/* ---- the head -------------------------------------------------------- */

/* Splits off the line starting at *pos: NUL-terminates it (dropping CR LF)
 * and advances *pos past it. Returns its length, -1 for a bare CR, -2 if
 * there is no line end (not a complete head). */
static long next_line(char *buf, size_t head_len, size_t *pos, char **line) {
    char *start = buf + *pos;
    char *nl = memchr(start, '\n', head_len - *pos);
    if (!nl) return -2;
    char *end = nl;
    if (end > start && end[-1] == '\r') end--;
    *end = '\0';
    *nl = '\0';
    *pos = (size_t)(nl - buf) + 1;
    *line = start;
    if (memchr(start, '\r', (size_t)(end - start))) return -1;
    return (long)(end - start);
}

static int parse_version(const char *v, int *minor, errinfo *err) {
    if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
        v[7] > '9' || v[8] != '\0')
        return fail(err, 400, "malformed HTTP version '%.16s' (expected HTTP/1.1 or HTTP/1.0)",
                    v);
    if (v[5] != '1' || v[7] > '1')
        return fail(err, 505, "HTTP version %c.%c is not supported (expected HTTP/1.1 or "
                    "HTTP/1.0)", v[5], v[7]);
    *minor = v[7] - '0';
    return 0;
}

/* Percent-decodes the path part of target into path_buf; sets query. */
static int parse_target(char *target, const char *method, char *path_buf, http_request *r,
                        errinfo *err) {
    const char *p = target;
    if (strcmp(target, "*") == 0) {
        if (strcmp(method, "OPTIONS") != 0)
            return fail(err, 400, "request target '*' is only valid for OPTIONS");
        strcpy(path_buf, "*");
        r->path = path_buf;
        r->query = NULL;
        return 0;
    }
    if (*p != '/') {
        /* absolute-form: scheme "://" authority [path] */
        const char *colon = strstr(p, "://");
        if (!colon || colon == p) return fail(err, 400, "invalid request target (expected a path "
                                              "starting with '/')");
        for (const char *s = p; s < colon; s++)
            if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '+' ||
                  *s == '-' || *s == '.' || (s > p && *s >= '0' && *s <= '9')))
                return fail(err, 400, "invalid request target (expected a path starting "
                            "with '/')");
        p = colon + 3;
        p += strcspn(p, "/?");
    }
    char *q = strchr(target + (p - target), '?');
    r->query = q ? q + 1 : NULL;
    const char *pend = q ? q : p + strlen(p);
    char *o = path_buf;
    if (p == pend || *p != '/') *o++ = '/';
    for (; p < pend; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        int hi = p + 1 < pend ? hexval((unsigned char)p[1]) : -1;
        int lo = p + 2 < pend ? hexval((unsigned char)p[2]) : -1;
        if (hi < 0 || lo < 0)
            return fail(err, 400, "invalid percent-encoding in request path (expected %%XX "
                        "with two hex digits)");
        if (hi == 0 && lo == 0) return fail(err, 400, "%%00 (NUL) is not allowed in the path");
        *o++ = (char)(hi * 16 + lo);
        p += 2;
    }
    *o = '\0';
    r->path = path_buf;
    return 0;
}

static int parse_request_line(char *line, char *path_buf, http_request *r, errinfo *err) {
    char *sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line)
        return fail(err, 400, "malformed request line (expected 'METHOD /path HTTP/1.1')");
    *sp1 = '\0';
    for (const char *m = line; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return fail(err, 400, "invalid character in request method");
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target)
        return fail(err, 400, "malformed request line (expected 'METHOD /path HTTP/1.1')");
    *sp2 = '\0';
    for (const unsigned char *t = (const unsigned char *)target; *t; t++)
        if (*t <= 0x20 || *t >= 0x7f)
            return fail(err, 400, "invalid character 0x%02x in request target", *t);
    int st = parse_version(sp2 + 1, &r->version_minor, err);
    if (st) return st;
    r->method = line;
    r->target = target;
    return parse_target(target, line, path_buf, r, err);
}

/* Content-Length: 1*DIGIT, at most 19 of them. */
static int parse_content_length(const char *v, http_head *h, const http_parse_limits *lim,
                                errinfo *err) {
    uint64_t n = 0;
    size_t len = strlen(v);
    if (len == 0 || len > 19 || strspn(v, "0123456789") != len)
        return fail(err, 400, "invalid Content-Length '%.32s' (expected a decimal number)", v);
    for (const char *p = v; *p; p++) n = n * 10 + (uint64_t)(*p - '0');
    if (h->has_content_length && h->content_length != n)
        return fail(err, 400, "conflicting Content-Length headers");
    h->has_content_length = 1;
    h->content_length = n;
    if (n > lim->max_body_bytes)
        return fail(err, 413, "request body of %llu bytes exceeds the limit of %zu bytes",
                    (unsigned long long)n, lim->max_body_bytes);
    return 0;
}

/* Calls fn on each comma-separated token of a header value (lowercase
 * comparison is up to fn); stops at the first nonzero return. */
typedef int (*token_fn)(const char *tok, size_t len, http_head *h, errinfo *err);

static int each_token(const char *v, token_fn fn, http_head *h, errinfo *err) {
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',') v++;
        const char *end = v + strcspn(v, ",");
        const char *t = end;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if (t > v) {
            int st = fn(v, (size_t)(t - v), h, err);
            if (st) return st;
        }
        v = end;
    }
    return 0;
}

static int tok_is(const char *tok, size_t len, const char *word) {
    size_t n = strlen(word);
    if (len != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)tok[i]) != word[i]) return 0;
    return 1;
}

static int connection_token(const char *tok, size_t len, http_head *h, errinfo *err) {
    (void)err;
    if (tok_is(tok, len, "close")) h->keep_alive = -1; /* sticky: close wins */
    else if (tok_is(tok, len, "keep-alive") && h->keep_alive == 0) h->keep_alive = 1;
    return 0;
}

static int te_token(const char *tok, size_t len, http_head *h, errinfo *err) {
    if (!tok_is(tok, len, "chunked"))
        return fail(err, 501, "Transfer-Encoding '%.*s' is not supported (only chunked is)",
                    (int)(len > 32 ? 32 : len), tok);
    if (h->chunked) return fail(err, 400, "Transfer-Encoding lists chunked twice");
    h->chunked = 1;
    return 0;
}

/* Interprets the fields the server itself acts on. */
static int interpret_field(const http_header *f, http_head *h, const http_parse_limits *lim,
                           int *hosts, errinfo *err) {
    const char *n = f->name;
    switch (lower((unsigned char)n[0])) {
    case 'c':
        if (http_strcaseeq(n, "content-length")) return parse_content_length(f->value, h, lim, err);
        if (http_strcaseeq(n, "connection")) return each_token(f->value, connection_token, h, err);
        break;
    case 't':
        if (http_strcaseeq(n, "transfer-encoding")) return each_token(f->value, te_token, h, err);
        break;
    case 'h':
        if (http_strcaseeq(n, "host")) (*hosts)++;
        break;
    case 'e':
        if (http_strcaseeq(n, "expect") && h->req.version_minor == 1) {
            if (!http_strcaseeq(f->value, "100-continue"))
                return fail(err, 417, "unsupported Expect '%.32s' (only 100-continue is)",
                            f->value);
            h->expect_continue = 1;
        }
        break;
    }
    return 0;
}

static int parse_field(char *line, long len, http_header *f, errinfo *err, int lineno) {
    if (line[0] == ' ' || line[0] == '\t')
        return fail(err, 400, "obsolete line folding in header line %d is not allowed", lineno);
    char *colon = memchr(line, ':', (size_t)len);
    if (!colon || colon == line)
        return fail(err, 400, "malformed header line %d (expected 'Name: value')", lineno);
    for (char *c = line; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return fail(err, 400, (*c == ' ' || *c == '\t')
                                      ? "whitespace before ':' in header line %d"
                                      : "invalid character in header name on line %d",
                        lineno);
    *colon = '\0';
    char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    for (char *c = v; c < end; c++)
        if (!is_value_char((unsigned char)*c))
            return fail(err, 400, "invalid character 0x%02x in the value of header '%.64s'",
                        (unsigned char)*c, line);
    *end = '\0';
    f->name = line;
    f->value = v;
    return 0;
}

int http_parse_head(char *buf, size_t head_len, const http_parse_limits *lim, http_header *hdrs,
                    int hdrs_cap, char *path_buf, http_head *out, errinfo *err) {
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    while (pos < head_len && (buf[pos] == '\r' || buf[pos] == '\n')) pos++;
    char *line;
    long n = next_line(buf, head_len, &pos, &line);
    if (n == -2) return fail(err, 400, "incomplete request head");
    if (n < 0) return fail(err, 400, "bare CR in request line");
    int st = parse_request_line(line, path_buf, &out->req, err);
    if (st) return st;
    int max = hdrs_cap < lim->max_headers ? hdrs_cap : lim->max_headers;
    int nh = 0, hosts = 0;
    for (int lineno = 2;; lineno++) {
        n = next_line(buf, head_len, &pos, &line);
        if (n == -2) return fail(err, 400, "incomplete request head");
        if (n < 0) return fail(err, 400, "bare CR in header line %d", lineno);
        if (n == 0) break; /* the blank line */
        if (nh == max) return fail(err, 431, "more than %d header fields", max);
        if ((st = parse_field(line, n, &hdrs[nh], err, lineno))) return st;
        if ((st = interpret_field(&hdrs[nh], out, lim, &hosts, err))) return st;
        nh++;
    }
    http_request *r = &out->req;
    r->headers = hdrs;
    r->n_headers = nh;
    r->body = "";
    if (out->chunked && out->has_content_length)
        return fail(err, 400, "both Content-Length and Transfer-Encoding present");
    if (out->chunked && r->version_minor == 0)
        return fail(err, 400, "Transfer-Encoding is not allowed in HTTP/1.0");
    if (r->version_minor == 1 && hosts != 1)
        return fail(err, 400, hosts ? "more than one Host header" : "missing Host header "
                    "(required in HTTP/1.1)");
    out->keep_alive = out->keep_alive == -1 ? 0 : r->version_minor == 1 ? 1 : out->keep_alive;
    if (r->version_minor == 0) out->expect_continue = 0;
    return 0;
}

/* ---- chunked bodies -------------------------------------------------- */

enum {
    CS_SIZE = 0,    /* hex digits of a chunk size */
    CS_EXT,         /* chunk extensions, up to the line end */
    CS_SIZE_LF,     /* LF after CR of the size line */
    CS_DATA,
    CS_DATA_CR,     /* CR (or LF) after chunk data */
    CS_DATA_LF,
    CS_TRAILER,     /* start of a trailer line, or the final blank line */
    CS_TRAILER_LINE,
    CS_END_LF,      /* LF of the final blank line */
    CS_DONE,
    CS_SIZE_FIRST = 16 /* flag: no hex digit seen yet on this size line */
};

enum { MAX_CHUNK_LINE = 4096 };

static int size_line_done(http_chunked *c) {
    c->line_bytes = 0;
    c->state = c->remaining ? CS_DATA : CS_TRAILER;
    return 0;
}

int http_chunked_decode(http_chunked *c, char *buf, size_t *in, size_t len, size_t *out,
                        const http_parse_limits *lim, errinfo *err) {
    size_t i = *in, o = *out;
    int rc = HTTP_PARSE_INCOMPLETE;
    if (c->state == CS_DONE) return 0;
    if (c->state == CS_SIZE && c->line_bytes == 0) c->state = CS_SIZE | CS_SIZE_FIRST;
    while (i < len && rc == HTTP_PARSE_INCOMPLETE) {
        unsigned char ch = (unsigned char)buf[i];
        int st = c->state & ~CS_SIZE_FIRST;
        if (st != CS_DATA && st < CS_TRAILER && ++c->line_bytes > MAX_CHUNK_LINE) {
            rc = fail(err, 400, "chunk size line longer than %d bytes", MAX_CHUNK_LINE);
            break;
        }
        switch (st) {
        case CS_SIZE: {
            int h = hexval(ch);
            if (h >= 0) {
                if (c->remaining > (lim->max_body_bytes - c->total) / 16 ||
                    c->remaining * 16 + (unsigned)h > lim->max_body_bytes - c->total) {
                    rc = fail(err, 413, "request body exceeds the limit of %zu bytes",
                              lim->max_body_bytes);
                    break;
                }
                c->remaining = c->remaining * 16 + (unsigned)h;
                c->state = CS_SIZE;
                i++;
            } else if (c->state & CS_SIZE_FIRST) {
                rc = fail(err, 400, "invalid chunk size (expected hex digits)");
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->state = CS_EXT;
                i++;
            } else if (ch == '\r') {
                c->state = CS_SIZE_LF;
                i++;
            } else if (ch == '\n') {
                i++;
                size_line_done(c);
            } else {
                rc = fail(err, 400, "invalid character after chunk size (expected ';' or CRLF)");
            }
            break;
        }
        case CS_EXT:
            if (ch == '\r') c->state = CS_SIZE_LF;
            else if (ch == '\n') size_line_done(c);
            else if (!is_value_char(ch)) rc = fail(err, 400, "invalid character in chunk extension");
            i++;
            break;
        case CS_SIZE_LF:
            if (ch != '\n') {
                rc = fail(err, 400, "expected LF after CR in chunk size line");
                break;
            }
            i++;
            size_line_done(c);
            break;
        case CS_DATA: {
            size_t n = len - i;
            if (n > c->remaining) n = (size_t)c->remaining;
            if (o != i) memmove(buf + o, buf + i, n);
            o += n;
            i += n;
            c->remaining -= n;
            c->total += n;
            if (!c->remaining) c->state = CS_DATA_CR;
            break;
        }
        case CS_DATA_CR:
        case CS_DATA_LF:
            if (ch == '\r' && st == CS_DATA_CR) {
                c->state = CS_DATA_LF;
            } else if (ch == '\n') {
                c->state = CS_SIZE | CS_SIZE_FIRST;
                c->line_bytes = 0;
            } else {
                rc = fail(err, 400, "expected CRLF after chunk data");
                break;
            }
            i++;
            break;
        case CS_TRAILER:
            if (ch == '\r') c->state = CS_END_LF;
            else if (ch == '\n') rc = 0;
            else c->state = CS_TRAILER_LINE;
            i++;
            if (rc == HTTP_PARSE_INCOMPLETE && ++c->trailer_bytes > lim->max_header_bytes)
                rc = fail(err, 431, "chunked trailers exceed %zu bytes", lim->max_header_bytes);
            break;
        case CS_TRAILER_LINE: {
            const char *nl = memchr(buf + i, '\n', len - i);
            size_t n = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
            c->trailer_bytes += n;
            i += n;
            if (nl) c->state = CS_TRAILER;
            if (c->trailer_bytes > lim->max_header_bytes)
                rc = fail(err, 431, "chunked trailers exceed %zu bytes", lim->max_header_bytes);
            break;
        }
        case CS_END_LF:
            if (ch != '\n') {
                rc = fail(err, 400, "expected LF after the final CR of a chunked body");
                break;
            }
            i++;
            rc = 0;
            break;
        default:
            rc = 0;
            break;
        }
    }
    if (rc == 0) c->state = CS_DONE;
    *in = i;
    *out = o;
    return rc;
}
