/* load_priority.h -- background loads at idle CPU priority.
 *
 * A version loaded while the server serves (poll, explicit load) parses,
 * plans and warms up on the same cores that answer requests; on a small
 * machine its warmup would compete with every model's latency. So the
 * loader thread runs such a load under SCHED_IDLE, and so do the threads it
 * creates meanwhile (the version's workers and their OpenMP pools inherit
 * the policy); when the version is ready they all go back to SCHED_OTHER.
 * CFS still gives SCHED_IDLE threads a small share, so a load finishes even
 * on a saturated machine, just later.
 *
 * Going back needs no privilege: leaving SCHED_IDLE for SCHED_OTHER is
 * allowed while the nice value stays what it was (lowering nice would not
 * be). The threads created during the load are found by comparing
 * /proc/self/task before and after; threads that other code created
 * meanwhile are set to SCHED_OTHER too, which they already have.
 *
 *     serve_bg_load bg;
 *     serve_bg_load_begin(&bg);     // on the loader thread
 *     ... load, create instances, warm up ...
 *     serve_bg_load_end(&bg);       // everything back to normal priority
 *
 * Failures (no /proc, a policy the kernel refuses) only mean the load runs
 * at normal priority. */
#ifndef INFERD_SERVE_LOAD_PRIORITY_H
#define INFERD_SERVE_LOAD_PRIORITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct serve_bg_load {
    pid_t *before;     /* thread ids when the load began, sorted */
    size_t n_before;
    bool idle;         /* the calling thread was switched to SCHED_IDLE */
} serve_bg_load;

void serve_bg_load_begin(serve_bg_load *b);
void serve_bg_load_end(serve_bg_load *b);

#endif
