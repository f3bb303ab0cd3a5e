/* Presigned S3 GET URLs (AWS Signature Version 4, query-string authentication): a URL anyone may
 * fetch until it expires, without credentials. fota-server's --redirect-downloads answers image
 * requests with one (docs/server.md). No allocation. */
#ifndef FOTA_S3PRESIGN_H
#define FOTA_S3PRESIGN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct {
    const char *base;          /* scheme://host[:port][/path], no trailing '/' needed: what the URL starts with */
    const char *region;        /* e.g. us-east-1 */
    const char *access_key;    /* AWS_ACCESS_KEY_ID */
    const char *secret_key;    /* AWS_SECRET_ACCESS_KEY */
    const char *session_token; /* AWS_SESSION_TOKEN, or NULL */
} s3_presign_cfg_t;

/* Writes base + path + the X-Amz-* query (expires seconds from now, 1..604800) into out. path is
 * the object's path below base, unescaped ("/bucket/key" path-style, "/key" virtual-hosted): every
 * byte but A-Z a-z 0-9 - . _ ~ / is percent-encoded, as S3 encodes its canonical URI. 0, or -1 when
 * an argument is missing or out of range, the base is not http(s)://host..., or out is too small. */
int s3_presign_get(const s3_presign_cfg_t *cfg, const char *path, time_t now, uint32_t expires, char *out, size_t cap);

/* An object's path as S3 wants it in a URL and in its canonical request: every byte but
 * A-Z a-z 0-9 - . _ ~ / percent-encoded. 0, or -1 when out (cap bytes) is too small. */
int s3_uri_encode(const char *s, char *out, size_t cap);

#endif
