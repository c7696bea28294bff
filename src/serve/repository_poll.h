/* repository_poll.h -- `--model-control-mode poll`: the repository is
 * rescanned every `--repository-poll-secs` and changes are applied while
 * the server keeps serving (serve_manager_poll in model_manager.h says
 * what a change does).
 *
 * The poller is one thread that sleeps, calls serve_manager_poll, and logs
 * a repository that cannot be read (an unmounted volume) without touching
 * what is loaded. Loads and unloads it causes run on the manager's own
 * threads, so a slow load never delays the next poll's view of deletions.
 *
 *     serve_repo_poller *p;
 *     if (serve_repo_poller_start(mm, 15, &p, &err)) die(err.msg);
 *     ... serve ...
 *     serve_repo_poller_stop(p);      // before serve_manager_destroy(mm)
 *
 * start and stop from one controlling thread. */
#ifndef INFERD_SERVE_REPOSITORY_POLL_H
#define INFERD_SERVE_REPOSITORY_POLL_H

#include "../common/status.h"
#include "model_manager.h"

typedef struct serve_repo_poller serve_repo_poller;

/* Starts polling every interval_secs (>= 1) seconds; the first poll comes
 * one interval after start (start-up already scanned). The manager must be
 * in SERVE_CONTROL_POLL mode and outlive the poller. */
status serve_repo_poller_start(serve_manager *mm, int interval_secs, serve_repo_poller **out,
                               errinfo *err);
/* Stops the thread (waiting for a poll in progress) and frees. Accepts NULL. */
void serve_repo_poller_stop(serve_repo_poller *p);

#endif
