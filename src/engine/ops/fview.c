/* fview.c -- fp32 views of tensors through the node's scratch memory. */
#include "fview.h"

#include "../kernels/convert.h"

const float *fview_input(exec_ctx *x, const engine_tensor *t) {
    if (!t) return NULL;
    if (t->dtype == ENGINE_FLOAT) return t->data;
    convert_fn f = convert_get(t->dtype, ENGINE_FLOAT);
    int64_t n = engine_shape_numel(&t->shape);
    float *buf = f && n >= 0 ? exec_scratch(x, (size_t)n * sizeof(float) + 1) : NULL;
    if (buf) f(t->data, buf, n);
    return buf;
}

float *fview_output(exec_ctx *x, engine_tensor *t) {
    if (t->dtype == ENGINE_FLOAT) return t->data;
    int64_t n = engine_shape_numel(&t->shape);
    return n >= 0 ? exec_scratch(x, (size_t)n * sizeof(float) + 1) : NULL;
}

void fview_commit(engine_tensor *t, const float *f) {
    if (t->dtype == ENGINE_FLOAT || (const void *)f == t->data) return;
    convert_fn c = convert_get(ENGINE_FLOAT, t->dtype);
    if (c) c(f, t->data, engine_shape_numel(&t->shape));
}
