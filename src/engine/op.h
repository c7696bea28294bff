/* op.h -- what an operator implementation provides (private).
 *
 * Each operator family lives in one file under ops/ and exports a table of
 * `op_desc`, terminated by an entry whose `type` is NULL. ops/registry.c lists
 * the families (ops/op_families.h) and finds the descriptor for a node by
 * (domain, op_type, opset).
 *
 * Two phases:
 *  - prepare (load time, once per node): validate attributes and input types,
 *    set each output's dtype with node_set_output_dtype(), optionally build
 *    immutable state (parsed attributes, packed weights) in n->state. An
 *    unsupported attribute value or dtype is an error naming what was wrong;
 *    this is the load-time type inference pass.
 *  - run (every inference): read inputs with exec_input(), compute output
 *    shapes, get output buffers with exec_output(), compute. Anything derived
 *    from the data (a bad index, a shape that does not broadcast) is an error
 *    via exec_fail(), never an assert.
 *
 *     static status relu_run(const node *n, exec_ctx *x) {
 *         const engine_tensor *a = exec_input(x, 0);
 *         engine_tensor *y;
 *         status st = exec_output(x, 0, a->dtype, &a->shape, &y);
 *         if (st) return st;
 *         ... y->data = max(a->data, 0) ...
 *         return STATUS_OK;
 *     }
 *     const op_desc op_family_activation[] = {
 *         {.type = "Relu", .since = 6, .prepare = prepare_same_type, .run = relu_run},
 *         {0}};
 */
#ifndef INFERD_OP_H
#define INFERD_OP_H

#include "exec.h"
#include "graph.h"

typedef struct op_desc {
    const char *type;           /* "Conv"; NULL ends a family table */
    const char *domain;         /* NULL or "" = ai.onnx; "com.microsoft", ... */
    int since;                  /* lowest opset version served */
    int until;                  /* highest opset version served; 0 = latest */
    status (*prepare)(graph *g, node *n, errinfo *err);
    status (*run)(const node *n, exec_ctx *x);
    void (*free_state)(void *state);   /* NULL = free() */
} op_desc;

/* Finds the descriptor for (domain, type) at `opset`, or NULL. */
const op_desc *op_registry_find(const char *domain, const char *type, int opset);

/* Calls fn for every registered descriptor (for `inferd ops` and docs). */
void op_registry_foreach(void (*fn)(const op_desc *d, void *ctx), void *ctx);

/* Common prepare functions. */
/* Every output has the dtype of input 0; requires input 0 to be typed. */
status op_prepare_same_type(graph *g, node *n, errinfo *err);
/* As above, and input 0 must be a floating type (float, float16, double, bfloat16). */
status op_prepare_same_float(graph *g, node *n, errinfo *err);

/* An error from prepare naming the node: "node 'Conv_3' (Conv): <fmt>". */
status op_prepare_fail(const node *n, errinfo *err, status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
