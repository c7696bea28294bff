/* cmd_health.c -- `inferd health`: a probe for container health checks.
 *
 * Images built FROM scratch have no curl; Docker's HEALTHCHECK and exec
 * probes run `inferd health --url http://127.0.0.1:8000/v2/health/ready`,
 * which exits 0 on an HTTP 2xx answer and 1 otherwise. */
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "flags.h"

typedef struct url_parts {
    char host[256];
    char port[8];
    char path[1024];
} url_parts;

static status parse_url(const char *url, url_parts *u, errinfo *err) {
    const char *p = url;
    if (!strncmp(p, "http://", 7)) p += 7;
    else if (strstr(p, "://"))
        return status_fail(err, STATUS_INVALID_ARGUMENT, "only http:// URLs are supported, got '%s'", url);
    size_t host_len = strcspn(p, ":/");
    if (host_len == 0 || host_len >= sizeof u->host)
        return status_fail(err, STATUS_INVALID_ARGUMENT, "no host in URL '%s'", url);
    memcpy(u->host, p, host_len);
    u->host[host_len] = '\0';
    p += host_len;
    snprintf(u->port, sizeof u->port, "80");
    if (*p == ':') {
        size_t port_len = strspn(p + 1, "0123456789");
        if (port_len == 0 || port_len >= sizeof u->port)
            return status_fail(err, STATUS_INVALID_ARGUMENT, "bad port in URL '%s'", url);
        memcpy(u->port, p + 1, port_len);
        u->port[port_len] = '\0';
        p += 1 + port_len;
    }
    snprintf(u->path, sizeof u->path, "%s", *p ? p : "/");
    return STATUS_OK;
}

static int connect_to(const url_parts *u, errinfo *err) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc) {
        status_fail(err, STATUS_UNAVAILABLE, "cannot resolve %s: %s", u->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) status_fail(err, STATUS_UNAVAILABLE, "cannot connect to %s:%s", u->host, u->port);
    return fd;
}

/* Sends GET and returns the status code of the answer, or -1. */
static int http_get_status(const url_parts *u, int timeout_ms, errinfo *err) {
    int fd = connect_to(u, err);
    if (fd < 0) return -1;
    char req[1400], resp[256];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: inferd-health\r\n\r\n",
                       u->path, u->host);
    size_t got = 0;
    int code = -1;
    if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) goto done;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (got < sizeof resp - 1 && !memchr(resp, '\n', got)) {
        if (poll(&pfd, 1, timeout_ms) <= 0) {
            status_fail(err, STATUS_DEADLINE_EXCEEDED, "no answer within %d ms", timeout_ms);
            goto done;
        }
        ssize_t n = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
    }
    resp[got] = '\0';
    if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1) {
        status_fail(err, STATUS_UNAVAILABLE, "not an HTTP answer");
        code = -1;
    }
done:
    close(fd);
    return code;
}

int cmd_health(int argc, char **argv) {
    const char *url = "http://127.0.0.1:8000/v2/health/ready";
    int timeout_ms = 2000, quiet = 0, help;
    const flag flags[] = {
        {"url", FLAG_STRING, &url, "URL", "endpoint to probe (default http://127.0.0.1:8000/v2/health/ready)"},
        {"timeout-ms", FLAG_INT, &timeout_ms, "N", "how long to wait for an answer (default 2000)"},
        {"quiet", FLAG_BOOL, &quiet, NULL, "print nothing"},
    };
    int n = (int)(sizeof flags / sizeof flags[0]);
    errinfo err = {{0}};
    if (flags_parse(flags, n, argc, argv, 2, &help, &err)) {
        fprintf(stderr, "inferd health: %s\n", err.msg);
        return 2;
    }
    if (help) {
        flags_usage(stdout, "inferd health [--url URL]",
                    "Probes an inferd endpoint; exits 0 if it answers 2xx, 1 otherwise.\n"
                    "Meant for HEALTHCHECK in images without curl.", flags, n);
        return 0;
    }
    url_parts u;
    if (parse_url(url, &u, &err)) {
        fprintf(stderr, "inferd health: %s\n", err.msg);
        return 2;
    }
    int code = http_get_status(&u, timeout_ms, &err);
    int ok = code >= 200 && code < 300;
    if (!quiet) {
        if (code < 0) fprintf(stderr, "inferd health: %s: %s\n", url, err.msg);
        else printf("%s: HTTP %d\n", url, code);
    }
    return ok ? 0 : 1;
}
