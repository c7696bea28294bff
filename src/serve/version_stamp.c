/* version_stamp.c -- stat()-based fingerprints of version directories.
 *
 * Entries are hashed one by one and the hashes summed, so the stamp does
 * not depend on the order readdir returns names in. */
#include "version_stamp.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Deeper trees than this are not walked further (a symlink loop ends here). */
#define STAMP_MAX_DEPTH 8

typedef struct stamp_acc {
    uint64_t sum;
    uint64_t count;
} stamp_acc;

static uint64_t mix64(uint64_t x) { /* splitmix64's finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* One name and what stat says about it (or that it is absent). */
static void stamp_entry(stamp_acc *acc, const char *rel, const struct stat *sb) {
    uint64_t h = fnv1a(rel);
    if (sb) {
        h = mix64(h ^ (uint64_t)sb->st_size);
        h = mix64(h ^ (uint64_t)sb->st_mtim.tv_sec);
        h = mix64(h ^ (uint64_t)sb->st_mtim.tv_nsec);
        h = mix64(h ^ (uint64_t)sb->st_ino);
        h = mix64(h ^ (uint64_t)(sb->st_mode & S_IFMT));
    } else {
        h = mix64(h ^ 0x6d697373696e67ull); /* "missing" */
    }
    acc->sum += h;
    acc->count++;
}

/* Every entry under `path` (named `rel` in the stamp), recursively. */
static void stamp_tree(stamp_acc *acc, const char *path, const char *rel, int depth) {
    struct stat sb;
    if (stat(path, &sb)) {
        stamp_entry(acc, rel, NULL);
        return;
    }
    stamp_entry(acc, rel, &sb);
    if (!S_ISDIR(sb.st_mode) || depth >= STAMP_MAX_DEPTH) return;
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[4096], subrel[4096];
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub ||
            snprintf(subrel, sizeof subrel, "%s/%s", rel, e->d_name) >= (int)sizeof subrel)
            continue; /* a path this long cannot be a model file either */
        stamp_tree(acc, sub, subrel, depth + 1);
    }
    closedir(d);
}

uint64_t serve_version_stamp(const char *model_dir, int64_t version) {
    stamp_acc acc = {0, 0};
    char path[4096], vname[32];
    snprintf(vname, sizeof vname, "%lld", (long long)version);
    snprintf(path, sizeof path, "%s/%s", model_dir, vname);
    stamp_tree(&acc, path, vname, 0);
    struct stat sb;
    snprintf(path, sizeof path, "%s/config.pbtxt", model_dir);
    stamp_entry(&acc, "config.pbtxt", stat(path, &sb) ? NULL : &sb);
    snprintf(path, sizeof path, "%s/warmup", model_dir);
    if (!stat(path, &sb)) stamp_tree(&acc, path, "warmup", 0);
    uint64_t h = mix64(acc.sum ^ mix64(acc.count));
    return h ? h : 1;
}
