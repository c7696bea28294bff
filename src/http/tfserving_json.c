/* tfserving_json.c -- TF Serving predict requests and responses in JSON. */
#include "tfserving_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "engine/dtype.h"
#include "http/kserve_data.h"
#include "serve/datatype.h"

const char *tfserving_dtype_name(engine_dtype dt) {
    switch (dt) {
    case ENGINE_FLOAT: return "DT_FLOAT";
    case ENGINE_DOUBLE: return "DT_DOUBLE";
    case ENGINE_FLOAT16: return "DT_HALF";
    case ENGINE_BFLOAT16: return "DT_BFLOAT16";
    case ENGINE_INT8: return "DT_INT8";
    case ENGINE_INT16: return "DT_INT16";
    case ENGINE_INT32: return "DT_INT32";
    case ENGINE_INT64: return "DT_INT64";
    case ENGINE_UINT8: return "DT_UINT8";
    case ENGINE_UINT16: return "DT_UINT16";
    case ENGINE_UINT32: return "DT_UINT32";
    case ENGINE_UINT64: return "DT_UINT64";
    case ENGINE_BOOL: return "DT_BOOL";
    case ENGINE_STRING: return "DT_STRING";
    default: return "DT_INVALID";
    }
}

/* ---- reading values --------------------------------------------------------------- */

/* {"b64": "<string>"} and nothing else. */
static bool is_b64_object(const json_value *v) {
    return json_type_of(v) == JSON_OBJECT && json_object_size(v) == 1 &&
           json_type_of(json_object_get(v, "b64")) == JSON_STRING;
}

/* An object naming tensors (as opposed to a value). */
static bool is_named_object(const json_value *v) {
    return json_type_of(v) == JSON_OBJECT && !is_b64_object(v);
}

/* One tensor being filled from JSON values. */
typedef struct filler {
    const char *name;
    engine_dtype dt;
    engine_shape item;          /* shape of one value (the whole tensor in columnar) */
    unsigned char *buf;         /* elements, then decoded b64 strings */
    int64_t n;                  /* elements stored */
    unsigned char *blob;        /* where the next decoded string goes */
    errinfo *err;
} filler;

/* TF's dense shape of a value: the lengths of the first list at each level. */
static status value_shape(const json_value *v, const char *name, engine_shape *s, errinfo *err) {
    s->rank = 0;
    while (json_type_of(v) == JSON_ARRAY) {
        if (s->rank == ENGINE_MAX_RANK)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "input '%s': lists nested deeper than %d levels", name,
                               ENGINE_MAX_RANK);
        int64_t n = json_array_size(v);
        s->dims[s->rank++] = n;
        if (!n) break;
        v = json_array_at(v, 0);
    }
    return STATUS_OK;
}

static status store_string(filler *f, const json_value *v) {
    engine_string *s = &((engine_string *)f->buf)[f->n];
    if (json_type_of(v) == JSON_STRING) {
        s->ptr = json_get_string(v, &s->len);
        return STATUS_OK;
    }
    if (!is_b64_object(v))
        return status_fail(f->err, STATUS_INVALID_ARGUMENT,
                           "input '%s': element %lld is %s, expected a string or {\"b64\": "
                           "\"<base64>\"}", f->name, (long long)f->n,
                           json_type_name(json_type_of(v)));
    size_t len, got;
    const char *text = json_get_string(json_object_get(v, "b64"), &len);
    if (base64_decode(text, len, f->blob, &got))
        return status_fail(f->err, STATUS_INVALID_ARGUMENT,
                           "input '%s': element %lld: \"b64\" is not valid base64", f->name,
                           (long long)f->n);
    *s = (engine_string){.ptr = (const char *)f->blob, .len = got};
    f->blob += got;
    return STATUS_OK;
}

/* Stores the leaves of v, checking that it is dense with f->item's shape. */
static status fill(filler *f, const json_value *v, int level) {
    int rank = f->item.rank;
    if (json_type_of(v) != JSON_ARRAY) {
        if (level != rank)
            return status_fail(f->err, STATUS_INVALID_ARGUMENT,
                               "input '%s': a %s at nesting level %d where the shape (from the "
                               "first elements) has %d levels: lists must be dense", f->name,
                               json_type_name(json_type_of(v)), level, rank);
        status st = !f->buf ? STATUS_OK
                    : f->dt == ENGINE_STRING ? store_string(f, v)
                    : kserve_data_store(v, f->dt, f->buf, f->n, f->name, f->err);
        if (!st) f->n++;
        return st;
    }
    if (level >= rank)
        return status_fail(f->err, STATUS_INVALID_ARGUMENT,
                           "input '%s': a list at nesting level %d, deeper than the shape (from "
                           "the first elements) has", f->name, level);
    int64_t n = json_array_size(v);
    if (n != f->item.dims[level])
        return status_fail(f->err, STATUS_INVALID_ARGUMENT,
                           "input '%s': a list of %lld elements at level %d, expected %lld "
                           "like the first one: lists must be dense", f->name, (long long)n,
                           level, (long long)f->item.dims[level]);
    for (int64_t i = 0; i < n; i++) {
        status st = fill(f, json_array_at(v, i), level + 1);
        if (st) return st;
    }
    return STATUS_OK;
}

/* Room the b64 strings under v need once decoded. */
static size_t b64_room(const json_value *v) {
    if (is_b64_object(v)) {
        size_t len;
        json_get_string(json_object_get(v, "b64"), &len);
        return base64_decoded_max(len);
    }
    size_t n = 0;
    for (int64_t i = 0; i < json_array_size(v); i++) n += b64_room(json_array_at(v, i));
    return n;
}

/* The values of one input: items[k] for k < n (row format), or the one
 * value (columnar, n = 1, stacked = 0). */
typedef struct input_values {
    const serve_io *io;
    const json_value *const *items;
    int64_t n;
    bool stacked;               /* row format: add a leading dim of n */
} input_values;

static bool same_shape(const engine_shape *a, const engine_shape *b) {
    if (a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return false;
    return true;
}

/* Leaf values under v (a b64 object is one). */
static int64_t count_leaves(const json_value *v) {
    if (json_type_of(v) != JSON_ARRAY) return 1;
    int64_t n = 0;
    for (int64_t i = 0; i < json_array_size(v); i++) n += count_leaves(json_array_at(v, i));
    return n;
}

/* Every item must have the first one's shape; *leaves counts their values. */
static status check_items(const input_values *iv, const engine_shape *first, int64_t *leaves,
                          errinfo *err) {
    const char *name = iv->io->name;
    *leaves = 0;
    for (int64_t k = 0; k < iv->n; k++) {
        engine_shape s;
        status st = value_shape(iv->items[k], name, &s, err);
        if (st) return st;
        if (!same_shape(first, &s)) {
            char a[128], b[128];
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "input '%s': instance %lld has shape %s, but the first has %s "
                               "(use the columnar \"inputs\" format for ragged inputs)", name,
                               (long long)k, serve_dims_format(a, sizeof a, s.rank, s.dims),
                               serve_dims_format(b, sizeof b, first->rank, first->dims));
        }
        *leaves += count_leaves(iv->items[k]);
    }
    return STATUS_OK;
}

/* Fills f from every item (f->buf NULL: checks the structure only). */
static status fill_items(filler *f, const input_values *iv) {
    for (int64_t k = 0; k < iv->n; k++) {
        status st = fill(f, iv->items[k], 0);
        if (st) return st;
    }
    return STATUS_OK;
}

static status add_tensor(serve_request *r, const input_values *iv, errinfo *err) {
    filler f = {.name = iv->io->name, .dt = iv->io->dtype, .err = err};
    int64_t leaves;
    status st = value_shape(iv->items[0], f.name, &f.item, err);
    if (!st) st = check_items(iv, &f.item, &leaves, err);
    if (st) return st;
    engine_shape shape = {.rank = f.item.rank + iv->stacked};
    if (shape.rank > ENGINE_MAX_RANK)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "input '%s': more than %d dims",
                           f.name, ENGINE_MAX_RANK);
    if (iv->stacked) shape.dims[0] = iv->n;
    memcpy(shape.dims + iv->stacked, f.item.dims, sizeof f.item.dims[0] * (size_t)f.item.rank);
    int64_t numel = engine_shape_numel(&shape);
    if (numel != leaves) {
        /* Not dense. A structure-only pass says where, before the shape's
         * element count (which may be huge) is allocated. */
        if ((st = fill_items(&f, iv))) return st;
        return status_fail(err, STATUS_INVALID_ARGUMENT, "input '%s': the lists are not dense",
                           f.name);
    }
    size_t esize = serve_datatype_size(f.dt), room = 0;
    if (!esize)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "input '%s': unsupported datatype", f.name);
    for (int64_t k = 0; f.dt == ENGINE_STRING && k < iv->n; k++) room += b64_room(iv->items[k]);
    /* One allocation: the elements, then the decoded b64 strings they point to. */
    if (!(f.buf = malloc((size_t)numel * esize + room + 1)))
        return status_fail(err, STATUS_NO_MEMORY, "input '%s': out of memory", f.name);
    f.blob = f.buf + (size_t)numel * esize;
    if ((st = fill_items(&f, iv))) {
        free(f.buf);
        return st;
    }
    return serve_request_add_input(r, f.name, f.dt, &shape, f.buf, (size_t)numel * esize, true, err);
}

/* ---- row format --------------------------------------------------------------------- */

static void input_list(const serve_model_meta *meta, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < meta->n_inputs && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", meta->inputs[i].name);
}

/* Each object of "instances" must name every input exactly once. */
static status check_instance_keys(const json_value *obj, int64_t k, const serve_model_meta *meta,
                                  errinfo *err) {
    char names[256];
    input_list(meta, names, sizeof names);
    for (int i = 0; i < json_object_size(obj); i++) {
        const char *key = json_object_key_at(obj, i, NULL);
        if (serve_meta_find_input(meta, key) < 0)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "instance %lld names '%.64s', which is not an input of the model "
                               "(its inputs: %s)", (long long)k, key, names);
    }
    for (int i = 0; i < meta->n_inputs; i++)
        if (!json_object_get(obj, meta->inputs[i].name))
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "instance %lld has no value for input '%s' (its inputs: %s)",
                               (long long)k, meta->inputs[i].name, names);
    if (json_object_size(obj) != meta->n_inputs)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "instance %lld names an input twice",
                           (long long)k);
    return STATUS_OK;
}

static status check_instances(const json_value *inst, bool objects, const serve_model_meta *meta,
                              errinfo *err) {
    for (int64_t k = 0; k < json_array_size(inst); k++) {
        const json_value *e = json_array_at(inst, k);
        if (objects != is_named_object(e))
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "instance %lld is %s, but instance 0 is %s: the instances must be "
                               "all objects of named inputs or all values", (long long)k,
                               objects ? "a value" : "an object", objects ? "an object" : "a value");
        status st = objects ? check_instance_keys(e, k, meta, err) : STATUS_OK;
        if (st) return st;
    }
    return STATUS_OK;
}

static status parse_rows(const json_value *inst, const serve_model_meta *meta, serve_request *r,
                         errinfo *err) {
    if (json_type_of(inst) != JSON_ARRAY)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "expecting 'instances' to be a list");
    int64_t n = json_array_size(inst);
    if (!n) return status_fail(err, STATUS_INVALID_ARGUMENT, "no values in 'instances' list");
    bool objects = is_named_object(json_array_at(inst, 0));
    if (!objects && meta->n_inputs > 1) {
        char names[256];
        input_list(meta, names, sizeof names);
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "'instances' is a plain list, but the model has %d inputs (%s): make "
                           "each instance an object naming them", meta->n_inputs, names);
    }
    status st = check_instances(inst, objects, meta, err);
    if (st) return st;
    const json_value **items = malloc((size_t)n * sizeof *items);
    if (!items) return status_fail(err, STATUS_NO_MEMORY, "out of memory parsing 'instances'");
    for (int i = 0; i < meta->n_inputs && !st; i++) {
        const serve_io *io = &meta->inputs[i];
        for (int64_t k = 0; k < n; k++) {
            const json_value *e = json_array_at(inst, k);
            items[k] = objects ? json_object_get(e, io->name) : e;
        }
        input_values iv = {.io = io, .items = items, .n = n, .stacked = true};
        st = add_tensor(r, &iv, err);
    }
    free(items);
    return st;
}

/* ---- columnar format ---------------------------------------------------------------- */

static status parse_columns(const json_value *v, const serve_model_meta *meta, serve_request *r,
                            errinfo *err) {
    char names[256];
    input_list(meta, names, sizeof names);
    if (!is_named_object(v)) {
        if (meta->n_inputs > 1)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "'inputs' is a plain value or list, but the model has %d inputs "
                               "(%s): make it an object naming them", meta->n_inputs, names);
        input_values iv = {.io = &meta->inputs[0], .items = &v, .n = 1};
        return add_tensor(r, &iv, err);
    }
    for (int i = 0; i < json_object_size(v); i++) {
        const char *key = json_object_key_at(v, i, NULL);
        if (serve_meta_find_input(meta, key) < 0)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "'inputs' names '%.64s', which is not an input of the model (its "
                               "inputs: %s)", key, names);
    }
    for (int i = 0; i < meta->n_inputs; i++) {
        const json_value *item = json_object_get(v, meta->inputs[i].name);
        if (!item)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "missing named input: '%s' in 'inputs' object", meta->inputs[i].name);
        input_values iv = {.io = &meta->inputs[i], .items = &item, .n = 1};
        status st = add_tensor(r, &iv, err);
        if (st) return st;
    }
    return STATUS_OK;
}

static status check_signature(const json_value *root, errinfo *err) {
    const json_value *sig = json_object_get(root, "signature_name");
    if (!sig) return STATUS_OK;
    const char *s = json_get_string(sig, NULL);
    if (!s)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "'signature_name' key must be a string value");
    if (s[0] && strcmp(s, "serving_default"))
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "Serving signature name: \"%.64s\" not found in signature def (an ONNX "
                           "model has one signature, \"serving_default\")", s);
    return STATUS_OK;
}

static status parse_root(const json_value *root, const serve_model_meta *meta, serve_request *r,
                         tfserving_format *format, errinfo *err) {
    if (json_type_of(root) != JSON_OBJECT)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "the request body must be a JSON object");
    status st = check_signature(root, err);
    if (st) return st;
    if (meta->n_inputs < 1)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "the model has no inputs");
    const json_value *inst = json_object_get(root, "instances");
    const json_value *inputs = json_object_get(root, "inputs");
    if (inst && inputs)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "expecting only one of 'inputs' or 'instances' keys to exist");
    if (inst) {
        *format = TFSERVING_ROW;
        return parse_rows(inst, meta, r, err);
    }
    if (inputs) {
        *format = TFSERVING_COLUMNAR;
        return parse_columns(inputs, meta, r, err);
    }
    return status_fail(err, STATUS_INVALID_ARGUMENT, "missing 'inputs' or 'instances' key");
}

status tfserving_predict_parse(const char *body, size_t len, const serve_model_meta *meta,
                               serve_request *r, tfserving_wire *wire, errinfo *err) {
    memset(wire, 0, sizeof *wire);
    if (!len)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "JSON Parse error: The document is empty");
    status st = json_parse(body, len, NULL, &wire->doc, err);
    if (st) {
        status_wrap(err, st, "JSON Parse error");
        return st;
    }
    if ((st = parse_root(json_root(wire->doc), meta, r, &wire->format, err)))
        tfserving_wire_deinit(wire);
    return st;
}

void tfserving_wire_deinit(tfserving_wire *wire) {
    json_doc_free(wire->doc);
    memset(wire, 0, sizeof *wire);
}

/* ---- writing values ------------------------------------------------------------------- */

/* As TF Serving's WriteDecimal: %g when it reads back exactly, else full
 * precision; whole numbers get ".0"; NaN and Infinity as bare tokens. */
static void write_decimal(json_writer *w, double v, bool single) {
    char buf[48];
    if (isnan(v)) snprintf(buf, sizeof buf, "NaN");
    else if (isinf(v)) snprintf(buf, sizeof buf, "%sInfinity", v < 0 ? "-" : "");
    else {
        snprintf(buf, sizeof buf, "%g", v);
        if (single ? strtof(buf, NULL) != (float)v : strtod(buf, NULL) != v)
            snprintf(buf, sizeof buf, "%.*g", single ? 9 : 17, v);
        if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    }
    jw_raw(w, buf, strlen(buf));
}

static status write_string(json_writer *w, const engine_string *s, bool as_bytes, errinfo *err) {
    const char *p = s->ptr ? s->ptr : "";
    if (!as_bytes && kserve_data_is_utf8(p, s->len)) {
        jw_string(w, p, s->len);
        return STATUS_OK;
    }
    char *text = malloc(base64_encoded_len(s->len) + 1);
    if (!text) return status_fail(err, STATUS_NO_MEMORY, "out of memory writing the response");
    base64_encode(p, s->len, text);
    jw_begin_object(w);
    jw_key(w, "b64");
    jw_string(w, text, base64_encoded_len(s->len));
    jw_end_object(w);
    free(text);
    return STATUS_OK;
}

static bool name_is_bytes(const char *name) {
    size_t n = strlen(name);
    return n >= 6 && !strcmp(name + n - 6, "_bytes");
}

static status write_element(json_writer *w, const serve_tensor *t, int64_t i, errinfo *err) {
    switch (t->dtype) {
    case ENGINE_FLOAT: case ENGINE_FLOAT16: case ENGINE_BFLOAT16:
        write_decimal(w, dtype_load_double(t->dtype, t->data, i), true);
        break;
    case ENGINE_DOUBLE: write_decimal(w, ((const double *)t->data)[i], false); break;
    case ENGINE_UINT64: jw_uint64(w, ((const uint64_t *)t->data)[i]); break;
    case ENGINE_BOOL: jw_bool(w, ((const unsigned char *)t->data)[i]); break;
    case ENGINE_STRING:
        return write_string(w, &((const engine_string *)t->data)[i], name_is_bytes(t->name), err);
    default:
        if (!dtype_is_int(t->dtype))
            return status_fail(err, STATUS_INTERNAL, "output '%s': datatype %s cannot be written",
                               t->name, serve_datatype_name(t->dtype));
        jw_int64(w, dtype_load_int64(t->dtype, t->data, i));
    }
    return STATUS_OK;
}

/* The nested lists of t from dimension `dim` on, starting at element *at. */
static status write_nested(json_writer *w, const serve_tensor *t, int dim, int64_t *at,
                           errinfo *err) {
    if (dim == t->shape.rank) return write_element(w, t, (*at)++, err);
    jw_begin_array(w);
    for (int64_t i = 0; i < t->shape.dims[dim]; i++) {
        status st = write_nested(w, t, dim + 1, at, err);
        if (st) return st;
    }
    jw_end_array(w);
    return STATUS_OK;
}

/* Row format: every output is split along its first dim, the batch. */
static status check_batch(const serve_request *r, errinfo *err) {
    int64_t batch = -1;
    for (int i = 0; i < serve_request_output_count(r); i++) {
        const serve_tensor *t = serve_request_output(r, i);
        if (t->shape.rank < 1)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "output '%s' is a scalar, so it cannot be split into "
                               "'predictions' per instance: use the columnar \"inputs\" format",
                               t->name);
        if (batch >= 0 && t->shape.dims[0] != batch)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "output '%s' has batch size %lld, expecting %lld like the first "
                               "output: use the columnar \"inputs\" format", t->name,
                               (long long)t->shape.dims[0], (long long)batch);
        batch = t->shape.dims[0];
    }
    return STATUS_OK;
}

static status write_rows(json_writer *w, const serve_request *r, errinfo *err) {
    int n = serve_request_output_count(r);
    status st = check_batch(r, err);
    if (st) return st;
    int64_t *at = calloc((size_t)n + 1, sizeof *at);
    if (!at) return status_fail(err, STATUS_NO_MEMORY, "out of memory writing the response");
    int64_t batch = n ? serve_request_output(r, 0)->shape.dims[0] : 0;
    jw_key(w, "predictions");
    jw_begin_array(w);
    for (int64_t b = 0; b < batch && !st; b++) {
        if (n > 1) jw_begin_object(w);
        for (int i = 0; i < n && !st; i++) {
            const serve_tensor *t = serve_request_output(r, i);
            if (n > 1) jw_key(w, t->name);
            st = write_nested(w, t, 1, &at[i], err);
        }
        if (n > 1) jw_end_object(w);
    }
    jw_end_array(w);
    free(at);
    return st;
}

static status write_columns(json_writer *w, const serve_request *r, errinfo *err) {
    int n = serve_request_output_count(r);
    status st = STATUS_OK;
    jw_key(w, "outputs");
    if (n > 1) jw_begin_object(w);
    for (int i = 0; i < n && !st; i++) {
        const serve_tensor *t = serve_request_output(r, i);
        int64_t at = 0;
        if (n > 1) jw_key(w, t->name);
        st = write_nested(w, t, 0, &at, err);
    }
    if (n > 1) jw_end_object(w);
    return st;
}

status tfserving_predict_response(const serve_request *r, tfserving_format format, char **body,
                                  size_t *len, errinfo *err) {
    if (serve_request_output_count(r) < 1)
        return status_fail(err, STATUS_INTERNAL, "the model produced no outputs");
    json_writer w;
    jw_init(&w);
    jw_begin_object(&w);
    status st = format == TFSERVING_ROW ? write_rows(&w, r, err) : write_columns(&w, r, err);
    jw_end_object(&w);
    if (st) {
        jw_deinit(&w);
        return st;
    }
    if (!(*body = jw_finish(&w, len)))
        return status_fail(err, STATUS_NO_MEMORY, "out of memory writing the response");
    return STATUS_OK;
}
