/* test_convert.c -- the generated conversions against dtype.c's scalar
 * reference (float16/bfloat16, bit for bit) and ONNX Cast's edge cases. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/dtype.h"
#include "engine/kernels/convert.h"

static int failures;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond) && failures++ < 20) {                                      \
            printf("%s:%d: ", __FILE__, __LINE__);                             \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Every float16 and bfloat16 to float, exactly as the scalar reference. */
static void test_half_to_float(void) {
    static uint16_t h[65536];
    static float f16[65536], fb16[65536];
    for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    convert_get(ENGINE_FLOAT16, ENGINE_FLOAT)(h, f16, 65536);
    convert_get(ENGINE_BFLOAT16, ENGINE_FLOAT)(h, fb16, 65536);
    for (int i = 0; i < 65536; i++) {
        CHECK(bits(f16[i]) == bits(dtype_half_to_float(h[i])), "f16 %04x", i);
        CHECK(bits(fb16[i]) == bits(dtype_bfloat16_to_float(h[i])), "bf16 %04x", i);
    }
}

/* A spread of float bit patterns (every 4099th, plus the neighbourhood of
 * each half's rounding boundaries) to float16 and bfloat16. */
static void test_float_to_half(void) {
    enum { N = 4096 };
    static float f[N];
    static uint16_t h[N], b[N];
    uint64_t u = 0;
    while (u <= 0xffffffffu) {
        int n = 0;
        for (; n < N && u <= 0xffffffffu; n++, u += 4099) {
            uint32_t x = (uint32_t)u;
            memcpy(&f[n], &x, sizeof x);
        }
        convert_get(ENGINE_FLOAT, ENGINE_FLOAT16)(f, h, n);
        convert_get(ENGINE_FLOAT, ENGINE_BFLOAT16)(f, b, n);
        for (int i = 0; i < n; i++) {
            CHECK(h[i] == dtype_float_to_half(f[i]), "f16(%08x) = %04x, want %04x", bits(f[i]),
                  h[i], dtype_float_to_half(f[i]));
            CHECK(b[i] == dtype_float_to_bfloat16(f[i]), "bf16(%08x)", bits(f[i]));
        }
    }
    /* Ties and boundaries: every half value's midpoints, +-1 ulp of float. */
    for (int hv = 0; hv < 0x7c00; hv++) {
        float lo = dtype_half_to_float((uint16_t)hv), hi = dtype_half_to_float((uint16_t)(hv + 1));
        float mid = (lo + hi) / 2, probe[3] = {nextafterf(mid, 0), mid, nextafterf(mid, INFINITY)};
        uint16_t got[3];
        convert_get(ENGINE_FLOAT, ENGINE_FLOAT16)(probe, got, 3);
        for (int k = 0; k < 3; k++)
            CHECK(got[k] == dtype_float_to_half(probe[k]), "f16 tie near %04x", hv);
    }
}

static void test_cast_semantics(void) {
    float f[6] = {300.7f, -300.7f, NAN, INFINITY, -1.9f, 1e20f};
    int8_t i8[6];
    uint8_t u8[6], b[6];
    int64_t i64[6];
    convert_get(ENGINE_FLOAT, ENGINE_INT8)(f, i8, 6);
    convert_get(ENGINE_FLOAT, ENGINE_UINT8)(f, u8, 6);
    convert_get(ENGINE_FLOAT, ENGINE_BOOL)(f, b, 6);
    convert_get(ENGINE_FLOAT, ENGINE_INT64)(f, i64, 6);
    CHECK(i8[0] == 127 && i8[1] == -128 && i8[2] == 0 && i8[3] == 127 && i8[4] == -1,
          "float->int8 saturates and truncates");
    CHECK(u8[0] == 255 && u8[1] == 0 && u8[4] == 0, "float->uint8 saturates");
    CHECK(b[0] && b[1] && b[2] && b[3] && b[4] && b[5], "float->bool is != 0");
    CHECK(i64[5] == INT64_MAX, "1e20 -> INT64_MAX");

    int64_t big[2] = {0x123456789LL, -1};
    int32_t i32[2];
    uint16_t u16[2];
    convert_get(ENGINE_INT64, ENGINE_INT32)(big, i32, 2);
    convert_get(ENGINE_INT64, ENGINE_UINT16)(big, u16, 2);
    CHECK(i32[0] == 0x23456789 && i32[1] == -1, "int64->int32 wraps");
    CHECK(u16[0] == 0x6789 && u16[1] == 0xffff, "int64->uint16 wraps");

    uint64_t u64 = UINT64_MAX;
    double d;
    convert_get(ENGINE_UINT64, ENGINE_DOUBLE)(&u64, &d, 1);
    CHECK(d == 18446744073709551616.0, "uint64 max -> double");

    CHECK(convert_get(ENGINE_STRING, ENGINE_FLOAT) == NULL, "no string conversion");
    CHECK(convert_get(ENGINE_FLOAT, ENGINE_UNDEFINED) == NULL, "no undefined conversion");
}

int main(void) {
    test_half_to_float();
    test_float_to_half();
    test_cast_semantics();
    if (failures) printf("test_convert: %d failures\n", failures);
    return failures != 0;
}
