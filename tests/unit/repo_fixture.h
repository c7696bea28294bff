/* repo_fixture.h -- builds throwaway model repositories under /tmp for the
 * repository and model-manager tests (header-only).
 *
 *     char root[64];
 *     repo_make_root(root);                         // /tmp/inferd_repo_XXXXXX
 *     repo_write(root, "a/1/model.onnx", "in x FP32 2\nout y FP32 2\n");
 *     repo_write(root, "a/config.pbtxt", "max_batch_size: 0");
 *     ...
 *     repo_remove(root);                            // rm -r
 */
#ifndef INFERD_TESTS_REPO_FIXTURE_H
#define INFERD_TESTS_REPO_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int repo_make_root(char *root /* >= 32 bytes */) {
    strcpy(root, "/tmp/inferd_repo_XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

/* mkdir -p of every directory in rel (a trailing '/' makes rel itself one). */
static int repo_mkdirs(const char *root, const char *rel) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0755) && access(path, F_OK)) return -1;
        *p = '/';
    }
    return 0;
}

__attribute__((unused)) static int repo_write(const char *root, const char *rel, const char *text) {
    if (repo_mkdirs(root, rel)) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    fputs(text, fp);
    return fclose(fp);
}

__attribute__((unused)) static int repo_dir(const char *root, const char *rel) {
    char with_slash[512];
    snprintf(with_slash, sizeof with_slash, "%s/", rel);
    return repo_mkdirs(root, with_slash);
}

static int repo_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

__attribute__((unused)) static void repo_remove(const char *root) {
    nftw(root, repo_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
