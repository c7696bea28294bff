/* json_writer.c -- appends JSON text to one growing buffer (see json.h).
 *
 * Numbers are formatted straight into the buffer: integers by a two-digits-
 * at-a-time loop, floating point by the shortest of printf's %.Ng forms that
 * reads back to the same value. Bulk array writers reserve room for the
 * whole array once, so a 150k-element output costs one or two reallocs. */
#include "common/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest text one number can produce: "-1.2345678901234567e-308" is 24;
 * "\"-inf\"" is 6; 20 digits + sign for integers. */
enum { NUM_MAX = 32 };

void jw_init(json_writer *w) { memset(w, 0, sizeof *w); }

void jw_deinit(json_writer *w) {
    if (!w) return;
    free(w->buf);
    memset(w, 0, sizeof *w);
}

int jw_failed(const json_writer *w) { return w->failed; }

/* Ensures room for n more bytes plus the final NUL. 0 on failure. */
static int room(json_writer *w, size_t n) {
    if (w->failed) return 0;
    if (w->cap - w->len > n) return 1;
    size_t need = w->len + n + 1;
    if (need < w->len) goto fail; /* overflow */
    size_t ncap = w->cap ? w->cap : 256;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    char *nb = realloc(w->buf, ncap);
    if (!nb) goto fail;
    w->buf = nb;
    w->cap = ncap;
    return 1;
fail:
    w->failed = 1;
    return 0;
}

void jw_reserve(json_writer *w, size_t n) { (void)room(w, n); }

char *jw_finish(json_writer *w, size_t *len) {
    if (len) *len = 0;
    if (!room(w, 0)) {
        jw_deinit(w);
        return NULL;
    }
    char *out = w->buf;
    out[w->len] = '\0';
    if (len) *len = w->len;
    memset(w, 0, sizeof *w);
    return out;
}

static void put(json_writer *w, const char *s, size_t n) {
    if (!room(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void putc1(json_writer *w, char c) {
    if (!room(w, 1)) return;
    w->buf[w->len++] = c;
}

/* Before a value: the comma if one is due. */
static void sep(json_writer *w) {
    if (w->need_comma) putc1(w, ',');
}

void jw_begin_object(json_writer *w) {
    sep(w);
    putc1(w, '{');
    w->need_comma = 0;
}

void jw_end_object(json_writer *w) {
    putc1(w, '}');
    w->need_comma = 1;
}

void jw_begin_array(json_writer *w) {
    sep(w);
    putc1(w, '[');
    w->need_comma = 0;
}

void jw_end_array(json_writer *w) {
    putc1(w, ']');
    w->need_comma = 1;
}

/* ---- strings --------------------------------------------------------- */

static void put_escaped(json_writer *w, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX; reserve for the common case
     * and grow for escapes as they come. */
    if (!room(w, len + 2)) return;
    w->buf[w->len++] = '"';
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len) {
            unsigned char c = (unsigned char)s[run];
            if (c < 0x20 || c == '"' || c == '\\') break;
            run++;
        }
        if (run > i) {
            if (!room(w, run - i + 1)) return;
            memcpy(w->buf + w->len, s + i, run - i);
            w->len += run - i;
            i = run;
        }
        if (i == len) break;
        unsigned char c = (unsigned char)s[i++];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (!room(w, n + 1)) return;
        memcpy(w->buf + w->len, esc, n);
        w->len += n;
    }
    putc1(w, '"');
}

void jw_keyn(json_writer *w, const char *key, size_t len) {
    sep(w);
    put_escaped(w, key, len);
    putc1(w, ':');
    w->need_comma = 0;
}

void jw_key(json_writer *w, const char *key) { jw_keyn(w, key, strlen(key)); }

void jw_string(json_writer *w, const char *s, size_t len) {
    sep(w);
    put_escaped(w, s ? s : "", s ? len : 0);
    w->need_comma = 1;
}

void jw_cstring(json_writer *w, const char *s) { jw_string(w, s, s ? strlen(s) : 0); }

/* ---- number formatting into a NUM_MAX buffer ------------------------- */

static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static size_t fmt_u64(char *out, uint64_t v) {
    char tmp[24];
    char *p = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digits2 + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digits2 + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(out, p, n);
    return n;
}

static size_t fmt_i64(char *out, int64_t v) {
    if (v >= 0) return fmt_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + fmt_u64(out + 1, 0 - (uint64_t)v);
}

static size_t fmt_nonfinite(char *out, double v) {
    const char *s = isnan(v) ? "\"nan\"" : v > 0 ? "\"inf\"" : "\"-inf\"";
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

static size_t fmt_double(char *out, double v) {
    if (!isfinite(v)) return fmt_nonfinite(out, v);
    /* Integral values below 2^53 print as integers, as %.17g would. */
    if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v && !(v == 0 && signbit(v)))
        return fmt_i64(out, (int64_t)v);
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, NUM_MAX, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v) break;
    }
    return (size_t)n;
}

/* Writes sign, the digits of d (nd of them) and decimal exponent k (of the
 * first digit) the way printf's %g does at precision nd. */
static size_t fmt_g(char *out, int neg, uint64_t d, int nd, int k) {
    char dig[24];
    for (int i = nd - 1; i >= 0; i--, d /= 10) dig[i] = (char)('0' + d % 10);
    char *p = out;
    if (neg) *p++ = '-';
    if (k < -4 || k >= nd) { /* d.ddde+XX */
        *p++ = dig[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, dig + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        *p++ = k < 0 ? '-' : '+';
        int ak = k < 0 ? -k : k;
        if (ak < 10) *p++ = '0';
        p += fmt_u64(p, (uint64_t)ak);
    } else if (k >= 0) { /* ddd.ddd */
        memcpy(p, dig, (size_t)k + 1);
        p += k + 1;
        if (nd > k + 1) {
            *p++ = '.';
            memcpy(p, dig + k + 1, (size_t)(nd - k - 1));
            p += nd - k - 1;
        }
    } else { /* 0.000ddd */
        *p++ = '0';
        *p++ = '.';
        for (int i = -1; i > k; i--) *p++ = '0';
        memcpy(p, dig, (size_t)nd);
        p += nd;
    }
    return (size_t)(p - out);
}

static const double pow10_tab[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Rounds x to p significant digits, x ~ 10^k: *d * 10^*e. 1 if that
 * decimal reads back as the float whose rounding interval is (lo, hi).
 * The check is exact: 10^|e| (|e| <= 22) and d (< 2^53) are exact
 * doubles, so `back` is the decimal rounded once, and rounding is
 * monotonic: back strictly inside (lo, hi) means the decimal is too. A
 * decimal on a boundary (a tie) is accepted only when it is known exactly
 * and ties go to v (even mantissa); otherwise refused, never misjudged. */
static int float_digits(double x, int k, int p, double lo, double hi, int even_mantissa,
                        uint64_t *d, int *e) {
    int ex = k - p + 1;
    if (ex < -22 || ex > 22) return 0;
    double s = ex >= 0 ? x / pow10_tab[ex] : x * pow10_tab[-ex];
    double r = nearbyint(s);
    double back = ex >= 0 ? r * pow10_tab[ex] : r / pow10_tab[-ex];
    if (!(back > lo && back < hi)) {
        /* A decimal exactly on a midpoint reads back as the neighbour
         * with the even mantissa; decide only when back is exact. */
        int exact = ex >= 0 && back < 9007199254740992.0;
        if (!exact || (back != lo && back != hi) || (even_mantissa == 0)) return 0;
    }
    *d = (uint64_t)r;
    *e = ex;
    return 1;
}

/* Shortest digits for a float in [1e-18, 1e18): the fewest significant
 * digits p (1..9) whose rounding reads back as v, found in double
 * arithmetic with an exact acceptance test (float_digits), so the printf
 * fallback is only for the rest of the range. Most floats need 7 to 9
 * digits, so p = 6 is tried first and shorter ones only if it works.
 * Returns 0 when it cannot answer. */
static size_t fmt_float_fast(char *out, float v) {
    double x = fabs((double)v);
    if (!(x >= 1e-18 && x < 1e18)) return 0;
    float fx = fabsf(v);
    /* The rounding interval: midpoints to the neighbours, exact in double. */
    double lo = ((double)fx + (double)nextafterf(fx, 0.0f)) / 2;
    double hi = ((double)fx + (double)nextafterf(fx, INFINITY)) / 2;
    uint32_t bits;
    memcpy(&bits, &fx, sizeof bits);
    int even = (bits & 1) == 0;
    int k = (int)floor(log10(x));
    uint64_t d = 0;
    int e = 0, ok = 0;
    if (float_digits(x, k, 6, lo, hi, even, &d, &e)) {
        ok = 1;
        for (int p = 1; p < 6; p++)
            if (float_digits(x, k, p, lo, hi, even, &d, &e)) break;
    } else {
        for (int p = 7; p <= 9 && !ok; p++) ok = float_digits(x, k, p, lo, hi, even, &d, &e);
    }
    if (!ok || d == 0) return 0;
    while (d % 10 == 0) d /= 10, e++;
    int nd = 1;
    for (uint64_t t = d; t >= 10; t /= 10) nd++;
    return fmt_g(out, v < 0, d, nd, e + nd - 1);
}

static size_t fmt_float(char *out, float v) {
    if (!isfinite(v)) return fmt_nonfinite(out, v);
    if (fabsf(v) < 16777216.0f && v == (float)(int32_t)v && !(v == 0 && signbit(v)))
        return fmt_i64(out, (int32_t)v);
    size_t fast = fmt_float_fast(out, v);
    if (fast) return fast;
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(out, NUM_MAX, "%.*g", prec, (double)v);
        if (prec == 9 || strtof(out, NULL) == v) break;
    }
    return (size_t)n;
}

/* ---- scalar values --------------------------------------------------- */

#define JW_SCALAR(name, T, FMT)                                                \
    void name(json_writer *w, T v) {                                           \
        sep(w);                                                                \
        if (!room(w, NUM_MAX)) return;                                         \
        w->len += FMT(w->buf + w->len, v);                                     \
        w->need_comma = 1;                                                     \
    }

JW_SCALAR(jw_int64, int64_t, fmt_i64)
JW_SCALAR(jw_uint64, uint64_t, fmt_u64)
JW_SCALAR(jw_double, double, fmt_double)
JW_SCALAR(jw_float, float, fmt_float)

void jw_bool(json_writer *w, int v) {
    sep(w);
    if (v) put(w, "true", 4);
    else put(w, "false", 5);
    w->need_comma = 1;
}

void jw_null(json_writer *w) {
    sep(w);
    put(w, "null", 4);
    w->need_comma = 1;
}

void jw_raw(json_writer *w, const char *json, size_t len) {
    sep(w);
    put(w, json, len);
    w->need_comma = 1;
}

/* ---- flat arrays ----------------------------------------------------- */

static size_t fmt_bool(char *out, uint8_t v) {
    if (v) {
        memcpy(out, "true", 4);
        return 4;
    }
    memcpy(out, "false", 5);
    return 5;
}

/* Per element: the comma and the number, formatted in place. `width` is
 * the usual text length used to reserve room up front; room() is still
 * checked per element so the worst case is always safe. */
#define JW_ARRAY(name, T, FMT, CAST, width)                                    \
    void name(json_writer *w, const T *v, size_t n) {                          \
        jw_begin_array(w);                                                     \
        if (n < SIZE_MAX / (width)) jw_reserve(w, n * (width) + 1);            \
        for (size_t i = 0; i < n; i++) {                                       \
            if (!room(w, NUM_MAX + 1)) return;                                 \
            if (i) w->buf[w->len++] = ',';                                     \
            w->len += FMT(w->buf + w->len, (CAST)v[i]);                        \
        }                                                                      \
        jw_end_array(w);                                                       \
    }

JW_ARRAY(jw_float_array, float, fmt_float, float, 12)
JW_ARRAY(jw_double_array, double, fmt_double, double, 20)
JW_ARRAY(jw_int8_array, int8_t, fmt_i64, int64_t, 4)
JW_ARRAY(jw_int16_array, int16_t, fmt_i64, int64_t, 6)
JW_ARRAY(jw_int32_array, int32_t, fmt_i64, int64_t, 11)
JW_ARRAY(jw_int64_array, int64_t, fmt_i64, int64_t, 20)
JW_ARRAY(jw_uint8_array, uint8_t, fmt_u64, uint64_t, 4)
JW_ARRAY(jw_uint16_array, uint16_t, fmt_u64, uint64_t, 6)
JW_ARRAY(jw_uint32_array, uint32_t, fmt_u64, uint64_t, 11)
JW_ARRAY(jw_uint64_array, uint64_t, fmt_u64, uint64_t, 20)
JW_ARRAY(jw_bool_array, uint8_t, fmt_bool, uint8_t, 6)
