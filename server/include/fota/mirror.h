/* fota-server's --redirect-downloads: the images it serves are copied into the S3 bucket under a
 * name made of their SHA-256 (PREFIX<sha256>.bin, written once and never changed), and image
 * requests are answered with a redirect to a presigned URL of that copy, so the bytes come from S3
 * (or a CDN in front of it) and the URL names exactly the release the request was for: a bridge
 * pinning its Range windows to one release (If-Range) stays pinned when it follows the redirect.
 * Copies are made by one background thread, the first time an image is asked for; until a copy is
 * in the bucket (or when the upload failed) the server serves the image itself; copies are checked
 * every check_s seconds and a copy gone from the bucket is made again. Thread-safe. */
#ifndef FOTA_MIRROR_H
#define FOTA_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "fota/releases.h"
#include "fota/s3sync.h"

typedef struct {
    const s3_t *s3;     /* bucket, endpoint and credentials (the S3 sync's) */
    const char *prefix; /* key prefix of the copies, e.g. "fota-objects/" */
    const char *base;   /* where clients reach PREFIX: the presigned URLs start with it */
    uint32_t expires;   /* lifetime of a presigned URL, seconds */
    uint32_t retry_s;   /* after a failed upload, serve the image ourselves this long before trying again */
    uint32_t check_s;   /* every check_s seconds, HEAD each copy; one gone is made again (0: never) */
} mirror_cfg_t;

typedef struct mirror mirror_t;

/* NULL when the credentials cannot be read from cfg->s3 or out of memory. */
mirror_t *mirror_start(const mirror_cfg_t *cfg);
/* Waits for an upload in progress, then frees everything. */
void mirror_stop(mirror_t *m);

/* 1 and a presigned URL of the copy in url when the image with SHA-256 sha_hex is in the bucket;
 * 0 otherwise, and then its upload is queued (taking a reference to blob) unless it is queued,
 * running, or failed less than retry_s ago. -1 when the URL does not fit. */
int mirror_location(mirror_t *m, const char *sha_hex, release_blob_t *blob, char *url, size_t cap);

#endif
