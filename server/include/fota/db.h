/* A small SQL interface over SQLite and PostgreSQL for fota-server's fleet store: one connection,
 * statements with text parameters $1..$n (the same text runs on both), rows handed to a callback
 * as text. Thread-safe (one statement at a time). */
#ifndef FOTA_DB_H
#define FOTA_DB_H

#include <stddef.h>

typedef struct db db_t;

/* spec: a PostgreSQL URI ("postgresql://..." or "postgres://..."), else an SQLite file (the same
 * rule as --db's reports). NULL with why when it cannot be opened. */
db_t *db_open(const char *spec, char *why, size_t cap);
void db_close(db_t *db);
int db_is_pg(const db_t *db);

/* Runs sql with params[0..n) bound to $1..$n (NULL binds SQL NULL). 0, or -1 with why. */
int db_exec(db_t *db, const char *sql, int n, const char *const *params, char *why, size_t cap);

/* A row: ncols values as text (NULL for SQL NULL). Return nonzero to stop early. */
typedef int (*db_row_fn)(void *ctx, int ncols, const char *const *cols);
/* Runs a query and calls fn for each row. 0, or -1 with why. */
int db_query(db_t *db, const char *sql, int n, const char *const *params, db_row_fn fn, void *ctx, char *why,
             size_t cap);

/* Several statements (no parameters), e.g. a schema. */
int db_script(db_t *db, const char *sql, char *why, size_t cap);

/* BEGIN / COMMIT / ROLLBACK, holding the connection for the caller's thread in between. */
int db_begin(db_t *db, char *why, size_t cap);
int db_commit(db_t *db, char *why, size_t cap);
void db_rollback(db_t *db);

#endif
