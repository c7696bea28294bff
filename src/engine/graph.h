/* graph.h -- the engine's in-memory form of an ONNX graph (private).
 *
 * The loader (onnx_loader.c) turns a ModelProto into a `graph`: values
 * (everything that has a name: inputs, initializers, node outputs) and nodes
 * in topological order that refer to values by index. After loading, the
 * graph is immutable and shared by every session that runs it; per-run data
 * lives in the executor (exec.c).
 *
 * Subgraphs (If/Loop/Scan bodies) are graphs too, with `parent` set. A name a
 * subgraph reads but does not define is a VALUE_OUTER whose `outer_index`
 * points into the parent graph's values; the node that owns the subgraph
 * counts as a reader of that parent value, so it stays alive long enough. */
#ifndef INFERD_GRAPH_H
#define INFERD_GRAPH_H

#include "engine.h"

struct op_desc;
struct graph;

/* Attribute kinds: ONNX's AttributeProto.AttributeType numbers. */
typedef enum attr_type {
    ATTR_UNDEFINED = 0,
    ATTR_FLOAT = 1,
    ATTR_INT = 2,
    ATTR_STRING = 3,
    ATTR_TENSOR = 4,
    ATTR_GRAPH = 5,
    ATTR_FLOATS = 6,
    ATTR_INTS = 7,
    ATTR_STRINGS = 8,
    ATTR_TENSORS = 9,
    ATTR_GRAPHS = 10,
    ATTR_SPARSE_TENSOR = 11,
    ATTR_SPARSE_TENSORS = 12,
    ATTR_TYPE_PROTO = 13,
    ATTR_TYPE_PROTOS = 14
} attr_type;

typedef struct attr {
    const char *name;
    attr_type type;
    float f;                    /* FLOAT */
    int64_t i;                  /* INT */
    const char *s;              /* STRING, NUL-terminated */
    size_t s_len;
    int count;                  /* FLOATS, INTS, STRINGS, TENSORS, GRAPHS */
    const float *floats;
    const int64_t *ints;
    const engine_string *strings;
    engine_tensor t;            /* TENSOR; data owned by the model */
    const engine_tensor *tensors;
    struct graph *g;            /* GRAPH */
    struct graph *const *graphs;
} attr;

typedef enum value_kind {
    VALUE_INTERMEDIATE = 0,     /* produced by a node */
    VALUE_INPUT,                /* graph input fed by the caller */
    VALUE_INITIALIZER,          /* constant; data in `init` */
    VALUE_OUTER                 /* defined by an enclosing graph */
} value_kind;

typedef struct value {
    const char *name;
    value_kind kind;
    engine_dtype dtype;         /* known after load (UNDEFINED if never typed) */
    engine_io_info decl;        /* declared type and shape; decl.rank -1 if none */
    engine_tensor init;         /* VALUE_INITIALIZER: data owned by the model */
    int producer;               /* node index, -1 for inputs/initializers/outer */
    int last_use;               /* last node index reading it; n_nodes if a graph output */
    int is_output;              /* listed in graph.output */
    int outer_index;            /* VALUE_OUTER: index in parent->values */
} value;

typedef struct node {
    const char *name;           /* "" if the model gives none */
    const char *op_type;
    const char *domain;         /* "" for the default ai.onnx domain */
    int opset;                  /* opset version imported for `domain` */
    const struct op_desc *op;   /* set by the loader from the registry */
    int n_inputs;
    int n_outputs;
    int *inputs;                /* value indices; -1 = optional input omitted */
    int *outputs;               /* value indices; -1 = optional output omitted */
    int n_attrs;
    attr *attrs;
    void *state;                /* op's load-time state, immutable after prepare */
} node;

typedef struct graph {
    const char *name;
    int n_values;
    value *values;
    int n_nodes;
    node *nodes;                /* topologically sorted */
    int n_inputs;
    int *inputs;                /* value indices of caller-fed inputs */
    int n_outputs;
    int *outputs;               /* value indices of results */
    struct graph *parent;       /* NULL for the main graph */
} graph;

/* Attribute lookups. The typed getters return the default when the attribute
 * is absent; a present attribute of another type also yields the default
 * (prepare functions that care check node_attr()->type themselves). */
const attr *node_attr(const node *n, const char *name);
int64_t node_attr_int(const node *n, const char *name, int64_t dflt);
float node_attr_float(const node *n, const char *name, float dflt);
const char *node_attr_string(const node *n, const char *name, const char *dflt);
/* Sets *out to the list and returns its length, or -1 if absent. */
int node_attr_ints(const node *n, const char *name, const int64_t **out);
int node_attr_floats(const node *n, const char *name, const float **out);

/* Value of input i of n, or NULL if the input is omitted / out of range. */
value *node_input_value(const graph *g, const node *n, int i);
value *node_output_value(const graph *g, const node *n, int k);
/* dtype of input i (UNDEFINED if omitted). */
engine_dtype node_input_dtype(const graph *g, const node *n, int i);
/* Sets the dtype of output k (no-op for an omitted output). */
void node_set_output_dtype(graph *g, node *n, int k, engine_dtype dt);
/* The constant tensor feeding input i if it is an initializer, else NULL.
 * Resolves VALUE_OUTER through the parents. Lets prepare() pack weights. */
const engine_tensor *node_input_const(const graph *g, const node *n, int i);

#endif
