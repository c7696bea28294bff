/* repository_poll.c -- the repository poll thread. */
#include "repository_poll.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"

struct serve_repo_poller {
    serve_manager *mm;
    int interval_secs;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* stop */
    bool stop;
    pthread_t thread;
    char last_error[512];    /* logged once until it changes or clears */
};

/* Sleeps one interval; false once stop was asked. */
static bool wait_interval(serve_repo_poller *p) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += p->interval_secs;
    pthread_mutex_lock(&p->mu);
    while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0) {
    }
    bool go_on = !p->stop;
    pthread_mutex_unlock(&p->mu);
    return go_on;
}

static void *poll_main(void *arg) {
    serve_repo_poller *p = arg;
    pthread_setname_np(pthread_self(), "inferd-poll");
    while (wait_interval(p)) {
        errinfo err;
        if (serve_manager_poll(p->mm, &err) == STATUS_OK) {
            if (p->last_error[0]) log_info("the model repository can be read again");
            p->last_error[0] = '\0';
        } else if (strcmp(err.msg, p->last_error)) {
            /* Nothing is unloaded: a volume that is briefly away must not
             * take every model down with it. */
            log_error("repository poll: %s (the loaded models keep serving)", err.msg);
            snprintf(p->last_error, sizeof p->last_error, "%s", err.msg);
        }
    }
    return NULL;
}

status serve_repo_poller_start(serve_manager *mm, int interval_secs, serve_repo_poller **out,
                               errinfo *err) {
    *out = NULL;
    if (serve_manager_control_mode(mm) != SERVE_CONTROL_POLL)
        return status_fail(err, STATUS_FAILED_PRECONDITION,
                           "the repository poller needs the manager in poll mode");
    if (interval_secs < 1)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "the repository poll interval must be at least 1 second, got %d",
                           interval_secs);
    serve_repo_poller *p = calloc(1, sizeof *p);
    if (!p) return status_fail(err, STATUS_NO_MEMORY, "out of memory starting the poller");
    p->mm = mm;
    p->interval_secs = interval_secs;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&p->thread, NULL, poll_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return status_fail(err, STATUS_INTERNAL, "cannot start the repository poller: %s",
                           strerror(rc));
    }
    *out = p;
    return STATUS_OK;
}

void serve_repo_poller_stop(serve_repo_poller *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
