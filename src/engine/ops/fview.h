/* fview.h -- fp32 views of tensors for ops that compute float16, bfloat16
 * (and, where precision allows, double) in float32.
 *
 * A float32 tensor is viewed in place; any other numeric type is converted
 * into the node's scratch memory. Outputs work the same way in reverse:
 * compute into fview_output()'s buffer, then fview_commit() converts it into
 * the tensor (a no-op for float32).
 *
 *     const float *xf = fview_input(x, exec_input(x, 0));
 *     float *yf = fview_output(x, y);
 *     if (!xf || !yf) return exec_fail(x, STATUS_NO_MEMORY, "out of memory");
 *     ... compute yf from xf ...
 *     fview_commit(y, yf);
 */
#ifndef INFERD_FVIEW_H
#define INFERD_FVIEW_H

#include "../exec.h"

/* t's values as float32, or NULL when out of memory. t may be NULL (-> NULL). */
const float *fview_input(exec_ctx *x, const engine_tensor *t);
/* A float32 buffer for output t, or NULL when out of memory. */
float *fview_output(exec_ctx *x, engine_tensor *t);
/* Stores the float32 values f into t (converting unless t is float32). */
void fview_commit(engine_tensor *t, const float *f);

#endif
