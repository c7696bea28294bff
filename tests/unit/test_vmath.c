/* test_vmath.c -- the vectorizable exp/sigmoid/tanh/erf/erfc/gelu against libm. */
#include <math.h>
#include <stdio.h>

#include "engine/kernels/vmath.h"

static int failures;

/* Relative error with an absolute floor, as the conformance tolerance does. */
static void check(const char *what, float x, double got, double want, double tol) {
    double err = fabs(got - want);
    double scale = fabs(want) > 1e-30 ? fabs(want) : 1e-30;
    if (isnan(want) ? !isnan(got) : (err > tol * scale && err > 1e-37)) {
        if (failures++ < 20)
            printf("%s(%.9g) = %.9g, want %.9g (rel %.3g)\n", what, x, got, want, err / scale);
    }
}

int main(void) {
    for (double v = -100; v <= 100; v += 0.0137) {
        float x = (float)v;
        check("exp", x, vm_expf(x), x < -86.5 ? 0.0 : (double)(float)exp(x), 2e-7);
        check("sigmoid", x, vm_sigmoidf(x), x < -86.5 ? 0.0 : 1.0 / (1.0 + exp(-(double)x)), 2e-7);
        check("tanh", x, vm_tanhf(x), tanh(x), 5e-7);
        check("erf", x, vm_erff(x), erf(x), 5e-7);
        check("gelu", x, vm_geluf(x), 0.5 * x * erfc(-x / sqrt(2.0)), x > -5 ? 2e-6 : 5e-5);
        if (x >= 0 && x < 9)
            check("erfc", x, vm_erfcf_pos(x), erfc(x), x < 3 ? 1e-6 : 2e-5);
    }
    for (double v = -1e-3; v <= 1e-3; v += 1.37e-6) {
        float x = (float)v;
        check("exp", x, vm_expf(x), exp(x), 2e-7);
        check("tanh", x, vm_tanhf(x), tanh(x), 2e-7);
        check("erf", x, vm_erff(x), erf(x), 2e-7);
    }
    float inf = INFINITY, nan = NAN;
    check("exp", inf, vm_expf(inf), INFINITY, 0);
    check("exp", -inf, vm_expf(-inf), 0, 0);
    check("exp", nan, vm_expf(nan), NAN, 0);
    check("exp", 88.7f, vm_expf(88.7f), exp(88.7f), 2e-7);
    check("tanh", inf, vm_tanhf(inf), 1, 0);
    check("tanh", -inf, vm_tanhf(-inf), -1, 0);
    check("erf", inf, vm_erff(inf), 1, 0);
    check("erf", nan, vm_erff(nan), NAN, 0);
    check("sigmoid", -inf, vm_sigmoidf(-inf), 0, 0);
    check("sigmoid", inf, vm_sigmoidf(inf), 1, 0);
    if (failures) printf("test_vmath: %d failures\n", failures);
    return failures != 0;
}
