/* omp_env.c -- a short OpenMP spin by default, set before libgomp
 * initializes (see omp_env.h for why a re-exec). */
#include "omp_env.h"

#include <stdlib.h>
#include <unistd.h>

void omp_env_defaults(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", OMP_ENV_SPINCOUNT, 0) != 0) return;
    execv("/proc/self/exe", argv);
    /* No /proc (or exec refused): run on with libgomp's own default. */
    unsetenv("GOMP_SPINCOUNT");
}
