/* fuzz_json.c -- libFuzzer target for the JSON parser and writer.
 *
 * Any input: parsing must not crash or leak. A document that parses is
 * written back with json_writer and parsed again, and both trees must be
 * equal (numbers bit-exact, strings byte-exact), which checks the writer's
 * escaping and shortest round-trip number formatting too.
 *
 *     cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DINFERD_FUZZ=ON
 *     cmake --build build-fuzz --target fuzz_json
 *     build-fuzz/fuzz_json -max_total_time=60 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

/* jw_float must read back exactly; its fast path is exercised here. */
static void check_float(double x) {
    if (!(fabs(x) <= FLT_MAX)) return;
    float f = (float)x;
    json_writer w;
    jw_init(&w);
    jw_float(&w, f);
    char *s = jw_finish(&w, NULL);
    if (!s || strtof(s, NULL) != f) abort();
    free(s);
}

static void write_value(json_writer *w, const json_value *v) {
    switch (json_type_of(v)) {
    case JSON_NULL: jw_null(w); break;
    case JSON_BOOL: jw_bool(w, json_get_bool(v)); break;
    case JSON_NUMBER: {
        int64_t i;
        if (json_as_int64(v, &i)) jw_int64(w, i);
        else if (json_number_is_integer(v)) jw_uint64(w, json_get_uint64(v));
        else jw_double(w, json_get_number(v));
        check_float(json_get_number(v));
        break;
    }
    case JSON_STRING: {
        size_t n;
        const char *s = json_get_string(v, &n);
        jw_string(w, s, n);
        break;
    }
    case JSON_ARRAY:
        jw_begin_array(w);
        for (int64_t k = 0; k < json_array_size(v); k++) write_value(w, json_array_at(v, k));
        jw_end_array(w);
        break;
    case JSON_OBJECT:
        jw_begin_object(w);
        for (int k = 0; k < json_object_size(v); k++) {
            size_t n;
            const char *key = json_object_key_at(v, k, &n);
            jw_keyn(w, key, n);
            write_value(w, json_object_value_at(v, k));
        }
        jw_end_object(w);
        break;
    case JSON_NONE: abort();
    }
}

static int same(const json_value *a, const json_value *b) {
    json_type t = json_type_of(a);
    if (t != json_type_of(b)) return 0;
    switch (t) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return json_get_bool(a) == json_get_bool(b);
    case JSON_NUMBER: {
        /* 3e2 is written as 300, which reads back as an integer: compare
         * integers exactly and everything else as doubles, bit for bit. */
        if (json_number_is_integer(a) && json_number_is_integer(b))
            return json_get_uint64(a) == json_get_uint64(b) &&
                   json_get_int64(a) == json_get_int64(b);
        double x = json_get_number(a), y = json_get_number(b);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    case JSON_STRING: {
        size_t n, m;
        const char *s = json_get_string(a, &n), *u = json_get_string(b, &m);
        return n == m && memcmp(s, u, n) == 0 && s[n] == '\0';
    }
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (int64_t k = 0; k < json_array_size(a); k++)
            if (!same(json_array_at(a, k), json_array_at(b, k))) return 0;
        return 1;
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b)) return 0;
        for (int k = 0; k < json_object_size(a); k++) {
            size_t n, m;
            const char *ka = json_object_key_at(a, k, &n), *kb = json_object_key_at(b, k, &m);
            if (n != m || memcmp(ka, kb, n) != 0) return 0;
            if (!same(json_object_value_at(a, k), json_object_value_at(b, k))) return 0;
        }
        return 1;
    case JSON_NONE: return 0;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_limits lim = {.max_depth = 64, .max_bytes = 1 << 20};
    json_doc *doc = NULL;
    errinfo err;
    if (json_parse((const char *)data, size, &lim, &doc, &err)) {
        if (doc || !memchr(err.msg, '\0', sizeof err.msg)) abort();
        return 0;
    }
    json_writer w;
    jw_init(&w);
    write_value(&w, json_root(doc));
    size_t len;
    char *text = jw_finish(&w, &len);
    if (!text) abort();
    json_doc *again = NULL;
    if (json_parse(text, len, NULL, &again, &err)) abort(); /* the writer wrote bad JSON */
    if (!same(json_root(doc), json_root(again))) abort();
    json_doc_free(again);
    json_doc_free(doc);
    free(text);
    return 0;
}
