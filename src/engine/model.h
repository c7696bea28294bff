/* model.h -- the layout of a loaded engine_model (private).
 *
 * A model is the immutable result of onnx_loader.c: the main graph (with its
 * subgraphs) built from the ModelProto, the read-only mapping of the model
 * file that zero-copy weights point into, the mappings of external data
 * files, and one arena that owns every other byte (graph structures, names,
 * weights that had to be converted or realigned). The executor sees only the
 * graph:
 *
 *     const graph *g = engine_model_graph(model);
 *     for (int i = 0; i < g->n_nodes; i++) ... g->nodes[i].op->run(...) ...
 *
 * Value conventions the loader guarantees (beyond graph.h):
 *  - every value that is an input, initializer or node output has a dtype;
 *  - last_use of a node output that nothing reads is its producer's index;
 *    last_use of an input/initializer nothing reads is -1;
 *  - initializer data is read-only (it may live in a PROT_READ mapping) and
 *    is never NULL, even for zero elements. */
#ifndef INFERD_MODEL_H
#define INFERD_MODEL_H

#include "graph.h"
#include "model_arena.h"

/* A read-only file mapping a model's weights may point into. */
typedef struct model_mapping {
    char *location;             /* as written in the model (external data) */
    void *addr;                 /* NULL for an empty file */
    size_t len;
    struct model_mapping *next;
} model_mapping;

struct engine_model {
    graph *main;
    model_arena arena;          /* graph, names, owned weights */
    void *file_map;             /* the model file (engine_model_load), or NULL */
    size_t file_len;
    model_mapping *external;    /* external data files, mapped once each */
    char *base_dir;             /* where external data is looked up; NULL = none */
    int64_t ir_version;
    size_t weight_bytes;
};

/* The model's main graph. */
const graph *engine_model_graph(const engine_model *m);

#endif
