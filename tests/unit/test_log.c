/* test_log.c -- the logger: line format, levels, JSON escaping, one line
 * per event even for long or multi-line messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "serve_test.h"

/* Runs the logging calls in `body` into a temp file and returns its text. */
static char out[16384];
#define CAPTURE(body)                                       \
    do {                                                    \
        FILE *tmp_ = tmpfile();                             \
        if (!tmp_) break;                                   \
        log_set_fd(fileno(tmp_));                           \
        body;                                               \
        log_set_fd(-1);                                     \
        fseek(tmp_, 0, SEEK_SET);                           \
        size_t n_ = fread(out, 1, sizeof out - 1, tmp_);    \
        out[n_] = '\0';                                     \
        fclose(tmp_);                                       \
    } while (0)

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

int main(void) {
    log_set_format(LOG_FORMAT_TEXT);
    log_set_verbose(0);
    CAPTURE(log_info("loaded %s", "m"); log_verbose("hidden"); log_error("bad\nthing"));
    CHECK(count_lines(out) == 2);
    /* 2026-11-22T20:00:00.123Z INFO loaded m */
    CHECK(strlen(out) > 25 && out[4] == '-' && out[10] == 'T' && out[19] == '.' && out[23] == 'Z');
    CHECK(strstr(out, "Z INFO loaded m\n") != NULL);
    CHECK(strstr(out, "ERROR bad thing\n") != NULL); /* newlines flattened */
    CHECK(strstr(out, "hidden") == NULL);

    log_set_verbose(1);
    CHECK(log_get_verbose() == 1);
    CHECK(log_enabled(LOG_VERBOSE, 1) == false); /* fd is -1 between captures */
    CAPTURE(CHECK(log_enabled(LOG_VERBOSE, 1) && !log_enabled(LOG_VERBOSE, 2));
            log_verbose("shown"); log_debug("not shown"));
    CHECK(strstr(out, "VERBOSE shown") && !strstr(out, "not shown"));

    log_set_format(LOG_FORMAT_JSON);
    CAPTURE(log_warn("quote \" backslash \\ tab \t nl \n end"));
    CHECK(count_lines(out) == 1);
    CHECK(strstr(out, "{\"ts\":\"") == out);
    CHECK(strstr(out, "\",\"level\":\"WARN\",\"msg\":\"quote \\\" backslash \\\\ tab \\u0009 nl \\n end\"}\n") != NULL);

    /* a message longer than the line buffer is cut, still one line */
    char *big = malloc(10000);
    if (big) {
        memset(big, 'x', 9999);
        big[9999] = '\0';
        log_set_format(LOG_FORMAT_TEXT);
        CAPTURE(log_info("%s", big));
        CHECK(count_lines(out) == 1 && strstr(out, "...\n") != NULL);
        log_set_format(LOG_FORMAT_JSON);
        CAPTURE(log_info("%s", big));
        CHECK(count_lines(out) == 1 && strstr(out, "...\"}\n") != NULL);
        free(big);
    }
    log_set_format(LOG_FORMAT_TEXT);
    log_set_verbose(0);
    return test_report("test_log");
}
