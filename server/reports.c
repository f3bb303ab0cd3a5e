/* The report store: see fota/reports.h. */
#include "fota/reports.h"
#include "report_backend.h"
#include "fota/srvlog.h"

#include "cJSON.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char device[65], version[REPORTS_SHORT], bank[REPORTS_SHORT], state[REPORTS_SHORT], error[REPORTS_LONG];
    char target[REPORTS_SHORT];
    int64_t received;
} item_t;

struct reports {
    report_backend_t *be; /* SQLite or PostgreSQL */
    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t work, written;
    item_t *ring; /* REPORTS_QUEUE items */
    size_t head, count;
    uint64_t accepted, done; /* reports queued and written (or dropped on a database error) since start */
    int stop, failed;
    unsigned delay_ms; /* FOTA_REPORTS_TEST_DELAY_MS: the writer waits this long before each batch */
    void (*hook)(void *ctx, const report_t *rows, size_t n);
    void *hook_ctx;
};

void reports_set_hook(reports_t *rs, void (*fn)(void *ctx, const report_t *rows, size_t n), void *ctx)
{
    rs->hook = fn;
    rs->hook_ctx = ctx;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;
    if (n >= cap) {
        return -1;
    }
    memcpy(dst, src != NULL ? src : "", n);
    dst[n] = '\0';
    return 0;
}

/* Writes batch[0..n) in one transaction. */
static int write_batch(reports_t *rs, const item_t *batch, size_t n)
{
    static __thread report_t rows[REPORTS_BATCH];
    for (size_t i = 0; i < n; i++) {
        rows[i] = (report_t){.device = batch[i].device,
                             .version = batch[i].version,
                             .bank = batch[i].bank,
                             .state = batch[i].state,
                             .error = batch[i].error,
                             .target = batch[i].target,
                             .received = batch[i].received};
    }
    char why[256];
    if (rs->be->write(rs->be, rows, n, why, sizeof(why)) == 0) {
        if (rs->hook != NULL) {
            rs->hook(rs->hook_ctx, rows, n);
        }
        return 0;
    }
    srvlog(SRVLOG_ERROR, "fota-server: reports: cannot write %zu reports: %s", n, why);
    return -1;
}

int report_json_add(cJSON *arr, long long received, const char *version, const char *bank, const char *state,
                    const char *error)
{
    cJSON *r = cJSON_CreateObject();
    if (r == NULL || !cJSON_AddItemToArray(arr, r) ||
        cJSON_AddNumberToObject(r, "received", (double)received) == NULL ||
        cJSON_AddStringToObject(r, "version", version ? version : "") == NULL ||
        cJSON_AddStringToObject(r, "bank", bank ? bank : "") == NULL ||
        cJSON_AddStringToObject(r, "state", state ? state : "") == NULL ||
        cJSON_AddStringToObject(r, "error", error ? error : "") == NULL) {
        return -1;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    reports_t *rs = arg;
    item_t *batch = malloc(REPORTS_BATCH * sizeof(item_t));
    pthread_mutex_lock(&rs->lock);
    for (;;) {
        while (rs->count == 0 && !rs->stop) {
            pthread_cond_wait(&rs->work, &rs->lock);
        }
        if (rs->count == 0 && rs->stop) {
            break;
        }
        size_t n = 0;
        while (n < REPORTS_BATCH && rs->count > 0 && batch != NULL) {
            batch[n++] = rs->ring[rs->head];
            rs->head = (rs->head + 1) % REPORTS_QUEUE;
            rs->count--;
        }
        pthread_mutex_unlock(&rs->lock);
        if (rs->delay_ms > 0) { /* tests: a slow disk, so reports are still queued at SIGTERM */
            struct timespec d = {.tv_sec = rs->delay_ms / 1000u, .tv_nsec = (long)(rs->delay_ms % 1000u) * 1000000L};
            nanosleep(&d, NULL);
        }
        int bad = batch == NULL || write_batch(rs, batch, n) != 0;
        pthread_mutex_lock(&rs->lock);
        if (batch == NULL) { /* no memory for a batch: drop what is queued rather than spin */
            n = rs->count;
            rs->head = (rs->head + rs->count) % REPORTS_QUEUE;
            rs->count = 0;
        }
        rs->failed |= bad;
        rs->done += n;
        pthread_cond_broadcast(&rs->written);
    }
    pthread_mutex_unlock(&rs->lock);
    free(batch);
    return NULL;
}

reports_t *reports_open(const char *path, char *why, size_t cap)
{
    reports_t *rs = calloc(1, sizeof(*rs));
    if (rs == NULL || (rs->ring = malloc(REPORTS_QUEUE * sizeof(item_t))) == NULL) {
        snprintf(why, cap, "out of memory");
        free(rs);
        return NULL;
    }
    int pg = strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0;
    rs->be = pg ? report_pg_open(path, why, cap) : report_sqlite_open(path, why, cap);
    if (rs->be == NULL) {
        free(rs->ring);
        free(rs);
        return NULL;
    }
    const char *delay = getenv("FOTA_REPORTS_TEST_DELAY_MS");
    rs->delay_ms = delay != NULL ? (unsigned)strtoul(delay, NULL, 10) % 10000u : 0;
    if (pthread_mutex_init(&rs->lock, NULL) != 0 || pthread_cond_init(&rs->work, NULL) != 0 ||
        pthread_cond_init(&rs->written, NULL) != 0 || pthread_create(&rs->writer, NULL, writer_main, rs) != 0) {
        snprintf(why, cap, "cannot start the report writer");
        rs->be->close(rs->be);
        free(rs->ring);
        free(rs);
        return NULL;
    }
    return rs;
}

reports_err_t reports_add(reports_t *rs, const report_t *r)
{
    item_t it;
    if (copy_field(it.device, sizeof(it.device), r->device) || copy_field(it.version, sizeof(it.version), r->version) ||
        copy_field(it.bank, sizeof(it.bank), r->bank) || copy_field(it.state, sizeof(it.state), r->state) ||
        copy_field(it.error, sizeof(it.error), r->error) || copy_field(it.target, sizeof(it.target), r->target)) {
        return REPORTS_TOO_LONG;
    }
    it.received = r->received;
    pthread_mutex_lock(&rs->lock);
    if (rs->count == REPORTS_QUEUE) {
        pthread_mutex_unlock(&rs->lock);
        return REPORTS_FULL;
    }
    rs->ring[(rs->head + rs->count) % REPORTS_QUEUE] = it;
    rs->count++;
    rs->accepted++;
    pthread_cond_signal(&rs->work);
    pthread_mutex_unlock(&rs->lock);
    return REPORTS_OK;
}

reports_err_t reports_list_json(reports_t *rs, const char *device, char **json)
{
    /* Read-your-writes: wait (at most 5 s) for everything accepted before this request. */
    pthread_mutex_lock(&rs->lock);
    uint64_t want = rs->accepted;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    while (rs->done < want) {
        if (pthread_cond_timedwait(&rs->written, &rs->lock, &until) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&rs->lock);

    *json = NULL;
    cJSON *arr = cJSON_CreateArray();
    char why[256];
    if (arr == NULL || rs->be->list(rs->be, device, arr, why, sizeof(why)) != 0) {
        if (arr != NULL) {
            srvlog(SRVLOG_ERROR, "fota-server: reports: cannot list %s: %s", device, why);
        }
        cJSON_Delete(arr);
        return REPORTS_ERROR;
    }
    *json = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return *json != NULL ? REPORTS_OK : REPORTS_ERROR;
}

size_t reports_pending(reports_t *rs)
{
    pthread_mutex_lock(&rs->lock);
    size_t n = rs->count;
    pthread_mutex_unlock(&rs->lock);
    return n;
}

void reports_close(reports_t *rs)
{
    if (rs == NULL) {
        return;
    }
    pthread_mutex_lock(&rs->lock);
    rs->stop = 1;
    pthread_cond_signal(&rs->work);
    pthread_mutex_unlock(&rs->lock);
    pthread_join(rs->writer, NULL);
    pthread_cond_destroy(&rs->work);
    pthread_cond_destroy(&rs->written);
    pthread_mutex_destroy(&rs->lock);
    rs->be->close(rs->be);
    free(rs->ring);
    free(rs);
}
