/* What fota-server sends a device, whoever sends it: who asks (identity and token, fleet.c), which
 * release it gets (its rollout's or the current one, releases.c), and how a request for a release
 * file is answered (the image verdict, If-None-Match, Range, If-Range, a redirect to an S3 copy).
 * Worked out here once; libmicrohttpd's handler (fota_server.c) and the plain-HTTP front
 * (front.c, with delivery_front_answer) only send the answer, so both send the same one. */
#ifndef FOTA_DELIVERY_H
#define FOTA_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "fota/fleet.h"
#include "fota/front.h"
#include "fota/mirror.h"
#include "fota/releases.h"

typedef struct {
    releases_t *rel;  /* the release folder, its cache and its switch */
    fleet_t *fleet;   /* device identity, inventory, rollouts */
    mirror_t *mirror; /* --redirect-downloads: images answered with a redirect to their S3 copy, or NULL */
} delivery_t;

/* A device request's identity: who asks (X-Device-Id, or the id in the path; NULL for nobody),
 * its group, and for the requests that serve a release, the release the fleet says it should run
 * ("" for the current). */
typedef struct {
    const char *id;
    char grp[FLEET_GROUP_MAX + 1];
    char version[32];
} delivery_who_t;

/* The token of an Authorization: Bearer header, or NULL. */
const char *delivery_bearer(const char *authorization);

/* 0 with *w filled, or the HTTP status of the refusal (its message in *msg). hid: the X-Device-Id
 * header, token: the bearer token (NULL when absent); path_id: the device the URL names (reports),
 * or NULL. */
unsigned delivery_identify(const delivery_t *d, const char *hid, const char *token, const char *path_id,
                           delivery_who_t *w, const char **msg);

/* The path of a release file for this device: its rollout's release when one includes it and the
 * release is there, else the current one. */
void delivery_path(const delivery_t *d, const delivery_who_t *w, const char *name, char *out, size_t cap);

typedef enum {
    DELIVERY_BODY,          /* 200 or 206 with the bytes below */
    DELIVERY_ERROR,         /* status and msg */
    DELIVERY_NOT_MODIFIED,  /* 304 with etag */
    DELIVERY_UNSATISFIABLE, /* 416 with range */
    DELIVERY_REDIRECT,      /* 307 to loc */
} delivery_kind_t;

typedef struct {
    delivery_kind_t kind;
    unsigned status;         /* DELIVERY_BODY: 200 or 206; DELIVERY_ERROR: the error's */
    char msg[200];           /* DELIVERY_ERROR */
    int fd;                  /* DELIVERY_BODY: the file, or -1 */
    release_blob_t *blob;    /* DELIVERY_BODY: an image's bytes in memory, or NULL */
    uint64_t first, n, size; /* DELIVERY_BODY: n bytes from first, of a file of size */
    const char *type;        /* Content-Type */
    char etag[80];           /* images: "SHA-256"; else "" */
    char range[96];          /* DELIVERY_BODY 206 and DELIVERY_UNSATISFIABLE: the Content-Range */
    char loc[4096];          /* DELIVERY_REDIRECT */
} delivery_answer_t;

/* The answer to a request for the release file `name` (slot_a.bin, version.txt, patches/...) of
 * w's release; is_image: an image (checked, ETag, may redirect). inm, range, if_range: the
 * request's If-None-Match, Range and If-Range (NULL when absent). Release with
 * delivery_answer_done. */
void delivery_answer(const delivery_t *d, const delivery_who_t *w, const char *name, const char *type, int is_image,
                     const char *inm, const char *range, const char *if_range, delivery_answer_t *a);
/* Closes the file and drops the bytes a DELIVERY_BODY answer still holds. */
void delivery_answer_done(delivery_answer_t *a);
/* A body answer's header lines besides Date, Connection and Content-Length, the same whichever
 * sends it: name i is names[i], its value values[i]; returns how many (at most 4). */
size_t delivery_headers(const delivery_answer_t *a, const char *names[4], const char *values[4]);

/* The front's question (fota/front.h), cls a delivery_t: an image download it can send itself.
 * The same identity, rollout and file rules as libmicrohttpd's handler; anything but a body goes
 * back to libmicrohttpd, which works it out again and answers it. */
int delivery_front_answer(void *cls, const front_request_t *q, front_reply_t *reply);

#endif
