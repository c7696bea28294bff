/* graph_edit.c -- reads and node removal for the rewrites (see graph_edit.h). */
#include "graph_edit.h"

#include "onnx_loader.h"

static void subgraph_reads(const attr *at, int node, graph_read_fn fn, void *ctx) {
    int ng = at->type == ATTR_GRAPH ? 1 : at->type == ATTR_GRAPHS ? at->count : 0;
    for (int q = 0; q < ng; q++) {
        const graph *sub = at->type == ATTR_GRAPH ? at->g : at->graphs[q];
        for (int v = 0; sub && v < sub->n_values; v++)
            if (sub->values[v].kind == VALUE_OUTER) fn(ctx, sub->values[v].outer_index, node, 1);
    }
}

void graph_for_each_read(const graph *g, graph_read_fn fn, void *ctx) {
    for (int i = 0; i < g->n_nodes; i++) {
        const node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) fn(ctx, n->inputs[k], i, 0);
        for (int a = 0; a < n->n_attrs; a++) subgraph_reads(&n->attrs[a], i, fn, ctx);
    }
}

void graph_compact(graph *g, const unsigned char *dead, int *new_index) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        new_index[i] = dead[i] ? -1 : n;
        if (!dead[i]) g->nodes[n++] = g->nodes[i];
    }
    for (int v = 0; v < g->n_values; v++) {
        value *val = &g->values[v];
        if (val->kind == VALUE_INTERMEDIATE && val->producer >= 0)
            val->producer = new_index[val->producer];
        val->last_use = -1;
    }
    g->n_nodes = n;
    graph_lifetimes(g);
}
