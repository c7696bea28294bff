/* test_repository.c -- scanning REPO/<model>/<version>/ and version policies. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "repo_fixture.h"
#include "serve/repository.h"
#include "serve_test.h"

static const serve_repo_model *find(const serve_repo *r, const char *name) {
    for (size_t i = 0; i < r->n_models; i++)
        if (!strcmp(r->models[i].name, name)) return &r->models[i];
    fprintf(stderr, "model %s not in the scan\n", name);
    return NULL;
}

static void test_policy(void) {
    int64_t found[] = {3, 10, 1, 2};
    int64_t out[8], missing[8];
    size_t nm;
    model_version_policy p = {.kind = MODEL_VERSIONS_LATEST, .latest = 1};
    CHECK(serve_repo_apply_policy(&p, found, 4, out, missing, &nm) == 1 && out[0] == 10 && nm == 0);
    p.latest = 2;
    CHECK(serve_repo_apply_policy(&p, found, 4, out, missing, &nm) == 2 && out[0] == 3 && out[1] == 10);
    p.latest = 9;
    CHECK(serve_repo_apply_policy(&p, found, 4, out, missing, &nm) == 4 && out[0] == 1 && out[3] == 10);
    p.kind = MODEL_VERSIONS_ALL;
    CHECK(serve_repo_apply_policy(&p, found, 4, out, missing, &nm) == 4 && out[1] == 2);
    int64_t want[] = {2, 7, 10, 7};
    p = (model_version_policy){.kind = MODEL_VERSIONS_SPECIFIC, .versions = want, .n_versions = 4};
    CHECK(serve_repo_apply_policy(&p, found, 4, out, missing, &nm) == 2 && out[0] == 2 && out[1] == 10);
    CHECK(nm == 1 && missing[0] == 7);
    p = (model_version_policy){.kind = MODEL_VERSIONS_LATEST, .latest = 1};
    CHECK(serve_repo_apply_policy(&p, found, 0, out, missing, &nm) == 0);
}

static void test_scan(void) {
    char root[64];
    if (repo_make_root(root)) return;
    const char *spec = "in x FP32 2\nout y FP32 2\n";
    /* a: no config, latest 1 of {1, 2, 10}; junk entries skipped */
    repo_write(root, "a/1/model.onnx", spec);
    repo_write(root, "a/2/model.onnx", spec);
    repo_write(root, "a/10/model.onnx", spec);
    repo_write(root, "a/labels.txt", "cat\ndog\n");
    repo_dir(root, "a/0");
    repo_dir(root, "a/01");
    repo_dir(root, "a/v3");
    repo_dir(root, "a/.git");
    /* b: all versions; version 2 has no model file */
    repo_write(root, "b/config.pbtxt", "version_policy: { all { } }");
    repo_write(root, "b/1/model.onnx", spec);
    repo_write(root, "b/2/README", "not a model");
    /* c: specific [1, 5]; 5 does not exist */
    repo_write(root, "c/config.pbtxt", "version_policy { specific { versions: [ 1, 5 ] } }");
    repo_write(root, "c/1/model.onnx", spec);
    repo_write(root, "c/3/model.onnx", spec);
    /* d: broken config */
    repo_write(root, "d/config.pbtxt", "name: \"d\"\nmax_batch_size: many\n");
    repo_write(root, "d/1/model.onnx", spec);
    /* e: no version directory */
    repo_dir(root, "e");
    /* f: config names another model */
    repo_write(root, "f/config.pbtxt", "name: \"other\"");
    repo_write(root, "f/1/model.onnx", spec);
    /* g: default_model_filename */
    repo_write(root, "g/config.pbtxt", "default_model_filename: \"net.onnx\"");
    repo_write(root, "g/3/net.onnx", spec);
    /* h: model.onnx is a directory (external data layout) */
    repo_write(root, "h/1/model.onnx/model.onnx", spec);
    repo_write(root, "h/1/model.onnx/weights.bin", "....");
    /* i: latest 2 */
    repo_write(root, "i/config.pbtxt", "version_policy { latest { num_versions: 2 } }");
    repo_write(root, "i/1/model.onnx", spec);
    repo_write(root, "i/2/model.onnx", spec);
    repo_write(root, "i/3/model.onnx", spec);
    /* j: specific versions none of which exist */
    repo_write(root, "j/config.pbtxt", "version_policy { specific { versions: [ 4 ] } }");
    repo_write(root, "j/1/model.onnx", spec);
    /* not models */
    repo_write(root, "README.md", "hello");
    repo_write(root, ".hidden/1/model.onnx", spec);

    serve_repo *r = NULL;
    errinfo err;
    CHECK_OK_MSG(serve_repo_scan(root, "model.onnx", &r, &err), err.msg);
    if (!r) goto out;
    CHECK(r->n_models == 10);
    CHECK_STR(r->models[0].name, "a"); /* sorted */
    const serve_repo_model *m;
    char want[256];

    if ((m = find(r, "a"))) {
        CHECK(!m->error && !m->has_config_file && m->config);
        CHECK(m->n_versions == 1 && m->versions[0].version == 10);
        snprintf(want, sizeof want, "%s/a/10/model.onnx", root);
        CHECK_STR(m->versions[0].path, want);
        CHECK(m->versions[0].error == NULL);
    }
    if ((m = find(r, "b"))) {
        CHECK(!m->error && m->has_config_file && m->n_versions == 2);
        CHECK(m->versions[0].version == 1 && m->versions[0].path && !m->versions[0].error);
        CHECK(m->versions[1].version == 2 && !m->versions[1].path);
        CHECK(m->versions[1].error && strstr(m->versions[1].error, "no model file:") &&
              strstr(m->versions[1].error, "b/2/model.onnx does not exist"));
    }
    if ((m = find(r, "c"))) {
        CHECK(!m->error && m->n_versions == 2);
        CHECK(m->versions[0].version == 1 && m->versions[0].path);
        CHECK(m->versions[1].version == 5 && m->versions[1].error &&
              strstr(m->versions[1].error, "version 5 is listed in the version policy"));
    }
    if ((m = find(r, "d"))) {
        snprintf(want, sizeof want, "%s/d/config.pbtxt:2:17: field 'max_batch_size'", root);
        CHECK(m->error && strstr(m->error, want));
        CHECK(m->n_versions == 0 && m->config == NULL);
    }
    if ((m = find(r, "e"))) CHECK(m->error && strstr(m->error, "no version directory in"));
    if ((m = find(r, "f")))
        CHECK(m->error && strstr(m->error, "'name' is \"other\" but the model directory is 'f'"));
    if ((m = find(r, "g"))) {
        CHECK(!m->error && m->n_versions == 1 && m->versions[0].path &&
              strstr(m->versions[0].path, "g/3/net.onnx"));
    }
    if ((m = find(r, "h"))) {
        CHECK(!m->error && m->n_versions == 1 && m->versions[0].path &&
              strstr(m->versions[0].path, "h/1/model.onnx/model.onnx"));
    }
    if ((m = find(r, "i"))) {
        CHECK(m->n_versions == 2 && m->versions[0].version == 2 && m->versions[1].version == 3);
    }
    if ((m = find(r, "j"))) {
        CHECK(!m->error && m->n_versions == 1 && m->versions[0].version == 4 && m->versions[0].error);
    }
    serve_repo_free(r);
out:
    repo_remove(root);
}

static void test_bad_roots(void) {
    serve_repo *r = NULL;
    errinfo err;
    CHECK_ERR(serve_repo_scan("/nonexistent/models", "model.onnx", &r, &err), STATUS_NOT_FOUND, err.msg,
              "model repository /nonexistent/models");
    char root[64];
    if (repo_make_root(root)) return;
    repo_write(root, "file", "x");
    char path[128];
    snprintf(path, sizeof path, "%s/file", root);
    CHECK_ERR(serve_repo_scan(path, "model.onnx", &r, &err), STATUS_IO_ERROR, err.msg, "is not a directory");
    /* an empty repository is fine */
    CHECK_OK_MSG(serve_repo_scan(root, "model.onnx", &r, &err), err.msg);
    CHECK(r && r->n_models == 0);
    serve_repo_free(r);
    repo_remove(root);
}

int main(void) {
    log_set_fd(-1);
    test_policy();
    test_scan();
    test_bad_roots();
    return test_report("test_repository");
}
