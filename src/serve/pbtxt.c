/* pbtxt.c -- tokenizer and recursive-descent parser for protobuf text format.
 *
 * All nodes and decoded strings live in one chunked arena owned by the
 * document, so a parse that fails half-way frees everything in one call.
 * Numbers keep their text; converting them is the reader's business, where
 * the expected type and range are known. */
#include "pbtxt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- arena ---------------------------------------------------------------- */

#define PB_ALIGN 16
#define PB_CHUNK 8192

typedef struct pb_chunk {
    struct pb_chunk *next;
    size_t used, cap;
    _Alignas(PB_ALIGN) unsigned char data[];
} pb_chunk;

struct pbtxt_doc {
    pb_chunk *chunks;
    const pbtxt_field *root;
};

static void *doc_alloc(pbtxt_doc *d, size_t n) {
    n = (n + PB_ALIGN - 1) & ~(size_t)(PB_ALIGN - 1);
    pb_chunk *c = d->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > PB_CHUNK ? n : PB_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = d->chunks;
        c->used = 0;
        c->cap = cap;
        d->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void pbtxt_destroy(pbtxt_doc *d) {
    if (!d) return;
    pb_chunk *c = d->chunks;
    while (c) {
        pb_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(d);
}

const pbtxt_field *pbtxt_root(const pbtxt_doc *d) { return d ? d->root : NULL; }

/* --- tokens --------------------------------------------------------------- */

typedef enum tok_type { TOK_EOF, TOK_IDENT, TOK_NUMBER, TOK_STRING, TOK_PUNCT } tok_type;

typedef struct token {
    tok_type type;
    const char *start;  /* strings: includes the quotes */
    size_t len;
    int line, col;
} token;

typedef struct parser {
    const char *s;
    size_t len, pos;
    int line, col;
    token tok;          /* one token of lookahead */
    pbtxt_doc *doc;
    errinfo *err;
    int depth;
} parser;

static status parse_error(parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static status parse_error(parser *p, int line, int col, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return status_fail(p->err, STATUS_INVALID_ARGUMENT, "%d:%d: %s", line, col, msg);
}

static int peek_char(const parser *p, size_t ahead) {
    return p->pos + ahead < p->len ? (unsigned char)p->s[p->pos + ahead] : -1;
}

static void advance(parser *p) {
    if (p->s[p->pos] == '\n') {
        p->line++;
        p->col = 1;
    } else {
        p->col++;
    }
    p->pos++;
}

static void skip_space(parser *p) {
    for (;;) {
        int c = peek_char(p, 0);
        if (c == '#') {
            while (peek_char(p, 0) >= 0 && peek_char(p, 0) != '\n') advance(p);
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
                   c == '\v') {
            advance(p);
        } else {
            return;
        }
    }
}

static bool is_ident_start(int c) { return isalpha(c) || c == '_'; }
static bool is_ident_char(int c) { return isalnum(c) || c == '_'; }

/* A number token runs over letters, digits, '.', and a sign right after an
 * exponent 'e' (not in hex). Whether it is a well-formed number is checked
 * when it is converted. */
static void lex_number(parser *p) {
    bool hex = peek_char(p, 0) == '0' && (peek_char(p, 1) == 'x' || peek_char(p, 1) == 'X');
    for (;;) {
        int c = peek_char(p, 0);
        int prev = p->pos > 0 ? (unsigned char)p->s[p->pos - 1] : 0;
        if (is_ident_char(c) || c == '.' ||
            ((c == '+' || c == '-') && !hex && (prev == 'e' || prev == 'E')))
            advance(p);
        else
            return;
    }
}

static status lex_string(parser *p) {
    int quote = peek_char(p, 0);
    advance(p);
    for (;;) {
        int c = peek_char(p, 0);
        if (c < 0 || c == '\n')
            return parse_error(p, p->tok.line, p->tok.col, "unterminated string");
        advance(p);
        if (c == quote) return STATUS_OK;
        if (c == '\\') {
            if (peek_char(p, 0) < 0 || peek_char(p, 0) == '\n')
                return parse_error(p, p->tok.line, p->tok.col, "unterminated string");
            advance(p);
        }
    }
}

static status next_token(parser *p) {
    skip_space(p);
    token *t = &p->tok;
    t->start = p->s + p->pos;
    t->line = p->line;
    t->col = p->col;
    int c = peek_char(p, 0);
    size_t begin = p->pos;
    if (c < 0) {
        t->type = TOK_EOF;
    } else if (is_ident_start(c)) {
        while (is_ident_char(peek_char(p, 0))) advance(p);
        t->type = TOK_IDENT;
    } else if (isdigit(c) || (c == '.' && isdigit(peek_char(p, 1)))) {
        lex_number(p);
        t->type = TOK_NUMBER;
    } else if (c == '"' || c == '\'') {
        t->type = TOK_STRING;
        status st = lex_string(p);
        if (st) return st;
    } else if (strchr(":{}[]<>,;-", c) && c != 0) {
        advance(p);
        t->type = TOK_PUNCT;
    } else if (isprint(c)) {
        return parse_error(p, t->line, t->col, "unexpected character '%c'", c);
    } else {
        return parse_error(p, t->line, t->col, "unexpected byte 0x%02x", c);
    }
    t->len = p->pos - begin;
    return STATUS_OK;
}

static bool tok_is(const parser *p, char punct) {
    return p->tok.type == TOK_PUNCT && p->tok.start[0] == punct;
}

/* "'['", "end of input", "identifier 'foo'", ... for error messages. */
static const char *tok_describe(const token *t, char *buf, size_t len) {
    int n = t->len > 40 ? 40 : (int)t->len;
    switch (t->type) {
    case TOK_EOF: snprintf(buf, len, "end of input"); break;
    case TOK_IDENT: snprintf(buf, len, "identifier '%.*s'", n, t->start); break;
    case TOK_NUMBER: snprintf(buf, len, "number %.*s", n, t->start); break;
    case TOK_STRING: snprintf(buf, len, "string %.*s%s", n, t->start, t->len > 40 ? "..." : ""); break;
    case TOK_PUNCT: snprintf(buf, len, "'%c'", t->start[0]); break;
    }
    return buf;
}

static status unexpected(parser *p, const char *expected) {
    char what[96];
    return parse_error(p, p->tok.line, p->tok.col, "expected %s, got %s", expected,
                       tok_describe(&p->tok, what, sizeof what));
}

/* --- string escapes ------------------------------------------------------- */

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads up to `max` digits of `base` from s[*i..n); returns the value or -1
 * if there was no digit. */
static long read_digits(const char *s, size_t n, size_t *i, int base, int max) {
    long v = 0;
    int got = 0;
    while (got < max && *i < n) {
        int d = hex_value((unsigned char)s[*i]);
        if (d < 0 || d >= base) break;
        v = v * base + d;
        (*i)++;
        got++;
    }
    return got ? v : -1;
}

static const char simple_escapes[] = "a\ab\bf\fn\nr\rt\tv\v\\\\''\"\"??";

/* Decodes the body of one string token (without quotes) onto out[*o..). The
 * output never grows past the input length, so out needs t->len bytes. */
static status decode_string(parser *p, const token *t, char *out, size_t *o) {
    const char *s = t->start + 1;
    size_t n = t->len - 2;
    for (size_t i = 0; i < n;) {
        char c = s[i++];
        if (c != '\\') {
            out[(*o)++] = c;
            continue;
        }
        char e = s[i++];
        const char *m = strchr(simple_escapes, e);
        if (e && m && (m - simple_escapes) % 2 == 0) {
            out[(*o)++] = m[1];
        } else if (e >= '0' && e <= '7') {
            i--;
            long v = read_digits(s, n, &i, 8, 3);
            if (v > 255) return parse_error(p, t->line, t->col, "octal escape \\%lo out of range", v);
            out[(*o)++] = (char)v;
        } else if (e == 'x' || e == 'X') {
            long v = read_digits(s, n, &i, 16, 2);
            if (v < 0) return parse_error(p, t->line, t->col, "\\x escape without hex digits");
            out[(*o)++] = (char)v;
        } else if (e == 'u' || e == 'U') {
            int want = e == 'u' ? 4 : 8;
            size_t at = i;
            long v = read_digits(s, n, &i, 16, want);
            if (v < 0 || i - at != (size_t)want || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return parse_error(p, t->line, t->col, "bad \\%c escape: expected %d hex digits of a Unicode code point", e, want);
            *o += utf8_encode((uint32_t)v, out + *o);
        } else {
            return parse_error(p, t->line, t->col, "unknown escape sequence '\\%c' in string", e);
        }
    }
    return STATUS_OK;
}

/* --- tree ----------------------------------------------------------------- */

static pbtxt_field *new_field(parser *p, const token *name, pbtxt_kind kind) {
    pbtxt_field *f = doc_alloc(p->doc, sizeof *f);
    char *nm = f ? doc_alloc(p->doc, name->len + 1) : NULL;
    if (!nm) return NULL;
    memcpy(nm, name->start, name->len);
    nm[name->len] = '\0';
    memset(f, 0, sizeof *f);
    f->name = nm;
    f->kind = kind;
    f->line = name->line;
    f->col = name->col;
    f->vline = p->tok.line;
    f->vcol = p->tok.col;
    return f;
}

static status oom(parser *p) {
    return status_fail(p->err, STATUS_NO_MEMORY, "out of memory parsing text format");
}

/* Concatenates one or more adjacent string tokens into f->text. */
static status parse_strings(parser *p, pbtxt_field *f) {
    /* First pass: total raw length, to size the buffer. */
    size_t save_pos = p->pos;
    int save_line = p->line, save_col = p->col;
    token first = p->tok;
    size_t total = 0;
    status st;
    while (p->tok.type == TOK_STRING) {
        total += p->tok.len;
        if ((st = next_token(p))) return st;
    }
    char *buf = doc_alloc(p->doc, total + 1);
    if (!buf) return oom(p);
    /* Second pass: rewind and decode. */
    p->pos = save_pos;
    p->line = save_line;
    p->col = save_col;
    p->tok = first;
    size_t o = 0;
    while (p->tok.type == TOK_STRING) {
        if ((st = decode_string(p, &p->tok, buf, &o))) return st;
        if ((st = next_token(p))) return st;
    }
    buf[o] = '\0';
    f->text = buf;
    f->len = o;
    return STATUS_OK;
}

static status parse_scalar(parser *p, const token *name, pbtxt_field **out) {
    pbtxt_field *f;
    status st;
    if (p->tok.type == TOK_STRING) {
        if (!(f = new_field(p, name, PBTXT_STRING))) return oom(p);
        if ((st = parse_strings(p, f))) return st;
        *out = f;
        return STATUS_OK;
    }
    bool neg = tok_is(p, '-');
    token minus = p->tok;
    if (neg && (st = next_token(p))) return st;
    if (p->tok.type != TOK_NUMBER && p->tok.type != TOK_IDENT) {
        char what[64];
        snprintf(what, sizeof what, "a value for field '%.*s'", (int)name->len, name->start);
        return unexpected(p, what);
    }
    pbtxt_kind kind = p->tok.type == TOK_NUMBER ? PBTXT_NUMBER : PBTXT_IDENT;
    if (neg && kind == PBTXT_IDENT) kind = PBTXT_NUMBER; /* -inf, -nan */
    if (!(f = new_field(p, name, kind))) return oom(p);
    if (neg) {
        f->vline = minus.line;
        f->vcol = minus.col;
    }
    char *text = doc_alloc(p->doc, p->tok.len + 2);
    if (!text) return oom(p);
    size_t o = 0;
    if (neg) text[o++] = '-';
    memcpy(text + o, p->tok.start, p->tok.len);
    o += p->tok.len;
    text[o] = '\0';
    f->text = text;
    f->len = o;
    *out = f;
    return next_token(p);
}

static status parse_fields(parser *p, char close, const token *open, const pbtxt_field **first);

/* '{' fields '}' or '<' fields '>', the opening token being current. */
static status parse_message(parser *p, const token *name, pbtxt_field **out) {
    if (p->depth >= PBTXT_MAX_DEPTH)
        return parse_error(p, p->tok.line, p->tok.col, "messages nested deeper than %d levels",
                           PBTXT_MAX_DEPTH);
    pbtxt_field *f = new_field(p, name, PBTXT_MESSAGE);
    if (!f) return oom(p);
    token open = p->tok;
    char close = tok_is(p, '{') ? '}' : '>';
    status st = next_token(p);
    if (st) return st;
    const pbtxt_field *children = NULL;
    p->depth++;
    st = parse_fields(p, close, &open, &children);
    p->depth--;
    f->children = children;
    *out = f;
    return st;
}

static bool at_message_open(const parser *p) { return tok_is(p, '{') || tok_is(p, '<'); }

/* One list element: a message or (after ':') a scalar. */
static status parse_element(parser *p, const token *name, bool colon, pbtxt_field **out) {
    if (at_message_open(p)) return parse_message(p, name, out);
    if (!colon) {
        char what[96];
        snprintf(what, sizeof what, "'{' (a list of values needs ':' after '%.*s')",
                 (int)name->len, name->start);
        return unexpected(p, what);
    }
    return parse_scalar(p, name, out);
}

/* '[' elem (',' elem)* ']' appended to *tail; the '[' is current. */
static status parse_list(parser *p, const token *name, bool colon, const pbtxt_field ***tail) {
    status st = next_token(p);
    if (st) return st;
    if (tok_is(p, ']')) return next_token(p);
    for (;;) {
        pbtxt_field *f = NULL;
        if ((st = parse_element(p, name, colon, &f))) return st;
        **tail = f;
        *tail = &f->next;
        if (tok_is(p, ']')) return next_token(p);
        if (!tok_is(p, ',')) {
            char what[96];
            snprintf(what, sizeof what, "',' or ']' in the list of '%.*s'", (int)name->len,
                     name->start);
            return unexpected(p, what);
        }
        if ((st = next_token(p))) return st;
    }
}

/* After a field name: ':' value | ':'? message | ':'? list. */
static status parse_field(parser *p, const token *name, const pbtxt_field ***tail) {
    status st;
    bool colon = tok_is(p, ':');
    if (colon && (st = next_token(p))) return st;
    if (tok_is(p, '[')) return parse_list(p, name, colon, tail);
    pbtxt_field *f = NULL;
    if (at_message_open(p)) {
        st = parse_message(p, name, &f);
    } else if (colon) {
        st = parse_scalar(p, name, &f);
    } else {
        char what[96];
        snprintf(what, sizeof what, "':' or '{' after field name '%.*s'", (int)name->len,
                 name->start);
        return unexpected(p, what);
    }
    if (f) {
        **tail = f;
        *tail = &f->next;
    }
    return st;
}

/* Fields until `close` (0: end of input). */
static status parse_fields(parser *p, char close, const token *open, const pbtxt_field **first) {
    const pbtxt_field **tail = first;
    status st;
    for (;;) {
        if (p->tok.type == TOK_EOF) {
            if (!close) return STATUS_OK;
            return parse_error(p, p->tok.line, p->tok.col,
                               "expected '%c' to close the message opened at %d:%d, got end of input",
                               close, open->line, open->col);
        }
        if (close && tok_is(p, close)) return next_token(p);
        if (tok_is(p, '['))
            return parse_error(p, p->tok.line, p->tok.col,
                               "extension and Any fields ('[name]') are not supported");
        if (p->tok.type != TOK_IDENT) return unexpected(p, "a field name");
        token name = p->tok;
        if ((st = next_token(p))) return st;
        if ((st = parse_field(p, &name, &tail))) return st;
        if ((tok_is(p, ',') || tok_is(p, ';')) && (st = next_token(p))) return st;
    }
}

status pbtxt_parse(const char *text, size_t len, pbtxt_doc **out, errinfo *err) {
    *out = NULL;
    pbtxt_doc *d = calloc(1, sizeof *d);
    if (!d) return status_fail(err, STATUS_NO_MEMORY, "out of memory parsing text format");
    parser p = {.s = text, .len = len, .line = 1, .col = 1, .doc = d, .err = err};
    status st = next_token(&p);
    if (!st) st = parse_fields(&p, 0, NULL, &d->root);
    if (st) {
        pbtxt_destroy(d);
        return st;
    }
    *out = d;
    return STATUS_OK;
}

/* --- conversions ------------------------------------------------------------ */

status pbtxt_fail(const pbtxt_field *f, errinfo *err, status st, const char *fmt, ...) {
    if (!err) return st;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return status_fail(err, st, "%d:%d: %s", f->vline, f->vcol, msg);
}

/* The value as it appeared, shortened, for "got ..." in messages. */
static const char *value_describe(const pbtxt_field *f, char *buf, size_t len) {
    switch (f->kind) {
    case PBTXT_MESSAGE: snprintf(buf, len, "a message"); break;
    case PBTXT_STRING: snprintf(buf, len, "\"%.40s\"%s", f->text, f->len > 40 ? "..." : ""); break;
    default: snprintf(buf, len, "%.40s", f->text); break;
    }
    return buf;
}

static status value_mismatch(const pbtxt_field *f, errinfo *err, const char *expected) {
    char got[64];
    return pbtxt_fail(f, err, STATUS_INVALID_ARGUMENT, "field '%s': expected %s, got %s", f->name,
                      expected, value_describe(f, got, sizeof got));
}

status pbtxt_int64(const pbtxt_field *f, int64_t min, int64_t max, int64_t *out, errinfo *err) {
    char expected[96];
    snprintf(expected, sizeof expected, "an integer in [%lld, %lld]", (long long)min,
             (long long)max);
    if (f->kind != PBTXT_NUMBER) return value_mismatch(f, err, expected);
    const char *s = f->text;
    bool neg = s[0] == '-';
    const char *digits = neg ? s + 1 : s;
    if (!isdigit((unsigned char)digits[0])) return value_mismatch(f, err, expected);
    errno = 0;
    char *end = NULL;
    unsigned long long mag = strtoull(digits, &end, 0);
    if (*end || errno == ERANGE) return value_mismatch(f, err, expected);
    long long v;
    if (neg) {
        if (mag > (unsigned long long)INT64_MAX + 1) return value_mismatch(f, err, expected);
        v = mag == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(long long)mag;
    } else {
        if (mag > (unsigned long long)INT64_MAX) return value_mismatch(f, err, expected);
        v = (long long)mag;
    }
    if (v < min || v > max) return value_mismatch(f, err, expected);
    *out = v;
    return STATUS_OK;
}

status pbtxt_double(const pbtxt_field *f, double *out, errinfo *err) {
    const char *expected = "a number";
    if (f->kind != PBTXT_NUMBER && f->kind != PBTXT_IDENT) return value_mismatch(f, err, expected);
    const char *s = f->text;
    const char *body = s[0] == '-' ? s + 1 : s;
    if (!strcasecmp(body, "inf") || !strcasecmp(body, "infinity")) {
        *out = s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
        return STATUS_OK;
    }
    if (!strcasecmp(body, "nan")) {
        *out = NAN;
        return STATUS_OK;
    }
    if (f->kind != PBTXT_NUMBER || !(isdigit((unsigned char)body[0]) || body[0] == '.'))
        return value_mismatch(f, err, expected);
    char buf[128];
    size_t n = f->len;
    if (n >= sizeof buf) return value_mismatch(f, err, expected);
    memcpy(buf, s, n + 1);
    bool hex = strchr(buf, 'x') || strchr(buf, 'X');
    if (!hex && n > 1 && (buf[n - 1] == 'f' || buf[n - 1] == 'F')) buf[n - 1] = '\0';
    errno = 0;
    char *end = NULL;
    double v = hex ? (double)strtoll(buf, &end, 16) : strtod(buf, &end);
    if (*end || end == buf) return value_mismatch(f, err, expected);
    *out = v;
    return STATUS_OK;
}

status pbtxt_bool(const pbtxt_field *f, bool *out, errinfo *err) {
    static const char *const yes[] = {"true", "True", "t", "1"};
    static const char *const no[] = {"false", "False", "f", "0"};
    if (f->kind == PBTXT_IDENT || f->kind == PBTXT_NUMBER) {
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            if (!strcmp(f->text, yes[i])) { *out = true; return STATUS_OK; }
            if (!strcmp(f->text, no[i])) { *out = false; return STATUS_OK; }
        }
    }
    return value_mismatch(f, err, "true or false");
}

status pbtxt_string(const pbtxt_field *f, const char **out, errinfo *err) {
    if (f->kind != PBTXT_STRING) return value_mismatch(f, err, "a quoted string");
    if (strlen(f->text) != f->len)
        return pbtxt_fail(f, err, STATUS_INVALID_ARGUMENT, "field '%s': string contains a NUL byte",
                          f->name);
    *out = f->text;
    return STATUS_OK;
}

status pbtxt_enum(const pbtxt_field *f, const char *const *names, int n, int *out, errinfo *err) {
    if (f->kind == PBTXT_IDENT) {
        for (int i = 0; i < n; i++) {
            if (names[i] && !strcmp(f->text, names[i])) {
                *out = i;
                return STATUS_OK;
            }
        }
    } else if (f->kind == PBTXT_NUMBER) {
        int64_t v;
        if (!pbtxt_int64(f, 0, n - 1, &v, NULL) && names[v]) {
            *out = (int)v;
            return STATUS_OK;
        }
    }
    /* List the accepted names in the message, as far as they fit. */
    char expected[300];
    size_t o = (size_t)snprintf(expected, sizeof expected, "one of");
    for (int i = 0; i < n && o < sizeof expected; i++) {
        if (!names[i]) continue;
        o += (size_t)snprintf(expected + o, sizeof expected - o, "%s %s", i ? "," : "", names[i]);
    }
    return value_mismatch(f, err, expected);
}
