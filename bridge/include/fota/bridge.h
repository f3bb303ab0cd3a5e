/* The bridge core: the seed's update flow (steps 1-10) between the server and the STM32, portable.
 * It streams the image from HTTP to SPI through a window of BRIDGE_WINDOW bytes fetched with Range
 * requests (never the whole image in memory; a dropped download resumes where it stopped), resumes
 * an interrupted SPI transfer where the device stands, retries with exponential backoff and jitter,
 * and reports each attempt to the server. Platforms provide bridge_port_t (Linux: bridge/linux/). */
#ifndef FOTA_BRIDGE_H
#define FOTA_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "fota/link_master.h"

#define BRIDGE_WINDOW 16384 /* bytes of image held at once */
#define BRIDGE_LOW_SPEED_BPS 1024 /* a download slower than this ... */
#define BRIDGE_LOW_SPEED_S 5       /* ... for this long is a stalled server */
#define BRIDGE_RESUMES 8    /* resumes within one attempt after the device reset mid-transfer */
#define BRIDGE_URL_MAX 2048 /* a redirect's target: a presigned S3 URL with a session token fits */
#define BRIDGE_REDIRECTS 4  /* redirects followed for one window */

typedef struct {
    /* GET path, bytes [from, from + cap) when ranged, into buf. path is relative to the server, or
     * an absolute http(s):// URL (a redirect's target, always an image: ranged, and checked against
     * the platform's public CA store, not a CA configured for the server). Ranged when from is
     * nonzero, path is an image (/firmware/...) or absolute. if_range (may be NULL): sent as
     * If-Range, so a server whose file is no longer that entity answers 200 with the new one
     * instead of a piece of it. Redirects are not followed: a 3xx sets *status and, when location
     * is not NULL, its target as an absolute URL in location ("" when none or longer than
     * location_cap); the core decides (bridge.c). Sets *status to the HTTP status (also when the
     * body overflowed buf) and *got to the bytes received. 0 when the request completed (whatever
     * its status), -1 when the server could not be reached. */
    int (*http_get)(void *ctx, const char *path, uint64_t from, const char *if_range, uint8_t *buf, size_t cap,
                    size_t *got, long *status, char *location, size_t location_cap);
    /* POST a JSON body; 0 when the server answered 2xx. */
    int (*http_post_json)(void *ctx, const char *path, const char *json);
    link_port_t spi;
    int (*reset_pulse)(void *ctx);                             /* NRST low, then high */
    int (*kv_get)(void *ctx, const char *key, char *val, size_t cap); /* 0 when found */
    int (*kv_set)(void *ctx, const char *key, const char *val);       /* atomic */
    uint64_t (*now_ms)(void *ctx);
    void (*sleep_ms)(void *ctx, uint32_t ms);
    uint32_t (*random)(void *ctx);                             /* for backoff jitter */
    void (*log)(void *ctx, const char *line);
    void (*progress)(void *ctx, uint32_t done, uint32_t total); /* may be NULL */
    void *ctx;
} bridge_port_t;

typedef enum {
    BRIDGE_UP_TO_DATE = 0, /* nothing newer on the server */
    BRIDGE_UPDATED,        /* the device runs the new image */
    BRIDGE_ERR_SERVER,     /* server unreachable or a malformed answer: retried */
    BRIDGE_ERR_DEVICE,     /* the device did not answer on SPI: retried */
    BRIDGE_ERR_REFUSED,    /* the device refused the image (bad signature, rollback, ...): not retried */
    BRIDGE_ERR_NOT_RUNNING,/* the device did not come back running the new image */
} bridge_result_t;

typedef struct {
    const char *device_id;   /* for reports */
    uint32_t max_attempts;   /* of one update */
    uint32_t backoff_ms;     /* first retry delay; doubles, plus up to 50% jitter */
    uint32_t backoff_max_ms;
} bridge_config_t;

/* One pass of the flow: ask the server, update the device if it is behind. Retries transient
 * failures with backoff; returns the final result and writes a one-line summary in why. */
bridge_result_t bridge_run_once(const bridge_port_t *port, const bridge_config_t *cfg, char *why, size_t why_cap);

const char *bridge_result_name(bridge_result_t r);

/* 1 when path is an absolute http:// or https:// URL (a redirect's target, see http_get) rather than
 * a path on the server. */
int bridge_url_is_absolute(const char *path);
/* 1 when a GET of path from offset from is ranged (http_get's rule): from nonzero, an image path
 * (/firmware/...) or an absolute URL. */
int bridge_get_is_ranged(const char *path, uint64_t from);

/* For a progress callback writing log lines (not a terminal's redrawn line): 1 for the call that
 * crosses each 64 KiB of the transfer and for the last one. */
int bridge_progress_milestone(uint32_t done, uint32_t total);

#endif
