/* onnx_loader.h -- what the loader's files share (private to the loader).
 *
 * Loading is split by responsibility:
 *   onnx_pb.c        protobuf bytes -> views (pb_model, pb_tensor)
 *   tensor_proto.c   a pb_tensor -> engine_tensor (zero-copy where possible)
 *   external_data.c  TensorProto external data: path checks, file mappings
 *   graph_build.c    pb_graph -> graph: values, nodes, attributes, subgraphs,
 *                    Constant folding into initializers
 *   graph_order.c    topological order, cycles, value lifetimes
 *   onnx_loader.c    the public engine_model_* calls, operator binding and
 *                    the load-time type inference (prepare) pass
 *
 *     tensor_source src = {.alloc = arena_alloc64, .ctx = &m->arena,
 *                          .zero_copy = 1, .model = m};
 *     engine_tensor t;
 *     if (tensor_from_pb(pt, &src, &t, err)) ... */
#ifndef INFERD_ONNX_LOADER_H
#define INFERD_ONNX_LOADER_H

#include "model.h"
#include "onnx_pb.h"

/* Where a converted tensor's bytes come from and go to. */
typedef struct tensor_source {
    /* 64-byte aligned memory of at least `bytes` (> 0), NULL when out of
     * memory. Who frees it is the allocator's business. */
    void *(*alloc)(void *ctx, size_t bytes);
    void *ctx;
    /* Nonzero: data may point into the protobuf buffer (it outlives the
     * tensor). Zero: every tensor gets its own copy from alloc. */
    int zero_copy;
    /* Resolves external data (its files stay mapped by the model); NULL
     * rejects tensors stored outside the buffer. */
    engine_model *model;
} tensor_source;

/* Converts a decoded TensorProto. Validates data type, rank, element count
 * and that the data present matches the dims. Allocates at most once, after
 * all validation, so a failure never leaves memory behind. `what` names the
 * tensor in errors ("initializer 'w'", "attribute 'value'"). */
status tensor_from_pb(const pb_tensor *pt, const tensor_source *src, const char *what,
                      engine_tensor *out, errinfo *err);

/* Checks a TensorProto/TypeProto element type: OK for the types the engine
 * has, UNSUPPORTED for known ONNX types it lacks, INVALID_MODEL otherwise. */
status tensor_check_dtype(int32_t dt, const char *what, errinfo *err);

/* The `want` bytes of a tensor stored in an external file, located relative
 * to m->base_dir. The file is mapped once and stays mapped until the model
 * is destroyed. Refuses absolute paths and paths that climb out of the
 * model's directory. */
status external_data_get(engine_model *m, const pb_tensor *pt, const char *what,
                         size_t want, const void **data, errinfo *err);
/* Tells the kernel the file pages under [p, p + len) are not needed any
 * more (their bytes were copied); a no-op unless they lie in one of m's
 * file mappings. */
void model_mapping_release(const engine_model *m, const void *p, size_t len);
/* Unmaps and frees a list of mappings. Accepts NULL. */
void external_data_unmap(model_mapping *list);

/* Builds the main graph (and its subgraphs) of a decoded model into m's
 * arena: values, nodes with their opset, attributes, topological order and
 * lifetimes. Does not bind or prepare operators. */
status graph_build(engine_model *m, const pb_model *pm, graph **out, errinfo *err);

/* graph_order.c: sorts the n built nodes in tmp topologically into
 * g->nodes (allocated in arena) and renumbers value producers; g->values
 * must be final. A cycle fails with STATUS_INVALID_MODEL naming a node and
 * value on it. */
status graph_sort(graph *g, node *tmp, int n, model_arena *arena, errinfo *err);
/* Sets every value's last_use (see model.h for the conventions). */
void graph_lifetimes(graph *g);

/* Allocator for tensor_source over a model arena (ctx = model_arena *). */
void *model_arena_alloc64(void *ctx, size_t bytes);

#endif
