/* repository.h -- what a model repository directory asks to be loaded.
 *
 * The layout is Triton's and TF Serving's:
 *
 *     REPO/<model>/config.pbtxt          optional, Triton's text format
 *     REPO/<model>/<version>/model.onnx  version = positive integer
 *
 * serve_repo_scan reads the directory tree (nothing is loaded): one entry
 * per model directory, with its parsed config (the default config when the
 * file is absent) and the versions its version policy selects (default:
 * the highest one). A model whose config is broken, or that has no version,
 * gets an `error` instead of versions; a selected version whose model file
 * is missing gets an `error` of its own. Either way the rest of the
 * repository is unaffected. Entries that are not model or version
 * directories (hidden files, labels, "0", "v2") are skipped with a debug
 * log. The model file is `default_model_filename` from the config, else
 * the backend's default; if that path is a directory (Triton's layout for
 * ONNX models with external data), the file of the same name inside it.
 *
 *     serve_repo *repo; errinfo err;
 *     if (serve_repo_scan("/models", "model.onnx", &repo, &err)) die(err.msg);
 *     for (size_t i = 0; i < repo->n_models; i++) {
 *         serve_repo_model *m = &repo->models[i];
 *         if (m->error) { log_error("%s: %s", m->name, m->error); continue; }
 *         for (size_t v = 0; v < m->n_versions; v++) load(m->versions[v].path, m->config);
 *     }
 *     serve_repo_free(repo);
 *
 * Thread-safe (no shared state); the result is owned by the caller. */
#ifndef INFERD_SERVE_REPOSITORY_H
#define INFERD_SERVE_REPOSITORY_H

#include <stddef.h>
#include <stdint.h>

#include "../common/status.h"
#include "model_config.h"

typedef struct serve_repo_version {
    int64_t version;
    char *path;            /* the model file */
    char *error;           /* why this version cannot load, or NULL */
} serve_repo_version;

typedef struct serve_repo_model {
    char *name;            /* the directory name */
    char *dir;             /* REPO/<name> */
    model_config *config;  /* never NULL unless `error` */
    bool has_config_file;  /* config.pbtxt existed */
    char *error;           /* the model as a whole cannot load, or NULL */
    serve_repo_version *versions;  /* ascending; empty when `error` */
    size_t n_versions;
} serve_repo_model;

typedef struct serve_repo {
    serve_repo_model *models;      /* sorted by name */
    size_t n_models;
} serve_repo;

/* Scans `root`. Fails (STATUS_IO_ERROR / STATUS_NOT_FOUND / STATUS_NO_MEMORY)
 * only if the repository itself cannot be read; problems of single models
 * are reported in their entries. */
status serve_repo_scan(const char *root, const char *default_filename, serve_repo **out,
                       errinfo *err);
void serve_repo_free(serve_repo *r);

/* Applies a version policy to the version numbers found on disk (any
 * order). Writes the selected ones ascending to out (room for n) and
 * returns how many; *missing gets the versions `specific` asks for that are
 * not on disk (room for policy->n_versions; may be NULL). */
size_t serve_repo_apply_policy(const model_version_policy *policy, const int64_t *found, size_t n,
                               int64_t *out, int64_t *missing, size_t *n_missing);

#endif
