/* fuzz_model_config.c -- libFuzzer target for config.pbtxt parsing.
 *
 * Feeds arbitrary bytes through the text-format parser and the mapping to
 * model_config. Any input must give either a config or an error message,
 * never a crash, leak or sanitizer report.
 *
 *     cmake -B build-fuzz -DINFERD_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *     cmake --build build-fuzz --target fuzz_model_config
 *     build-fuzz/fuzz_model_config -max_total_time=300 tests/fuzz/corpus/fuzz_model_config -dict=tests/fuzz/model_config.dict
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/log.h"
#include "serve/model_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    log_set_fd(-1);
    model_config *cfg = NULL;
    errinfo err;
    status st = model_config_parse((const char *)data, size, "fuzz", &cfg, &err);
    if (st == STATUS_OK) {
        /* touch what a consumer reads */
        volatile size_t sink = cfg->n_inputs + cfg->n_outputs + (size_t)model_config_instance_count(cfg);
        for (size_t i = 0; i < cfg->n_inputs; i++) sink += strlen(cfg->inputs[i].name);
        (void)sink;
        model_config_release(cfg);
    } else {
        volatile size_t sink = strlen(err.msg);
        (void)sink;
    }
    return 0;
}
