/* serve_drain.c -- the drain thread: signal -> delay -> stop listening ->
 * wait for open connections -> stop the event loop -> watch the cleanup. */
#include "serve_drain.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static struct {
    serve_drain_options o;
    sem_t wake;                 /* posted by the signal handler or by finish */
    atomic_int signal;          /* the first signal's number, 0 before */
    atomic_int finished;        /* cleanup done: stand down */
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* finished */
    pthread_t thread;
    bool started;
} drain;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until `until_ms` or until finish; true if finished. */
static bool wait_finished(int64_t until_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t left = until_ms - now_ms();
    if (left < 0) left = 0;
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (long)(left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&drain.mu);
    while (!atomic_load(&drain.finished) &&
           pthread_cond_timedwait(&drain.cv, &drain.mu, &ts) != ETIMEDOUT) {
    }
    bool done = atomic_load(&drain.finished);
    pthread_mutex_unlock(&drain.mu);
    return done;
}

static _Noreturn void timeout_exit(const char *what) {
    log_error("exit timeout: %s after %d s; exiting now (--exit-timeout-secs)", what,
              drain.o.exit_timeout_secs);
    _exit(1);
}

static void *drain_main(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "inferd-drain");
    while (sem_wait(&drain.wake) && errno == EINTR) {
    }
    if (atomic_load(&drain.finished)) return NULL; /* shut down without a signal */
    int64_t t0 = now_ms(), deadline = t0 + (int64_t)drain.o.exit_timeout_secs * 1000;
    int sig = atomic_load(&drain.signal);
    log_info("%s: draining: readiness fails from now; new connections are accepted for %d s, "
             "then in-flight requests finish (exit within %d s; a second signal exits at once)",
             sig == SIGINT ? "SIGINT" : "SIGTERM", drain.o.delay_secs, drain.o.exit_timeout_secs);
    if (wait_finished(t0 + (int64_t)drain.o.delay_secs * 1000)) return NULL;
    log_info("drain: no longer accepting connections; finishing %d open connection(s)",
             http_server_connections(drain.o.http));
    http_server_stop_listening(drain.o.http);
    if (drain.o.stop_others) drain.o.stop_others(drain.o.others_ctx, deadline - now_ms());
    while (http_server_connections(drain.o.http) > 0) {
        if (now_ms() >= deadline) {
            char what[96];
            snprintf(what, sizeof what, "%d HTTP connection(s) still busy",
                     http_server_connections(drain.o.http));
            timeout_exit(what);
        }
        if (wait_finished(now_ms() + 10)) return NULL;
    }
    log_info("drain: every request answered after %.1f s; stopping", (double)(now_ms() - t0) / 1e3);
    http_server_stop(drain.o.http);
    if (!wait_finished(deadline)) timeout_exit("the shutdown did not finish");
    return NULL;
}

status serve_drain_start(const serve_drain_options *o, errinfo *err) {
    if (o->delay_secs < 0 || o->exit_timeout_secs < 0 || o->delay_secs > o->exit_timeout_secs)
        return status_fail(err, STATUS_INVALID_ARGUMENT,
                           "--drain-delay-secs (%d) must be between 0 and --exit-timeout-secs (%d)",
                           o->delay_secs, o->exit_timeout_secs);
    drain.o = *o;
    atomic_store(&drain.signal, 0);
    atomic_store(&drain.finished, 0);
    sem_init(&drain.wake, 0, 0);
    pthread_mutex_init(&drain.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&drain.cv, &ca);
    pthread_condattr_destroy(&ca);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals stay with the main thread */
    int rc = pthread_create(&drain.thread, NULL, drain_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&drain.cv);
        pthread_mutex_destroy(&drain.mu);
        sem_destroy(&drain.wake);
        return status_fail(err, STATUS_INTERNAL, "cannot start the drain thread: %s", strerror(rc));
    }
    drain.started = true;
    return STATUS_OK;
}

void serve_drain_signal(int sig) {
    int first = 0;
    if (!atomic_compare_exchange_strong(&drain.signal, &first, sig)) {
        static const char msg[] = "inferd: second signal: exiting at once\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    if (drain.o.draining) atomic_store(drain.o.draining, 1);
    sem_post(&drain.wake);
}

int serve_drain_signalled(void) { return atomic_load(&drain.signal) != 0; }

void serve_drain_finish(void) {
    if (!drain.started) return;
    pthread_mutex_lock(&drain.mu);
    atomic_store(&drain.finished, 1);
    pthread_cond_broadcast(&drain.cv);
    pthread_mutex_unlock(&drain.mu);
    sem_post(&drain.wake);
    pthread_join(drain.thread, NULL);
    pthread_cond_destroy(&drain.cv);
    pthread_mutex_destroy(&drain.mu);
    sem_destroy(&drain.wake);
    drain.started = false;
}
