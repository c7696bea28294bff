/* graph.c -- lookups on the loaded graph that operators use in prepare(). */
#include <string.h>

#include "graph.h"

const attr *node_attr(const node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t node_attr_int(const node *n, const char *name, int64_t dflt) {
    const attr *a = node_attr(n, name);
    return a && a->type == ATTR_INT ? a->i : dflt;
}

float node_attr_float(const node *n, const char *name, float dflt) {
    const attr *a = node_attr(n, name);
    return a && a->type == ATTR_FLOAT ? a->f : dflt;
}

const char *node_attr_string(const node *n, const char *name, const char *dflt) {
    const attr *a = node_attr(n, name);
    return a && a->type == ATTR_STRING ? a->s : dflt;
}

int node_attr_ints(const node *n, const char *name, const int64_t **out) {
    const attr *a = node_attr(n, name);
    *out = NULL;
    if (!a || a->type != ATTR_INTS) return -1;
    *out = a->ints;
    return a->count;
}

int node_attr_floats(const node *n, const char *name, const float **out) {
    const attr *a = node_attr(n, name);
    *out = NULL;
    if (!a || a->type != ATTR_FLOATS) return -1;
    *out = a->floats;
    return a->count;
}

value *node_input_value(const graph *g, const node *n, int i) {
    if (i < 0 || i >= n->n_inputs || n->inputs[i] < 0) return NULL;
    return &g->values[n->inputs[i]];
}

value *node_output_value(const graph *g, const node *n, int k) {
    if (k < 0 || k >= n->n_outputs || n->outputs[k] < 0) return NULL;
    return &g->values[n->outputs[k]];
}

engine_dtype node_input_dtype(const graph *g, const node *n, int i) {
    const value *v = node_input_value(g, n, i);
    return v ? v->dtype : ENGINE_UNDEFINED;
}

void node_set_output_dtype(graph *g, node *n, int k, engine_dtype dt) {
    value *v = node_output_value(g, n, k);
    if (v) v->dtype = dt;
}

const engine_tensor *node_input_const(const graph *g, const node *n, int i) {
    const value *v = node_input_value(g, n, i);
    while (v && v->kind == VALUE_OUTER && g->parent) {
        g = g->parent;
        v = &g->values[v->outer_index];
    }
    return v && v->kind == VALUE_INITIALIZER ? &v->init : NULL;
}
