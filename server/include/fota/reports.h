/* The device report store of fota-server: reports are queued by the serving threads and written
 * by one writer thread, many per SQLite transaction, so a burst of reports neither holds the
 * threads that serve downloads nor costs one synced write each. Listing a device's reports first
 * waits for the reports accepted before it (a client reads what it wrote). */
#ifndef FOTA_REPORTS_H
#define FOTA_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#define REPORTS_QUEUE 16384 /* reports accepted and not yet written; past it: REPORTS_FULL */
#define REPORTS_BATCH 512   /* most reports in one transaction */
#define REPORTS_SHORT 64    /* bytes of version, bank and state, with the NUL */
#define REPORTS_LONG 512    /* bytes of error, with the NUL; longer fields are refused */

typedef enum {
    REPORTS_OK = 0,
    REPORTS_FULL,     /* the queue is full: the client should retry later (503) */
    REPORTS_TOO_LONG, /* a field does not fit (REPORTS_SHORT, REPORTS_LONG) */
    REPORTS_ERROR,    /* the database failed */
} reports_err_t;

typedef struct {
    const char *device, *version, *bank, *state, *error; /* bank and error may be NULL */
    const char *target; /* the version the attempt installed or tried to; may be NULL */
    int64_t received;   /* Unix time */
} report_t;

typedef struct reports reports_t;

/* Opens (creates) the SQLite database at path and starts the writer. NULL with why on failure. */
reports_t *reports_open(const char *path, char *why, size_t cap);
/* Queues a copy of r. */
reports_err_t reports_add(reports_t *rs, const report_t *r);
/* The device's last 50 reports, newest first, as a JSON array (cJSON_Print text; free with
 * cJSON_free). */
reports_err_t reports_list_json(reports_t *rs, const char *device, char **json);
/* fn(ctx, rows, n) is called by the writer thread after each batch it stored (the fleet's
 * inventory and rollout results). Set it before the first report. */
void reports_set_hook(reports_t *rs, void (*fn)(void *ctx, const report_t *rows, size_t n), void *ctx);
/* Reports accepted and not yet written. */
size_t reports_pending(reports_t *rs);
/* Writes what is queued, stops the writer, closes the database. */
void reports_close(reports_t *rs);

#endif
