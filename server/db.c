/* fota-server's SQL interface: see fota/db.h. */
#include "fota/db.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db {
    sqlite3 *lite;
    PGconn *pg;
    pthread_mutex_t lock; /* recursive: a transaction holds it across statements */
};

int db_is_pg(const db_t *db)
{
    return db->pg != NULL;
}

db_t *db_open(const char *spec, char *why, size_t cap)
{
    db_t *db = calloc(1, sizeof(*db));
    pthread_mutexattr_t a;
    if (db == NULL || pthread_mutexattr_init(&a) != 0) {
        free(db);
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&db->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0) {
        db->pg = PQconnectdb(spec);
        if (PQstatus(db->pg) != CONNECTION_OK) {
            snprintf(why, cap, "%s", PQerrorMessage(db->pg));
            db_close(db);
            return NULL;
        }
        return db;
    }
    if (sqlite3_open_v2(spec, &db->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(why, cap, "%s", db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
        db_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db->lite, 5000);
    char w[200];
    if (db_script(db, "PRAGMA journal_mode=WAL", w, sizeof(w)) != 0) {
        snprintf(why, cap, "%s", w);
        db_close(db);
        return NULL;
    }
    return db;
}

void db_close(db_t *db)
{
    if (db == NULL) {
        return;
    }
    if (db->lite != NULL) {
        sqlite3_close(db->lite);
    }
    if (db->pg != NULL) {
        PQfinish(db->pg);
    }
    pthread_mutex_destroy(&db->lock);
    free(db);
}

static int lite_run(db_t *db, const char *sql, int n, const char *const *params, db_row_fn fn, void *ctx, char *why,
                    size_t cap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->lite, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, cap, "%s", sqlite3_errmsg(db->lite));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "$%d", i + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx > 0 && (params[i] == NULL ? sqlite3_bind_null(st, idx)
                                          : sqlite3_bind_text(st, idx, params[i], -1, SQLITE_TRANSIENT)) != SQLITE_OK) {
            snprintf(why, cap, "%s", sqlite3_errmsg(db->lite));
            sqlite3_finalize(st);
            return -1;
        }
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn == NULL) {
            continue;
        }
        int nc = sqlite3_column_count(st);
        const char *cols[32];
        nc = nc > 32 ? 32 : nc;
        for (int c = 0; c < nc; c++) {
            cols[c] = (const char *)sqlite3_column_text(st, c);
        }
        if (fn(ctx, nc, cols) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        snprintf(why, cap, "%s", sqlite3_errmsg(db->lite));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int pg_run(db_t *db, const char *sql, int n, const char *const *params, db_row_fn fn, void *ctx, char *why,
                  size_t cap)
{
    if (PQstatus(db->pg) != CONNECTION_OK) {
        PQreset(db->pg); /* the database restarted */
    }
    PGresult *res = PQexecParams(db->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(res);
    int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    if (!ok) {
        snprintf(why, cap, "%s", PQerrorMessage(db->pg));
    }
    for (int r = 0; ok && fn != NULL && s == PGRES_TUPLES_OK && r < PQntuples(res); r++) {
        int nc = PQnfields(res) > 32 ? 32 : PQnfields(res);
        const char *cols[32];
        for (int c = 0; c < nc; c++) {
            cols[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
        }
        if (fn(ctx, nc, cols) != 0) {
            break;
        }
    }
    PQclear(res);
    return ok ? 0 : -1;
}

int db_query(db_t *db, const char *sql, int n, const char *const *params, db_row_fn fn, void *ctx, char *why,
             size_t cap)
{
    pthread_mutex_lock(&db->lock);
    int rc = db->pg ? pg_run(db, sql, n, params, fn, ctx, why, cap) : lite_run(db, sql, n, params, fn, ctx, why, cap);
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int db_exec(db_t *db, const char *sql, int n, const char *const *params, char *why, size_t cap)
{
    return db_query(db, sql, n, params, NULL, NULL, why, cap);
}

int db_script(db_t *db, const char *sql, char *why, size_t cap)
{
    pthread_mutex_lock(&db->lock);
    int ok;
    if (db->pg != NULL) {
        PGresult *res = PQexec(db->pg, sql);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
        if (!ok) {
            snprintf(why, cap, "%s", PQerrorMessage(db->pg));
        }
        PQclear(res);
    } else {
        char *err = NULL;
        ok = sqlite3_exec(db->lite, sql, NULL, NULL, &err) == SQLITE_OK;
        if (!ok) {
            snprintf(why, cap, "%s", err ? err : "sqlite error");
        }
        sqlite3_free(err);
    }
    pthread_mutex_unlock(&db->lock);
    return ok ? 0 : -1;
}

int db_begin(db_t *db, char *why, size_t cap)
{
    pthread_mutex_lock(&db->lock);
    if (db_script(db, db->pg ? "BEGIN" : "BEGIN IMMEDIATE", why, cap) != 0) {
        pthread_mutex_unlock(&db->lock);
        return -1;
    }
    return 0;
}

int db_commit(db_t *db, char *why, size_t cap)
{
    int rc = db_script(db, "COMMIT", why, cap);
    if (rc != 0) {
        char ignore[128];
        (void)db_script(db, "ROLLBACK", ignore, sizeof(ignore));
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}

void db_rollback(db_t *db)
{
    char ignore[128];
    (void)db_script(db, "ROLLBACK", ignore, sizeof(ignore));
    pthread_mutex_unlock(&db->lock);
}
