/* graph_order.c -- topological order and value lifetimes of a built graph.
 *
 * A node depends on the producers of the values it reads: its inputs, and
 * every outer value its subgraphs read (an If branch that uses `h` of the
 * enclosing graph must run after `h` exists, and keeps `h` alive). Sorting
 * keeps the file's order wherever the file is already sorted, so node
 * numbers in messages and profiles match what tools like Netron show. */
#include <stdlib.h>
#include <string.h>

#include "onnx_loader.h"

/* Calls fn(ctx, value index) for every value node n reads: its inputs and
 * the outer values its subgraphs read. */
static void for_each_read(const node *n, void (*fn)(void *ctx, int v), void *ctx) {
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0) fn(ctx, n->inputs[k]);
    for (int a = 0; a < n->n_attrs; a++) {
        const attr *at = &n->attrs[a];
        int ng = at->type == ATTR_GRAPH ? 1 : at->type == ATTR_GRAPHS ? at->count : 0;
        for (int q = 0; q < ng; q++) {
            const graph *sub = at->type == ATTR_GRAPH ? at->g : at->graphs[q];
            if (!sub) continue;
            for (int v = 0; v < sub->n_values; v++)
                if (sub->values[v].kind == VALUE_OUTER) fn(ctx, sub->values[v].outer_index);
        }
    }
}

typedef struct sort_state {
    const graph *g;
    int *indeg, *edge_start, *edges, *fill;
    int consumer;
    int pass;                   /* 0 count, 1 fill */
} sort_state;

static void sort_edge(void *ctx, int v) {
    sort_state *ss = ctx;
    const value *val = &ss->g->values[v];
    if (val->kind != VALUE_INTERMEDIATE) return;
    if (ss->pass == 0) {
        ss->indeg[ss->consumer]++;
        ss->edge_start[val->producer + 1]++;
    } else {
        ss->edges[ss->fill[val->producer]++] = ss->consumer;
    }
}

/* Min-heap of node indices: the sorted order keeps the file's order
 * wherever the file is already sorted. */
static void heap_push(int *h, int *n, int x) {
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > x) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static int heap_pop(int *h, int *n) {
    int top = h[0], x = h[--*n], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= x) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = x;
    return top;
}

typedef struct cycle_probe {
    const graph *g;
    const int *emitted;
    int found;                  /* value index of an unsatisfied read, -1 */
} cycle_probe;

static void probe_read(void *ctx, int v) {
    cycle_probe *cp = ctx;
    const value *val = &cp->g->values[v];
    if (cp->found < 0 && val->kind == VALUE_INTERMEDIATE && !cp->emitted[val->producer]) cp->found = v;
}

/* Some nodes never became ready: walk unsatisfied reads until a node
 * repeats, which puts it on a cycle, and name it. */
static status report_cycle(const graph *g, const node *nodes, int n, errinfo *err,
                           const int *emitted, int *mark) {
    int cur = 0;
    while (cur < n && emitted[cur]) cur++;
    int via = -1;
    for (int i = 0; i < n; i++) mark[i] = -1;
    while (cur < n && mark[cur] < 0) {
        cycle_probe cp = {g, emitted, -1};
        for_each_read(&nodes[cur], probe_read, &cp);
        if (cp.found < 0) break; /* cannot happen: unemitted nodes wait on something */
        mark[cur] = cp.found;
        cur = g->values[cp.found].producer;
    }
    if (cur < n) via = mark[cur];
    const node *c = &nodes[cur < n ? cur : 0];
    return status_fail(err, STATUS_INVALID_MODEL,
                       "graph '%s' has a cycle: node '%s' (%s) reads '%s', which depends on that node's own output",
                       g->name[0] ? g->name : "(unnamed)", c->name, c->op_type,
                       via >= 0 ? g->values[via].name : "?");
}

status graph_sort(graph *g, node *tmp, int n, model_arena *arena, errinfo *err) {
    status st = STATUS_OK;
    int *buf = calloc((size_t)n * 5 + 2, sizeof(int));
    int *edges = NULL;
    if (!buf) return status_fail(err, STATUS_NO_MEMORY, "out of memory sorting the graph");
    sort_state ss = {g, buf, buf + n, NULL, buf + 2 * n + 1, 0, 0};
    int *heap = buf + 3 * n + 1, *order = buf + 4 * n + 1, n_heap = 0, n_order = 0;
    for (ss.consumer = 0; ss.consumer < n; ss.consumer++) for_each_read(&tmp[ss.consumer], sort_edge, &ss);
    for (int i = 0; i < n; i++) ss.edge_start[i + 1] += ss.edge_start[i];
    edges = malloc(((size_t)ss.edge_start[n] + 1) * sizeof(int));
    if (!edges) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory sorting the graph");
        goto done;
    }
    ss.edges = edges;
    ss.pass = 1;
    memcpy(ss.fill, ss.edge_start, (size_t)n * sizeof(int));
    for (ss.consumer = 0; ss.consumer < n; ss.consumer++) for_each_read(&tmp[ss.consumer], sort_edge, &ss);
    for (int i = 0; i < n; i++)
        if (ss.indeg[i] == 0) heap_push(heap, &n_heap, i);
    while (n_heap) {
        int i = heap_pop(heap, &n_heap);
        order[n_order++] = i;
        for (int e = ss.edge_start[i]; e < ss.edge_start[i + 1]; e++)
            if (--ss.indeg[edges[e]] == 0) heap_push(heap, &n_heap, edges[e]);
    }
    if (n_order < n) {
        int *emitted = ss.fill; /* reuse: 1 if emitted */
        memset(emitted, 0, (size_t)n * sizeof(int));
        for (int k = 0; k < n_order; k++) emitted[order[k]] = 1;
        st = report_cycle(g, tmp, n, err, emitted, heap);
        goto done;
    }
    g->nodes = model_arena_array(arena, (size_t)n, sizeof(node), 16);
    if (!g->nodes) {
        st = status_fail(err, STATUS_NO_MEMORY, "out of memory sorting the graph");
        goto done;
    }
    int *new_index = ss.indeg; /* all zero now; reuse */
    for (int k = 0; k < n; k++) {
        g->nodes[k] = tmp[order[k]];
        new_index[order[k]] = k;
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == VALUE_INTERMEDIATE) g->values[v].producer = new_index[g->values[v].producer];
    g->n_nodes = n;
done:
    free(edges);
    free(buf);
    return st;
}

typedef struct use_state {
    value *values;
    int node;
} use_state;

static void mark_use(void *ctx, int v) {
    use_state *us = ctx;
    us->values[v].last_use = us->node;
}

void graph_lifetimes(graph *g) {
    use_state us = {g->values, 0};
    for (us.node = 0; us.node < g->n_nodes; us.node++) for_each_read(&g->nodes[us.node], mark_use, &us);
    for (int i = 0; i < g->n_outputs; i++) g->values[g->outputs[i]].last_use = g->n_nodes;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == VALUE_INTERMEDIATE && g->values[v].last_use < 0)
            g->values[v].last_use = g->values[v].producer;
}
