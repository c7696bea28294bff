/* onnx_pb.h -- a zero-copy reader for the ONNX protobuf messages (private).
 *
 * Decodes the protobuf wire format of onnx.proto's ModelProto (or a lone
 * TensorProto) into plain "view" structs. Strings and bytes are not copied:
 * a pb_bytes points into the caller's buffer, so TensorProto.raw_data of a
 * mapped model file stays in the mapping. Repeated numeric fields (packed or
 * not) are decoded into arrays; the views themselves live in a scratch arena
 * the caller frees once it has built what it needs.
 *
 * Everything is bounds-checked against the buffer and nesting is limited, so
 * any input, however malformed, yields either views or STATUS_INVALID_MODEL
 * with a message naming the message type, field and byte offset.
 *
 *     model_arena tmp = {0};
 *     pb_model *pm;
 *     if (pb_decode_model(buf, len, &tmp, &pm, &err)) ... err.msg ...
 *     for (size_t i = 0; i < pm->graph->n_node; i++) ... pm->graph->node[i] ...
 *     model_arena_free(&tmp);
 *
 * Field names follow onnx.proto; `n_x` counts repeated field `x`, `has_x`
 * counts occurrences of an optional field whose presence matters. Fields the
 * engine does not need (doc strings, annotations, ...) are skipped. */
#ifndef INFERD_ONNX_PB_H
#define INFERD_ONNX_PB_H

#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"
#include "model_arena.h"

/* Messages nested deeper than this are rejected (each subgraph level costs
 * three: GraphProto > NodeProto > AttributeProto). */
#define PB_MAX_DEPTH 64

typedef struct pb_bytes {
    const uint8_t *ptr;
    size_t len;
} pb_bytes;

typedef struct pb_string_entry {       /* StringStringEntryProto */
    pb_bytes key;
    pb_bytes value;
} pb_string_entry;

typedef struct pb_tensor {             /* TensorProto */
    int64_t *dims; size_t n_dims;
    int32_t data_type;
    size_t has_segment;
    float *float_data; size_t n_float_data;
    int32_t *int32_data; size_t n_int32_data;
    pb_bytes *string_data; size_t n_string_data;
    int64_t *int64_data; size_t n_int64_data;
    pb_bytes name;
    pb_bytes raw_data; size_t has_raw_data;
    double *double_data; size_t n_double_data;
    uint64_t *uint64_data; size_t n_uint64_data;
    pb_string_entry *external_data; size_t n_external_data;
    int32_t data_location;             /* 0 DEFAULT, 1 EXTERNAL */
} pb_tensor;

typedef struct pb_dim {                /* TensorShapeProto.Dimension */
    int64_t dim_value; size_t has_dim_value;
    pb_bytes dim_param; size_t has_dim_param;
} pb_dim;

typedef struct pb_shape {              /* TensorShapeProto */
    pb_dim *dim; size_t n_dim;
} pb_shape;

typedef struct pb_tensor_type {        /* TypeProto.Tensor */
    int32_t elem_type;
    pb_shape *shape;                   /* NULL: no shape declared */
} pb_tensor_type;

typedef struct pb_type {               /* TypeProto: only tensors are decoded */
    pb_tensor_type *tensor_type;
    size_t has_sequence_type, has_map_type, has_optional_type, has_sparse_tensor_type;
} pb_type;

typedef struct pb_value_info {         /* ValueInfoProto */
    pb_bytes name;
    pb_type *type;                     /* NULL: no type declared */
} pb_value_info;

struct pb_graph;

typedef struct pb_attr {               /* AttributeProto */
    pb_bytes name;
    float f; size_t has_f;
    int64_t i; size_t has_i;
    pb_bytes s; size_t has_s;
    pb_tensor *t;
    struct pb_graph *g;
    float *floats; size_t n_floats;
    int64_t *ints; size_t n_ints;
    pb_bytes *strings; size_t n_strings;
    pb_tensor *tensors; size_t n_tensors;
    struct pb_graph *graphs; size_t n_graphs;
    size_t has_tp, n_type_protos;
    int32_t type; size_t has_type;
    pb_bytes ref_attr_name; size_t has_ref_attr_name;
    size_t has_sparse_tensor, n_sparse_tensors;
} pb_attr;

typedef struct pb_node {               /* NodeProto */
    pb_bytes *input; size_t n_input;
    pb_bytes *output; size_t n_output;
    pb_bytes name;
    pb_bytes op_type;
    pb_attr *attribute; size_t n_attribute;
    pb_bytes domain;
} pb_node;

typedef struct pb_graph {              /* GraphProto */
    pb_node *node; size_t n_node;
    pb_bytes name;
    pb_tensor *initializer; size_t n_initializer;
    pb_value_info *input; size_t n_input;
    pb_value_info *output; size_t n_output;
    pb_value_info *value_info; size_t n_value_info;
    size_t n_sparse_initializer;
} pb_graph;

typedef struct pb_opset {              /* OperatorSetIdProto */
    pb_bytes domain;
    int64_t version;
} pb_opset;

typedef struct pb_model {              /* ModelProto */
    int64_t ir_version;
    pb_bytes producer_name;
    pb_bytes producer_version;
    int64_t model_version;
    pb_graph *graph;                   /* NULL if absent */
    pb_opset *opset_import; size_t n_opset_import;
    pb_string_entry *metadata_props; size_t n_metadata_props;
    size_t n_training_info;
    size_t n_functions;
} pb_model;

/* Decode a serialized ModelProto / TensorProto. Views are allocated in
 * `scratch` and point into buf, which must outlive them. */
status pb_decode_model(const void *buf, size_t len, model_arena *scratch,
                       pb_model **out, errinfo *err);
status pb_decode_tensor(const void *buf, size_t len, model_arena *scratch,
                        pb_tensor **out, errinfo *err);

/* 1 if b holds exactly the C string s. */
int pb_bytes_eq(pb_bytes b, const char *s);

#endif
