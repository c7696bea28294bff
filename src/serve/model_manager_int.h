/* model_manager_int.h -- the model manager's private layout, shared by
 * model_manager.c (the table, loading, lookups) and model_sync.c (live
 * repository changes: reload, retire, explicit load and unload).
 *
 * Locks, never two held together:
 *   - `table` (rwlock): models, their versions, and every field marked
 *     "table" below. Lookups read; loads, swaps and retirements write.
 *   - `jobs_mu`: the loader queue, pending counts, `stopping`.
 *   - `retire_mu`: the retire queue and its thread.
 *   - `sync_mu` is taken before `table` (never inside it): one repository
 *     sync (poll, explicit load or unload) at a time.
 *
 * A handle's life: created LOADING (or FAILED when the scan already knows
 * it cannot load) and put in the table, or, for a reload of a version that
 * serves, kept in its model's `incoming` list until it is READY and swapped
 * in. Its loader job holds a reference. It leaves the table only by being
 * retired (mm_retire): `retired` set under the write lock, then the table's
 * reference goes to the retire thread, which waits until that reference is
 * the last, drains the scheduler and frees the version there. */
#ifndef INFERD_SERVE_MODEL_MANAGER_INT_H
#define INFERD_SERVE_MODEL_MANAGER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "model_manager.h"
#include "repository.h"
#include "serve_metrics.h"

/* An explicit unload waiting for its versions to be freed. */
typedef struct mm_unload_wait {
    atomic_int remaining;
    serve_manager_done_fn done;
    void *ctx;
    char name[256];
} mm_unload_wait;

struct serve_model_handle {
    atomic_int refs;
    uint64_t id;                           /* unique per manager, never reused */
    char *name;
    int64_t version;
    char *path;                            /* the model file */
    char *dir;                             /* the version directory */
    model_config *config;
    const serve_backend *be;
    serve_backend_model *bmodel;
    serve_model_meta *meta;
    serve_scheduler *sched;
    serve_model_metrics *metrics;          /* set by the loader before sched */
    uint64_t stamp;                        /* its files when scanned (version_stamp.h) */
    uint64_t replaces;                     /* a reload: the id of the copy it replaces */
    bool initial;                          /* loaded at start: counts for readiness */
    /* table */
    serve_model_state state;
    char *reason;
    uint64_t load_ns;
    bool wanted;                           /* the last scan's version policy selects it */
    bool deleted;                          /* the last scan found no directory for it */
    bool retired;                          /* out of the table (or never to enter it) */
    uint64_t failed_stamp;                 /* a reload of these files failed: not retried */
    /* retire queue (retire_mu) */
    mm_unload_wait *retire_wait;
    struct serve_model_handle *retire_next;
    struct serve_model_handle *next_job;   /* jobs_mu */
};

/* An explicit load waiting for its model's loads to settle. */
typedef struct mm_load_wait {
    serve_manager_done_fn done;
    void *ctx;
    status st;                             /* a failure that is not a version's */
    char error[400];                       /* the first failure, "" if none */
    struct mm_load_wait *next;
} mm_load_wait;

typedef struct mm_model {
    char *name;
    char *error;                 /* the model as a whole failed */
    serve_model_handle **versions;  /* ascending */
    size_t n_versions;
    /* issue 3; all under `table` */
    serve_model_handle **incoming;  /* reloads of serving versions, loading */
    size_t n_incoming;
    mm_load_wait *waiters;       /* explicit loads answered when nothing loads */
    bool unloaded;               /* explicitly unloaded: known, not serving */
    char *kept_error;            /* the repository's problem while old versions serve */
} mm_model;

struct serve_manager {
    char *repository;
    const serve_backend *const *backends;
    int threads_per_instance;
    serve_metrics *metrics;
    serve_control_mode control_mode;
    atomic_uint_fast64_t next_id;

    pthread_rwlock_t table;
    mm_model *models;            /* sorted by name */
    size_t n_models;

    pthread_mutex_t jobs_mu;
    pthread_cond_t jobs_cv;      /* a job was queued, or stopping */
    pthread_cond_t ready_cv;     /* startup_pending or pending reached zero */
    serve_model_handle *jobs_head, *jobs_tail;
    int pending;                 /* versions queued or loading */
    int startup_pending;         /* ... of those, the ones loaded at start */
    bool stopping;
    pthread_t *loaders;
    int n_loaders;

    pthread_mutex_t sync_mu;

    /* explicit load/unload requests, run on the control thread (ctl_mu) */
    pthread_mutex_t ctl_mu;
    pthread_cond_t ctl_cv;
    struct mm_control *ctl_head, *ctl_tail;
    bool ctl_started, ctl_stop, ctl_running;
    pthread_t ctl_thread;

    pthread_mutex_t retire_mu;
    pthread_cond_t retire_cv;    /* queued, stopping, or the queue ran empty */
    serve_model_handle *retire_head, *retire_tail;
    serve_model_handle *retire_current;  /* being drained */
    int retiring;                /* queued or being torn down */
    bool retire_started, retire_stop;
    pthread_t retirer;
};

/* --- model_manager.c ------------------------------------------------------------ */

/* A new handle (one reference: the table's) for a scanned version; stamp
 * 0 = stamp its files now. Does no other I/O. */
status mm_version_new(serve_manager *mm, const serve_repo_model *rm, const serve_repo_version *rv,
                      uint64_t stamp, serve_model_handle **out, errinfo *err);
/* Queues a LOADING handle for a loader thread (takes its own reference). */
void mm_enqueue_load(serve_manager *mm, serve_model_handle *h);
/* The model named so, or NULL. Table lock held. */
mm_model *mm_find_model(serve_manager *mm, const char *name);

/* --- model_sync.c --------------------------------------------------------------- */

/* A loader finished h (READY or FAILED): swap in reloads, retire what it
 * replaces, answer explicit loads. Called before the job's reference goes. */
void mm_load_done(serve_manager *mm, serve_model_handle *h);
/* From serve_manager_destroy, before the loaders stop: answers queued
 * explicit requests as shut down and joins the control thread. */
void mm_sync_stop(serve_manager *mm);
/* From serve_manager_destroy, after the loaders stopped: drains the retire
 * queue, joins its thread, answers every waiter left. */
void mm_sync_shutdown(serve_manager *mm);

#endif
