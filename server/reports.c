/* The report store: see fota/reports.h. */
#include "fota/reports.h"
#include "fota/srvlog.h"

#include "cJSON.h"
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char device[65], version[REPORTS_SHORT], bank[REPORTS_SHORT], state[REPORTS_SHORT], error[REPORTS_LONG];
    int64_t received;
} item_t;

struct reports {
    sqlite3 *db;
    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t work, written;
    item_t *ring; /* REPORTS_QUEUE items */
    size_t head, count;
    uint64_t accepted, done; /* reports queued and written (or dropped on a database error) since start */
    int stop, failed;
    unsigned delay_ms; /* FOTA_REPORTS_TEST_DELAY_MS: the writer waits this long before each batch */
};

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
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_exec(rs->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(rs->db,
                                "INSERT INTO reports(device, received, version, bank, state, error) "
                                "VALUES(?, ?, ?, ?, ?, ?)",
                                -1, &st, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < n; i++) {
        const item_t *it = &batch[i];
        sqlite3_bind_text(st, 1, it->device, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, it->received);
        sqlite3_bind_text(st, 3, it->version, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, it->bank, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, it->state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, it->error, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_reset(st) == SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (ok && sqlite3_exec(rs->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
        return 0;
    }
    srvlog(SRVLOG_ERROR, "fota-server: reports: cannot write %zu reports: %s", n, sqlite3_errmsg(rs->db));
    (void)sqlite3_exec(rs->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
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
    /* Full mutex: the writer writes while serving threads read. */
    /* A busy timeout: another process on the same file (a second instance, the sqlite3 shell)
     * makes a write wait for its lock instead of failing at once ("database is locked"). */
    if (sqlite3_open_v2(path, &rs->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(rs->db, 5000) != SQLITE_OK ||
        sqlite3_exec(rs->db,
                     "CREATE TABLE IF NOT EXISTS reports(id INTEGER PRIMARY KEY, device TEXT NOT NULL, "
                     "received INTEGER NOT NULL, version TEXT, bank TEXT, state TEXT, error TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(why, cap, "%s", rs->db ? sqlite3_errmsg(rs->db) : "out of memory");
        sqlite3_close(rs->db);
        free(rs->ring);
        free(rs);
        return NULL;
    }
    const char *delay = getenv("FOTA_REPORTS_TEST_DELAY_MS");
    rs->delay_ms = delay != NULL ? (unsigned)strtoul(delay, NULL, 10) % 10000u : 0;
    if (pthread_mutex_init(&rs->lock, NULL) != 0 || pthread_cond_init(&rs->work, NULL) != 0 ||
        pthread_cond_init(&rs->written, NULL) != 0 || pthread_create(&rs->writer, NULL, writer_main, rs) != 0) {
        snprintf(why, cap, "cannot start the report writer");
        sqlite3_close(rs->db);
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
        copy_field(it.error, sizeof(it.error), r->error)) {
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
    sqlite3_stmt *st = NULL;
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL || sqlite3_prepare_v2(rs->db,
                                          "SELECT received, version, bank, state, error FROM reports WHERE device = ? "
                                          "ORDER BY id DESC LIMIT 50",
                                          -1, &st, NULL) != SQLITE_OK) {
        cJSON_Delete(arr);
        return REPORTS_ERROR;
    }
    sqlite3_bind_text(st, 1, device, -1, SQLITE_TRANSIENT);
    int ok = 1, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *r = cJSON_CreateObject();
        if (r == NULL || !cJSON_AddItemToArray(arr, r) ||
            cJSON_AddNumberToObject(r, "received", (double)sqlite3_column_int64(st, 0)) == NULL ||
            cJSON_AddStringToObject(r, "version", (const char *)sqlite3_column_text(st, 1)) == NULL ||
            cJSON_AddStringToObject(r, "bank", (const char *)sqlite3_column_text(st, 2)) == NULL ||
            cJSON_AddStringToObject(r, "state", (const char *)sqlite3_column_text(st, 3)) == NULL ||
            cJSON_AddStringToObject(r, "error", (const char *)sqlite3_column_text(st, 4)) == NULL) {
            ok = 0;
            break;
        }
    }
    sqlite3_finalize(st);
    if (ok && rc == SQLITE_DONE) {
        *json = cJSON_PrintUnformatted(arr);
    }
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
    sqlite3_close(rs->db);
    free(rs->ring);
    free(rs);
}
