/* datatype.c -- engine_dtype <-> KServe <-> Triton config names, one table. */
#include "datatype.h"

#include <stdio.h>
#include <string.h>

/*     engine type      KServe   Triton config index */
#define SERVE_DATATYPES(X)                \
    X(ENGINE_BOOL,     "BOOL",   1)       \
    X(ENGINE_UINT8,    "UINT8",  2)       \
    X(ENGINE_UINT16,   "UINT16", 3)       \
    X(ENGINE_UINT32,   "UINT32", 4)       \
    X(ENGINE_UINT64,   "UINT64", 5)       \
    X(ENGINE_INT8,     "INT8",   6)       \
    X(ENGINE_INT16,    "INT16",  7)       \
    X(ENGINE_INT32,    "INT32",  8)       \
    X(ENGINE_INT64,    "INT64",  9)       \
    X(ENGINE_FLOAT16,  "FP16",   10)      \
    X(ENGINE_FLOAT,    "FP32",   11)      \
    X(ENGINE_DOUBLE,   "FP64",   12)      \
    X(ENGINE_STRING,   "BYTES",  13)      \
    X(ENGINE_BFLOAT16, "BF16",   14)

#define CONFIG_TYPE_COUNT 15

typedef struct datatype_row {
    engine_dtype dt;
    const char *kserve;
    int config_index;
} datatype_row;

static const datatype_row datatype_rows[] = {
#define DT_ROW(dt, ks, idx) {dt, ks, idx},
    SERVE_DATATYPES(DT_ROW)
#undef DT_ROW
};

#define N_ROWS (sizeof datatype_rows / sizeof datatype_rows[0])

/* Triton spells BYTES as TYPE_STRING in config files. */
static const char *const config_names[CONFIG_TYPE_COUNT] = {
    "TYPE_INVALID", "TYPE_BOOL",  "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32",
    "TYPE_UINT64",  "TYPE_INT8",  "TYPE_INT16", "TYPE_INT32",  "TYPE_INT64",
    "TYPE_FP16",    "TYPE_FP32",  "TYPE_FP64",  "TYPE_STRING", "TYPE_BF16",
};

static const datatype_row *row_of(engine_dtype dt) {
    for (size_t i = 0; i < N_ROWS; i++)
        if (datatype_rows[i].dt == dt) return &datatype_rows[i];
    return NULL;
}

const char *serve_datatype_name(engine_dtype dt) {
    const datatype_row *r = row_of(dt);
    return r ? r->kserve : "INVALID";
}

engine_dtype serve_datatype_parse(const char *name) {
    for (size_t i = 0; name && i < N_ROWS; i++)
        if (!strcmp(datatype_rows[i].kserve, name)) return datatype_rows[i].dt;
    return ENGINE_UNDEFINED;
}

const char *serve_datatype_config_name(engine_dtype dt) {
    const datatype_row *r = row_of(dt);
    return r ? config_names[r->config_index] : config_names[0];
}

size_t serve_datatype_size(engine_dtype dt) {
    if (dt == ENGINE_STRING) return sizeof(engine_string);
    return engine_dtype_size(dt);
}

const char *const *serve_datatype_config_names(int *count) {
    *count = CONFIG_TYPE_COUNT;
    return config_names;
}

engine_dtype serve_datatype_from_config_index(int index) {
    for (size_t i = 0; i < N_ROWS; i++)
        if (datatype_rows[i].config_index == index) return datatype_rows[i].dt;
    return ENGINE_UNDEFINED;
}

const char *serve_dims_format(char *buf, size_t len, int rank, const int64_t *dims) {
    if (!len) return buf;
    if (rank < 0) {
        snprintf(buf, len, "[*]");
        return buf;
    }
    size_t o = 0;
    buf[0] = '\0';
    o += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
    return buf;
}
