/* omp_env.h -- OpenMP defaults that must be in place before libgomp starts.
 *
 * libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT once, in its constructor,
 * before main() runs, so the only way for the binary to pick its own default
 * is to set the variable and re-execute itself. By default idle OpenMP
 * threads spin for a long while; on a machine whose cores are shared (several
 * instances, other pods) the spinning threads take the CPU from the ones
 * doing the work, and latency grows by 5-20x (docs/design.md, "Engine speed:
 * what we tried"). inferd therefore defaults to OMP_WAIT_POLICY=passive; a
 * user who sets either variable keeps their own choice.
 *
 *     int main(int argc, char **argv) {
 *         omp_env_defaults(argv);   // may not return: re-executes once
 *         ...
 */
#ifndef INFERD_OMP_ENV_H
#define INFERD_OMP_ENV_H

/* Sets OMP_WAIT_POLICY=passive and re-executes /proc/self/exe with the same
 * argv, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is already set. Returns
 * (doing nothing more) if the re-execution is impossible. */
void omp_env_defaults(char **argv);

#endif
