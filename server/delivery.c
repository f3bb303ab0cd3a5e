/* What a device is sent: see fota/delivery.h. */
#include "fota/delivery.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fota/image.h"
#include "fota/routes.h"
#include "fota/srv.h"
#include "fota/srvlog.h"

const char *delivery_bearer(const char *authorization)
{
    return authorization != NULL && strncmp(authorization, "Bearer ", 7) == 0 ? authorization + 7 : NULL;
}

unsigned delivery_identify(const delivery_t *s, const char *hid, const char *token, const char *path_id,
                           delivery_who_t *w, const char **msg)
{
    memset(w, 0, sizeof(*w));
    if (hid != NULL && !srv_valid_device_id(hid)) {
        *msg = "X-Device-Id must be 1-64 of A-Z a-z 0-9 . _ -";
        return MHD_HTTP_BAD_REQUEST;
    }
    if (path_id != NULL && hid != NULL && strcmp(hid, path_id) != 0) {
        *msg = "X-Device-Id names another device than the URL";
        return MHD_HTTP_FORBIDDEN;
    }
    w->id = path_id ? path_id : hid;
    fleet_auth_t a = fleet_auth(s->fleet, w->id, token, w->grp, sizeof(w->grp));
    if (a != FLEET_AUTH_OK) {
        *msg = fleet_auth_message(a);
        return a == FLEET_AUTH_PENDING ? MHD_HTTP_FORBIDDEN
               : a == FLEET_AUTH_ERROR ? MHD_HTTP_INTERNAL_SERVER_ERROR
                                       : MHD_HTTP_UNAUTHORIZED;
    }
    return 0;
}

void delivery_path(const delivery_t *s, const delivery_who_t *w, const char *name, char *out, size_t cap)
{
    if (w != NULL && w->version[0] != '\0') {
        struct stat st;
        releases_version_path(s->rel, w->version, name, out, cap);
        if (stat(out, &st) == 0) {
            return;
        }
        srvlog(SRVLOG_WARN, "fota-server: rollout release %s has no %s: serving the current release", w->version, name);
    }
    releases_path(s->rel, name, out, cap);
}

void delivery_answer_done(delivery_answer_t *a)
{
    if (a->fd >= 0) {
        close(a->fd);
        a->fd = -1;
    }
    release_blob_unref(a->blob);
    a->blob = NULL;
}

static void answer_error(delivery_answer_t *a, unsigned status, const char *msg)
{
    delivery_answer_done(a);
    a->kind = DELIVERY_ERROR;
    a->status = status;
    snprintf(a->msg, sizeof(a->msg), "%s", msg);
}

void delivery_answer(const delivery_t *s, const delivery_who_t *w, const char *name, const char *type, int is_image,
                     const char *inm, const char *range, const char *if_range, delivery_answer_t *a)
{
    memset(a, 0, sizeof(*a));
    a->type = type;
    char path[600];
    delivery_path(s, w, name, path, sizeof(path));
    a->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (a->fd < 0 || fstat(a->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        answer_error(a, MHD_HTTP_NOT_FOUND, "no such file in the current release");
        return;
    }
    char sha[65] = "";
    if (is_image) {
        release_file_t fi;
        if (releases_file_info(s->rel, path, a->fd, &st, &fi) != 0) {
            answer_error(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the release file");
            return;
        }
        a->blob = fi.blob;
        if (fi.verdict != IMG_OK && fi.verdict != IMG_ERR_NO_KEY) {
            char msg[200];
            snprintf(msg, sizeof(msg), "release image refused: %s", img_strerror(fi.verdict));
            answer_error(a, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
            return;
        }
        snprintf(a->etag, sizeof(a->etag), "\"%.64s\"", fi.sha_hex);
        memcpy(sha, fi.sha_hex, sizeof(sha));
        if (inm != NULL && (strcmp(inm, a->etag) == 0 || strcmp(inm, "*") == 0)) {
            delivery_answer_done(a);
            a->kind = DELIVERY_NOT_MODIFIED;
            return;
        }
    }
    a->size = (uint64_t)st.st_size;
    uint64_t last = a->size ? a->size - 1 : 0;
    /* If-Range (RFC 9110 §13.1.5): the range only if the file is still that entity (strong
     * comparison with our ETag; a date never matches, there is no Last-Modified). Otherwise the
     * whole current file, 200, so a client never joins pieces of two releases. */
    int stale = 0;
    if (range != NULL && if_range != NULL && (a->etag[0] == '\0' || strcmp(if_range, a->etag) != 0)) {
        range = NULL;
        stale = 1; /* answered here, whole: the client learns of the new release from us */
    }
    /* --redirect-downloads: to the S3 copy named by this image's SHA-256, so a redirected window is
     * of the release its If-Range named, whatever S3 does with If-Range or its own ETags. A
     * request whose If-Range no longer matches is answered here (200, from here). */
    if (s->mirror != NULL && a->blob != NULL && !stale &&
        mirror_location(s->mirror, sha, a->blob, a->loc, sizeof(a->loc)) == 1) {
        delivery_answer_done(a);
        a->kind = DELIVERY_REDIRECT;
        return;
    }
    srv_range_t rr = srv_parse_range(range, a->size, &a->first, &last);
    if (rr == SRV_RANGE_MALFORMED) {
        answer_error(a, MHD_HTTP_BAD_REQUEST, "malformed Range header (expected bytes=first-last)");
        return;
    }
    if (rr == SRV_RANGE_UNSATISFIABLE) {
        delivery_answer_done(a);
        a->kind = DELIVERY_UNSATISFIABLE;
        snprintf(a->range, sizeof(a->range), "bytes */%llu", (unsigned long long)a->size);
        return;
    }
    a->kind = DELIVERY_BODY;
    a->status = MHD_HTTP_OK;
    a->n = a->size ? last - a->first + 1 : 0;
    if (rr == SRV_RANGE_OK) {
        a->status = MHD_HTTP_PARTIAL_CONTENT;
        snprintf(a->range, sizeof(a->range), "bytes %llu-%llu/%llu", (unsigned long long)a->first,
                 (unsigned long long)last, (unsigned long long)a->size);
    }
    if (a->blob != NULL && a->blob->size != a->size) {
        release_blob_unref(a->blob); /* not these bytes: the file is sent */
        a->blob = NULL;
    }
}

size_t delivery_headers(const delivery_answer_t *a, const char *names[4], const char *values[4])
{
    size_t k = 0;
    names[k] = MHD_HTTP_HEADER_CONTENT_TYPE, values[k++] = a->type;
    names[k] = MHD_HTTP_HEADER_ACCEPT_RANGES, values[k++] = "bytes";
    if (a->etag[0] != '\0') {
        names[k] = MHD_HTTP_HEADER_ETAG, values[k++] = a->etag;
    }
    if (a->status == MHD_HTTP_PARTIAL_CONTENT) {
        names[k] = MHD_HTTP_HEADER_CONTENT_RANGE, values[k++] = a->range;
    }
    return k;
}

int delivery_front_answer(void *cls, const front_request_t *q, front_reply_t *reply)
{
    const delivery_t *s = cls;
    route_t route;
    const char *allow, *msg;
    delivery_who_t w;
    if (routes_find("GET", q->path, &route, &allow) != ROUTES_FOUND || route.id != ROUTE_FIRMWARE ||
        delivery_identify(s, q->device_id, delivery_bearer(q->authorization), NULL, &w, &msg) != 0) {
        return 0;
    }
    fleet_target(s->fleet, w.id, w.grp, w.version, sizeof(w.version), NULL, 0);
    delivery_answer_t answer, *a = &answer;
    delivery_answer(s, &w, q->path + strlen("/firmware/"), "application/octet-stream", 1, q->if_none_match, q->range,
                    q->if_range, a);
    int ok = a->kind == DELIVERY_BODY;
    if (ok) {
        reply->status = a->status;
        reply->fd = a->fd;
        a->fd = -1;
        reply->offset = a->first;
        reply->length = a->n;
        const char *names[4], *values[4];
        size_t used = 0;
        for (size_t i = 0, k = delivery_headers(a, names, values); ok && i < k; i++) {
            int m = snprintf(reply->headers + used, sizeof(reply->headers) - used, "%s: %s\r\n", names[i], values[i]);
            used += m > 0 ? (size_t)m : sizeof(reply->headers);
            ok = used < sizeof(reply->headers); /* they fit: 215 bytes at most */
        }
        if (!ok) {
            close(reply->fd);
        }
    }
    delivery_answer_done(a);
    return ok;
}
