/* fota-server's log: see fota/srvlog.h. */
#include "fota/srvlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static srvlog_level_t min_level = SRVLOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};

int srvlog_parse_level(const char *name, srvlog_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (srvlog_level_t)i;
            return 0;
        }
    }
    return -1;
}

void srvlog_set_level(srvlog_level_t level)
{
    min_level = level;
}

void srvlog(srvlog_level_t level, const char *fmt, ...)
{
    if (level < min_level) {
        return;
    }
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %s ", ts.tv_nsec / 1000000L, names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = m < 0 ? (size_t)n : (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2; /* cut, but still one line */
    }
    line[len++] = '\n';
    /* One write per line: lines from several threads never interleave. */
    ssize_t w = write(STDOUT_FILENO, line, len);
    (void)w;
}
