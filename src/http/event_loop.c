/* event_loop.c -- epoll, a binary min-heap of timers, and an eventfd for
 * wakeups from other threads (see event_loop.h). */
#include "http/event_loop.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum { MAX_EVENTS = 256 };

struct evloop {
    int epfd;
    int wakefd;
    atomic_int stop;
    atomic_int wake_pending; /* an eventfd write is outstanding */
    int64_t now;
    evloop_timer **heap; /* 1-based; heap[0] unused */
    size_t heap_len, heap_cap;
    evloop_hook_fn wake_fn, before_poll;
    void *hook_data;
    evloop_io wake_io;
};

static int64_t clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t evloop_now(const evloop *l) { return l->now; }

status evloop_create(evloop **out, errinfo *err) {
    *out = NULL;
    evloop *l = calloc(1, sizeof *l);
    if (!l) return status_fail(err, STATUS_NO_MEMORY, "out of memory creating event loop");
    l->epfd = l->wakefd = -1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) goto fail;
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wakefd < 0) goto fail;
    l->wake_io.fd = l->wakefd;
    if (evloop_io_set(l, &l->wake_io, EVLOOP_READ)) goto fail;
    l->now = clock_ms();
    *out = l;
    return STATUS_OK;
fail:
    status_fail(err, STATUS_IO_ERROR, "event loop: %s", strerror(errno));
    evloop_destroy(l);
    return STATUS_IO_ERROR;
}

void evloop_destroy(evloop *l) {
    if (!l) return;
    if (l->epfd >= 0) close(l->epfd);
    if (l->wakefd >= 0) close(l->wakefd);
    free(l->heap);
    free(l);
}

void evloop_set_hooks(evloop *l, evloop_hook_fn wake_fn, evloop_hook_fn before_poll, void *data) {
    l->wake_fn = wake_fn;
    l->before_poll = before_poll;
    l->hook_data = data;
}

/* ---- descriptors ----------------------------------------------------- */

int evloop_io_set(evloop *l, evloop_io *io, unsigned events) {
    if (io->registered && io->events == events) return 0;
    struct epoll_event ev = {.data.ptr = io};
    if (events & EVLOOP_READ) ev.events |= EPOLLIN;
    if (events & EVLOOP_WRITE) ev.events |= EPOLLOUT;
    if (events & EVLOOP_RDHUP) ev.events |= EPOLLRDHUP;
    int op = io->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, io->fd, &ev) < 0) return -1;
    io->registered = 1;
    io->events = events;
    return 0;
}

void evloop_io_remove(evloop *l, evloop_io *io) {
    if (!io->registered) return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->registered = 0;
    io->events = 0;
}

/* ---- timers: a binary min-heap on deadline --------------------------- */

static void heap_place(evloop *l, size_t i, evloop_timer *t) {
    l->heap[i] = t;
    t->heap_index = i;
}

static void sift_up(evloop *l, size_t i) {
    evloop_timer *t = l->heap[i];
    while (i > 1 && l->heap[i / 2]->deadline > t->deadline) {
        heap_place(l, i, l->heap[i / 2]);
        i /= 2;
    }
    heap_place(l, i, t);
}

static void sift_down(evloop *l, size_t i) {
    evloop_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i;
        if (c > l->heap_len) break;
        if (c + 1 <= l->heap_len && l->heap[c + 1]->deadline < l->heap[c]->deadline) c++;
        if (l->heap[c]->deadline >= t->deadline) break;
        heap_place(l, i, l->heap[c]);
        i = c;
    }
    heap_place(l, i, t);
}

int evloop_timer_reserve(evloop *l, size_t n) {
    if (n + 1 <= l->heap_cap) return 0;
    evloop_timer **nh = realloc(l->heap, (n + 1) * sizeof *nh);
    if (!nh) return -1;
    l->heap = nh;
    l->heap_cap = n + 1;
    return 0;
}

void evloop_timer_stop(evloop *l, evloop_timer *t) {
    size_t i = t->heap_index;
    if (!i) return;
    t->heap_index = 0;
    evloop_timer *last = l->heap[l->heap_len--];
    if (last == t) return;
    heap_place(l, i, last);
    if (i > 1 && l->heap[i / 2]->deadline > last->deadline) sift_up(l, i);
    else sift_down(l, i);
}

int evloop_timer_start(evloop *l, evloop_timer *t, int64_t ms) {
    int64_t deadline = l->now + (ms < 0 ? 0 : ms);
    if (t->heap_index) {
        int64_t old = t->deadline;
        t->deadline = deadline;
        if (deadline < old) sift_up(l, t->heap_index);
        else sift_down(l, t->heap_index);
        return 0;
    }
    if (l->heap_len + 2 > l->heap_cap &&
        evloop_timer_reserve(l, l->heap_cap ? 2 * l->heap_cap : 64) < 0)
        return -1;
    t->deadline = deadline;
    l->heap[++l->heap_len] = t;
    t->heap_index = l->heap_len;
    sift_up(l, l->heap_len);
    return 0;
}

static void run_timers(evloop *l) {
    while (l->heap_len && l->heap[1]->deadline <= l->now && !atomic_load(&l->stop)) {
        evloop_timer *t = l->heap[1];
        evloop_timer_stop(l, t);
        t->cb(l, t);
    }
}

/* ---- the loop -------------------------------------------------------- */

void evloop_wake(evloop *l) {
    /* One eventfd write per batch of wakeups: the loop clears the flag
     * before draining, so a wake that races with the drain writes again. */
    if (atomic_exchange(&l->wake_pending, 1)) return;
    uint64_t one = 1;
    ssize_t n = write(l->wakefd, &one, sizeof one);
    (void)n; /* EAGAIN means the counter is already nonzero: fine */
}

void evloop_stop(evloop *l) {
    atomic_store(&l->stop, 1);
    uint64_t one = 1;
    ssize_t n = write(l->wakefd, &one, sizeof one);
    (void)n;
}

static void drain_wakeups(evloop *l) {
    uint64_t v;
    ssize_t n = read(l->wakefd, &v, sizeof v);
    (void)n;
    atomic_store(&l->wake_pending, 0);
    if (l->wake_fn) l->wake_fn(l, l->hook_data);
}

status evloop_run(evloop *l) {
    struct epoll_event evs[MAX_EVENTS];
    while (!atomic_load(&l->stop)) {
        if (l->before_poll) l->before_poll(l, l->hook_data);
        int timeout = -1;
        if (l->heap_len) {
            int64_t d = l->heap[1]->deadline - clock_ms();
            timeout = d < 0 ? 0 : d > 3600000 ? 3600000 : (int)d + 1;
        }
        int n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout);
        l->now = clock_ms();
        if (n < 0) {
            if (errno == EINTR) continue;
            return STATUS_IO_ERROR;
        }
        for (int i = 0; i < n && !atomic_load(&l->stop); i++) {
            evloop_io *io = evs[i].data.ptr;
            if (io == &l->wake_io) {
                drain_wakeups(l);
                continue;
            }
            unsigned e = 0, r = evs[i].events;
            if (r & EPOLLIN) e |= EVLOOP_READ;
            if (r & EPOLLOUT) e |= EVLOOP_WRITE;
            if (r & EPOLLRDHUP) e |= EVLOOP_RDHUP;
            if (r & (EPOLLERR | EPOLLHUP)) e |= EVLOOP_ERROR;
            if (io->registered) io->cb(l, io, e);
        }
        run_timers(l);
    }
    return STATUS_OK;
}
