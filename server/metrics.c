/* fota-server metrics: see fota/metrics.h. */
#include "fota/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint64_t by_status[600];
static uint64_t body_bytes, conns_open, conns_total;

typedef struct {
    char version[32], state[32];
    uint64_t n;
} result_t;

static pthread_mutex_t results_lock = PTHREAD_MUTEX_INITIALIZER;
static result_t results[METRICS_RESULTS];
static size_t nresults;
static uint64_t results_other;

void metrics_response(unsigned status, uint64_t bytes)
{
    __atomic_add_fetch(&by_status[status < 600 ? status : 0], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&body_bytes, bytes, __ATOMIC_RELAXED);
}

void metrics_connection(int opened)
{
    if (opened) {
        __atomic_add_fetch(&conns_open, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&conns_total, 1, __ATOMIC_RELAXED);
    } else {
        __atomic_sub_fetch(&conns_open, 1, __ATOMIC_RELAXED);
    }
}

uint64_t metrics_open_connections(void)
{
    return __atomic_load_n(&conns_open, __ATOMIC_RELAXED);
}

/* A label value as Prometheus reads it: printable ASCII, with \ " escaped; anything else '?'. */
static void label(char *out, size_t cap, const char *in)
{
    size_t w = 0;
    for (; in != NULL && *in != '\0' && w + 3 < cap; in++) {
        unsigned char ch = (unsigned char)*in;
        if (ch == '\\' || ch == '"') {
            out[w++] = '\\';
            out[w++] = (char)ch;
        } else {
            out[w++] = ch >= 0x20 && ch < 0x7F ? (char)ch : '?';
        }
    }
    out[w] = '\0';
}

void metrics_result(const char *version, const char *state)
{
    char v[32], s[32];
    label(v, sizeof(v), version);
    label(s, sizeof(s), state);
    pthread_mutex_lock(&results_lock);
    size_t i = 0;
    while (i < nresults && (strcmp(results[i].version, v) != 0 || strcmp(results[i].state, s) != 0)) {
        i++;
    }
    if (i == nresults && nresults < METRICS_RESULTS) {
        snprintf(results[i].version, sizeof(results[i].version), "%s", v);
        snprintf(results[i].state, sizeof(results[i].state), "%s", s);
        nresults++;
    }
    if (i < nresults) {
        results[i].n++;
    } else {
        results_other++;
    }
    pthread_mutex_unlock(&results_lock);
}

typedef struct {
    char *buf;
    size_t cap, len;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    if (o->len + 1 >= o->cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    o->len = n < 0 ? o->len : (o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1);
}

size_t metrics_render(char *buf, size_t cap, const char *extra)
{
    out_t o = {buf, cap, 0};
    if (cap == 0) {
        return 0;
    }
    buf[0] = '\0';
    put(&o, "# HELP fota_http_responses_total HTTP responses sent, by status code.\n"
            "# TYPE fota_http_responses_total counter\n");
    for (unsigned code = 100; code < 600; code++) {
        uint64_t n = __atomic_load_n(&by_status[code], __ATOMIC_RELAXED);
        if (n != 0) {
            put(&o, "fota_http_responses_total{code=\"%u\"} %llu\n", code, (unsigned long long)n);
        }
    }
    put(&o,
        "# HELP fota_http_response_body_bytes_total Bytes of response bodies queued.\n"
        "# TYPE fota_http_response_body_bytes_total counter\n"
        "fota_http_response_body_bytes_total %llu\n"
        "# HELP fota_connections_open Client connections open now.\n"
        "# TYPE fota_connections_open gauge\n"
        "fota_connections_open %llu\n"
        "# HELP fota_connections_total Client connections accepted since start.\n"
        "# TYPE fota_connections_total counter\n"
        "fota_connections_total %llu\n",
        (unsigned long long)__atomic_load_n(&body_bytes, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&conns_open, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&conns_total, __ATOMIC_RELAXED));
    put(&o, "# HELP fota_update_results_total Reports from devices, by version and state.\n"
            "# TYPE fota_update_results_total counter\n");
    pthread_mutex_lock(&results_lock);
    for (size_t i = 0; i < nresults; i++) {
        put(&o, "fota_update_results_total{version=\"%s\",state=\"%s\"} %llu\n", results[i].version,
            results[i].state, (unsigned long long)results[i].n);
    }
    if (results_other != 0) {
        put(&o, "fota_update_results_total{version=\"other\",state=\"other\"} %llu\n",
            (unsigned long long)results_other);
    }
    pthread_mutex_unlock(&results_lock);
    if (extra != NULL) {
        put(&o, "%s", extra);
    }
    return o.len;
}
