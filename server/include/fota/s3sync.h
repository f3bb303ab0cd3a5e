/* fota-server's S3 sync: every interval, ListObjectsV2 of s3://bucket/prefix (requests signed by
 * libcurl's CURLOPT_AWS_SIGV4); when slot_a.bin, slot_b.bin, version.txt or the patches under
 * patches/ changed, they are downloaded and activated through the release store exactly as a
 * publication is (up to 16 patches, those of another version left out). When S3 is
 * unreachable or holds a bad image, the last good release stays (docs/server.md). */
#ifndef FOTA_S3SYNC_H
#define FOTA_S3SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "fota/releases.h"

/* The longest --s3-prefix: with a release's file names it stays within the sync's key buffers. */
#define S3_PREFIX_MAX 256

typedef struct {
    const char *endpoint, *bucket, *prefix, *region;
    uint32_t interval;
    char userpwd[300];
    char token_header[2100];
    uint8_t seen[32]; /* SHA-256 of the listing last handled (good or refused): the release's ETags, its patches' */
    char activated[40]; /* after s3_sync: the version it made current, "" when none */
} s3_t;

/* One pass (the caller runs it every s3->interval seconds). */
void s3_sync(releases_t *rs, s3_t *s3);

/* PutObject of the len bytes at data as s3://bucket/key (key: characters that need no escaping).
 * 0, or -1 with why. */
int s3_put(const s3_t *s3, const char *key, const uint8_t *data, size_t len, char *why, size_t cap);
/* HeadObject of s3://bucket/key: 0 when it answers 200, else -1 with why ("HTTP 404 for ..."). */
int s3_head(const s3_t *s3, const char *key, char *why, size_t cap);

#endif
