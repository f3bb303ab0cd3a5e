/* Report backend: PostgreSQL through libpq (report_backend.h), so several fota-server instances
 * share one device registry. Two connections: the writer thread's, and one for listings (a libpq
 * connection is used by one thread at a time: a mutex takes turns). */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_backend.h"

typedef struct {
    report_backend_t b;
    PGconn *w, *r;
    pthread_mutex_t r_lock;
} pg_t;

static int ok_cmd(PGconn *c, const char *sql, char *why, size_t cap)
{
    PGresult *res = PQexec(c, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        snprintf(why, cap, "%s", PQerrorMessage(c));
    }
    PQclear(res);
    return ok ? 0 : -1;
}

static int pg_write(report_backend_t *b, const report_t *rows, size_t n, char *why, size_t cap)
{
    pg_t *p = (pg_t *)b;
    if (PQstatus(p->w) != CONNECTION_OK) {
        PQreset(p->w); /* the server restarted: one reconnection per batch */
    }
    if (ok_cmd(p->w, "BEGIN", why, cap) != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char received[24];
        snprintf(received, sizeof(received), "%lld", (long long)rows[i].received);
        const char *v[6] = {rows[i].device, received, rows[i].version, rows[i].bank, rows[i].state, rows[i].error};
        PGresult *res = PQexecParams(p->w,
                                     "INSERT INTO reports(device, received, version, bank, state, error) "
                                     "VALUES($1, $2, $3, $4, $5, $6)",
                                     6, NULL, v, NULL, NULL, 0);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            snprintf(why, cap, "%s", PQerrorMessage(p->w));
            char ignore[8];
            (void)ok_cmd(p->w, "ROLLBACK", ignore, sizeof(ignore));
            return -1;
        }
    }
    return ok_cmd(p->w, "COMMIT", why, cap);
}

static int pg_list(report_backend_t *b, const char *device, cJSON *arr, char *why, size_t cap)
{
    pg_t *p = (pg_t *)b;
    pthread_mutex_lock(&p->r_lock);
    if (PQstatus(p->r) != CONNECTION_OK) {
        PQreset(p->r);
    }
    const char *v[1] = {device};
    PGresult *res = PQexecParams(p->r,
                                 "SELECT received, version, bank, state, error FROM reports WHERE device = $1 "
                                 "ORDER BY id DESC LIMIT 50",
                                 1, NULL, v, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok) {
        snprintf(why, cap, "%s", PQerrorMessage(p->r));
    }
    for (int i = 0; ok && i < PQntuples(res); i++) {
        ok = report_json_add(arr, strtoll(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1),
                             PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4)) == 0;
        if (!ok) {
            snprintf(why, cap, "out of memory");
        }
    }
    PQclear(res);
    pthread_mutex_unlock(&p->r_lock);
    return ok ? 0 : -1;
}

static void pg_close(report_backend_t *b)
{
    pg_t *p = (pg_t *)b;
    PQfinish(p->w);
    PQfinish(p->r);
    pthread_mutex_destroy(&p->r_lock);
    free(p);
}

report_backend_t *report_pg_open(const char *conninfo, char *why, size_t cap)
{
    pg_t *p = calloc(1, sizeof(*p));
    if (p == NULL || pthread_mutex_init(&p->r_lock, NULL) != 0) {
        free(p);
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    p->w = PQconnectdb(conninfo);
    p->r = PQconnectdb(conninfo);
    if (PQstatus(p->w) != CONNECTION_OK || PQstatus(p->r) != CONNECTION_OK) {
        snprintf(why, cap, "%s", PQerrorMessage(PQstatus(p->w) != CONNECTION_OK ? p->w : p->r));
        pg_close(&p->b);
        return NULL;
    }
    /* Instances starting together may both create the table: the second CREATE can fail on the
     * catalog's unique index, so it is tried again once the first committed. */
    static const char schema[] = "SELECT pg_advisory_xact_lock(7013);"
                                 "CREATE TABLE IF NOT EXISTS reports(id BIGSERIAL PRIMARY KEY, device TEXT NOT NULL, "
                                 "received BIGINT NOT NULL, version TEXT, bank TEXT, state TEXT, error TEXT);"
                                 "CREATE INDEX IF NOT EXISTS reports_device ON reports(device, id)";
    int made = 0;
    for (int tries = 0; tries < 5 && !made; tries++) {
        made = ok_cmd(p->w, schema, why, cap) == 0;
    }
    if (!made) {
        pg_close(&p->b);
        return NULL;
    }
    p->b = (report_backend_t){pg_write, pg_list, pg_close};
    return &p->b;
}
