/* optimize.c -- load-time graph rewrites (see optimize.h). */
#include "optimize.h"

#include <stdlib.h>
#include <string.h>

#include "fuse_pass.h"
#include "graph_edit.h"
#include "layout_pass.h"
#include "onnx_loader.h"
#include "prepack_pass.h"

static void count_read(void *ctx, int value, int node, int in_subgraph) {
    (void)node, (void)in_subgraph;
    ((int *)ctx)[value]++;
}

/* Identity, or Dropout that is a pass-through: inference mode (no
 * training_mode input; is_test before opset 7) and its mask unread. */
static int is_pass_through(const graph *g, const node *n, const int *readers) {
    if (n->domain[0] || n->n_inputs < 1 || n->inputs[0] < 0 || n->n_outputs < 1 ||
        n->outputs[0] < 0 || g->values[n->outputs[0]].is_output)
        return 0;
    if (!strcmp(n->op_type, "Identity")) return n->n_inputs == 1 && n->n_outputs == 1;
    if (strcmp(n->op_type, "Dropout")) return 0;
    if (n->n_inputs >= 3 && n->inputs[2] >= 0) return 0;
    if (n->opset < 7 && node_attr_int(n, "is_test", 0) == 0) return 0;
    for (int k = 1; k < n->n_outputs; k++) {
        int v = n->outputs[k];
        if (v >= 0 && (readers[v] || g->values[v].is_output)) return 0;
    }
    return 1;
}

/* Every read of `from` in g (and in its nodes' subgraphs) now reads `to`. */
static void redirect_reads(graph *g, int from, int to) {
    for (int i = 0; i < g->n_nodes; i++) {
        node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == from) n->inputs[k] = to;
        for (int a = 0; a < n->n_attrs; a++) {
            attr *at = &n->attrs[a];
            int ng = at->type == ATTR_GRAPH ? 1 : at->type == ATTR_GRAPHS ? at->count : 0;
            for (int q = 0; q < ng; q++) {
                graph *sub = at->type == ATTR_GRAPH ? at->g : at->graphs[q];
                for (int v = 0; sub && v < sub->n_values; v++)
                    if (sub->values[v].kind == VALUE_OUTER && sub->values[v].outer_index == from)
                        sub->values[v].outer_index = to;
            }
        }
    }
}

status graph_optimize(engine_model *m, graph *g, errinfo *err) {
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    int *readers = calloc(nv, sizeof *readers);
    int *new_index = calloc(nn, sizeof *new_index);
    unsigned char *dead = calloc(nn, 1);
    status st = STATUS_OK;
    if (!readers || !new_index || !dead) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory optimizing the graph");
        goto done;
    }
    graph_for_each_read(g, count_read, readers);
    int removed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        node *n = &g->nodes[i];
        if (!is_pass_through(g, n, readers)) continue;
        redirect_reads(g, n->outputs[0], n->inputs[0]);
        readers[n->inputs[0]] += readers[n->outputs[0]] - 1;
        readers[n->outputs[0]] = 0;
        dead[i] = 1;
        removed++;
    }
    if (removed) graph_compact(g, dead, new_index);
    st = layout_pass_run(m, g, err);
    if (!st) st = fuse_graph(m, g, err);
    if (!st) st = prepack_pass_run(m, g, err);
done:
    free(readers);
    free(new_index);
    free(dead);
    return st;
}
