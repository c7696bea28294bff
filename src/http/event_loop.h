/* event_loop.h -- a small single-threaded epoll loop: file descriptor
 * readiness, one-shot timers and a cross-thread wakeup, in the manner of
 * Redis's ae.c. Used by the HTTP server; nothing HTTP-specific in it.
 *
 *     evloop *l;
 *     evloop_create(&l, &err);
 *     evloop_io io = {.fd = sock, .cb = on_ready, .data = conn};
 *     evloop_io_set(l, &io, EVLOOP_READ);      // level-triggered
 *     evloop_timer t = {.cb = on_timeout, .data = conn};
 *     evloop_timer_start(l, &t, 30000);         // ms from now
 *     evloop_run(l);                            // until evloop_stop()
 *
 * Everything but evloop_wake and evloop_stop must be called on the loop's
 * thread. Events are level-triggered. An evloop_io or evloop_timer is
 * owned by the caller and must stay allocated while registered; an io
 * removed during a callback may still be reported once later in the same
 * batch, so free its owner only after evloop_run returns to the loop (the
 * before_poll hook runs at a safe point). */
#ifndef INFERD_EVENT_LOOP_H
#define INFERD_EVENT_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

enum {
    EVLOOP_READ = 1,
    EVLOOP_WRITE = 2,
    EVLOOP_RDHUP = 4, /* peer closed its writing side */
    EVLOOP_ERROR = 8, /* reported, never requested: error or hang-up */
};

typedef struct evloop evloop;
typedef struct evloop_io evloop_io;
typedef struct evloop_timer evloop_timer;

typedef void (*evloop_io_fn)(evloop *l, evloop_io *io, unsigned events);
typedef void (*evloop_timer_fn)(evloop *l, evloop_timer *t);
typedef void (*evloop_hook_fn)(evloop *l, void *data);

struct evloop_io {
    int fd;
    evloop_io_fn cb;
    void *data;
    unsigned events; /* current interest; managed by evloop_io_set */
    int registered;
};

struct evloop_timer {
    evloop_timer_fn cb;
    void *data;
    int64_t deadline; /* ms on the loop's monotonic clock */
    size_t heap_index; /* 0 = not armed */
};

status evloop_create(evloop **out, errinfo *err);
/* Closes the epoll and eventfd descriptors, not the callers'. Accepts NULL. */
void evloop_destroy(evloop *l);

/* Sets the interest of io to events (0 = none, but still registered so
 * errors are reported). Returns 0, or -1 with errno from epoll_ctl. */
int evloop_io_set(evloop *l, evloop_io *io, unsigned events);
/* Unregisters io (before its fd is closed). */
void evloop_io_remove(evloop *l, evloop_io *io);

/* Arms t to fire once, ms from now (restarts it if armed). Returns 0, or
 * -1 if the timer heap cannot grow. */
int evloop_timer_start(evloop *l, evloop_timer *t, int64_t ms);
void evloop_timer_stop(evloop *l, evloop_timer *t);
static inline int evloop_timer_armed(const evloop_timer *t) { return t->heap_index != 0; }
/* Preallocates room for n armed timers so starting them cannot fail. */
int evloop_timer_reserve(evloop *l, size_t n);

/* Milliseconds on CLOCK_MONOTONIC, as of the current loop iteration. */
int64_t evloop_now(const evloop *l);

/* wake_fn runs on the loop thread after evloop_wake; before_poll runs once
 * per iteration before waiting. Either may be NULL. */
void evloop_set_hooks(evloop *l, evloop_hook_fn wake_fn, evloop_hook_fn before_poll,
                      void *data);

/* Runs until evloop_stop. Returns STATUS_IO_ERROR if epoll_wait fails. */
status evloop_run(evloop *l);
/* Any thread, async-signal-safe: makes the loop call wake_fn soon. */
void evloop_wake(evloop *l);
/* Any thread, async-signal-safe: makes evloop_run return soon, and any
 * later evloop_run return at once (a stop is never lost to a race). */
void evloop_stop(evloop *l);

#endif
