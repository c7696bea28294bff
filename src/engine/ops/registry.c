/* registry.c -- finds an operator's descriptor by (domain, type, opset). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../op.h"

#define OP_FAMILY(x) extern const op_desc op_family_##x[];
#include "op_families.h"
#undef OP_FAMILY

static const op_desc *const op_families[] = {
#define OP_FAMILY(x) op_family_##x,
#include "op_families.h"
#undef OP_FAMILY
};

static int domain_is_default(const char *d) {
    return d == NULL || d[0] == '\0' || strcmp(d, "ai.onnx") == 0;
}

static int same_domain(const char *a, const char *b) {
    if (domain_is_default(a) || domain_is_default(b))
        return domain_is_default(a) && domain_is_default(b);
    return strcmp(a, b) == 0;
}

const op_desc *op_registry_find(const char *domain, const char *type, int opset) {
    const op_desc *best = NULL;
    for (size_t f = 0; f < sizeof op_families / sizeof op_families[0]; f++) {
        for (const op_desc *d = op_families[f]; d->type; d++) {
            if (strcmp(d->type, type) != 0 || !same_domain(d->domain, domain)) continue;
            if (opset < d->since || (d->until && opset > d->until)) continue;
            if (!best || d->since > best->since) best = d;
        }
    }
    return best;
}

void op_registry_foreach(void (*fn)(const op_desc *d, void *ctx), void *ctx) {
    for (size_t f = 0; f < sizeof op_families / sizeof op_families[0]; f++)
        for (const op_desc *d = op_families[f]; d->type; d++) fn(d, ctx);
}

status op_prepare_fail(const node *n, errinfo *err, status st, const char *fmt, ...) {
    char detail[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return status_fail(err, st, "node '%s' (%s): %s", n->name, n->op_type, detail);
}

status op_prepare_same_type(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (dt == ENGINE_UNDEFINED)
        return op_prepare_fail(n, err, STATUS_INVALID_MODEL, "input 0 has no known type");
    for (int k = 0; k < n->n_outputs; k++) node_set_output_dtype(g, n, k, dt);
    return STATUS_OK;
}

status op_prepare_same_float(graph *g, node *n, errinfo *err) {
    engine_dtype dt = node_input_dtype(g, n, 0);
    if (dt != ENGINE_FLOAT && dt != ENGINE_FLOAT16 && dt != ENGINE_DOUBLE && dt != ENGINE_BFLOAT16)
        return op_prepare_fail(n, err, STATUS_UNSUPPORTED,
                               "input 0 has type %s, expected a floating type",
                               engine_dtype_name(dt));
    return op_prepare_same_type(g, n, err);
}
