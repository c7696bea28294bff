/* fuzz_tensor_proto.c -- libFuzzer target: arbitrary bytes as a serialized
 * onnx.TensorProto (the format of ONNX test data, and of tensors a client
 * may upload). Decoding must succeed with data of exactly the size the shape
 * and type say, or fail cleanly.
 *
 *     build-fuzz/fuzz_tensor_proto -max_total_time=300 corpus/ tests/fuzz/corpus/fuzz_tensor_proto
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    engine_tensor t;
    char *name = NULL;
    errinfo err;
    if (engine_tensor_from_proto(data, size, &t, &name, &err) == STATUS_OK) {
        int64_t n = engine_shape_numel(&t.shape);
        size_t es = engine_dtype_size(t.dtype);
        if (n < 0 || (size_t)n * es != t.nbytes || !t.data) abort();
        if (t.dtype == ENGINE_STRING) {
            const engine_string *s = t.data;
            for (int64_t i = 0; i < n; i++)
                if (s[i].len) (void)((volatile const char *)s[i].ptr)[s[i].len - 1];
        } else if (t.nbytes) {
            (void)((volatile const uint8_t *)t.data)[t.nbytes - 1];
        }
        engine_tensor_release(&t);
        free(name);
    }
    return 0;
}
