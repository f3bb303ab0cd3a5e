/* Request helpers of fota-server that are worth testing on their own: the Range header, device
 * ids, release paths. No allocation. */
#ifndef FOTA_SRV_H
#define FOTA_SRV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef enum {
    SRV_RANGE_NONE = 0,      /* no Range header, or one we may ignore (several ranges): send it all */
    SRV_RANGE_OK,            /* one satisfiable range: *first..*last inclusive */
    SRV_RANGE_UNSATISFIABLE, /* well formed but outside the file: 416 */
    SRV_RANGE_MALFORMED,     /* not "bytes=a-b", "bytes=a-" or "bytes=-n": 400 */
} srv_range_t;

/* Parses a Range header value against a resource of size bytes (RFC 9110 §14). A unit other than
 * bytes is ignored (NONE); positions past the end, however many digits, are clamped to it. */
srv_range_t srv_parse_range(const char *header, uint64_t size, uint64_t *first, uint64_t *last);

/* 1 when id is 1-64 characters of [A-Za-z0-9._-] and not "." or "..". */
int srv_valid_device_id(const char *id);

/* --listen: "A.B.C.D:PORT" or "[IPv6]:PORT" into *out, and the same text, normalised, into where;
 * NULL means 127.0.0.1:default_port (loopback, as before --listen existed). 0, or -1 when malformed. */
int srv_parse_listen(const char *arg, uint32_t default_port, struct sockaddr_storage *out, char *where, size_t cap);

/* 1 when the len bytes are well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). */
int srv_valid_utf8(const char *s, size_t len);

/* Decodes %XX in place, except %00 (kept as three characters, so a NUL never cuts a path short);
 * returns the new length. libmicrohttpd's unescape callback. */
size_t srv_unescape(char *s);

/* 1 when s is exactly 64 lowercase hex digits (a SHA-256: a patch's base in URLs). */
int srv_is_sha256_hex(const char *s);
/* 1 when s is a patch's file name: 64 lowercase hex digits (its base's signed SHA-256) and ".patch". */
int srv_is_patch_name(const char *s);

/* One object of an S3 ListObjectsV2 answer. */
typedef struct {
    char key[256];
    char etag[80]; /* as listed, entities decoded ("...", quotes included): only compared */
} srv_s3_object_t;

/* Reads the <Contents> entries of a ListObjectsV2 XML answer with expat; returns how many there are
 * (the first cap are stored in out), or -1 when the text is not well-formed XML, not a
 * ListBucketResult, or an entry lacks its Key or ETag or has one too long. Bounded by len; the text
 * need not be NUL-terminated. */
int srv_s3_list_parse(const char *xml, size_t len, srv_s3_object_t *out, int cap);

/* 1 and the NextContinuationToken when the listing is truncated (more pages follow), 0 when it is
 * the last page, -1 when truncated without a usable token. */
int srv_s3_list_next(const char *xml, size_t len, char *token, size_t cap);

#endif
