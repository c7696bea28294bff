/* load_priority.c -- SCHED_IDLE for background loads, and back. */
#include "load_priority.h"

#include <dirent.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"

static int cmp_pid(const void *a, const void *b) {
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* This process's thread ids, sorted; NULL (and 0) if /proc is not there. */
static pid_t *list_threads(size_t *n) {
    *n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return NULL;
    size_t cap = 64;
    pid_t *v = malloc(cap * sizeof *v);
    struct dirent *e;
    while (v && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        if (*n == cap) {
            pid_t *w = realloc(v, (cap *= 2) * sizeof *v);
            if (!w) {
                free(v);
                v = NULL;
                break;
            }
            v = w;
        }
        v[(*n)++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    if (!v) *n = 0;
    else qsort(v, *n, sizeof *v, cmp_pid);
    return v;
}

static int set_policy(pid_t tid, int policy) {
    struct sched_param p = {.sched_priority = 0};
    return sched_setscheduler(tid, policy, &p);
}

void serve_bg_load_begin(serve_bg_load *b) {
    memset(b, 0, sizeof *b);
    if (sched_getscheduler(0) != SCHED_OTHER) return; /* someone chose a policy: keep it */
    b->before = list_threads(&b->n_before);
    if (!b->before) return;
    b->idle = set_policy(0, SCHED_IDLE) == 0;
    if (!b->idle) log_debug("background load: SCHED_IDLE refused; loading at normal priority");
}

void serve_bg_load_end(serve_bg_load *b) {
    if (b->idle) {
        if (set_policy(0, SCHED_OTHER))
            log_warn("background load: cannot return the loader thread to SCHED_OTHER");
        size_t n;
        pid_t *now = list_threads(&n);
        for (size_t i = 0; now && i < n; i++)
            if (!bsearch(&now[i], b->before, b->n_before, sizeof *now, cmp_pid) &&
                sched_getscheduler(now[i]) == SCHED_IDLE)
                set_policy(now[i], SCHED_OTHER);
        free(now);
    }
    free(b->before);
    memset(b, 0, sizeof *b);
}
