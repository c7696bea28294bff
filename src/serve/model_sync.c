/* model_sync.c -- live repository changes: polling, explicit load and
 * unload, reloads swapped in, versions retired and freed.
 *
 * Every change is decided under the table's write lock from a scan made
 * before taking it (file system calls never run under the lock, so lookups
 * of other models never wait on a disk), and its consequences run after
 * the lock is dropped: loads go to the loader threads, retired versions to
 * the retire thread, answers to the callers. Three threads of this file:
 *   - the control thread runs explicit loads and unloads (they scan the
 *     repository, which an HTTP I/O thread must not do);
 *   - the retire thread drains and frees versions taken out of the table;
 *   - loaders call mm_load_done after each load.
 * Polling runs on the caller's thread (repository_poll.c's). */
#include <dirent.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "infer_request.h"
#include "model_manager_int.h"
#include "version_stamp.h"

/* How long the retire thread waits for the last lookup holding a retired
 * version to let go (they hold it for microseconds) before draining anyway. */
#define RETIRE_HOLD_WAIT_MS 60000

static const char *const mode_names[] = {"none", "poll", "explicit"};

const char *serve_control_mode_name(serve_control_mode m) {
    return (unsigned)m < 3 ? mode_names[m] : "unknown";
}

serve_control_mode serve_manager_control_mode(const serve_manager *mm) { return mm->control_mode; }

/* What a sync decided, carried out once the table lock is dropped. */
typedef struct sync_out {
    serve_model_handle *retire_head, *retire_tail;  /* linked by retire_next */
    serve_model_handle *load_head, *load_tail;      /* linked by next_job, one extra ref each */
    mm_load_wait *answers;                          /* settled explicit loads */
} sync_out;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static pthread_t start_quiet_thread(void *(*fn)(void *), void *arg, int *rc) {
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals go to the main thread */
    *rc = pthread_create(&t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return t;
}

/* --- the retire thread ---------------------------------------------------------------- */

/* Drains and frees one retired version: the table's reference is the
 * caller's, and the only one left once lookups that found the version
 * before it left the table have submitted. */
static void retire_one(serve_manager *mm, serve_model_handle *h) {
    for (int waited = 0; atomic_load(&h->refs) > 1; waited++) {
        if (waited == RETIRE_HOLD_WAIT_MS) {
            log_warn("model '%s' version %lld: still referenced after %d s; draining anyway",
                     h->name, (long long)h->version, RETIRE_HOLD_WAIT_MS / 1000);
            break;
        }
        sleep_ms(1);
    }
    if (h->sched) serve_scheduler_shutdown(h->sched); /* queued requests finish */
    mm_unload_wait *w = h->retire_wait;
    pthread_mutex_lock(&mm->retire_mu);
    mm->retire_current = NULL;
    pthread_mutex_unlock(&mm->retire_mu);
    serve_model_handle_release(h); /* frees it, logs "unloaded" */
    /* Return freed heap to the system, so RSS shows the unload; mapped
     * weights went back with their munmap already. */
    malloc_trim(0);
    if (w && atomic_fetch_sub(&w->remaining, 1) == 1) {
        w->done(w->ctx, STATUS_OK, "");
        free(w);
    }
}

static void *retire_main(void *arg) {
    serve_manager *mm = arg;
    pthread_setname_np(pthread_self(), "inferd-retire");
    pthread_mutex_lock(&mm->retire_mu);
    for (;;) {
        while (!mm->retire_head && !mm->retire_stop)
            pthread_cond_wait(&mm->retire_cv, &mm->retire_mu);
        serve_model_handle *h = mm->retire_head;
        if (!h) break; /* stopping, and nothing left */
        mm->retire_head = h->retire_next;
        if (!mm->retire_head) mm->retire_tail = NULL;
        mm->retire_current = h;
        pthread_mutex_unlock(&mm->retire_mu);
        retire_one(mm, h);
        pthread_mutex_lock(&mm->retire_mu);
        if (--mm->retiring == 0) pthread_cond_broadcast(&mm->retire_cv);
    }
    pthread_mutex_unlock(&mm->retire_mu);
    return NULL;
}

/* Hands a list of retired versions to the retire thread (started on first
 * use); if it cannot run, tears them down here. */
static void retire_enqueue(serve_manager *mm, serve_model_handle *head, serve_model_handle *tail) {
    if (!head) return;
    int n = 0;
    for (serve_model_handle *h = head; h; h = h->retire_next) n++;
    pthread_mutex_lock(&mm->retire_mu);
    if (!mm->retire_started && !mm->retire_stop) {
        int rc;
        mm->retirer = start_quiet_thread(retire_main, mm, &rc);
        mm->retire_started = rc == 0;
        if (rc) log_error("cannot start the unload thread: %s; unloading inline", strerror(rc));
    }
    if (!mm->retire_started || mm->retire_stop) {
        pthread_mutex_unlock(&mm->retire_mu);
        while (head) {
            serve_model_handle *next = head->retire_next;
            retire_one(mm, head);
            head = next;
        }
        return;
    }
    if (mm->retire_tail) mm->retire_tail->retire_next = head;
    else mm->retire_head = head;
    mm->retire_tail = tail;
    mm->retiring += n;
    pthread_cond_broadcast(&mm->retire_cv);
    pthread_mutex_unlock(&mm->retire_mu);
}

/* --- table edits (write lock held) -------------------------------------------------------- */

static void out_retire(sync_out *out, serve_model_handle *h) {
    h->retire_next = NULL;
    if (out->retire_tail) out->retire_tail->retire_next = h;
    else out->retire_head = h;
    out->retire_tail = h;
}

static void out_load(sync_out *out, serve_model_handle *h) {
    atomic_fetch_add(&h->refs, 1); /* keeps h alive until it is queued */
    h->next_job = NULL;
    if (out->load_tail) out->load_tail->next_job = h;
    else out->load_head = h;
    out->load_tail = h;
}

/* Marks h retired and passes the table's reference to the retire list. */
static void retire_handle(serve_model_handle *h, sync_out *out) {
    h->retired = true;
    /* A LOADING version's loader may still be setting its parts (metrics
     * included); it sees `retired` and leaves the state alone. */
    if (h->state == SERVE_MODEL_READY) serve_model_metrics_set_ready(h->metrics, false);
    if (h->state != SERVE_MODEL_FAILED) {
        h->state = SERVE_MODEL_UNAVAILABLE;
        free(h->reason);
        h->reason = strdup("unloading");
    }
    out_retire(out, h);
}

/* Takes version idx out of the model; `why` finishes "unloading model 'm'
 * version v: ..." in the log. */
static void take_out(mm_model *m, size_t idx, const char *why, sync_out *out) {
    serve_model_handle *h = m->versions[idx];
    if (h->state == SERVE_MODEL_READY || h->state == SERVE_MODEL_LOADING) {
        log_field f[] = {LOG_STR("event", "unloading"), LOG_STR("model", h->name),
                         LOG_INT("version", h->version), LOG_STR("reason", why)};
        char msg[600];
        snprintf(msg, sizeof msg, "unloading model '%s' version %lld: %s", h->name,
                 (long long)h->version, why);
        log_event(LOG_INFO, 0, msg, f, 4);
    }
    memmove(&m->versions[idx], &m->versions[idx + 1],
            (m->n_versions - idx - 1) * sizeof *m->versions);
    m->n_versions--;
    retire_handle(h, out);
}

static void take_out_all(mm_model *m, const char *why, sync_out *out) {
    while (m->n_versions) take_out(m, m->n_versions - 1, why, out);
    while (m->n_incoming) retire_handle(m->incoming[--m->n_incoming], out);
}

static bool insert_version(mm_model *m, serve_model_handle *h) {
    serve_model_handle **v = realloc(m->versions, (m->n_versions + 1) * sizeof *v);
    if (!v) return false;
    m->versions = v;
    size_t i = m->n_versions;
    while (i > 0 && v[i - 1]->version > h->version) {
        v[i] = v[i - 1];
        i--;
    }
    v[i] = h;
    m->n_versions++;
    return true;
}

static bool add_incoming(mm_model *m, serve_model_handle *h) {
    serve_model_handle **v = realloc(m->incoming, (m->n_incoming + 1) * sizeof *v);
    if (!v) return false;
    m->incoming = v;
    v[m->n_incoming++] = h;
    return true;
}

static bool remove_incoming(mm_model *m, const serve_model_handle *h) {
    for (size_t i = 0; i < m->n_incoming; i++) {
        if (m->incoming[i] != h) continue;
        m->incoming[i] = m->incoming[--m->n_incoming];
        return true;
    }
    return false;
}

/* A new, empty model entry at its sorted place; NULL when out of memory.
 * Invalidates every mm_model pointer taken before. */
static mm_model *insert_model(serve_manager *mm, const char *name) {
    char *dup = strdup(name);
    mm_model *v = dup ? realloc(mm->models, (mm->n_models + 1) * sizeof *v) : NULL;
    if (!v) {
        free(dup);
        return NULL;
    }
    mm->models = v;
    size_t i = 0;
    while (i < mm->n_models && strcmp(v[i].name, name) < 0) i++;
    memmove(&v[i + 1], &v[i], (mm->n_models - i) * sizeof *v);
    memset(&v[i], 0, sizeof v[i]);
    v[i].name = dup;
    mm->n_models++;
    return &v[i];
}

/* Answers m's load waiters with `st`/msg. */
static void answer_all(mm_model *m, status st, const char *msg, sync_out *out) {
    while (m->waiters) {
        mm_load_wait *w = m->waiters;
        m->waiters = w->next;
        w->st = st;
        snprintf(w->error, sizeof w->error, "%s", msg);
        w->next = out->answers;
        out->answers = w;
    }
}

/* Removes model i from the table (it has no version and no waiter left). */
static void remove_model(serve_manager *mm, size_t i) {
    mm_model *m = &mm->models[i];
    free(m->name);
    free(m->error);
    free(m->kept_error);
    free(m->versions);
    free(m->incoming);
    memmove(m, m + 1, (mm->n_models - i - 1) * sizeof *m);
    mm->n_models--;
}

static bool model_busy(const mm_model *m) {
    if (m->n_incoming) return true;
    for (size_t i = 0; i < m->n_versions; i++)
        if (m->versions[i]->state == SERVE_MODEL_LOADING) return true;
    return false;
}

static bool model_serving(const mm_model *m) {
    for (size_t i = 0; i < m->n_versions; i++)
        if (m->versions[i]->state == SERVE_MODEL_READY) return true;
    return false;
}

/* A load failure, for the explicit loads waiting on this model. */
static void note_failure(mm_model *m, const serve_model_handle *h, const char *reason) {
    for (mm_load_wait *w = m->waiters; w; w = w->next)
        if (!w->error[0])
            snprintf(w->error, sizeof w->error, "model '%s' version %lld failed to load: %s",
                     h->name, (long long)h->version, reason ? reason : "");
}

/* Once nothing of m is loading: retires the versions the policy no longer
 * selects (unless none of the selected ones could load: then the old ones
 * keep serving) and answers the explicit loads. */
static void settle(mm_model *m, sync_out *out) {
    if (model_busy(m)) return;
    int64_t newest = 0;
    for (size_t i = 0; i < m->n_versions; i++)
        if (m->versions[i]->wanted && m->versions[i]->state == SERVE_MODEL_READY)
            newest = m->versions[i]->version;
    for (size_t i = m->n_versions; i-- > 0;) {
        serve_model_handle *h = m->versions[i];
        if (h->wanted) continue;
        if (newest) {
            char why[160];
            snprintf(why, sizeof why, "%s; version %lld serves instead",
                     h->deleted ? "its directory was removed" : "the version policy no longer "
                     "selects it", (long long)newest);
            take_out(m, i, why, out);
        } else if (h->deleted) {
            take_out(m, i, "its directory was removed from the repository", out);
        } else if (h->state != SERVE_MODEL_READY) {
            take_out(m, i, "no longer selected by the version policy", out);
        } else if (!h->reason || strncmp(h->reason, "kept serving", 12)) {
            log_warn("model '%s': version %lld keeps serving although the version policy no "
                     "longer selects it: none of the versions it selects could load",
                     m->name, (long long)h->version);
            free(h->reason);
            h->reason = strdup("kept serving: the versions the version policy selects failed "
                               "to load");
        }
    }
    for (mm_load_wait *w = m->waiters; w; w = w->next)
        if (!w->error[0] && !newest)
            snprintf(w->error, sizeof w->error, "model '%s' has no version that could load",
                     m->name);
    while (m->waiters) {
        mm_load_wait *w = m->waiters;
        m->waiters = w->next;
        if (w->error[0] && !w->st) w->st = STATUS_INVALID_MODEL;
        w->next = out->answers;
        out->answers = w;
    }
}

/* --- applying a scan (write lock held) ------------------------------------------------------ */

/* What the file system said about one model, gathered before locking. */
typedef struct scan_extra {
    uint64_t *stamps;             /* per rm->versions */
    int64_t *on_disk;             /* every version directory, selected or not */
    size_t n_on_disk;
} scan_extra;

typedef struct scanned {
    const serve_repo_model *rm;
    const scan_extra *x;
    bool retry_failed;            /* explicit load: failed versions try again */
} scanned;

static bool on_disk(const scan_extra *x, int64_t version) {
    for (size_t i = 0; i < x->n_on_disk; i++)
        if (x->on_disk[i] == version) return true;
    return false;
}

/* The model as a whole cannot load (config, no version): it keeps serving
 * through a config error, otherwise everything goes. */
static void apply_model_error(mm_model *m, const scanned *sc, sync_out *out) {
    const serve_repo_model *rm = sc->rm;
    bool config_error = rm->config == NULL;
    if (config_error && model_serving(m)) {
        if (!m->kept_error || strcmp(m->kept_error, rm->error)) {
            log_error("model '%s': %s; the versions loaded before keep serving", m->name,
                      rm->error);
            free(m->kept_error);
            m->kept_error = strdup(rm->error);
        }
        for (mm_load_wait *w = m->waiters; w; w = w->next)
            if (!w->error[0])
                snprintf(w->error, sizeof w->error, "model '%s': %s", m->name, rm->error);
        return;
    }
    take_out_all(m, config_error ? "its config.pbtxt cannot be used" : "its version directories "
                 "were removed", out);
    if (!m->error || strcmp(m->error, rm->error))
        log_error("model '%s' cannot load: %s", m->name, rm->error);
    free(m->error);
    m->error = strdup(rm->error);
    answer_all(m, STATUS_INVALID_MODEL, rm->error, out);
}

/* A version whose files changed (or that failed and is retried). */
static void reload_version(serve_manager *mm, mm_model *m, size_t idx, const scanned *sc,
                           size_t v, sync_out *out) {
    serve_model_handle *old = m->versions[idx], *h;
    errinfo err;
    if (mm_version_new(mm, sc->rm, &sc->rm->versions[v], sc->x->stamps[v], &h, &err)) {
        log_error("model '%s' version %lld: cannot reload: %s", m->name, (long long)old->version,
                  err.msg);
        return;
    }
    h->wanted = true;
    if (old->state != SERVE_MODEL_READY) { /* nothing serves: replace it in place */
        m->versions[idx] = h;
        retire_handle(old, out);
        if (h->state == SERVE_MODEL_LOADING) out_load(out, h);
        else note_failure(m, h, h->reason);
        return;
    }
    if (h->state == SERVE_MODEL_FAILED || !add_incoming(m, h)) {
        log_error("model '%s' version %lld changed but cannot be reloaded: %s; the loaded copy "
                  "keeps serving", m->name, (long long)old->version,
                  h->reason ? h->reason : "out of memory");
        note_failure(m, h, h->reason ? h->reason : "out of memory");
        old->failed_stamp = h->stamp;
        serve_model_handle_release(h); /* never loaded: nothing to drain */
        return;
    }
    h->replaces = old->id;
    log_info("model '%s' version %lld changed on disk: loading the new copy beside the serving "
             "one", m->name, (long long)old->version);
    out_load(out, h);
}

static ssize_t find_version(const mm_model *m, int64_t version) {
    for (size_t i = 0; i < m->n_versions; i++)
        if (m->versions[i]->version == version) return (ssize_t)i;
    return -1;
}

/* Makes m follow one scanned model. */
static void apply_model(serve_manager *mm, mm_model *m, const scanned *sc, sync_out *out) {
    const serve_repo_model *rm = sc->rm;
    m->unloaded = false;
    if (rm->error) {
        apply_model_error(m, sc, out);
        return;
    }
    if (m->error) log_info("model '%s' can load again", m->name);
    if (m->kept_error) log_info("model '%s': its config.pbtxt can be used again", m->name);
    free(m->error);
    free(m->kept_error);
    m->error = m->kept_error = NULL;
    for (size_t i = 0; i < m->n_versions; i++) m->versions[i]->wanted = false;
    for (size_t v = 0; v < rm->n_versions; v++) {
        const serve_repo_version *rv = &rm->versions[v];
        ssize_t idx = find_version(m, rv->version);
        if (idx < 0) {
            serve_model_handle *h;
            errinfo err;
            if (mm_version_new(mm, rm, rv, sc->x->stamps[v], &h, &err)) {
                log_error("model '%s' version %lld: %s", m->name, (long long)rv->version, err.msg);
                continue;
            }
            if (!insert_version(m, h)) {
                log_error("model '%s' version %lld: out of memory", m->name,
                          (long long)rv->version);
                serve_model_handle_release(h);
                continue;
            }
            if (h->state == SERVE_MODEL_LOADING) {
                log_info("model '%s' version %lld appeared: loading it", m->name,
                         (long long)rv->version);
                out_load(out, h);
            } else {
                log_error("model '%s' version %lld cannot load: %s", m->name,
                          (long long)rv->version, h->reason);
                note_failure(m, h, h->reason);
            }
            continue;
        }
        serve_model_handle *h = m->versions[idx];
        h->wanted = true;
        bool changed = h->stamp != sc->x->stamps[v];
        bool retry = sc->retry_failed && h->state == SERVE_MODEL_FAILED;
        if (retry || (changed && h->failed_stamp != sc->x->stamps[v]) ||
            (changed && sc->retry_failed))
            reload_version(mm, m, (size_t)idx, sc, v, out);
        else if (h->state == SERVE_MODEL_FAILED) note_failure(m, h, h->reason);
    }
    for (size_t i = 0; i < m->n_versions; i++)
        m->versions[i]->deleted = !on_disk(sc->x, m->versions[i]->version);
    settle(m, out);
}

/* --- after the lock ------------------------------------------------------------------------- */

static void finish(serve_manager *mm, sync_out *out) {
    for (serve_model_handle *h = out->load_head, *next; h; h = next) {
        next = h->next_job;
        mm_enqueue_load(mm, h);
        serve_model_handle_release(h); /* out_load's reference */
    }
    retire_enqueue(mm, out->retire_head, out->retire_tail);
    for (mm_load_wait *w = out->answers, *next; w; w = next) {
        next = w->next;
        w->done(w->ctx, w->error[0] ? w->st : STATUS_OK, w->error);
        free(w);
    }
    memset(out, 0, sizeof *out);
}

void mm_load_done(serve_manager *mm, serve_model_handle *h) {
    sync_out out = {0};
    pthread_rwlock_wrlock(&mm->table);
    mm_model *m = h->retired ? NULL : mm_find_model(mm, h->name);
    if (m && h->replaces && remove_incoming(m, h)) {
        ssize_t idx = -1;
        for (size_t i = 0; i < m->n_versions && idx < 0; i++)
            if (m->versions[i]->id == h->replaces) idx = (ssize_t)i;
        if (h->state == SERVE_MODEL_READY && idx >= 0) {
            serve_model_handle *old = m->versions[idx];
            m->versions[idx] = h; /* the incoming reference becomes the table's */
            h->wanted = old->wanted;
            log_info("model '%s' version %lld: the new copy serves; the old one drains", h->name,
                     (long long)h->version);
            retire_handle(old, &out);
        } else {
            if (idx >= 0 && h->state == SERVE_MODEL_FAILED) {
                serve_model_handle *old = m->versions[idx];
                old->failed_stamp = h->stamp;
                char *why = malloc(strlen(h->reason ? h->reason : "") + 80);
                if (why) sprintf(why, "its files changed but failed to load (%s); the previous "
                                 "copy keeps serving", h->reason ? h->reason : "");
                free(old->reason);
                old->reason = why;
                note_failure(m, h, h->reason);
            }
            retire_handle(h, &out);
        }
    } else if (m && h->state == SERVE_MODEL_FAILED) {
        note_failure(m, h, h->reason);
    }
    if (m) settle(m, &out);
    pthread_rwlock_unlock(&mm->table);
    finish(mm, &out);
}

/* --- scanning ------------------------------------------------------------------------------- */

static void extras_free(scan_extra *x, size_t n) {
    for (size_t i = 0; x && i < n; i++) {
        free(x[i].stamps);
        free(x[i].on_disk);
    }
    free(x);
}

/* The numeric subdirectories of a model directory (sha256sums and files
 * are not versions; "0" and "01" are not either, as in repository.c). */
static bool list_on_disk(const char *dir, scan_extra *x) {
    DIR *d = opendir(dir);
    if (!d) return true; /* gone: no version on disk */
    size_t cap = 0;
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        char *end;
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        long long v = strtoll(e->d_name, &end, 10);
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (*end || stat(path, &sb) || !S_ISDIR(sb.st_mode)) continue;
        if (x->n_on_disk == cap) {
            cap = cap ? cap * 2 : 8;
            int64_t *n = realloc(x->on_disk, cap * sizeof *n);
            if (!(ok = n != NULL)) break;
            x->on_disk = n;
        }
        x->on_disk[x->n_on_disk++] = v;
    }
    closedir(d);
    return ok;
}

/* Stamps and version directories of every scanned model (file system
 * calls, made before locking). */
static scan_extra *scan_extras(const serve_repo *repo) {
    scan_extra *x = calloc(repo->n_models ? repo->n_models : 1, sizeof *x);
    for (size_t i = 0; x && i < repo->n_models; i++) {
        const serve_repo_model *rm = &repo->models[i];
        if (!(x[i].stamps = calloc(rm->n_versions ? rm->n_versions : 1, sizeof *x[i].stamps)) ||
            !list_on_disk(rm->dir, &x[i])) {
            extras_free(x, repo->n_models);
            return NULL;
        }
        for (size_t v = 0; v < rm->n_versions; v++)
            x[i].stamps[v] = serve_version_stamp(rm->dir, rm->versions[v].version);
    }
    return x;
}

static const serve_repo_model *repo_find(const serve_repo *repo, const char *name) {
    size_t lo = 0, hi = repo->n_models;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(repo->models[mid].name, name);
        if (!c) return &repo->models[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static status scan(serve_manager *mm, serve_repo **repo, scan_extra **extras, errinfo *err) {
    status st = serve_repo_scan(mm->repository, mm->backends[0]->default_filename, repo, err);
    if (st) return st;
    if (!(*extras = scan_extras(*repo))) {
        serve_repo_free(*repo);
        *repo = NULL;
        return status_fail(err, STATUS_NO_MEMORY, "out of memory scanning %s", mm->repository);
    }
    return STATUS_OK;
}

/* --- polling -------------------------------------------------------------------------------- */

status serve_manager_poll(serve_manager *mm, errinfo *err) {
    if (mm->control_mode != SERVE_CONTROL_POLL)
        return status_fail(err, STATUS_FAILED_PRECONDITION,
                           "repository polling needs --model-control-mode poll (this server runs "
                           "in '%s' mode)", serve_control_mode_name(mm->control_mode));
    serve_repo *repo;
    scan_extra *extras;
    status st = scan(mm, &repo, &extras, err);
    if (st) return st;
    sync_out out = {0};
    pthread_mutex_lock(&mm->sync_mu);
    pthread_rwlock_wrlock(&mm->table);
    for (size_t i = 0; i < repo->n_models; i++) {
        const serve_repo_model *rm = &repo->models[i];
        mm_model *m = mm_find_model(mm, rm->name);
        if (!m && !(m = insert_model(mm, rm->name))) {
            log_error("model '%s' appeared but there is no memory to load it", rm->name);
            continue;
        }
        if (!m->n_versions && !m->error && !m->unloaded) log_info("model '%s' appeared", rm->name);
        scanned sc = {rm, &extras[i], false};
        apply_model(mm, m, &sc, &out);
    }
    for (size_t i = mm->n_models; i-- > 0;) {
        mm_model *m = &mm->models[i];
        if (repo_find(repo, m->name)) continue;
        log_info("model '%s' was removed from the repository", m->name);
        take_out_all(m, "its directory was removed from the repository", &out);
        answer_all(m, STATUS_NOT_FOUND, "the model was removed from the repository", &out);
        remove_model(mm, i);
    }
    pthread_rwlock_unlock(&mm->table);
    pthread_mutex_unlock(&mm->sync_mu);
    finish(mm, &out);
    extras_free(extras, repo->n_models);
    serve_repo_free(repo);
    return STATUS_OK;
}

/* --- explicit load and unload ----------------------------------------------------------------- */

typedef struct mm_control {
    bool unload;
    char *name;
    serve_manager_done_fn done;
    void *ctx;
    struct mm_control *next;
} mm_control;

static void do_load(serve_manager *mm, const char *name, serve_manager_done_fn done, void *ctx) {
    serve_repo *repo;
    scan_extra *extras;
    errinfo err;
    status st = scan(mm, &repo, &extras, &err);
    if (st) {
        done(ctx, st, err.msg);
        return;
    }
    const serve_repo_model *rm = repo_find(repo, name);
    mm_load_wait *w = rm ? calloc(1, sizeof *w) : NULL;
    if (!rm) {
        snprintf(err.msg, sizeof err.msg, "model '%s' is not in the repository %s", name,
                 mm->repository);
        st = STATUS_NOT_FOUND;
    } else if (!w) {
        snprintf(err.msg, sizeof err.msg, "out of memory loading model '%s'", name);
        st = STATUS_NO_MEMORY;
    }
    sync_out out = {0};
    pthread_mutex_lock(&mm->sync_mu);
    pthread_rwlock_wrlock(&mm->table);
    mm_model *m = st ? NULL : mm_find_model(mm, name);
    if (!st && !m && !(m = insert_model(mm, name))) {
        snprintf(err.msg, sizeof err.msg, "out of memory loading model '%s'", name);
        st = STATUS_NO_MEMORY;
    }
    if (!st) {
        log_info("loading model '%s' (requested through the repository API)", name);
        w->done = done;
        w->ctx = ctx;
        w->next = m->waiters; /* answered by settle, now or when its loads finish */
        m->waiters = w;
        w = NULL;
        scanned sc = {rm, &extras[rm - repo->models], true};
        apply_model(mm, m, &sc, &out);
        if (rm->error) answer_all(m, STATUS_INVALID_MODEL, rm->error, &out);
    }
    pthread_rwlock_unlock(&mm->table);
    pthread_mutex_unlock(&mm->sync_mu);
    finish(mm, &out);
    extras_free(extras, repo->n_models);
    serve_repo_free(repo);
    free(w);
    if (st) done(ctx, st, err.msg);
}

static bool model_on_disk(serve_manager *mm, const char *name) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", mm->repository, name);
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void do_unload(serve_manager *mm, const char *name, serve_manager_done_fn done, void *ctx) {
    mm_unload_wait *w = calloc(1, sizeof *w);
    if (!w) {
        done(ctx, STATUS_NO_MEMORY, "out of memory unloading");
        return;
    }
    w->done = done;
    w->ctx = ctx;
    snprintf(w->name, sizeof w->name, "%s", name);
    sync_out out = {0};
    pthread_mutex_lock(&mm->sync_mu);
    pthread_rwlock_wrlock(&mm->table);
    mm_model *m = mm_find_model(mm, name);
    if (m) {
        if (m->n_versions || m->n_incoming)
            log_info("unloading model '%s' (requested through the repository API)", name);
        take_out_all(m, "unloaded through the repository API", &out);
        answer_all(m, STATUS_UNAVAILABLE, "the model was unloaded before its load finished", &out);
        m->unloaded = true;
        free(m->error);
        free(m->kept_error);
        m->error = m->kept_error = NULL;
    }
    pthread_rwlock_unlock(&mm->table);
    pthread_mutex_unlock(&mm->sync_mu);
    int n = 0;
    for (serve_model_handle *h = out.retire_head; h; h = h->retire_next, n++) h->retire_wait = w;
    atomic_init(&w->remaining, n);
    bool known = m || model_on_disk(mm, name);
    finish(mm, &out); /* w may be answered and freed from here on */
    if (n) return;
    free(w);
    if (known) done(ctx, STATUS_OK, "");
    else done(ctx, STATUS_NOT_FOUND, "no model of that name is loaded or in the repository");
}

static void *control_main(void *arg) {
    serve_manager *mm = arg;
    pthread_setname_np(pthread_self(), "inferd-control");
    pthread_mutex_lock(&mm->ctl_mu);
    for (;;) {
        while (!mm->ctl_head && !mm->ctl_stop) pthread_cond_wait(&mm->ctl_cv, &mm->ctl_mu);
        mm_control *c = mm->ctl_head;
        if (!c || mm->ctl_stop) break;
        mm->ctl_head = c->next;
        if (!mm->ctl_head) mm->ctl_tail = NULL;
        mm->ctl_running = true;
        pthread_mutex_unlock(&mm->ctl_mu);
        if (c->unload) do_unload(mm, c->name, c->done, c->ctx);
        else do_load(mm, c->name, c->done, c->ctx);
        free(c->name);
        free(c);
        pthread_mutex_lock(&mm->ctl_mu);
        mm->ctl_running = false;
    }
    pthread_mutex_unlock(&mm->ctl_mu);
    return NULL;
}

/* A model name is one directory of the repository. */
static bool name_ok(const char *name) {
    return name && name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..") &&
           strlen(name) < 256;
}

static void control_submit(serve_manager *mm, bool unload, const char *name,
                           serve_manager_done_fn done, void *ctx) {
    if (mm->control_mode != SERVE_CONTROL_EXPLICIT) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "%s models on request needs --model-control-mode explicit (this server runs in "
                 "'%s' mode)", unload ? "unloading" : "loading",
                 serve_control_mode_name(mm->control_mode));
        done(ctx, STATUS_FAILED_PRECONDITION, msg);
        return;
    }
    if (!name_ok(name)) {
        done(ctx, STATUS_INVALID_ARGUMENT, "the model name must be one directory name of the "
                                           "repository (not empty, no '/', not '.' or '..')");
        return;
    }
    mm_control *c = calloc(1, sizeof *c);
    if (!c || !(c->name = strdup(name))) {
        free(c);
        done(ctx, STATUS_NO_MEMORY, "out of memory");
        return;
    }
    c->unload = unload;
    c->done = done;
    c->ctx = ctx;
    pthread_mutex_lock(&mm->ctl_mu);
    if (!mm->ctl_started && !mm->ctl_stop) {
        int rc;
        mm->ctl_thread = start_quiet_thread(control_main, mm, &rc);
        mm->ctl_started = rc == 0;
        if (rc) log_error("cannot start the model control thread: %s", strerror(rc));
    }
    if (!mm->ctl_started || mm->ctl_stop) {
        pthread_mutex_unlock(&mm->ctl_mu);
        free(c->name);
        free(c);
        done(ctx, STATUS_UNAVAILABLE, "the server is shutting down");
        return;
    }
    if (mm->ctl_tail) mm->ctl_tail->next = c;
    else mm->ctl_head = c;
    mm->ctl_tail = c;
    pthread_cond_signal(&mm->ctl_cv);
    pthread_mutex_unlock(&mm->ctl_mu);
}

void serve_manager_load(serve_manager *mm, const char *name, serve_manager_done_fn done,
                        void *ctx) {
    control_submit(mm, false, name, done, ctx);
}

void serve_manager_unload(serve_manager *mm, const char *name, serve_manager_done_fn done,
                          void *ctx) {
    control_submit(mm, true, name, done, ctx);
}

/* --- the index ------------------------------------------------------------------------------- */

typedef struct rows {
    serve_model_status *v;
    size_t n, cap;
    bool oom;
} rows;

static void row_add(rows *r, const char *name, int64_t version, serve_model_state st,
                    const char *reason, uint64_t load_ns) {
    if (r->oom) return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        serve_model_status *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->oom = true;
            return;
        }
        r->v = v;
        r->cap = cap;
    }
    serve_model_status *s = &r->v[r->n];
    s->version = version;
    s->state = st;
    s->load_ns = load_ns;
    s->name = strdup(name);
    s->reason = strdup(reason ? reason : "");
    if (!s->name || !s->reason) {
        free(s->name);
        free(s->reason);
        r->oom = true;
        return;
    }
    r->n++;
}

static bool row_exists(const rows *r, const char *name, int64_t version) {
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].version == version && !strcmp(r->v[i].name, name)) return true;
    return false;
}

static int row_cmp(const void *a, const void *b) {
    const serve_model_status *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->version > y->version) - (x->version < y->version);
}

static void index_table(serve_manager *mm, rows *r) {
    pthread_rwlock_rdlock(&mm->table);
    for (size_t i = 0; i < mm->n_models; i++) {
        const mm_model *m = &mm->models[i];
        for (size_t v = 0; v < m->n_versions; v++) {
            const serve_model_handle *h = m->versions[v];
            row_add(r, m->name, h->version, h->state, h->reason, h->load_ns);
        }
        if (m->error) row_add(r, m->name, 0, SERVE_MODEL_FAILED, m->error, 0);
        else if (!m->n_versions)
            row_add(r, m->name, 0, SERVE_MODEL_UNAVAILABLE,
                    m->unloaded ? "unloaded" : "not loaded", 0);
    }
    pthread_rwlock_unlock(&mm->table);
}

static void index_retiring(serve_manager *mm, rows *r) {
    pthread_mutex_lock(&mm->retire_mu);
    const serve_model_handle *cur = mm->retire_current;
    for (const serve_model_handle *h = cur ? cur : mm->retire_head; h;
         h = h == cur ? mm->retire_head : h->retire_next)
        if (h->state != SERVE_MODEL_FAILED && !row_exists(r, h->name, h->version))
            row_add(r, h->name, h->version, SERVE_MODEL_UNAVAILABLE, "unloading", 0);
    pthread_mutex_unlock(&mm->retire_mu);
}

status serve_manager_index(serve_manager *mm, bool ready_only, serve_model_status **out, size_t *n,
                           errinfo *err) {
    *out = NULL;
    *n = 0;
    rows r = {0};
    index_table(mm, &r);
    index_retiring(mm, &r);
    serve_repo *repo = NULL;
    errinfo scan_err;
    if (serve_repo_scan(mm->repository, mm->backends[0]->default_filename, &repo, &scan_err))
        log_warn("repository index: %s", scan_err.msg);
    for (size_t i = 0; repo && i < repo->n_models; i++) {
        bool listed = false;
        for (size_t k = 0; k < r.n && !listed; k++)
            listed = !strcmp(r.v[k].name, repo->models[i].name);
        if (!listed) row_add(&r, repo->models[i].name, 0, SERVE_MODEL_UNAVAILABLE, "not loaded", 0);
    }
    serve_repo_free(repo);
    if (r.oom) {
        serve_model_status_free(r.v, r.n);
        return status_fail(err, STATUS_NO_MEMORY, "out of memory building the repository index");
    }
    size_t k = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (ready_only && r.v[i].state != SERVE_MODEL_READY) {
            free(r.v[i].name);
            free(r.v[i].reason);
            continue;
        }
        r.v[k++] = r.v[i];
    }
    if (k > 1) qsort(r.v, k, sizeof *r.v, row_cmp);
    *out = r.v;
    *n = k;
    return STATUS_OK;
}

/* --- waiting and shutdown ---------------------------------------------------------------- */

bool serve_manager_wait_idle(serve_manager *mm, int64_t timeout_ms) {
    for (int64_t waited = 0;; waited += 2) {
        pthread_mutex_lock(&mm->ctl_mu);
        bool idle = !mm->ctl_head && !mm->ctl_running;
        pthread_mutex_unlock(&mm->ctl_mu);
        pthread_mutex_lock(&mm->jobs_mu);
        idle = idle && mm->pending == 0;
        pthread_mutex_unlock(&mm->jobs_mu);
        pthread_mutex_lock(&mm->retire_mu);
        idle = idle && mm->retiring == 0;
        pthread_mutex_unlock(&mm->retire_mu);
        if (idle) return true;
        if (timeout_ms >= 0 && waited >= timeout_ms) return false;
        sleep_ms(2);
    }
}

void mm_sync_stop(serve_manager *mm) {
    pthread_mutex_lock(&mm->ctl_mu);
    mm->ctl_stop = true;
    bool join = mm->ctl_started;
    mm_control *left = mm->ctl_head;
    mm->ctl_head = mm->ctl_tail = NULL;
    pthread_cond_broadcast(&mm->ctl_cv);
    pthread_mutex_unlock(&mm->ctl_mu);
    if (join) pthread_join(mm->ctl_thread, NULL);
    mm->ctl_started = false;
    while (left) {
        mm_control *next = left->next;
        left->done(left->ctx, STATUS_UNAVAILABLE, "the server is shutting down");
        free(left->name);
        free(left);
        left = next;
    }
}

void mm_sync_shutdown(serve_manager *mm) {
    pthread_mutex_lock(&mm->retire_mu);
    mm->retire_stop = true;
    bool join = mm->retire_started;
    pthread_cond_broadcast(&mm->retire_cv);
    pthread_mutex_unlock(&mm->retire_mu);
    if (join) pthread_join(mm->retirer, NULL); /* it empties the queue first */
    mm->retire_started = false;
    sync_out out = {0};
    pthread_rwlock_wrlock(&mm->table);
    for (size_t i = 0; i < mm->n_models; i++)
        answer_all(&mm->models[i], STATUS_UNAVAILABLE, "the server is shutting down", &out);
    pthread_rwlock_unlock(&mm->table);
    for (mm_load_wait *w = out.answers, *next; w; w = next) {
        next = w->next;
        w->done(w->ctx, w->st, w->error);
        free(w);
    }
}
