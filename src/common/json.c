/* json.c -- the JSON parser (iterative, one arena per document) and the
 * read accessors. The writer is in json_writer.c.
 *
 * Values are 16 bytes. While a container is open its members are pushed on
 * a scratch stack; when it closes they are copied once into the arena as
 * one contiguous run, so arrays index in O(1) and nothing is linked. The
 * parser keeps an explicit stack of open containers instead of recursing,
 * so a hostile max_depth cannot overflow the C stack. */
#include "common/json.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NUM_DOUBLE = 0, NUM_INT = 1, NUM_UINT = 2 };

struct json_value {
    uint8_t type;  /* json_type */
    uint8_t num;   /* NUM_*: how a number is stored */
    uint8_t neg0;  /* the literal "-0": integer 0 but -0.0 as a double */
    uint32_t len;  /* string bytes; array elements; object members */
    union {
        double d;
        int64_t i;
        uint64_t u;
        const char *s;
        const json_value *items; /* objects: key, value, key, value, ... */
    } u;
};

_Static_assert(sizeof(json_value) == 16, "json_value should stay 16 bytes");

/* ---- arena ----------------------------------------------------------- */

typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
} arena_block;

enum { ARENA_FIRST = 4096, ARENA_MAX_STEP = 1 << 20 };

struct json_doc {
    arena_block *blocks; /* newest first */
    size_t next_size;
    json_value root;
};

static void *arena_alloc(json_doc *d, size_t n, size_t align) {
    arena_block *b = d->blocks;
    if (b) {
        size_t at = (b->used + align - 1) & ~(align - 1);
        if (at <= b->cap && n <= b->cap - at) {
            b->used = at + n;
            return b->data + at;
        }
    }
    size_t size = d->next_size;
    if (size < n) size = n;
    if (size > SIZE_MAX - sizeof(arena_block)) return NULL;
    b = malloc(sizeof(arena_block) + size);
    if (!b) return NULL;
    b->cap = size;
    b->used = n;
    b->next = d->blocks;
    d->blocks = b;
    if (d->next_size < ARENA_MAX_STEP) d->next_size *= 2;
    return b->data;
}

void json_doc_free(json_doc *doc) {
    if (!doc) return;
    arena_block *b = doc->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(doc);
}

/* ---- parser state and errors ----------------------------------------- */

typedef struct frame {
    size_t base;   /* stack index of the container's first member */
    int is_object;
} frame;

typedef struct parser {
    const char *start, *p, *end;
    json_doc *doc;
    json_value *stack;
    size_t sp, scap;
    frame *frames;
    int depth, fcap, max_depth;
    errinfo *err;
} parser;

static void location(const parser *ps, const char *at, int *line, long *col) {
    int ln = 1;
    const char *line_start = ps->start;
    for (const char *q = ps->start; q < at; q++)
        if (*q == '\n') {
            ln++;
            line_start = q + 1;
        }
    *line = ln;
    *col = (long)(at - line_start) + 1;
}

/* "<what> at L:C", with what was found when it helps. */
static status perr(parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static status perr(parser *ps, const char *at, const char *fmt, ...) {
    if (!ps->err) return STATUS_INVALID_ARGUMENT;
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int line;
    long col;
    location(ps, at, &line, &col);
    if (at >= ps->end)
        return status_fail(ps->err, STATUS_INVALID_ARGUMENT,
                           "unexpected end of input: %s at %d:%ld", what, line, col);
    unsigned char c = (unsigned char)*at;
    if (c > 0x20 && c < 0x7f)
        return status_fail(ps->err, STATUS_INVALID_ARGUMENT, "%s at %d:%ld (found '%c')",
                           what, line, col, c);
    return status_fail(ps->err, STATUS_INVALID_ARGUMENT, "%s at %d:%ld (found byte 0x%02x)",
                       what, line, col, c);
}

static status oom(parser *ps) {
    return status_fail(ps->err, STATUS_NO_MEMORY, "out of memory parsing JSON");
}

static json_value *push(parser *ps) {
    if (ps->sp == ps->scap) {
        size_t ncap = ps->scap ? ps->scap * 2 : 256;
        json_value *ns = realloc(ps->stack, ncap * sizeof *ns);
        if (!ns) return NULL;
        ps->stack = ns;
        ps->scap = ncap;
    }
    return &ps->stack[ps->sp++];
}

static void skip_ws(parser *ps) {
    const char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    ps->p = p;
}

/* ---- strings --------------------------------------------------------- */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at p (bounded by end); -1 if not. */
static long hex4(const char *p, const char *end) {
    if (end - p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static char *put_utf8(char *o, unsigned long cp) {
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 if
 * invalid: overlong forms, surrogates and code points above U+10FFFF are
 * rejected (RFC 3629). */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (end - p < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

/* Decodes one escape starting at the backslash *pp into o. */
static status unescape(parser *ps, const char **pp, char **po) {
    const char *p = *pp, *end = ps->end;
    char *o = *po;
    if (p + 1 >= end) return perr(ps, p + 1, "expected an escape character after '\\'");
    char c = p[1];
    p += 2;
    switch (c) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '/': *o++ = '/'; break;
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
        long cp = hex4(p, end);
        if (cp < 0) return perr(ps, p, "expected 4 hex digits after '\\u'");
        p += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return perr(ps, p - 6, "invalid \\u escape: lone low surrogate \\u%04lX", cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long lo = (end - p >= 6 && p[0] == '\\' && p[1] == 'u') ? hex4(p + 2, end) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return perr(ps, p - 6,
                            "invalid \\u escape: high surrogate \\u%04lX not followed by a "
                            "low surrogate \\uDC00..\\uDFFF", cp);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        o = put_utf8(o, (unsigned long)cp);
        break;
    }
    default:
        if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)
            return perr(ps, p - 2, "invalid escape '\\%c' in string (expected one of "
                        "\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", c);
        return perr(ps, p - 1, "invalid escape in string (expected one of "
                    "\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    }
    *pp = p;
    *po = o;
    return STATUS_OK;
}

/* Parses the string whose opening quote is at ps->p into v. */
static status parse_string(parser *ps, json_value *v) {
    const char *open = ps->p, *p = open + 1, *end = ps->end;
    /* Pass 1: find the closing quote. The text between is an upper bound
     * for the decoded length, since every escape shrinks. */
    const char *q = p;
    int plain = 1;
    while (q < end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c == '\\') {
            plain = 0;
            q += 2;
            continue;
        }
        if (c < 0x20 || c >= 0x80) plain = 0;
        q++;
    }
    if (q >= end) {
        int line;
        long col;
        location(ps, open, &line, &col);
        return status_fail(ps->err, STATUS_INVALID_ARGUMENT,
                           "unexpected end of input: the string opened at %d:%ld is not closed",
                           line, col);
    }
    size_t raw = (size_t)(q - p);
    if (raw > UINT32_MAX) return perr(ps, open, "string longer than 4 GiB");
    char *out = arena_alloc(ps->doc, raw + 1, 1);
    if (!out) return oom(ps);
    char *o = out;
    if (plain) {
        memcpy(out, p, raw);
        o = out + raw;
    } else {
        /* Pass 2: decode and validate. */
        while (p < q) {
            unsigned char c = (unsigned char)*p;
            if (c == '\\') {
                status st = unescape(ps, &p, &o);
                if (st) return st;
            } else if (c < 0x20) {
                return perr(ps, p, "control character U+%04X in string (must be escaped)", c);
            } else if (c < 0x80) {
                *o++ = (char)c;
                p++;
            } else {
                int n = utf8_len((const unsigned char *)p, (const unsigned char *)q);
                if (!n) return perr(ps, p, "invalid UTF-8 in string");
                memcpy(o, p, (size_t)n);
                o += n;
                p += n;
            }
        }
    }
    *o = '\0';
    v->type = JSON_STRING;
    v->num = 0;
    v->neg0 = 0;
    v->len = (uint32_t)(o - out);
    v->u.s = out;
    ps->p = q + 1;
    return STATUS_OK;
}

/* ---- numbers --------------------------------------------------------- */

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static status number_slow(parser *ps, const char *s, size_t n, double *out) {
    char local[64];
    char *buf = n < sizeof local ? local : malloc(n + 1);
    if (!buf) return oom(ps);
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    int range = errno == ERANGE;
    if (buf != local) free(buf);
    if (range && isinf(d)) return perr(ps, s, "number out of the range of a double");
    *out = d;
    return STATUS_OK;
}

static status parse_number(parser *ps, json_value *v) {
    const char *s = ps->p, *p = s, *end = ps->end;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9') return perr(ps, p, "expected a digit after '-'");
    uint64_t m = 0;     /* significant digits, while they fit */
    int ndig = 0;       /* digits accumulated into m */
    int exact = 1;      /* m holds every nonzero digit */
    int int_ovf = 0;    /* integer part overflowed uint64 */
    long exp10 = 0;
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return perr(ps, s, "leading zero in number (JSON numbers are decimal)");
    } else {
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            unsigned d = (unsigned)(*p - '0');
            if (!int_ovf && m <= (UINT64_MAX - d) / 10) {
                m = m * 10 + d;
                ndig++;
            } else {
                int_ovf = 1;
                exact = 0;
                exp10++;
            }
        }
    }
    int is_int = 1;
    if (p < end && *p == '.') {
        is_int = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9') return perr(ps, p, "expected a digit after '.'");
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (exact && ndig < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                if (m) ndig++;
                exp10--;
            } else if (*p != '0') {
                exact = 0;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= end || *p < '0' || *p > '9')
            return perr(ps, p, "expected a digit in the exponent");
        long e = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        exp10 += eneg ? -e : e;
    }
    ps->p = p;
    v->type = JSON_NUMBER;
    v->neg0 = 0;
    v->len = 0;
    if (is_int && !int_ovf) {
        if (!neg && m <= INT64_MAX) {
            v->num = NUM_INT;
            v->u.i = (int64_t)m;
            return STATUS_OK;
        }
        if (!neg) {
            v->num = NUM_UINT;
            v->u.u = m;
            return STATUS_OK;
        }
        if (m <= (uint64_t)INT64_MAX + 1) {
            v->num = NUM_INT;
            v->u.i = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
            v->neg0 = m == 0;
            return STATUS_OK;
        }
    }
    v->num = NUM_DOUBLE;
#if FLT_EVAL_METHOD == 0
    /* Clinger's fast path: m and 10^|e| are exact doubles, so one IEEE
     * multiply or divide is correctly rounded. */
    if (exact && m < (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        v->u.d = neg ? -d : d;
        return STATUS_OK;
    }
    if (exact && m == 0) {
        v->u.d = neg ? -0.0 : 0.0;
        return STATUS_OK;
    }
#endif
    return number_slow(ps, s, (size_t)(p - s), &v->u.d);
}

/* ---- literals and structure ------------------------------------------ */

static status parse_literal(parser *ps, json_value *v) {
    static const struct { const char *text; size_t len; json_type type; int b; } lits[] = {
        {"true", 4, JSON_BOOL, 1}, {"false", 5, JSON_BOOL, 0}, {"null", 4, JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
        if ((size_t)(ps->end - ps->p) >= lits[i].len &&
            memcmp(ps->p, lits[i].text, lits[i].len) == 0) {
            v->type = (uint8_t)lits[i].type;
            v->num = 0;
            v->neg0 = 0;
            v->len = 0;
            v->u.i = lits[i].b;
            ps->p += lits[i].len;
            return STATUS_OK;
        }
    }
    return perr(ps, ps->p, "expected a value (object, array, string, number, true, false "
                "or null)");
}

static status open_container(parser *ps, int is_object) {
    if (ps->depth >= ps->max_depth)
        return perr(ps, ps->p, "nesting deeper than %d", ps->max_depth);
    if (ps->depth == ps->fcap) {
        int ncap = ps->fcap ? ps->fcap * 2 : 16;
        frame *nf = realloc(ps->frames, (size_t)ncap * sizeof *nf);
        if (!nf) return oom(ps);
        ps->frames = nf;
        ps->fcap = ncap;
    }
    ps->frames[ps->depth].base = ps->sp;
    ps->frames[ps->depth].is_object = is_object;
    ps->depth++;
    ps->p++;
    return STATUS_OK;
}

/* Moves the members of the innermost container into the arena and leaves
 * the container itself on the stack in their place. */
static status close_container(parser *ps) {
    frame *f = &ps->frames[--ps->depth];
    size_t n = ps->sp - f->base;
    size_t count = f->is_object ? n / 2 : n;
    if (count > UINT32_MAX) return perr(ps, ps->p, "container with more than 2^32 members");
    json_value *items = NULL;
    if (n) {
        items = arena_alloc(ps->doc, n * sizeof *items, alignof(json_value));
        if (!items) return oom(ps);
        memcpy(items, ps->stack + f->base, n * sizeof *items);
    }
    ps->sp = f->base;
    json_value *v = push(ps); /* grows only when n was 0 */
    if (!v) return oom(ps);
    v->type = f->is_object ? JSON_OBJECT : JSON_ARRAY;
    v->num = 0;
    v->neg0 = 0;
    v->len = (uint32_t)count;
    v->u.items = items;
    ps->p++;
    return STATUS_OK;
}

/* Parses a scalar or opens a container. *opened tells which. */
static status parse_value(parser *ps, int *opened) {
    *opened = 0;
    if (ps->p >= ps->end)
        return perr(ps, ps->p, "expected a value (object, array, string, number, true, false "
                    "or null)");
    char c = *ps->p;
    if (c == '{' || c == '[') {
        *opened = 1;
        return open_container(ps, c == '{');
    }
    if (c == 'N' || c == 'I' || (c == '-' && ps->end - ps->p > 1 && ps->p[1] == 'I'))
        return perr(ps, ps->p, "expected a value (NaN and Infinity are not JSON)");
    json_value *v = push(ps);
    if (!v) return oom(ps);
    if (c == '"') return parse_string(ps, v);
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps, v);
    return parse_literal(ps, v);
}

static status parse_key(parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') return perr(ps, ps->p, "expected a string (object key)");
    json_value *k = push(ps);
    if (!k) return oom(ps);
    status st = parse_string(ps, k);
    if (st) return st;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') return perr(ps, ps->p, "expected ':' after object key");
    ps->p++;
    return STATUS_OK;
}

static status parse_document(parser *ps) {
    status st;
    int opened;
    /* Invariant at the top of the loop: a value is expected next. */
    for (;;) {
        skip_ws(ps);
        if ((st = parse_value(ps, &opened))) return st;
        if (opened) {
            skip_ws(ps);
            int obj = ps->frames[ps->depth - 1].is_object;
            if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
                if ((st = close_container(ps))) return st;
            } else {
                if (obj && (st = parse_key(ps))) return st;
                continue;
            }
        }
        /* A value is complete: continue or close containers. */
        for (;;) {
            if (ps->depth == 0) {
                skip_ws(ps);
                if (ps->p != ps->end) return perr(ps, ps->p, "expected end of input after the value");
                return STATUS_OK;
            }
            skip_ws(ps);
            int obj = ps->frames[ps->depth - 1].is_object;
            char close = obj ? '}' : ']';
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                if (obj && (st = parse_key(ps))) return st;
                break;
            }
            if (ps->p < ps->end && *ps->p == close) {
                if ((st = close_container(ps))) return st;
                continue;
            }
            return perr(ps, ps->p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
}

status json_parse(const char *text, size_t len, const json_limits *lim, json_doc **out,
                  errinfo *err) {
    *out = NULL;
    int max_depth = lim && lim->max_depth > 0 ? lim->max_depth : JSON_DEFAULT_MAX_DEPTH;
    if (lim && lim->max_bytes && len > lim->max_bytes)
        return status_fail(err, STATUS_TOO_LARGE, "JSON text of %zu bytes exceeds the limit of %zu",
                           len, lim->max_bytes);
    if (!text) text = "";
    parser ps = {.start = text, .p = text, .end = text + len, .max_depth = max_depth, .err = err};
    ps.doc = calloc(1, sizeof *ps.doc);
    if (!ps.doc) return oom(&ps);
    ps.doc->next_size = ARENA_FIRST;
    status st = parse_document(&ps);
    if (st) goto fail;
    ps.doc->root = ps.stack[0];
    free(ps.stack);
    free(ps.frames);
    *out = ps.doc;
    return STATUS_OK;
fail:
    free(ps.stack);
    free(ps.frames);
    json_doc_free(ps.doc);
    return st;
}

/* ---- accessors ------------------------------------------------------- */

const json_value *json_root(const json_doc *doc) { return doc ? &doc->root : NULL; }

json_type json_type_of(const json_value *v) { return v ? (json_type)v->type : JSON_NONE; }

const char *json_type_name(json_type t) {
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object",
                                  "nothing"};
    return (unsigned)t <= JSON_NONE ? names[t] : "nothing";
}

const json_value *json_object_getn(const json_value *obj, const char *key, size_t key_len) {
    if (!obj || obj->type != JSON_OBJECT || !key) return NULL;
    const json_value *it = obj->u.items;
    for (uint32_t i = 0; i < obj->len; i++, it += 2)
        if (it->len == key_len && memcmp(it->u.s, key, key_len) == 0) return it + 1;
    return NULL;
}

const json_value *json_object_get(const json_value *obj, const char *key) {
    return key ? json_object_getn(obj, key, strlen(key)) : NULL;
}

int json_object_size(const json_value *obj) {
    return obj && obj->type == JSON_OBJECT ? (int)obj->len : 0;
}

const char *json_object_key_at(const json_value *obj, int i, size_t *len) {
    if (!obj || obj->type != JSON_OBJECT || i < 0 || (uint32_t)i >= obj->len) {
        if (len) *len = 0;
        return NULL;
    }
    const json_value *k = &obj->u.items[2 * (size_t)i];
    if (len) *len = k->len;
    return k->u.s;
}

const json_value *json_object_value_at(const json_value *obj, int i) {
    if (!obj || obj->type != JSON_OBJECT || i < 0 || (uint32_t)i >= obj->len) return NULL;
    return &obj->u.items[2 * (size_t)i + 1];
}

int64_t json_array_size(const json_value *arr) {
    return arr && arr->type == JSON_ARRAY ? (int64_t)arr->len : 0;
}

const json_value *json_array_at(const json_value *arr, int64_t i) {
    if (!arr || arr->type != JSON_ARRAY || i < 0 || (uint64_t)i >= arr->len) return NULL;
    return &arr->u.items[i];
}

int json_get_bool(const json_value *v) { return v && v->type == JSON_BOOL && v->u.i; }

double json_get_number(const json_value *v) {
    if (!v || v->type != JSON_NUMBER) return 0;
    switch (v->num) {
    case NUM_INT: return v->neg0 ? -0.0 : (double)v->u.i;
    case NUM_UINT: return (double)v->u.u;
    default: return v->u.d;
    }
}

int json_number_is_integer(const json_value *v) {
    return v && v->type == JSON_NUMBER && v->num != NUM_DOUBLE;
}

int json_as_int64(const json_value *v, int64_t *out) {
    if (!v || v->type != JSON_NUMBER || v->num != NUM_INT) return 0;
    *out = v->u.i;
    return 1;
}

int json_as_uint64(const json_value *v, uint64_t *out) {
    if (!v || v->type != JSON_NUMBER) return 0;
    if (v->num == NUM_UINT) *out = v->u.u;
    else if (v->num == NUM_INT && v->u.i >= 0) *out = (uint64_t)v->u.i;
    else return 0;
    return 1;
}

int64_t json_get_int64(const json_value *v) {
    if (!v || v->type != JSON_NUMBER) return 0;
    if (v->num == NUM_INT) return v->u.i;
    if (v->num == NUM_UINT) return INT64_MAX;
    double d = v->u.d;
    if (d >= 9223372036854775808.0) return INT64_MAX;
    if (d < -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

uint64_t json_get_uint64(const json_value *v) {
    if (!v || v->type != JSON_NUMBER) return 0;
    if (v->num == NUM_UINT) return v->u.u;
    if (v->num == NUM_INT) return v->u.i < 0 ? 0 : (uint64_t)v->u.i;
    double d = v->u.d;
    if (d >= 18446744073709551616.0) return UINT64_MAX;
    if (d <= 0) return 0;
    return (uint64_t)d;
}

const char *json_get_string(const json_value *v, size_t *len) {
    if (!v || v->type != JSON_STRING) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = v->len;
    return v->u.s;
}
