/* Prometheus metrics of fota-server (text exposition format 0.0.4), counted lock-free by the
 * serving threads: responses by status, body bytes, connections, and update results reported by
 * devices, by version and state. */
#ifndef FOTA_METRICS_H
#define FOTA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_RESULTS 256 /* distinct (version, state) pairs kept; later ones count as "other" */

void metrics_response(unsigned status, uint64_t body_bytes);
void metrics_connection(int opened); /* 1: a connection opened, 0: one closed */
uint64_t metrics_open_connections(void); /* the connections open now (the front's and libmicrohttpd's) */
void metrics_result(const char *version, const char *state);
/* The exposition text into buf (NUL-terminated, truncated at cap); returns its length. extra,
 * if not NULL, is appended as is (gauges another module owns). */
size_t metrics_render(char *buf, size_t cap, const char *extra);

#endif
