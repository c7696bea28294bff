/* fuzz_onnx_model.c -- libFuzzer target: arbitrary bytes as an ONNX model.
 *
 * Loading must either succeed or fail with a status and a message; it must
 * never crash, read out of bounds, leak or take unbounded time. External
 * data is refused (base_dir NULL), so no file is ever opened.
 *
 *     cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DINFERD_FUZZ=ON
 *     cmake --build build-fuzz --target fuzz_onnx_model
 *     build-fuzz/fuzz_onnx_model -max_total_time=300 corpus/ tests/fuzz/corpus/fuzz_onnx_model
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    engine_model *m = NULL;
    errinfo err;
    status st = engine_model_load_buffer(data, size, NULL, NULL, &m, &err);
    if (st == STATUS_OK) {
        /* Touch the metadata the server reads after a load. */
        for (int i = 0; i < engine_model_input_count(m); i++) (void)strlen(engine_model_input(m, i)->name);
        for (int i = 0; i < engine_model_output_count(m); i++) (void)strlen(engine_model_output(m, i)->name);
        (void)engine_model_weight_bytes(m);
    } else {
        (void)strlen(err.msg);
    }
    engine_model_destroy(m);
    return 0;
}
