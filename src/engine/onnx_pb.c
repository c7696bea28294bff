/* onnx_pb.c -- table-driven protobuf wire-format decoder for onnx.proto.
 *
 * Each message type is described by a table of (field number, kind, offset
 * in the view struct). One generic routine decodes any message in two passes
 * over its bytes: the first validates every field's framing and counts the
 * elements of repeated fields, so arrays are allocated once at their exact
 * size; the second fills them. Protobuf allows a repeated scalar to arrive
 * packed, unpacked, or both; counting first handles every mix. */
#include "onnx_pb.h"

#include <stdio.h>
#include <string.h>

enum pb_wire { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

typedef enum pb_kind {
    K_INT64, K_INT32, K_FLOAT, K_BYTES, K_MSG,            /* singular */
    K_R_INT64, K_R_INT32, K_R_UINT64, K_R_FLOAT, K_R_DOUBLE, /* repeated scalars */
    K_R_BYTES, K_R_MSG,                                    /* repeated LEN */
    K_SEEN                                                 /* only counted */
} pb_kind;

#define PB_STR2(x) #x
#define PB_STR(x) PB_STR2(x)
#define NO_COUNT ((size_t)-1)
#define PB_MAX_FIELDS 24

struct pb_msg_desc;

typedef struct pb_field_desc {
    uint32_t num;
    pb_kind kind;
    const char *name;
    size_t off;                     /* value, or the array pointer */
    size_t count_off;               /* size_t occurrence/element count */
    const struct pb_msg_desc *msg;  /* K_MSG, K_R_MSG */
} pb_field_desc;

typedef struct pb_msg_desc {
    const char *name;
    size_t size;
    const pb_field_desc *fields;
    size_t n_fields;
} pb_msg_desc;

/* --- message tables (field numbers from onnx.proto) ---------------------- */

#define F(T, num, kind, f)       {num, kind, #f, offsetof(T, f), NO_COUNT, NULL}
#define FH(T, num, kind, f)      {num, kind, #f, offsetof(T, f), offsetof(T, has_##f), NULL}
#define FM(T, num, f, sub)       {num, K_MSG, #f, offsetof(T, f), NO_COUNT, &sub}
#define FR(T, num, kind, f)      {num, kind, #f, offsetof(T, f), offsetof(T, n_##f), NULL}
#define FRM(T, num, f, sub)      {num, K_R_MSG, #f, offsetof(T, f), offsetof(T, n_##f), &sub}
#define FSEEN(T, num, name, cnt) {num, K_SEEN, name, 0, offsetof(T, cnt), NULL}
#define MSG(var, pname, T, tbl) \
    static const pb_msg_desc var = {pname, sizeof(T), tbl, sizeof tbl / sizeof tbl[0]}

static const pb_msg_desc tensor_desc, graph_desc;

static const pb_field_desc entry_fields[] = {
    F(pb_string_entry, 1, K_BYTES, key),
    F(pb_string_entry, 2, K_BYTES, value),
};
MSG(entry_desc, "StringStringEntryProto", pb_string_entry, entry_fields);

static const pb_field_desc tensor_fields[] = {
    FR(pb_tensor, 1, K_R_INT64, dims),
    F(pb_tensor, 2, K_INT32, data_type),
    FSEEN(pb_tensor, 3, "segment", has_segment),
    FR(pb_tensor, 4, K_R_FLOAT, float_data),
    FR(pb_tensor, 5, K_R_INT32, int32_data),
    FR(pb_tensor, 6, K_R_BYTES, string_data),
    FR(pb_tensor, 7, K_R_INT64, int64_data),
    F(pb_tensor, 8, K_BYTES, name),
    FH(pb_tensor, 9, K_BYTES, raw_data),
    FR(pb_tensor, 10, K_R_DOUBLE, double_data),
    FR(pb_tensor, 11, K_R_UINT64, uint64_data),
    FRM(pb_tensor, 13, external_data, entry_desc),
    F(pb_tensor, 14, K_INT32, data_location),
};
static const pb_msg_desc tensor_desc = {"TensorProto", sizeof(pb_tensor), tensor_fields,
                                        sizeof tensor_fields / sizeof tensor_fields[0]};

static const pb_field_desc dim_fields[] = {
    FH(pb_dim, 1, K_INT64, dim_value),
    FH(pb_dim, 2, K_BYTES, dim_param),
};
MSG(dim_desc, "TensorShapeProto.Dimension", pb_dim, dim_fields);

static const pb_field_desc shape_fields[] = {
    FRM(pb_shape, 1, dim, dim_desc),
};
MSG(shape_desc, "TensorShapeProto", pb_shape, shape_fields);

static const pb_field_desc tensor_type_fields[] = {
    F(pb_tensor_type, 1, K_INT32, elem_type),
    FM(pb_tensor_type, 2, shape, shape_desc),
};
MSG(tensor_type_desc, "TypeProto.Tensor", pb_tensor_type, tensor_type_fields);

static const pb_field_desc type_fields[] = {
    FM(pb_type, 1, tensor_type, tensor_type_desc),
    FSEEN(pb_type, 4, "sequence_type", has_sequence_type),
    FSEEN(pb_type, 5, "map_type", has_map_type),
    FSEEN(pb_type, 8, "sparse_tensor_type", has_sparse_tensor_type),
    FSEEN(pb_type, 9, "optional_type", has_optional_type),
};
MSG(type_desc, "TypeProto", pb_type, type_fields);

static const pb_field_desc value_info_fields[] = {
    F(pb_value_info, 1, K_BYTES, name),
    FM(pb_value_info, 2, type, type_desc),
};
MSG(value_info_desc, "ValueInfoProto", pb_value_info, value_info_fields);

static const pb_field_desc attr_fields[] = {
    F(pb_attr, 1, K_BYTES, name),
    FH(pb_attr, 2, K_FLOAT, f),
    FH(pb_attr, 3, K_INT64, i),
    FH(pb_attr, 4, K_BYTES, s),
    FM(pb_attr, 5, t, tensor_desc),
    FM(pb_attr, 6, g, graph_desc),
    FR(pb_attr, 7, K_R_FLOAT, floats),
    FR(pb_attr, 8, K_R_INT64, ints),
    FR(pb_attr, 9, K_R_BYTES, strings),
    FRM(pb_attr, 10, tensors, tensor_desc),
    FRM(pb_attr, 11, graphs, graph_desc),
    FSEEN(pb_attr, 14, "tp", has_tp),
    FSEEN(pb_attr, 15, "type_protos", n_type_protos),
    FH(pb_attr, 20, K_INT32, type),
    FH(pb_attr, 21, K_BYTES, ref_attr_name),
    FSEEN(pb_attr, 22, "sparse_tensor", has_sparse_tensor),
    FSEEN(pb_attr, 23, "sparse_tensors", n_sparse_tensors),
};
MSG(attr_desc, "AttributeProto", pb_attr, attr_fields);

static const pb_field_desc node_fields[] = {
    FR(pb_node, 1, K_R_BYTES, input),
    FR(pb_node, 2, K_R_BYTES, output),
    F(pb_node, 3, K_BYTES, name),
    F(pb_node, 4, K_BYTES, op_type),
    FRM(pb_node, 5, attribute, attr_desc),
    F(pb_node, 7, K_BYTES, domain),
};
MSG(node_desc, "NodeProto", pb_node, node_fields);

static const pb_field_desc graph_fields[] = {
    FRM(pb_graph, 1, node, node_desc),
    F(pb_graph, 2, K_BYTES, name),
    FRM(pb_graph, 5, initializer, tensor_desc),
    FRM(pb_graph, 11, input, value_info_desc),
    FRM(pb_graph, 12, output, value_info_desc),
    FRM(pb_graph, 13, value_info, value_info_desc),
    FSEEN(pb_graph, 15, "sparse_initializer", n_sparse_initializer),
};
static const pb_msg_desc graph_desc = {"GraphProto", sizeof(pb_graph), graph_fields,
                                       sizeof graph_fields / sizeof graph_fields[0]};

static const pb_field_desc opset_fields[] = {
    F(pb_opset, 1, K_BYTES, domain),
    F(pb_opset, 2, K_INT64, version),
};
MSG(opset_desc, "OperatorSetIdProto", pb_opset, opset_fields);

static const pb_field_desc model_fields[] = {
    F(pb_model, 1, K_INT64, ir_version),
    F(pb_model, 2, K_BYTES, producer_name),
    F(pb_model, 3, K_BYTES, producer_version),
    F(pb_model, 5, K_INT64, model_version),
    FM(pb_model, 7, graph, graph_desc),
    FRM(pb_model, 8, opset_import, opset_desc),
    FRM(pb_model, 14, metadata_props, entry_desc),
    FSEEN(pb_model, 20, "training_info", n_training_info),
    FSEEN(pb_model, 25, "functions", n_functions),
};
MSG(model_desc, "ModelProto", pb_model, model_fields);

/* --- wire format --------------------------------------------------------- */

typedef struct pb_ctx {
    const uint8_t *base;        /* start of the whole buffer, for offsets */
    model_arena *arena;
    errinfo *err;
} pb_ctx;

typedef struct pb_field {
    uint32_t num;
    unsigned wire;
    uint64_t v;                 /* VARINT, I64, I32 payload */
    const uint8_t *data;        /* LEN payload */
    size_t len;
    const uint8_t *start;       /* the tag, for error offsets */
} pb_field;

static status pb_fail(const pb_ctx *c, const uint8_t *at, const pb_msg_desc *d,
                      const char *field, const char *what) {
    return status_fail(c->err, STATUS_INVALID_MODEL,
                       "malformed protobuf at byte %zu (%s%s%s): %s",
                       (size_t)(at - c->base), d->name, field ? "." : "",
                       field ? field : "", what);
}

/* 0 ok, -1 truncated, -2 longer than 10 bytes / overflows 64 bits. */
static int rd_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p >= end) return -1;
        uint8_t b = *p++;
        if (shift == 63 && b > 1) return -2;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -2;
}

static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static status next_field(const pb_ctx *c, const pb_msg_desc *d, const uint8_t **pp,
                         const uint8_t *end, pb_field *f) {
    const uint8_t *p = *pp;
    uint64_t tag;
    f->start = p;
    int r = rd_varint(&p, end, &tag);
    if (r) return pb_fail(c, f->start, d, NULL, r == -1 ? "truncated field tag" : "field tag overflows");
    if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
        return pb_fail(c, f->start, d, NULL, "invalid field number");
    f->num = (uint32_t)(tag >> 3);
    f->wire = (unsigned)(tag & 7);
    switch (f->wire) {
    case WIRE_VARINT:
        r = rd_varint(&p, end, &f->v);
        if (r) return pb_fail(c, f->start, d, NULL, r == -1 ? "truncated varint" : "varint longer than 10 bytes");
        break;
    case WIRE_I64:
        if (end - p < 8) return pb_fail(c, f->start, d, NULL, "truncated fixed64");
        f->v = rd_le(p, 8);
        p += 8;
        break;
    case WIRE_I32:
        if (end - p < 4) return pb_fail(c, f->start, d, NULL, "truncated fixed32");
        f->v = rd_le(p, 4);
        p += 4;
        break;
    case WIRE_LEN: {
        uint64_t len;
        r = rd_varint(&p, end, &len);
        if (r) return pb_fail(c, f->start, d, NULL, r == -1 ? "truncated length" : "length overflows");
        if (len > (uint64_t)(end - p))
            return pb_fail(c, f->start, d, NULL, "length runs past the end of the enclosing message");
        f->data = p;
        f->len = (size_t)len;
        p += len;
        break;
    }
    default:
        return pb_fail(c, f->start, d, NULL, "unsupported wire type (groups are not used by ONNX)");
    }
    *pp = p;
    return STATUS_OK;
}

static const pb_field_desc *find_field(const pb_msg_desc *d, uint32_t num, size_t *idx) {
    for (size_t i = 0; i < d->n_fields; i++)
        if (d->fields[i].num == num) {
            *idx = i;
            return &d->fields[i];
        }
    return NULL;
}

static int kind_is_repeated(pb_kind k) { return k >= K_R_INT64 && k <= K_R_MSG; }

/* Wire type of one element of a repeated scalar kind. */
static unsigned scalar_wire(pb_kind k) {
    switch (k) {
    case K_INT64: case K_INT32: case K_R_INT64: case K_R_INT32: case K_R_UINT64: return WIRE_VARINT;
    case K_FLOAT: case K_R_FLOAT: return WIRE_I32;
    case K_R_DOUBLE: return WIRE_I64;
    default: return WIRE_LEN;
    }
}

static size_t elem_size(const pb_field_desc *fd) {
    switch (fd->kind) {
    case K_R_INT64: return sizeof(int64_t);
    case K_R_INT32: return sizeof(int32_t);
    case K_R_UINT64: return sizeof(uint64_t);
    case K_R_FLOAT: return sizeof(float);
    case K_R_DOUBLE: return sizeof(double);
    case K_R_BYTES: return sizeof(pb_bytes);
    case K_R_MSG: return fd->msg->size;
    default: return 0;
    }
}

static int is_packable(pb_kind k) { return k >= K_R_INT64 && k <= K_R_DOUBLE; }

/* Elements in a packed run, validating its framing. */
static status packed_count(const pb_ctx *c, const pb_msg_desc *d, const pb_field_desc *fd,
                           const pb_field *f, size_t *n) {
    unsigned w = scalar_wire(fd->kind);
    if (w == WIRE_I32 || w == WIRE_I64) {
        size_t sz = w == WIRE_I32 ? 4 : 8;
        if (f->len % sz) return pb_fail(c, f->start, d, fd->name, "packed length is not a multiple of the element size");
        *n = f->len / sz;
        return STATUS_OK;
    }
    size_t cnt = 0;
    for (size_t i = 0; i < f->len; i++) cnt += !(f->data[i] & 0x80);
    if (f->len && (f->data[f->len - 1] & 0x80))
        return pb_fail(c, f->start, d, fd->name, "truncated varint in packed field");
    *n = cnt;
    return STATUS_OK;
}

static void store_scalar(pb_kind k, void *arr, size_t i, uint64_t v) {
    switch (k) {
    case K_R_INT64: ((int64_t *)arr)[i] = (int64_t)v; break;
    case K_R_INT32: ((int32_t *)arr)[i] = (int32_t)(uint32_t)v; break;
    case K_R_UINT64: ((uint64_t *)arr)[i] = v; break;
    case K_R_FLOAT: {
        uint32_t u = (uint32_t)v;
        memcpy((float *)arr + i, &u, sizeof u);
        break;
    }
    case K_R_DOUBLE: memcpy((double *)arr + i, &v, sizeof v); break;
    default: break;
    }
}

/* Decodes every element of a packed run (framing checked by packed_count). */
static status packed_fill(const pb_ctx *c, const pb_msg_desc *d, const pb_field_desc *fd,
                          const pb_field *f, void *arr, size_t *fill) {
    const uint8_t *p = f->data, *end = f->data + f->len;
    unsigned w = scalar_wire(fd->kind);
    while (p < end) {
        uint64_t v;
        if (w == WIRE_VARINT) {
            if (rd_varint(&p, end, &v))
                return pb_fail(c, p, d, fd->name, "malformed varint in packed field");
        } else {
            int sz = w == WIRE_I32 ? 4 : 8;
            v = rd_le(p, sz);
            p += sz;
        }
        store_scalar(fd->kind, arr, (*fill)++, v);
    }
    return STATUS_OK;
}

static status decode_msg(const pb_ctx *c, const pb_msg_desc *d, const uint8_t *p,
                         const uint8_t *end, void *out, int depth);

/* Pass 1: framing and wire types of every field, element counts. */
static status count_fields(const pb_ctx *c, const pb_msg_desc *d, const uint8_t *p,
                           const uint8_t *end, size_t *cnt) {
    while (p < end) {
        pb_field f;
        size_t i;
        status st = next_field(c, d, &p, end, &f);
        if (st) return st;
        const pb_field_desc *fd = find_field(d, f.num, &i);
        if (!fd) continue; /* unknown field: skipped, as protobuf does */
        if (fd->kind == K_SEEN) {
            cnt[i]++;
            continue;
        }
        unsigned want = scalar_wire(fd->kind);
        if (f.wire == want) {
            cnt[i]++;
        } else if (f.wire == WIRE_LEN && is_packable(fd->kind)) {
            size_t n = 0;
            st = packed_count(c, d, fd, &f, &n);
            if (st) return st;
            cnt[i] += n;
        } else {
            char what[96];
            snprintf(what, sizeof what, "wire type %u, expected %u", f.wire, want);
            return pb_fail(c, f.start, d, fd->name, what);
        }
    }
    return STATUS_OK;
}

static status fill_singular(const pb_ctx *c, const pb_field_desc *fd, const pb_field *f,
                            char *out, int depth) {
    switch (fd->kind) {
    case K_INT64: {
        int64_t v = (int64_t)f->v;
        memcpy(out + fd->off, &v, sizeof v);
        return STATUS_OK;
    }
    case K_INT32: {
        int32_t v = (int32_t)(uint32_t)f->v;
        memcpy(out + fd->off, &v, sizeof v);
        return STATUS_OK;
    }
    case K_FLOAT: {
        uint32_t u = (uint32_t)f->v;
        memcpy(out + fd->off, &u, sizeof u);
        return STATUS_OK;
    }
    case K_BYTES: {
        pb_bytes b = {f->data, f->len};
        memcpy(out + fd->off, &b, sizeof b);
        return STATUS_OK;
    }
    case K_MSG: {
        void *sub = model_arena_alloc(c->arena, fd->msg->size, 16);
        if (!sub) return status_fail(c->err, STATUS_NO_MEMORY, "out of memory decoding %s", fd->msg->name);
        memcpy(out + fd->off, &sub, sizeof sub);
        return decode_msg(c, fd->msg, f->data, f->data + f->len, sub, depth + 1);
    }
    default:
        return STATUS_OK;
    }
}

static status fill_repeated(const pb_ctx *c, const pb_msg_desc *d, const pb_field_desc *fd,
                            const pb_field *f, void *arr, size_t *fill, int depth) {
    switch (fd->kind) {
    case K_R_BYTES:
        ((pb_bytes *)arr)[(*fill)++] = (pb_bytes){f->data, f->len};
        return STATUS_OK;
    case K_R_MSG: {
        void *sub = (char *)arr + (*fill)++ * fd->msg->size;
        return decode_msg(c, fd->msg, f->data, f->data + f->len, sub, depth + 1);
    }
    default:
        if (f->wire == WIRE_LEN) return packed_fill(c, d, fd, f, arr, fill);
        store_scalar(fd->kind, arr, (*fill)++, f->v);
        return STATUS_OK;
    }
}

static status decode_msg(const pb_ctx *c, const pb_msg_desc *d, const uint8_t *p,
                         const uint8_t *end, void *out, int depth) {
    size_t cnt[PB_MAX_FIELDS] = {0}, fill[PB_MAX_FIELDS] = {0};
    void *arr[PB_MAX_FIELDS] = {0};
    char *o = out;
    if (depth > PB_MAX_DEPTH)
        return pb_fail(c, p, d, NULL, "messages nested deeper than " PB_STR(PB_MAX_DEPTH));
    if (d->n_fields > PB_MAX_FIELDS)
        return status_fail(c->err, STATUS_INTERNAL, "protobuf table %s too large", d->name);
    status st = count_fields(c, d, p, end, cnt);
    if (st) return st;
    for (size_t i = 0; i < d->n_fields; i++) {
        const pb_field_desc *fd = &d->fields[i];
        if (fd->count_off != NO_COUNT) memcpy(o + fd->count_off, &cnt[i], sizeof cnt[i]);
        if (!kind_is_repeated(fd->kind) || cnt[i] == 0) continue;
        arr[i] = model_arena_array(c->arena, cnt[i], elem_size(fd), 16);
        if (!arr[i])
            return status_fail(c->err, STATUS_NO_MEMORY, "out of memory decoding %zu x %s.%s",
                               cnt[i], d->name, fd->name);
        memcpy(o + fd->off, &arr[i], sizeof arr[i]);
    }
    while (p < end) {
        pb_field f;
        size_t i;
        st = next_field(c, d, &p, end, &f);
        if (st) return st;
        const pb_field_desc *fd = find_field(d, f.num, &i);
        if (!fd || fd->kind == K_SEEN) continue;
        st = kind_is_repeated(fd->kind) ? fill_repeated(c, d, fd, &f, arr[i], &fill[i], depth)
                                        : fill_singular(c, fd, &f, o, depth);
        if (st) return st;
    }
    return STATUS_OK;
}

static status decode_top(const void *buf, size_t len, model_arena *scratch,
                         const pb_msg_desc *d, void **out, errinfo *err) {
    pb_ctx c = {buf, scratch, err};
    *out = NULL;
    if (!buf && len) return status_fail(err, STATUS_INVALID_ARGUMENT, "NULL buffer");
    void *msg = model_arena_alloc(scratch, d->size, 16);
    if (!msg) return status_fail(err, STATUS_NO_MEMORY, "out of memory decoding %s", d->name);
    const uint8_t *p = buf ? buf : (const uint8_t *)"";
    c.base = p;
    status st = decode_msg(&c, d, p, p + len, msg, 0);
    if (st) return st;
    *out = msg;
    return STATUS_OK;
}

status pb_decode_model(const void *buf, size_t len, model_arena *scratch,
                       pb_model **out, errinfo *err) {
    void *m;
    status st = decode_top(buf, len, scratch, &model_desc, &m, err);
    *out = m;
    return st;
}

status pb_decode_tensor(const void *buf, size_t len, model_arena *scratch,
                        pb_tensor **out, errinfo *err) {
    void *t;
    status st = decode_top(buf, len, scratch, &tensor_desc, &t, err);
    *out = t;
    return st;
}

int pb_bytes_eq(pb_bytes b, const char *s) {
    size_t n = strlen(s);
    return b.len == n && (n == 0 || memcmp(b.ptr, s, n) == 0);
}
