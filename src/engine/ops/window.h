/* window.h -- sliding-window attributes shared by Conv, ConvTranspose and the
 * pooling ops: kernel_shape, strides, dilations, pads, auto_pad, ceil_mode.
 *
 * prepare() parses them once with window_attrs_parse(); run() resolves them
 * against the concrete input with window_resolve(), which yields the output
 * size and the leading pads per spatial axis (or a message saying which
 * attribute does not fit the input).
 *
 *     window_attrs wa;
 *     if ((st = window_attrs_parse(n, 0, &wa, err))) return st;
 *     ...
 *     if (window_resolve(&wa, nsp, in_dims, kernel, out, pad_begin, pad_end,
 *                        why, sizeof why))
 *         return exec_fail(x, STATUS_INVALID_ARGUMENT, "%s", why);
 */
#ifndef INFERD_WINDOW_H
#define INFERD_WINDOW_H

#include "../graph.h"

#define WINDOW_MAX_SPATIAL (ENGINE_MAX_RANK - 2)
/* Largest kernel size, stride, dilation, pad or output size accepted. */
#define WINDOW_MAX_ATTR (INT64_C(1) << 24)

typedef enum window_pad {
    WINDOW_PAD_NOTSET = 0,
    WINDOW_PAD_SAME_UPPER,
    WINDOW_PAD_SAME_LOWER,
    WINDOW_PAD_VALID
} window_pad;

typedef struct window_attrs {
    int nsp;                 /* spatial rank fixed by an attribute, 0 if none does */
    window_pad auto_pad;
    int ceil_mode;
    int has_kernel, has_strides, has_dilations, has_pads;
    int64_t kernel[WINDOW_MAX_SPATIAL];
    int64_t strides[WINDOW_MAX_SPATIAL];
    int64_t dilations[WINDOW_MAX_SPATIAL];
    int64_t pads[2 * WINDOW_MAX_SPATIAL];   /* begins, then ends */
} window_attrs;

/* Parses the attributes; need_kernel makes kernel_shape mandatory (pools). */
status window_attrs_parse(const node *n, int need_kernel, window_attrs *w, errinfo *err);

/* Checks that the attribute lists fit a spatial rank of nsp; 0 or -1 with
 * a message in why. */
int window_check_rank(const window_attrs *w, int nsp, char *why, size_t len);

/* For a window of `kernel` sliding over `in` (nsp axes): output size and
 * leading/trailing pads. Returns 0, or -1 with a message in why. */
int window_resolve(const window_attrs *w, int nsp, const int64_t *in, const int64_t *kernel,
                   int64_t *out, int64_t *pad_begin, int64_t *pad_end, char *why, size_t len);

#endif
