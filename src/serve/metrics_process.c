/* metrics_process.c -- the standard process_* families, from /proc/self.
 *
 * Same names and meanings as the Prometheus client libraries' process
 * collector, so stock dashboards and alerts work unchanged. CPU time comes
 * from getrusage (microseconds, finer than /proc's clock ticks). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics_text.h"

typedef struct proc_stat {
    unsigned long long start_ticks; /* since boot */
    unsigned long long vsize;       /* bytes */
    long long rss_pages;
} proc_stat;

/* Fields 22-24 of /proc/self/stat. The command name (field 2) may contain
 * spaces and parentheses, so parsing starts after its last ')'. */
static bool read_proc_stat(proc_stat *ps) {
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return false;
    /* after ')': state(3) ... starttime(22) vsize(23) rss(24) */
    int got = sscanf(p + 1,
                     " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d"
                     " %llu %llu %lld",
                     &ps->start_ticks, &ps->vsize, &ps->rss_pages);
    return got == 3;
}

/* Boot time in seconds since the epoch ("btime" in /proc/stat). */
static bool read_boot_time(unsigned long long *out) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return false;
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) found = sscanf(line, "btime %llu", out) == 1;
    fclose(f);
    return found;
}

static long count_open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not counting the descriptor that read the directory */
}

void metrics_text_process(metrics_text *t) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        metrics_text_family(t, "process_cpu_seconds_total", "counter",
                            "Total user and system CPU time spent in seconds.");
        metrics_text_double(t, "process_cpu_seconds_total", NULL, 0, cpu);
    }
    proc_stat ps;
    bool have_stat = read_proc_stat(&ps);
    long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
    if (have_stat && page > 0) {
        metrics_text_family(t, "process_resident_memory_bytes", "gauge",
                            "Resident memory size in bytes.");
        metrics_text_int(t, "process_resident_memory_bytes", NULL, 0,
                         (int64_t)ps.rss_pages * (int64_t)page);
    }
    if (have_stat) {
        metrics_text_family(t, "process_virtual_memory_bytes", "gauge",
                            "Virtual memory size in bytes.");
        metrics_text_uint(t, "process_virtual_memory_bytes", NULL, 0, ps.vsize);
    }
    long fds = count_open_fds();
    if (fds >= 0) {
        metrics_text_family(t, "process_open_fds", "gauge", "Number of open file descriptors.");
        metrics_text_int(t, "process_open_fds", NULL, 0, fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        metrics_text_family(t, "process_max_fds", "gauge",
                            "Maximum number of open file descriptors.");
        metrics_text_uint(t, "process_max_fds", NULL, 0, (uint64_t)rl.rlim_cur);
    }
    unsigned long long btime;
    if (have_stat && ticks > 0 && read_boot_time(&btime)) {
        metrics_text_family(t, "process_start_time_seconds", "gauge",
                            "Start time of the process since unix epoch in seconds.");
        metrics_text_double(t, "process_start_time_seconds", NULL, 0,
                            (double)btime + (double)ps.start_ticks / (double)ticks);
    }
}
