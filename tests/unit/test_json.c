/* test_json.c -- the JSON parser and writer: values, round trips, error
 * messages with positions, limits, big arrays, unicode, number edge cases. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

static int failures, checks;

#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            printf("%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);    \
        }                                                                      \
    } while (0)

static json_doc *parse(const char *text) {
    json_doc *d = NULL;
    errinfo err;
    if (json_parse(text, strlen(text), NULL, &d, &err)) {
        printf("unexpected parse error for %.60s: %s\n", text, err.msg);
        failures++;
    }
    return d;
}

/* Expects text to fail with exactly msg. */
static void expect_error(const char *text, const char *msg) {
    json_doc *d = NULL;
    errinfo err = {{0}};
    status st = json_parse(text, strlen(text), NULL, &d, &err);
    checks++;
    if (st == STATUS_OK || d != NULL || strcmp(err.msg, msg) != 0) {
        failures++;
        printf("parse of %.60s: got status %s, '%s'; want '%s'\n", text, status_name(st),
               err.msg, msg);
    }
    json_doc_free(d);
}

/* Writes any value back, for round trips. */
static void write_value(json_writer *w, const json_value *v) {
    switch (json_type_of(v)) {
    case JSON_NULL: jw_null(w); break;
    case JSON_BOOL: jw_bool(w, json_get_bool(v)); break;
    case JSON_NUMBER:
        if (json_number_is_integer(v)) {
            int64_t i;
            if (json_as_int64(v, &i)) jw_int64(w, i);
            else jw_uint64(w, json_get_uint64(v));
        } else {
            jw_double(w, json_get_number(v));
        }
        break;
    case JSON_STRING: {
        size_t n;
        const char *s = json_get_string(v, &n);
        jw_string(w, s, n);
        break;
    }
    case JSON_ARRAY:
        jw_begin_array(w);
        for (int64_t i = 0; i < json_array_size(v); i++) write_value(w, json_array_at(v, i));
        jw_end_array(w);
        break;
    case JSON_OBJECT:
        jw_begin_object(w);
        for (int i = 0; i < json_object_size(v); i++) {
            size_t n;
            const char *k = json_object_key_at(v, i, &n);
            jw_keyn(w, k, n);
            write_value(w, json_object_value_at(v, i));
        }
        jw_end_object(w);
        break;
    case JSON_NONE: break;
    }
}

static void expect_roundtrip(const char *in, const char *want) {
    json_doc *d = parse(in);
    if (!d) return;
    json_writer w;
    jw_init(&w);
    write_value(&w, json_root(d));
    size_t n;
    char *out = jw_finish(&w, &n);
    checks++;
    if (!out || strcmp(out, want) != 0 || n != strlen(want)) {
        failures++;
        printf("round trip of %s: got %s, want %s\n", in, out ? out : "(null)", want);
    }
    free(out);
    json_doc_free(d);
}

static void test_values(void) {
    json_doc *d = parse(" {\"model_name\": \"mnist\", \"id\": \"42\", \"inputs\": [ {\"name\":"
                        "\"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1.5, -2, "
                        "3e2]} ], \"flag\": true, \"none\": null, \"f\": false} ");
    const json_value *root = json_root(d);
    CHECK(json_type_of(root) == JSON_OBJECT);
    CHECK(json_object_size(root) == 6);
    CHECK(strcmp(json_get_string(json_object_get(root, "model_name"), NULL), "mnist") == 0);
    const json_value *in = json_array_at(json_object_get(root, "inputs"), 0);
    CHECK(json_type_of(in) == JSON_OBJECT);
    const json_value *shape = json_object_get(in, "shape");
    CHECK(json_array_size(shape) == 2);
    CHECK(json_get_int64(json_array_at(shape, 1)) == 3);
    const json_value *data = json_object_get(in, "data");
    CHECK(json_get_number(json_array_at(data, 0)) == 1.5);
    CHECK(json_get_number(json_array_at(data, 1)) == -2);
    CHECK(json_number_is_integer(json_array_at(data, 1)));
    CHECK(!json_number_is_integer(json_array_at(data, 2)));
    CHECK(json_get_number(json_array_at(data, 2)) == 300);
    CHECK(json_get_bool(json_object_get(root, "flag")) == 1);
    CHECK(json_type_of(json_object_get(root, "none")) == JSON_NULL);
    CHECK(json_type_of(json_object_get(root, "f")) == JSON_BOOL);
    CHECK(json_get_bool(json_object_get(root, "f")) == 0);
    /* absent and wrong types are harmless */
    CHECK(json_object_get(root, "missing") == NULL);
    CHECK(json_type_of(json_object_get(root, "missing")) == JSON_NONE);
    CHECK(json_array_at(data, 3) == NULL && json_array_at(data, -1) == NULL);
    CHECK(json_array_size(root) == 0 && json_object_size(data) == 0);
    CHECK(json_get_string(data, NULL) == NULL && json_get_number(root) == 0);
    CHECK(json_get_int64(NULL) == 0 && json_object_key_at(root, 6, NULL) == NULL);
    CHECK(strcmp(json_type_name(JSON_ARRAY), "array") == 0);
    json_doc_free(d);
    json_doc_free(NULL);

    /* duplicate keys: the first wins; scalars at top level */
    d = parse("{\"a\":1,\"a\":2}");
    CHECK(json_get_int64(json_object_get(json_root(d), "a")) == 1);
    json_doc_free(d);
    d = parse("  \"top\"  ");
    CHECK(strcmp(json_get_string(json_root(d), NULL), "top") == 0);
    json_doc_free(d);
    d = parse("[]");
    CHECK(json_array_size(json_root(d)) == 0 && json_type_of(json_root(d)) == JSON_ARRAY);
    json_doc_free(d);
    d = parse("{}");
    CHECK(json_object_size(json_root(d)) == 0 && json_type_of(json_root(d)) == JSON_OBJECT);
    json_doc_free(d);
}

static void test_errors(void) {
    expect_error("", "unexpected end of input: expected a value (object, array, string, "
                     "number, true, false or null) at 1:1");
    expect_error("[1,2", "unexpected end of input: expected ',' or ']' at 1:5");
    expect_error("[1 2]", "expected ',' or ']' at 1:4 (found '2')");
    expect_error("{\"a\":1,}", "expected a string (object key) at 1:8 (found '}')");
    expect_error("[1,]", "expected a value (object, array, string, number, true, false or "
                         "null) at 1:4 (found ']')");
    expect_error("{\"a\" 1}", "expected ':' after object key at 1:6 (found '1')");
    expect_error("{\"a\":1 \"b\":2}", "expected ',' or '}' at 1:8 (found '\"')");
    expect_error("{\n  \"a\": [1,\n    2 x]\n}", "expected ',' or ']' at 3:7 (found 'x')");
    expect_error("1 2", "expected end of input after the value at 1:3 (found '2')");
    expect_error("tru", "expected a value (object, array, string, number, true, false or null) "
                        "at 1:1 (found 't')");
    expect_error("NaN", "expected a value (NaN and Infinity are not JSON) at 1:1 (found 'N')");
    expect_error("[-Infinity]", "expected a value (NaN and Infinity are not JSON) at 1:2 "
                                "(found '-')");
    expect_error("Infinity", "expected a value (NaN and Infinity are not JSON) at 1:1 (found 'I')");
    expect_error("01", "leading zero in number (JSON numbers are decimal) at 1:1 (found '0')");
    expect_error("-01", "leading zero in number (JSON numbers are decimal) at 1:1 (found '-')");
    expect_error("1.", "unexpected end of input: expected a digit after '.' at 1:3");
    expect_error("1.e5", "expected a digit after '.' at 1:3 (found 'e')");
    expect_error(".5", "expected a value (object, array, string, number, true, false or null) "
                       "at 1:1 (found '.')");
    expect_error("-", "unexpected end of input: expected a digit after '-' at 1:2");
    expect_error("1e+", "unexpected end of input: expected a digit in the exponent at 1:4");
    expect_error("+1", "expected a value (object, array, string, number, true, false or null) "
                       "at 1:1 (found '+')");
    expect_error("1e400", "number out of the range of a double at 1:1 (found '1')");
    expect_error("[1]x", "expected end of input after the value at 1:4 (found 'x')");
    expect_error("[\"abc", "unexpected end of input: the string opened at 1:2 is not closed");
    expect_error("\"a\\qb\"", "invalid escape '\\q' in string (expected one of \\\" \\\\ \\/ "
                              "\\b \\f \\n \\r \\t \\uXXXX) at 1:3 (found '\\')");
    expect_error("\"a\\u12G4\"", "expected 4 hex digits after '\\u' at 1:5 (found '1')");
    expect_error("\"\\uDC00\"", "invalid \\u escape: lone low surrogate \\uDC00 at 1:2 "
                                "(found '\\')");
    expect_error("\"\\uD800x\"", "invalid \\u escape: high surrogate \\uD800 not followed by a "
                                 "low surrogate \\uDC00..\\uDFFF at 1:2 (found '\\')");
    expect_error("\"\\uD800\\u0041\"", "invalid \\u escape: high surrogate \\uD800 not "
                                       "followed by a low surrogate \\uDC00..\\uDFFF at 1:2 "
                                       "(found '\\')");
    expect_error("\"a\tb\"", "control character U+0009 in string (must be escaped) at 1:3 "
                             "(found byte 0x09)");
    expect_error("\"\xC3\x28\"", "invalid UTF-8 in string at 1:2 (found byte 0xc3)");
    expect_error("\"\xC0\xAF\"", "invalid UTF-8 in string at 1:2 (found byte 0xc0)");  /* overlong */
    expect_error("\"\xED\xA0\x80\"", "invalid UTF-8 in string at 1:2 (found byte 0xed)"); /* surrogate */
    expect_error("\"\xF4\x90\x80\x80\"", "invalid UTF-8 in string at 1:2 (found byte 0xf4)");
    expect_error("\"\xE2\x82\"", "invalid UTF-8 in string at 1:2 (found byte 0xe2)"); /* cut */
    expect_error("[1,/*c*/2]", "expected a value (object, array, string, number, true, false or "
                               "null) at 1:4 (found '/')");
    expect_error("\xEF\xBB\xBF{}", "expected a value (object, array, string, number, true, "
                                   "false or null) at 1:1 (found byte 0xef)");

    /* a NUL byte inside the text is just a bad byte, not an end */
    json_doc *d = NULL;
    errinfo err;
    CHECK(json_parse("[1,\0]", 5, NULL, &d, &err) == STATUS_INVALID_ARGUMENT && !d);
}

static void test_limits(void) {
    char deep[200];
    json_doc *d = NULL;
    errinfo err;
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    CHECK(json_parse(deep, 128, NULL, &d, &err) == STATUS_OK);
    json_doc_free(d);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    CHECK(json_parse(deep, 130, NULL, &d, &err) == STATUS_INVALID_ARGUMENT);
    CHECK(strcmp(err.msg, "nesting deeper than 64 at 1:65 (found '[')") == 0);
    json_limits lim = {.max_depth = 2};
    CHECK(json_parse("[[1]]", 5, &lim, &d, &err) == STATUS_OK);
    json_doc_free(d);
    CHECK(json_parse("[{\"a\":[]}]", 10, &lim, &d, &err) == STATUS_INVALID_ARGUMENT);
    CHECK(strcmp(err.msg, "nesting deeper than 2 at 1:7 (found '[')") == 0);
    /* very deep nesting with a raised limit: no recursion, no crash */
    size_t n = 200000;
    char *big = malloc(2 * n);
    memset(big, '[', n);
    memset(big + n, ']', n);
    lim.max_depth = 1000000;
    CHECK(json_parse(big, 2 * n, &lim, &d, &err) == STATUS_OK);
    const json_value *v = json_root(d);
    size_t depth = 0;
    while (json_array_size(v) == 1) {
        v = json_array_at(v, 0);
        depth++;
    }
    CHECK(depth == n - 1);
    json_doc_free(d);
    free(big);
    lim = (json_limits){.max_bytes = 4};
    CHECK(json_parse("[1,2]", 5, &lim, &d, &err) == STATUS_TOO_LARGE);
    CHECK(strcmp(err.msg, "JSON text of 5 bytes exceeds the limit of 4") == 0);
    CHECK(json_parse("[12]", 4, &lim, &d, &err) == STATUS_OK);
    json_doc_free(d);
}

static void test_big_array(void) {
    /* an image-sized input: 150528 numbers, O(1) access */
    enum { N = 3 * 224 * 224 };
    json_writer w;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "data");
    float *vals = malloc(N * sizeof *vals);
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1664525u + 1013904223u;
        vals[i] = (float)((seed >> 8) / 16777216.0 * 2 - 1);
    }
    jw_float_array(&w, vals, N);
    jw_end_object(&w);
    size_t len;
    char *text = jw_finish(&w, &len);
    CHECK(text != NULL);
    json_doc *d = NULL;
    errinfo err;
    CHECK(json_parse(text, len, NULL, &d, &err) == STATUS_OK);
    const json_value *data = json_object_get(json_root(d), "data");
    CHECK(json_array_size(data) == N);
    int bad = 0;
    for (int i = 0; i < N; i++)
        if ((float)json_get_number(json_array_at(data, i)) != vals[i]) bad++;
    CHECK(bad == 0);
    json_doc_free(d);
    free(text);
    free(vals);
}

static void test_unicode(void) {
    json_doc *d = parse("[\"\\u00e9\", \"\\ud83d\\ude00\", \"\\u20AC\", \"\xE2\x82\xAC\", "
                        "\"a\\u0000b\", \"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\uFFFF\"]");
    const json_value *a = json_root(d);
    size_t n;
    CHECK(strcmp(json_get_string(json_array_at(a, 0), &n), "\xC3\xA9") == 0 && n == 2);
    CHECK(strcmp(json_get_string(json_array_at(a, 1), &n), "\xF0\x9F\x98\x80") == 0 && n == 4);
    CHECK(strcmp(json_get_string(json_array_at(a, 2), &n), "\xE2\x82\xAC") == 0 && n == 3);
    CHECK(strcmp(json_get_string(json_array_at(a, 3), &n), "\xE2\x82\xAC") == 0 && n == 3);
    const char *s = json_get_string(json_array_at(a, 4), &n);
    CHECK(n == 3 && memcmp(s, "a\0b", 3) == 0 && s[3] == '\0');
    CHECK(strcmp(json_get_string(json_array_at(a, 5), &n), "\"\\/\b\f\n\r\t") == 0 && n == 8);
    CHECK(strcmp(json_get_string(json_array_at(a, 6), &n), "\xEF\xBF\xBF") == 0);
    json_doc_free(d);
    /* keys with escapes, including NUL, are found by length */
    d = parse("{\"k\\u0000x\": 1, \"caf\\u00e9\": 2}");
    CHECK(json_get_int64(json_object_getn(json_root(d), "k\0x", 3)) == 1);
    CHECK(json_get_int64(json_object_get(json_root(d), "caf\xC3\xA9")) == 2);
    CHECK(json_object_key_at(json_root(d), 0, &n) && n == 3);
    json_doc_free(d);
    expect_roundtrip("[\"\\u00e9\\n\\u0001\\\"\"]", "[\"\xC3\xA9\\n\\u0001\\\"\"]");
}

static void test_numbers(void) {
    json_doc *d = parse("[9223372036854775807, -9223372036854775808, 18446744073709551615, "
                        "18446744073709551616, -9223372036854775809, -0, 0, 1.0, 1e3, "
                        "123456789012345678901234567890, 0.1, 5e-324, 1e-400, 2.2250738585072014e-308,"
                        " 1.7976931348623157e308, 0.30000000000000004, 123.456e-2, 1E2, 1e+2]");
    const json_value *a = json_root(d);
    int64_t i;
    uint64_t u;
    CHECK(json_as_int64(json_array_at(a, 0), &i) && i == INT64_MAX);
    CHECK(json_as_int64(json_array_at(a, 1), &i) && i == INT64_MIN);
    CHECK(!json_as_int64(json_array_at(a, 2), &i));
    CHECK(json_as_uint64(json_array_at(a, 2), &u) && u == UINT64_MAX);
    CHECK(json_number_is_integer(json_array_at(a, 2)));
    CHECK(json_get_int64(json_array_at(a, 2)) == INT64_MAX); /* saturated */
    CHECK(!json_number_is_integer(json_array_at(a, 3)));
    CHECK(json_get_number(json_array_at(a, 3)) == 18446744073709551616.0);
    CHECK(json_get_uint64(json_array_at(a, 3)) == UINT64_MAX);
    CHECK(!json_number_is_integer(json_array_at(a, 4)));
    CHECK(json_get_int64(json_array_at(a, 4)) == INT64_MIN);
    CHECK(json_number_is_integer(json_array_at(a, 5)) && json_get_int64(json_array_at(a, 5)) == 0);
    CHECK(signbit(json_get_number(json_array_at(a, 5))));
    CHECK(!signbit(json_get_number(json_array_at(a, 6))));
    CHECK(!json_number_is_integer(json_array_at(a, 7)) && json_get_int64(json_array_at(a, 7)) == 1);
    CHECK(!json_as_int64(json_array_at(a, 8), &i) && json_get_number(json_array_at(a, 8)) == 1000);
    CHECK(json_get_number(json_array_at(a, 9)) == 1.2345678901234568e29);
    CHECK(json_get_number(json_array_at(a, 10)) == 0.1);
    CHECK(json_get_number(json_array_at(a, 11)) == 5e-324);
    CHECK(json_get_number(json_array_at(a, 12)) == 0);
    CHECK(json_get_number(json_array_at(a, 13)) == 2.2250738585072014e-308);
    CHECK(json_get_number(json_array_at(a, 14)) == 1.7976931348623157e308);
    CHECK(json_get_number(json_array_at(a, 15)) == 0.30000000000000004);
    CHECK(json_get_number(json_array_at(a, 16)) == 1.23456);
    CHECK(json_get_number(json_array_at(a, 17)) == 100 && json_get_number(json_array_at(a, 18)) == 100);
    CHECK(!json_as_uint64(json_array_at(a, 1), &u));
    json_doc_free(d);

    /* The fast paths must agree with strtod on many generated literals. */
    uint64_t seed = 88172645463325252ull;
    int mismatches = 0;
    for (int k = 0; k < 200000; k++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        char lit[64];
        int digits = 1 + (int)(seed % 19);
        uint64_t m = seed >> 5;
        int exp = (int)((seed >> 40) % 80) - 40;
        int pos = snprintf(lit, sizeof lit, "%s%llu", (seed & 1) ? "-" : "",
                           (unsigned long long)(m % 10000000000000000000ull));
        (void)digits;
        if (seed & 2) {
            int cut = 1 + (int)((seed >> 20) % 8);
            if (pos - ((seed & 1) ? 1 : 0) > cut + 1 && lit[(seed & 1) ? 1 : 0] != '0') {
                memmove(lit + pos - cut + 1, lit + pos - cut, (size_t)cut + 1);
                lit[pos - cut] = '.';
                pos++;
            }
        }
        if (seed & 4) pos += snprintf(lit + pos, sizeof lit - (size_t)pos, "e%d", exp);
        json_doc *nd = NULL;
        errinfo err;
        if (json_parse(lit, (size_t)pos, NULL, &nd, &err)) {
            printf("failed to parse generated %s: %s\n", lit, err.msg);
            mismatches++;
            continue;
        }
        double want = strtod(lit, NULL);
        double got = json_get_number(json_root(nd));
        if (memcmp(&want, &got, sizeof got) != 0) {
            if (mismatches < 5) printf("%s: got %.17g want %.17g\n", lit, got, want);
            mismatches++;
        }
        json_doc_free(nd);
    }
    CHECK(mismatches == 0);

    /* A very long literal goes to strtod intact. */
    char *longlit = malloc(100003);
    longlit[0] = '0';
    longlit[1] = '.';
    memset(longlit + 2, '3', 100000);
    longlit[100002] = '\0';
    d = parse(longlit);
    CHECK(json_get_number(json_root(d)) == 1.0 / 3);
    json_doc_free(d);
    free(longlit);
}

static void expect_write(json_writer *w, const char *want) {
    size_t n;
    char *out = jw_finish(w, &n);
    checks++;
    if (!out || strcmp(out, want) != 0 || n != strlen(want)) {
        failures++;
        printf("writer: got %s, want %s\n", out ? out : "(null)", want);
    }
    free(out);
}

static void test_writer(void) {
    json_writer w;
    jw_init(&w);
    jw_begin_object(&w);
    jw_key(&w, "model_name");
    jw_cstring(&w, "m\"1\\\n\x01");
    jw_key(&w, "outputs");
    jw_begin_array(&w);
    jw_begin_object(&w);
    jw_key(&w, "shape");
    int64_t shape[] = {1, 3};
    jw_int64_array(&w, shape, 2);
    jw_key(&w, "data");
    float f[] = {0.1f, -2.5f, 3.0f};
    jw_float_array(&w, f, 3);
    jw_end_object(&w);
    jw_null(&w);
    jw_bool(&w, 1);
    jw_bool(&w, 0);
    jw_raw(&w, "{\"x\":[]}", 8);
    jw_end_array(&w);
    jw_key(&w, "e");
    jw_begin_array(&w);
    jw_end_array(&w);
    jw_key(&w, "o");
    jw_begin_object(&w);
    jw_end_object(&w);
    jw_end_object(&w);
    expect_write(&w, "{\"model_name\":\"m\\\"1\\\\\\n\\u0001\",\"outputs\":[{\"shape\":[1,3],"
                     "\"data\":[0.1,-2.5,3]},null,true,false,{\"x\":[]}],\"e\":[],\"o\":{}}");

    jw_init(&w);
    jw_begin_array(&w);
    jw_int64(&w, INT64_MIN);
    jw_int64(&w, INT64_MAX);
    jw_uint64(&w, UINT64_MAX);
    jw_int64(&w, 0);
    jw_double(&w, 0.1);
    jw_double(&w, 1.0 / 3);
    jw_double(&w, -0.0);
    jw_double(&w, 1e300);
    jw_double(&w, 5e-324);
    jw_double(&w, 123456789.0);
    jw_double(&w, NAN);
    jw_double(&w, INFINITY);
    jw_double(&w, -INFINITY);
    jw_float(&w, 0.1f);
    jw_float(&w, 16777216.0f);
    jw_float(&w, 1.17549435e-38f);
    jw_float(&w, 3.4028235e38f);
    jw_float(&w, -NAN);
    jw_end_array(&w);
    expect_write(&w, "[-9223372036854775808,9223372036854775807,18446744073709551615,0,0.1,"
                     "0.3333333333333333,-0,1e+300,4.94065645841247e-324,123456789,\"nan\","
                     "\"inf\",\"-inf\",0.1,16777216,1.1754944e-38,3.4028235e+38,\"nan\"]");

    jw_init(&w);
    int8_t i8[] = {-128, 127};
    uint8_t u8[] = {0, 255};
    int16_t i16[] = {-32768};
    uint16_t u16[] = {65535};
    int32_t i32[] = {INT32_MIN};
    uint32_t u32[] = {UINT32_MAX};
    uint64_t u64[] = {UINT64_MAX, 0};
    double d64[] = {2.5, 1e-7};
    uint8_t b[] = {1, 0, 7};
    jw_begin_array(&w);
    jw_int8_array(&w, i8, 2);
    jw_uint8_array(&w, u8, 2);
    jw_int16_array(&w, i16, 1);
    jw_uint16_array(&w, u16, 1);
    jw_int32_array(&w, i32, 1);
    jw_uint32_array(&w, u32, 1);
    jw_uint64_array(&w, u64, 2);
    jw_double_array(&w, d64, 2);
    jw_bool_array(&w, b, 3);
    jw_float_array(&w, NULL, 0);
    jw_end_array(&w);
    expect_write(&w, "[[-128,127],[0,255],[-32768],[65535],[-2147483648],[4294967295],"
                     "[18446744073709551615,0],[2.5,1e-07],[true,false,true],[]]");

    /* Shortest round trip on random bit patterns. */
    uint64_t seed = 2463534242ull;
    int bad = 0;
    for (int k = 0; k < 100000; k++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        double dv;
        memcpy(&dv, &seed, sizeof dv);
        uint32_t fb = (uint32_t)(seed >> 16);
        float fv;
        memcpy(&fv, &fb, sizeof fv);
        jw_init(&w);
        jw_double(&w, dv);
        jw_float(&w, fv);
        char *out = jw_finish(&w, NULL);
        char *comma = strchr(out, ',');
        if (isfinite(dv) && strtod(out, NULL) != dv) bad++;
        if (isfinite(fv) && strtof(comma + 1, NULL) != fv) bad++;
        free(out);
    }
    CHECK(bad == 0);

    /* jw_deinit of an abandoned writer; jw_finish of an empty one */
    jw_init(&w);
    jw_begin_array(&w);
    jw_deinit(&w);
    jw_init(&w);
    expect_write(&w, "");
}

int main(void) {
    test_values();
    test_errors();
    test_limits();
    test_big_array();
    test_unicode();
    test_numbers();
    test_writer();
    expect_roundtrip("{\"a\":[1,2.5,\"x\",{\"b\":null}],\"c\":true}",
                     "{\"a\":[1,2.5,\"x\",{\"b\":null}],\"c\":true}");
    expect_roundtrip(" [ -0.0 , 1E-2 , 18446744073709551615 ] ", "[-0,0.01,18446744073709551615]");
    printf("test_json: %d checks, %d failures\n", checks, failures);
    return failures != 0;
}
