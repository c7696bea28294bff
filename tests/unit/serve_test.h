/* serve_test.h -- check macros for the serving-core unit tests.
 *
 * Each test file is its own program: it counts failed checks and main()
 * returns non-zero if any failed. Checks report file:line and keep going.
 *
 *     CHECK(x == 1);
 *     CHECK_OK(model_config_parse(...));
 *     CHECK_ERR(serve_request_validate(r, meta, &err), STATUS_INVALID_ARGUMENT,
 *               err.msg, "expected datatype FP32, got INT64");
 *     return test_report("test_model_config");
 */
#ifndef INFERD_TESTS_SERVE_TEST_H
#define INFERD_TESTS_SERVE_TEST_H

#include <stdio.h>
#include <string.h>

#include "common/status.h"

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                              \
    do {                                                                         \
        test_checks++;                                                           \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                     \
        }                                                                        \
    } while (0)

/* expr must return STATUS_OK; `msg` is printed otherwise. */
#define CHECK_OK_MSG(expr, msg)                                                  \
    do {                                                                         \
        test_checks++;                                                           \
        status check_st_ = (expr);                                               \
        if (check_st_ != STATUS_OK) {                                            \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #expr, \
                    status_name(check_st_), (msg));                              \
            test_failures++;                                                     \
        }                                                                        \
    } while (0)

/* expr must fail with `want` and `msg` must contain `needle`. */
#define CHECK_ERR(expr, want, msg, needle)                                       \
    do {                                                                         \
        test_checks++;                                                           \
        status check_st_ = (expr);                                               \
        if (check_st_ != (want) || !strstr((msg), (needle))) {                   \
            fprintf(stderr, "%s:%d: %s: want %s containing \"%s\", got %s \"%s\"\n", \
                    __FILE__, __LINE__, #expr, status_name(want), (needle),      \
                    status_name(check_st_), check_st_ ? (msg) : "");             \
            test_failures++;                                                     \
        }                                                                        \
    } while (0)

#define CHECK_STR(got, want)                                                     \
    do {                                                                         \
        test_checks++;                                                           \
        const char *check_g_ = (got), *check_w_ = (want);                        \
        if (!check_g_ || strcmp(check_g_, check_w_)) {                           \
            fprintf(stderr, "%s:%d: %s: want \"%s\", got \"%s\"\n", __FILE__, __LINE__, \
                    #got, check_w_, check_g_ ? check_g_ : "(null)");             \
            test_failures++;                                                     \
        }                                                                        \
    } while (0)

static inline int test_report(const char *name) {
    if (test_failures) fprintf(stderr, "%s: %d of %d checks failed\n", name, test_failures, test_checks);
    else printf("%s: all %d checks passed\n", name, test_checks);
    return test_failures ? 1 : 0;
}

#endif
