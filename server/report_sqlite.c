/* Report backend: SQLite (report_backend.h). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "report_backend.h"

typedef struct {
    report_backend_t b;
    sqlite3 *db; /* full-mutex mode: the writer writes while serving threads read */
} sq_t;

static int sq_write(report_backend_t *b, const report_t *rows, size_t n, char *why, size_t cap)
{
    sq_t *q = (sq_t *)b;
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(q->db,
                                "INSERT INTO reports(device, received, version, bank, state, error) "
                                "VALUES(?, ?, ?, ?, ?, ?)",
                                -1, &st, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < n; i++) {
        const report_t *r = &rows[i];
        sqlite3_bind_text(st, 1, r->device, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, r->received);
        sqlite3_bind_text(st, 3, r->version, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, r->bank, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, r->state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, r->error, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_reset(st) == SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (ok && sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
        return 0;
    }
    snprintf(why, cap, "%s", sqlite3_errmsg(q->db));
    (void)sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int sq_list(report_backend_t *b, const char *device, cJSON *arr, char *why, size_t cap)
{
    sq_t *q = (sq_t *)b;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db,
                           "SELECT received, version, bank, state, error FROM reports WHERE device = ? "
                           "ORDER BY id DESC LIMIT 50",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, cap, "%s", sqlite3_errmsg(q->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, device, -1, SQLITE_TRANSIENT);
    int rc, ok = 1;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ok = report_json_add(arr, (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                             (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
                             (const char *)sqlite3_column_text(st, 4)) == 0;
    }
    sqlite3_finalize(st);
    if (!ok || rc != SQLITE_DONE) {
        snprintf(why, cap, "%s", ok ? sqlite3_errmsg(q->db) : "out of memory");
        return -1;
    }
    return 0;
}

static void sq_close(report_backend_t *b)
{
    sq_t *q = (sq_t *)b;
    sqlite3_close(q->db);
    free(q);
}

report_backend_t *report_sqlite_open(const char *path, char *why, size_t cap)
{
    sq_t *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    /* A busy timeout: another process on the same file (a second instance, the sqlite3 shell)
     * makes a write wait for its lock instead of failing at once ("database is locked"). */
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(q->db, 5000) != SQLITE_OK ||
        sqlite3_exec(q->db,
                     "CREATE TABLE IF NOT EXISTS reports(id INTEGER PRIMARY KEY, device TEXT NOT NULL, "
                     "received INTEGER NOT NULL, version TEXT, bank TEXT, state TEXT, error TEXT)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(why, cap, "%s", q->db ? sqlite3_errmsg(q->db) : "out of memory");
        sqlite3_close(q->db);
        free(q);
        return NULL;
    }
    q->b = (report_backend_t){sq_write, sq_list, sq_close};
    return &q->b;
}
