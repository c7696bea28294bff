/* model_manager.c -- the model table, loader threads, lookups.
 *
 * The layouts and the lock rules are in model_manager_int.h; live
 * repository changes (reload, retire, explicit load/unload) in
 * model_sync.c. A version's backend model, metadata and scheduler are set
 * by its loader before the state turns READY under the write lock, and
 * freed only when its last reference goes, so a reader holding a handle
 * may use them without any lock. */
#include "model_manager.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"
#include "infer_request_int.h"
#include "integrity.h"
#include "load_priority.h"
#include "model_manager_int.h"
#include "repository.h"
#include "serve_metrics.h"
#include "version_stamp.h"
#include "warmup.h"

static const char *const state_names[] = {"LOADING", "READY", "UNAVAILABLE", "FAILED"};

const char *serve_model_state_name(serve_model_state s) {
    return (unsigned)s < 4 ? state_names[s] : "UNKNOWN";
}

/* --- versions ------------------------------------------------------------------- */

/* Load, failed load and unload are always logged: a readable message plus
 * fields (event, model, version) for log queries. */
static void log_load_event(const serve_model_handle *h, uint64_t dt, const char *error) {
    char msg[800];
    const char *event = error ? "load_failed" : dt ? "load" : "unload";
    if (error)
        snprintf(msg, sizeof msg, "failed to load model '%s' version %lld: %s", h->name,
                 (long long)h->version, error);
    else if (dt)
        snprintf(msg, sizeof msg,
                 "loaded model '%s' version %lld in %.1f ms (%d instance(s), %d thread(s) each)",
                 h->name, (long long)h->version, (double)dt / 1e6,
                 serve_scheduler_instance_count(h->sched),
                 serve_scheduler_threads_per_instance(h->sched));
    else
        snprintf(msg, sizeof msg, "unloaded model '%s' version %lld", h->name,
                 (long long)h->version);
    log_field f[] = {LOG_STR("event", event), LOG_STR("model", h->name),
                     LOG_INT("version", h->version), LOG_NUM("duration_ms", (double)dt / 1e6)};
    log_event(error ? LOG_ERROR : LOG_INFO, 0, msg, f, dt ? 4 : 3);
}

static void version_destroy(serve_model_handle *h) {
    bool loaded = h->sched != NULL;
    /* Scrapes stop reading the scheduler before it goes; requests it still
     * drains keep observing into the series until it is freed. */
    serve_model_metrics_set_scheduler(h->metrics, NULL);
    serve_scheduler_destroy(h->sched);
    serve_model_metrics_destroy(h->metrics);
    serve_meta_free(h->meta);
    if (h->be) h->be->model_unload(h->bmodel);
    if (loaded) log_load_event(h, 0, NULL);
    model_config_release(h->config);
    free(h->name);
    free(h->path);
    free(h->dir);
    free(h->reason);
    free(h);
}

void serve_model_handle_release(serve_model_handle *h) {
    if (h && atomic_fetch_sub(&h->refs, 1) == 1) version_destroy(h);
}

const char *serve_model_handle_name(const serve_model_handle *h) { return h->name; }
int64_t serve_model_handle_version(const serve_model_handle *h) { return h->version; }
const serve_model_meta *serve_model_handle_meta(const serve_model_handle *h) { return h->meta; }
const model_config *serve_model_handle_config(const serve_model_handle *h) { return h->config; }
void serve_model_handle_stats(const serve_model_handle *h, serve_scheduler_stats *out) {
    serve_scheduler_get_stats(h->sched, out);
}

/* Sets a final state under the table lock; `reason` may be NULL. */
static void version_set_state(serve_manager *mm, serve_model_handle *h, serve_model_state st,
                              const char *reason) {
    char *dup = reason ? strdup(reason) : NULL;
    serve_model_metrics_set_ready(h->metrics, st == SERVE_MODEL_READY);
    pthread_rwlock_wrlock(&mm->table);
    if (h->retired) { /* unloaded meanwhile: stays UNAVAILABLE */
        pthread_rwlock_unlock(&mm->table);
        free(dup);
        return;
    }
    h->state = st;
    free(h->reason);
    h->reason = dup;
    pthread_rwlock_unlock(&mm->table);
}

/* --- loading ---------------------------------------------------------------------- */

static const serve_backend *pick_backend(const serve_manager *mm, const model_config *cfg) {
    for (int i = 0; cfg && mm->backends[i]; i++) {
        const serve_backend *be = mm->backends[i];
        if ((cfg->backend && !strcmp(cfg->backend, be->name)) ||
            (cfg->platform && !strcmp(cfg->platform, be->platform)))
            return be;
    }
    return mm->backends[0];
}

/* Backend load, config check, instances, warmup (warmup.h: the samples
 * run on every instance inside serve_scheduler_create, so the version
 * turns READY only after all of them ran). On success the version holds
 * its parts; on failure nothing is left allocated. */
static status version_load(serve_manager *mm, serve_model_handle *h, errinfo *err) {
    const serve_backend *be = pick_backend(mm, h->config);
    serve_backend_model *bm = NULL;
    serve_model_meta *meta = NULL;
    serve_scheduler *sched = NULL;
    serve_warmup_sample *warm = NULL;
    int n_warm = 0;
    char model_dir[4096];
    status st = be->model_load(h->path, h->config, &bm, err);
    if (st) return st;
    if ((st = serve_meta_build(h->name, h->version, h->config, be->model_meta(bm), &meta, err)))
        goto fail;
    snprintf(model_dir, sizeof model_dir, "%s/%s", mm->repository, h->name);
    if ((st = serve_warmup_build(h->config, meta, model_dir, &warm, &n_warm, err))) goto fail;
    serve_scheduler_options so;
    serve_scheduler_options_from_config(&so, h->config);
    char label[64];
    snprintf(label, sizeof label, "%s:%lld", h->name, (long long)h->version);
    so.name = label;
    so.threads_per_instance = mm->threads_per_instance;
    so.on_execution = serve_metrics_on_execution;
    so.observer_ctx = h->metrics;
    so.warmup = warm;
    so.n_warmup = n_warm;
    st = serve_scheduler_create(be, bm, meta, &so, &sched, err);
    serve_warmup_free(warm, n_warm);
    if (st) goto fail;
    h->be = be;
    h->bmodel = bm;
    h->meta = meta;
    h->sched = sched;
    serve_model_metrics_set_scheduler(h->metrics, sched);
    return STATUS_OK;
fail:
    serve_scheduler_destroy(sched);
    serve_meta_free(meta);
    be->model_unload(bm);
    return st;
}

static void version_load_job(serve_manager *mm, serve_model_handle *h, bool stopping) {
    if (stopping) {
        version_set_state(mm, h, SERVE_MODEL_UNAVAILABLE, "the server shut down before loading");
        return;
    }
    pthread_rwlock_rdlock(&mm->table);
    bool retired = h->retired;
    pthread_rwlock_unlock(&mm->table);
    if (retired) return; /* unloaded or deleted before its turn came */
    uint64_t t0 = serve_clock_ns();
    errinfo err = {{0}};
    status st = serve_metrics_add_model(mm->metrics, h->name, h->version, &h->metrics, &err);
    if (st) log_warn("model '%s' version %lld: no metrics: %s", h->name, (long long)h->version,
                     err.msg);
    /* Loads after start-up share the cores with serving: they run at idle
     * priority (load_priority.h); the start-up loads have nothing to yield to. */
    serve_bg_load bg = {0};
    if (!h->initial) serve_bg_load_begin(&bg);
    st = serve_integrity_check(h->dir, h->path, &err);
    if (!st) st = version_load(mm, h, &err);
    serve_bg_load_end(&bg);
    uint64_t dt = serve_clock_ns() - t0;
    serve_model_metrics_set_load_duration(h->metrics, dt);
    pthread_rwlock_wrlock(&mm->table);
    h->load_ns = dt;
    pthread_rwlock_unlock(&mm->table);
    if (st) {
        log_load_event(h, dt, err.msg);
        version_set_state(mm, h, SERVE_MODEL_FAILED, err.msg);
        return;
    }
    version_set_state(mm, h, SERVE_MODEL_READY, NULL);
    log_load_event(h, dt, NULL);
}

static void *loader_main(void *arg) {
    serve_manager *mm = arg;
    pthread_setname_np(pthread_self(), "inferd-loader");
    for (;;) {
        pthread_mutex_lock(&mm->jobs_mu);
        while (!mm->jobs_head && !mm->stopping) pthread_cond_wait(&mm->jobs_cv, &mm->jobs_mu);
        serve_model_handle *h = mm->jobs_head;
        bool stopping = mm->stopping;
        if (h) {
            mm->jobs_head = h->next_job;
            if (!mm->jobs_head) mm->jobs_tail = NULL;
        }
        pthread_mutex_unlock(&mm->jobs_mu);
        if (!h) return NULL;
        version_load_job(mm, h, stopping);
        mm_load_done(mm, h);
        bool initial = h->initial;
        serve_model_handle_release(h); /* the job's reference */
        pthread_mutex_lock(&mm->jobs_mu);
        mm->pending--;
        if (initial) mm->startup_pending--;
        if (!mm->pending || !mm->startup_pending) pthread_cond_broadcast(&mm->ready_cv);
        pthread_mutex_unlock(&mm->jobs_mu);
    }
}

void mm_enqueue_load(serve_manager *mm, serve_model_handle *h) {
    atomic_fetch_add(&h->refs, 1);
    h->next_job = NULL;
    pthread_mutex_lock(&mm->jobs_mu);
    if (mm->jobs_tail) mm->jobs_tail->next_job = h;
    else mm->jobs_head = h;
    mm->jobs_tail = h;
    mm->pending++;
    if (h->initial) mm->startup_pending++;
    pthread_cond_signal(&mm->jobs_cv);
    pthread_mutex_unlock(&mm->jobs_mu);
}

/* --- the table ------------------------------------------------------------------- */

static status mm_oom(errinfo *err) {
    return status_fail(err, STATUS_NO_MEMORY, "out of memory building the model table");
}

status mm_version_new(serve_manager *mm, const serve_repo_model *rm, const serve_repo_version *rv,
                      uint64_t stamp, serve_model_handle **out, errinfo *err) {
    serve_model_handle *h = calloc(1, sizeof *h);
    if (!h) return mm_oom(err);
    atomic_init(&h->refs, 1); /* the table's reference */
    h->id = atomic_fetch_add(&mm->next_id, 1) + 1;
    h->version = rv->version;
    h->config = model_config_retain(rm->config);
    h->state = rv->error ? SERVE_MODEL_FAILED : SERVE_MODEL_LOADING;
    h->wanted = true;
    h->stamp = stamp ? stamp : serve_version_stamp(rm->dir, rv->version);
    char vdir[4096];
    snprintf(vdir, sizeof vdir, "%s/%lld", rm->dir, (long long)rv->version);
    if (!(h->name = strdup(rm->name)) || (rv->path && !(h->path = strdup(rv->path))) ||
        !(h->dir = strdup(vdir)) || (rv->error && !(h->reason = strdup(rv->error)))) {
        version_destroy(h);
        return mm_oom(err);
    }
    *out = h;
    return STATUS_OK;
}

/* EXPLICIT mode loads only the models named at start. */
static bool loads_at_start(const serve_manager_options *o, const char *name) {
    if (o->control_mode != SERVE_CONTROL_EXPLICIT) return true;
    for (size_t i = 0; o->startup_models && o->startup_models[i]; i++)
        if (!strcmp(o->startup_models[i], "*") || !strcmp(o->startup_models[i], name)) return true;
    return false;
}

static void warn_unknown_startup_models(const serve_manager_options *o, const serve_repo *repo) {
    for (size_t i = 0; o->startup_models && o->startup_models[i]; i++) {
        const char *want = o->startup_models[i];
        bool found = !strcmp(want, "*");
        for (size_t k = 0; !found && k < repo->n_models; k++)
            found = !strcmp(repo->models[k].name, want);
        if (!found)
            log_error("model '%s' was asked to load at start but is not in %s", want,
                      o->repository);
    }
}

/* Moves a scanned repository into the table; loads are queued later. */
static status table_build(serve_manager *mm, const serve_repo *repo,
                          const serve_manager_options *o, errinfo *err) {
    mm->models = calloc(repo->n_models ? repo->n_models : 1, sizeof *mm->models);
    if (!mm->models) return mm_oom(err);
    for (size_t i = 0; i < repo->n_models; i++) {
        const serve_repo_model *rm = &repo->models[i];
        if (!loads_at_start(o, rm->name)) continue;
        mm_model *m = &mm->models[mm->n_models++];
        if (!(m->name = strdup(rm->name)) || (rm->error && !(m->error = strdup(rm->error))))
            return mm_oom(err);
        if (rm->error) {
            log_error("model '%s' cannot load: %s", rm->name, rm->error);
            continue;
        }
        m->versions = calloc(rm->n_versions ? rm->n_versions : 1, sizeof *m->versions);
        if (!m->versions) return mm_oom(err);
        for (size_t v = 0; v < rm->n_versions; v++) {
            status st = mm_version_new(mm, rm, &rm->versions[v], 0, &m->versions[m->n_versions],
                                       err);
            if (st) return st;
            m->versions[m->n_versions++]->initial = true;
            if (rm->versions[v].error)
                log_error("model '%s' version %lld cannot load: %s", rm->name,
                          (long long)rm->versions[v].version, rm->versions[v].error);
        }
    }
    return STATUS_OK;
}

mm_model *mm_find_model(serve_manager *mm, const char *name) {
    size_t lo = 0, hi = mm->n_models;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(mm->models[mid].name, name);
        if (!c) return &mm->models[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* --- create / destroy ----------------------------------------------------------------- */

static status start_loaders(serve_manager *mm, int want, errinfo *err) {
    mm->loaders = calloc((size_t)want, sizeof *mm->loaders);
    if (!mm->loaders) return mm_oom(err);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    status st = STATUS_OK;
    for (int i = 0; i < want; i++) {
        int rc = pthread_create(&mm->loaders[i], NULL, loader_main, mm);
        if (rc) {
            st = status_fail(err, STATUS_INTERNAL, "cannot start a loader thread: %s", strerror(rc));
            break;
        }
        mm->n_loaders++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

static status check_backends(const serve_manager_options *o, errinfo *err) {
    if (!o->repository) return status_fail(err, STATUS_INVALID_ARGUMENT, "no model repository given");
    if (!o->backends || !o->backends[0])
        return status_fail(err, STATUS_INVALID_ARGUMENT, "no backend given to the model manager");
    for (int i = 0; o->backends[i]; i++)
        if (o->backends[i]->abi_version != SERVE_BACKEND_ABI)
            return status_fail(err, STATUS_INVALID_ARGUMENT,
                               "backend '%s' speaks interface version %d, this build needs %d",
                               o->backends[i]->name, o->backends[i]->abi_version, SERVE_BACKEND_ABI);
    return STATUS_OK;
}

status serve_manager_create(const serve_manager_options *opts, serve_manager **out,
                            errinfo *err) {
    *out = NULL;
    status st = check_backends(opts, err);
    if (st) return st;
    serve_repo *repo = NULL;
    serve_manager *mm = calloc(1, sizeof *mm);
    if (!mm) return mm_oom(err);
    pthread_rwlock_init(&mm->table, NULL);
    pthread_mutex_init(&mm->jobs_mu, NULL);
    pthread_cond_init(&mm->jobs_cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&mm->ready_cv, &ca);
    pthread_cond_init(&mm->retire_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&mm->sync_mu, NULL);
    pthread_mutex_init(&mm->ctl_mu, NULL);
    pthread_cond_init(&mm->ctl_cv, NULL);
    pthread_mutex_init(&mm->retire_mu, NULL);
    mm->backends = opts->backends;
    mm->threads_per_instance = opts->threads_per_instance;
    mm->metrics = opts->metrics;
    mm->control_mode = opts->control_mode;
    if (!(mm->repository = strdup(opts->repository))) {
        st = mm_oom(err);
        goto fail;
    }
    if ((st = serve_repo_scan(opts->repository, opts->backends[0]->default_filename, &repo, err)))
        goto fail;
    if (opts->control_mode == SERVE_CONTROL_EXPLICIT) warn_unknown_startup_models(opts, repo);
    if ((st = table_build(mm, repo, opts, err))) goto fail;

    int to_load = 0;
    for (size_t i = 0; i < mm->n_models; i++)
        for (size_t v = 0; v < mm->models[i].n_versions; v++)
            to_load += mm->models[i].versions[v]->state == SERVE_MODEL_LOADING;
    int loaders = opts->load_threads > 0 ? opts->load_threads : serve_cpu_count();
    if (loaders > to_load) loaders = to_load;
    if (loaders < 1) loaders = 1;
    if ((st = start_loaders(mm, loaders, err))) goto fail;
    for (size_t i = 0; i < mm->n_models; i++)
        for (size_t v = 0; v < mm->models[i].n_versions; v++)
            if (mm->models[i].versions[v]->state == SERVE_MODEL_LOADING)
                mm_enqueue_load(mm, mm->models[i].versions[v]);
    if (!mm->n_models && opts->control_mode != SERVE_CONTROL_EXPLICIT)
        log_warn("model repository %s has no models", opts->repository);
    log_info("model repository %s: %zu model(s), %d version(s) to load", opts->repository,
             mm->n_models, to_load);
    serve_repo_free(repo);
    *out = mm;
    return STATUS_OK;
fail:
    serve_repo_free(repo);
    serve_manager_destroy(mm);
    return st;
}

void serve_manager_destroy(serve_manager *mm) {
    if (!mm) return;
    mm_sync_stop(mm); /* no explicit load queues more work */
    pthread_mutex_lock(&mm->jobs_mu);
    mm->stopping = true;
    pthread_cond_broadcast(&mm->jobs_cv);
    pthread_mutex_unlock(&mm->jobs_mu);
    for (int i = 0; i < mm->n_loaders; i++) pthread_join(mm->loaders[i], NULL);
    free(mm->loaders);
    mm_sync_shutdown(mm); /* versions being retired go first */
    /* Drain every scheduler, then drop the table's references. */
    for (size_t i = 0; i < mm->n_models; i++) {
        mm_model *m = &mm->models[i];
        for (size_t v = 0; v < m->n_versions; v++) {
            serve_model_handle *h = m->versions[v];
            if (h->sched) serve_scheduler_shutdown(h->sched);
            version_set_state(mm, h, h->state == SERVE_MODEL_FAILED ? SERVE_MODEL_FAILED
                                                                      : SERVE_MODEL_UNAVAILABLE,
                              h->state == SERVE_MODEL_FAILED ? h->reason : "the server shut down");
        }
    }
    for (size_t i = 0; i < mm->n_models; i++) {
        mm_model *m = &mm->models[i];
        for (size_t v = 0; v < m->n_versions; v++) serve_model_handle_release(m->versions[v]);
        for (size_t v = 0; v < m->n_incoming; v++) serve_model_handle_release(m->incoming[v]);
        free(m->versions);
        free(m->incoming);
        free(m->name);
        free(m->error);
        free(m->kept_error);
    }
    free(mm->models);
    free(mm->repository);
    pthread_cond_destroy(&mm->retire_cv);
    pthread_mutex_destroy(&mm->retire_mu);
    pthread_cond_destroy(&mm->ctl_cv);
    pthread_mutex_destroy(&mm->ctl_mu);
    pthread_mutex_destroy(&mm->sync_mu);
    pthread_cond_destroy(&mm->ready_cv);
    pthread_cond_destroy(&mm->jobs_cv);
    pthread_mutex_destroy(&mm->jobs_mu);
    pthread_rwlock_destroy(&mm->table);
    free(mm);
}

bool serve_manager_ready(serve_manager *mm) {
    pthread_mutex_lock(&mm->jobs_mu);
    bool ready = mm->startup_pending == 0;
    pthread_mutex_unlock(&mm->jobs_mu);
    return ready;
}

bool serve_manager_wait_ready(serve_manager *mm, int64_t timeout_ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (timeout_ms >= 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&mm->jobs_mu);
    int rc = 0;
    while (mm->startup_pending && rc == 0)
        rc = timeout_ms < 0 ? pthread_cond_wait(&mm->ready_cv, &mm->jobs_mu)
                            : pthread_cond_timedwait(&mm->ready_cv, &mm->jobs_mu, &until);
    bool ready = mm->startup_pending == 0;
    pthread_mutex_unlock(&mm->jobs_mu);
    return ready;
}

/* --- lookups ----------------------------------------------------------------------------- */

/* Why a version cannot serve, for UNAVAILABLE messages. */
static status not_ready(const serve_model_handle *h, errinfo *err) {
    switch (h->state) {
    case SERVE_MODEL_LOADING:
        return status_fail(err, STATUS_UNAVAILABLE, "model '%s' version %lld is still loading",
                           h->name, (long long)h->version);
    case SERVE_MODEL_FAILED:
        return status_fail(err, STATUS_UNAVAILABLE, "model '%s' version %lld failed to load: %s",
                           h->name, (long long)h->version, h->reason ? h->reason : "");
    default:
        return status_fail(err, STATUS_UNAVAILABLE, "model '%s' version %lld is not available%s%s",
                           h->name, (long long)h->version, h->reason ? ": " : "",
                           h->reason ? h->reason : "");
    }
}

static status lookup_locked(serve_manager *mm, const char *name, int64_t version,
                            serve_model_handle **out, errinfo *err) {
    mm_model *m = mm_find_model(mm, name);
    if (!m) return status_fail(err, STATUS_NOT_FOUND, "unknown model '%s'", name);
    if (m->error)
        return status_fail(err, STATUS_UNAVAILABLE, "model '%s' failed to load: %s", name, m->error);
    if (version == 0) {
        for (size_t v = m->n_versions; v-- > 0;) {
            if (m->versions[v]->state == SERVE_MODEL_READY) {
                *out = m->versions[v];
                return STATUS_OK;
            }
        }
        if (m->unloaded)
            return status_fail(err, STATUS_UNAVAILABLE, "model '%s' is unloaded", name);
        if (!m->n_versions)
            return status_fail(err, STATUS_UNAVAILABLE, "model '%s' has no version", name);
        return not_ready(m->versions[m->n_versions - 1], err);
    }
    for (size_t v = 0; v < m->n_versions; v++) {
        if (m->versions[v]->version != version) continue;
        if (m->versions[v]->state != SERVE_MODEL_READY) return not_ready(m->versions[v], err);
        *out = m->versions[v];
        return STATUS_OK;
    }
    char list[200];
    size_t o = 0;
    list[0] = '\0';
    for (size_t v = 0; v < m->n_versions && o < sizeof list; v++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%lld", v ? ", " : "",
                              (long long)m->versions[v]->version);
    return status_fail(err, STATUS_NOT_FOUND, "model '%s' has no version %lld (versions: %s)", name,
                       (long long)version, list);
}

status serve_manager_acquire(serve_manager *mm, const char *name, int64_t version,
                             serve_model_handle **out, errinfo *err) {
    *out = NULL;
    if (version < 0)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "model '%s': version %lld is not valid",
                           name, (long long)version);
    pthread_rwlock_rdlock(&mm->table);
    serve_model_handle *h = NULL;
    status st = lookup_locked(mm, name, version, &h, err);
    if (!st) atomic_fetch_add(&h->refs, 1);
    pthread_rwlock_unlock(&mm->table);
    *out = h;
    return st;
}

void serve_model_handle_submit(serve_model_handle *h, serve_request *r) {
    errinfo err;
    /* Set before validating, so invalid requests count and log against
     * the version that refused them. */
    r->model_version = h->version;
    r->metrics = h->metrics;
    status st = serve_request_validate(r, h->meta, &err);
    if (st) {
        serve_request_complete(r, st, err.msg);
        return;
    }
    serve_scheduler_submit(h->sched, r);
}

void serve_manager_submit(serve_manager *mm, serve_request *r) {
    serve_model_handle *h;
    errinfo err;
    status st = serve_manager_acquire(mm, r->model, r->version, &h, &err);
    if (st) {
        serve_request_complete(r, st, err.msg);
        return;
    }
    serve_model_handle_submit(h, r);
    serve_model_handle_release(h);
}

/* --- listing ------------------------------------------------------------------------------ */

static bool status_row(serve_model_status *row, const char *name, int64_t version,
                       serve_model_state state, const char *reason, uint64_t load_ns) {
    row->version = version;
    row->state = state;
    row->load_ns = load_ns;
    row->name = strdup(name);
    row->reason = strdup(reason ? reason : "");
    return row->name && row->reason;
}

status serve_manager_list(serve_manager *mm, serve_model_status **out, size_t *n, errinfo *err) {
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&mm->table);
    size_t rows = 0;
    for (size_t i = 0; i < mm->n_models; i++)
        rows += mm->models[i].error ? 1 : mm->models[i].n_versions;
    serve_model_status *list = calloc(rows ? rows : 1, sizeof *list);
    bool ok = list != NULL;
    size_t k = 0;
    for (size_t i = 0; ok && i < mm->n_models; i++) {
        const mm_model *m = &mm->models[i];
        if (m->error) {
            ok = status_row(&list[k++], m->name, 0, SERVE_MODEL_FAILED, m->error, 0);
            continue;
        }
        for (size_t v = 0; ok && v < m->n_versions; v++) {
            const serve_model_handle *h = m->versions[v];
            ok = status_row(&list[k++], m->name, h->version, h->state, h->reason, h->load_ns);
        }
    }
    pthread_rwlock_unlock(&mm->table);
    if (!ok) {
        serve_model_status_free(list, k);
        return status_fail(err, STATUS_NO_MEMORY, "out of memory listing models");
    }
    *out = list;
    *n = k;
    return STATUS_OK;
}

void serve_model_status_free(serve_model_status *list, size_t n) {
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].name);
        free(list[i].reason);
    }
    free(list);
}
