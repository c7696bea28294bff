/* omp_env.c -- a short OpenMP spin by default, set before libgomp
 * initializes (see omp_env.h for why a re-exec). */
#include "omp_env.h"

#include <stdlib.h>
#include <unistd.h>

void omp_env_defaults(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    /* "active" only for what it does to the throttled spin (omp_env.h):
     * GOMP_SPINCOUNT bounds every spin anyway. */
    if (setenv("OMP_WAIT_POLICY", "active", 0) != 0 ||
        setenv("GOMP_SPINCOUNT", OMP_ENV_SPINCOUNT, 0) != 0)
        goto undo;
    execv("/proc/self/exe", argv);
undo:
    /* No /proc (or exec refused): run on with libgomp's own defaults. */
    unsetenv("OMP_WAIT_POLICY");
    unsetenv("GOMP_SPINCOUNT");
}
