/* fota-server's log: one line per event on standard output, written whole (threads do not mix
 * lines), as "2026-11-25T23:07:25.123Z info GET /version -> 200 (6 bytes)": UTC time to the
 * millisecond, a level, the message. Lines below the level set by --log-level are dropped. */
#ifndef FOTA_SRVLOG_H
#define FOTA_SRVLOG_H

typedef enum { SRVLOG_DEBUG = 0, SRVLOG_INFO, SRVLOG_WARN, SRVLOG_ERROR } srvlog_level_t;

/* "debug", "info", "warn" or "error" into *out; -1 for anything else. */
int srvlog_parse_level(const char *name, srvlog_level_t *out);
void srvlog_set_level(srvlog_level_t level);
void srvlog(srvlog_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
