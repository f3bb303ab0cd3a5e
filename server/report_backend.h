/* The report store's backends (reports.c queues, a backend stores): SQLite (one file, one
 * machine) and PostgreSQL (several fota-server instances sharing one database). Internal to
 * fota-server. write is called by the one writer thread; list by any serving thread. */
#ifndef FOTA_REPORT_BACKEND_H
#define FOTA_REPORT_BACKEND_H

#include <stddef.h>

#include "cJSON.h"
#include "fota/reports.h"

typedef struct report_backend report_backend_t;
struct report_backend {
    /* Stores rows[0..n) in one transaction. 0, or -1 with why. */
    int (*write)(report_backend_t *b, const report_t *rows, size_t n, char *why, size_t cap);
    /* Adds the device's last 50 reports, newest first, to arr (objects received, version, bank,
     * state, error). 0, or -1 with why. */
    int (*list)(report_backend_t *b, const char *device, cJSON *arr, char *why, size_t cap);
    void (*close)(report_backend_t *b);
};

report_backend_t *report_sqlite_open(const char *path, char *why, size_t cap);
/* conninfo: a libpq URI (postgresql://...) or key=value string. */
report_backend_t *report_pg_open(const char *conninfo, char *why, size_t cap);

/* Adds one report object to arr; 0, or -1 when out of memory. Shared by the backends. */
int report_json_add(cJSON *arr, long long received, const char *version, const char *bank, const char *state,
                    const char *error);

#endif
