/* flags.c -- parsing of the flag tables described in flags.h. */
#include "flags.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static status parse_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX) return STATUS_INVALID_ARGUMENT;
    *out = (int)v;
    return STATUS_OK;
}

static status parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    if (*s == '-') return STATUS_INVALID_ARGUMENT;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return STATUS_INVALID_ARGUMENT;
    unsigned long long mult = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mult = 1ull << 10; end++; break;
    case 'M': mult = 1ull << 20; end++; break;
    case 'G': mult = 1ull << 30; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b') end++;
    if (*end || v > SIZE_MAX / mult) return STATUS_INVALID_ARGUMENT;
    *out = (size_t)(v * mult);
    return STATUS_OK;
}

static status parse_bool(const char *s, int *out) {
    if (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes")) *out = 1;
    else if (!strcmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no")) *out = 0;
    else return STATUS_INVALID_ARGUMENT;
    return STATUS_OK;
}

static const char *type_expectation(flag_type t) {
    switch (t) {
    case FLAG_INT: return "an integer";
    case FLAG_SIZE: return "a byte count such as 1048576 or 64M";
    case FLAG_BOOL: return "true or false";
    default: return "a value";
    }
}

static status flag_set(const flag *f, const char *value, const char *source, errinfo *err) {
    status st = STATUS_OK;
    switch (f->type) {
    case FLAG_STRING: *(const char **)f->target = value; break;
    case FLAG_INT: st = parse_int(value, f->target); break;
    case FLAG_SIZE: st = parse_size(value, f->target); break;
    case FLAG_BOOL: st = parse_bool(value, f->target); break;
    }
    if (st)
        return status_fail(err, st, "%s: expected %s, got '%s'", source,
                           type_expectation(f->type), value);
    return STATUS_OK;
}

/* "http-port" -> "INFERD_HTTP_PORT" */
static void env_name(const char *flag_name, char *buf, size_t len) {
    size_t j = (size_t)snprintf(buf, len, "INFERD_");
    for (size_t i = 0; flag_name[i] && j + 1 < len; i++)
        buf[j++] = flag_name[i] == '-' ? '_' : (char)toupper((unsigned char)flag_name[i]);
    buf[j] = '\0';
}

static status flags_from_env(const flag *flags, int n, errinfo *err) {
    for (int i = 0; i < n; i++) {
        char name[128];
        env_name(flags[i].name, name, sizeof name);
        const char *v = getenv(name);
        if (!v) continue;
        status st = flag_set(&flags[i], v, name, err);
        if (st) return st;
    }
    return STATUS_OK;
}

static const flag *flag_find(const flag *flags, int n, const char *name, size_t len) {
    for (int i = 0; i < n; i++)
        if (strlen(flags[i].name) == len && !strncmp(flags[i].name, name, len)) return &flags[i];
    return NULL;
}

status flags_parse(const flag *flags, int n, int argc, char **argv, int first, int *help,
                   errinfo *err) {
    *help = 0;
    status st = flags_from_env(flags, n, err);
    if (st) return st;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return STATUS_OK;
        }
        if (strncmp(a, "--", 2) != 0)
            return status_fail(err, STATUS_INVALID_ARGUMENT, "unexpected argument '%s'", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const flag *f = flag_find(flags, n, name, len);
        if (!f) return status_fail(err, STATUS_INVALID_ARGUMENT, "unknown flag '--%.*s'", (int)len, name);
        const char *value = eq ? eq + 1 : NULL;
        if (!value && f->type == FLAG_BOOL) value = "true";
        if (!value) {
            if (i + 1 >= argc)
                return status_fail(err, STATUS_INVALID_ARGUMENT, "flag '--%s' needs %s",
                                   f->name, type_expectation(f->type));
            value = argv[++i];
        }
        char source[160];
        snprintf(source, sizeof source, "flag '--%s'", f->name);
        st = flag_set(f, value, source, err);
        if (st) return st;
    }
    return STATUS_OK;
}

void flags_usage(FILE *out, const char *usage_line, const char *summary, const flag *flags,
                 int n) {
    fprintf(out, "usage: %s\n\n%s\n\noptions (each also read from the environment variable shown):\n",
            usage_line, summary);
    for (int i = 0; i < n; i++) {
        char left[96], env[128];
        snprintf(left, sizeof left, "--%s%s%s", flags[i].name, flags[i].metavar ? " " : "",
                 flags[i].metavar ? flags[i].metavar : "");
        env_name(flags[i].name, env, sizeof env);
        fprintf(out, "  %-30s %s [%s]\n", left, flags[i].help, env);
    }
    fprintf(out, "  %-30s show this help\n", "--help");
}
