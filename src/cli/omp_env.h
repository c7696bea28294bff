/* omp_env.h -- OpenMP defaults that must be in place before libgomp starts.
 *
 * libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT once, in its constructor,
 * before main() runs, so the only way for the binary to pick its own default
 * is to set the variable and re-execute itself. Idle OpenMP threads spin
 * before they sleep. libgomp's default spin (300,000 rounds) takes the CPU
 * from the threads doing the work when the cores are shared (several
 * instances, other pods): 5-20x slower under load. Not spinning at all
 * (OMP_WAIT_POLICY=passive) makes every parallel region pay a futex wake-up:
 * 2-7x slower on an idle machine for models made of many small layers
 * (docs/design.md, "Engine speed: what we tried"). A short spin keeps nearly
 * all of the idle-machine speed; a user who sets either variable keeps
 * their own choice.
 *
 * The spin is GOMP_SPINCOUNT=1000 with OMP_WAIT_POLICY=active. Once a
 * process holds more OpenMP threads than CPUs -- several models or
 * instances, each worker with its own team -- libgomp spins only its
 * "throttled" count, 100 rounds under the default policy, which makes a
 * 2-thread instance pay a futex wake-up per parallel region again (mobilenet
 * 64x64 at 2 threads in a process with 4 models: 3 ms instead of 0.5).
 * Under the active policy the throttled count is 1000, and GOMP_SPINCOUNT
 * caps the normal one at the same 1000, so the spin is short everywhere and
 * the same whether one model is loaded or ten.
 *
 *     int main(int argc, char **argv) {
 *         omp_env_defaults(argv);   // may not return: re-executes once
 *         ...
 */
#ifndef INFERD_OMP_ENV_H
#define INFERD_OMP_ENV_H

#define OMP_ENV_SPINCOUNT "1000"

/* Sets OMP_WAIT_POLICY=active and GOMP_SPINCOUNT=OMP_ENV_SPINCOUNT and
 * re-executes /proc/self/exe with the same argv, unless OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT is already set. Returns (doing nothing more) if the
 * re-execution is impossible. */
void omp_env_defaults(char **argv);

#endif
