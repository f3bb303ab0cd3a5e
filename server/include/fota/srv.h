/* Request helpers of fota-server that are worth testing on their own: the Range header, device
 * ids, release paths. No allocation. */
#ifndef FOTA_SRV_H
#define FOTA_SRV_H

#include <stdint.h>

typedef enum {
    SRV_RANGE_NONE = 0,   /* no Range header, or one we may ignore (several ranges): send it all */
    SRV_RANGE_OK,         /* one satisfiable range: *first..*last inclusive */
    SRV_RANGE_UNSATISFIABLE, /* well formed but outside the file: 416 */
    SRV_RANGE_MALFORMED,  /* not "bytes=a-b", "bytes=a-" or "bytes=-n": 400 */
} srv_range_t;

/* Parses a Range header value against a resource of size bytes (RFC 9110 §14). */
srv_range_t srv_parse_range(const char *header, uint64_t size, uint64_t *first, uint64_t *last);

/* 1 when id is 1-64 characters of [A-Za-z0-9._-] and not "." or "..". */
int srv_valid_device_id(const char *id);

#endif
