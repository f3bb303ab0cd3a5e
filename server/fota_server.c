/* fota-server: serves releases to bridges and takes device reports. This file is the HTTP side
 * (the request handlers, uploads, the daemon's start and stop); over plain HTTP the listening
 * socket is the front's (front.c: image downloads sent with sendfile, every other request handed
 * to libmicrohttpd, which answers it with the handlers here); what a device is sent, whichever
 * of the two sends it, is worked out in delivery.c; the command line is options.c, the
 * route table routes.c, the release store and its switch releases.c, the S3 sync s3sync.c, the
 * report queue reports.c, the fleet API fleet_api.c, metrics metrics.c, the log srvlog.c.
 *
 * The release is a folder with the seed's files: version.txt, slot_a.bin, slot_b.bin. If the root
 * holds a `current` symlink, the release is what it points to, so a new release is switched in
 * atomically by renaming a new symlink over it; otherwise the root itself is the release.
 *
 * Endpoints (docs/server.md):
 *   GET  /version                          the seed's: version.txt
 *   GET  /firmware/slot_a.bin, slot_b.bin  the seed's: signed images; Range (206), ETag, If-None-Match
 *   GET  /api/v1/release?bank=a|b[&current=X.Y.Z][&base=SHA256]   JSON: version, size, sha256, url,
 *        update, and patch {url, size} when the release holds a patch from that base (docs/delta.md)
 *   GET  /api/v1/patches/{SHA256}          that patch, from the device's release
 *   POST /api/v1/devices/{id}/report       JSON body {version, bank, state, error}: stored in SQLite
 *   GET  /api/v1/devices/{id}/reports      JSON: the device's last 50 reports
 *   PUT  /api/v1/releases/{X.Y.Z}/slot_a.bin, slot_b.bin   (Authorization: Bearer TOKEN) stage files
 *   PUT  /api/v1/releases/{X.Y.Z}/patches/{SHA256}.patch   a patch the publisher made (encrypted
 *                                          releases: the server cannot), checked at activation
 * With --s3-bucket it also syncs the release from S3 (ListObjectsV2 every --s3-interval seconds,
 * requests signed by libcurl's CURLOPT_AWS_SIGV4, credentials from AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY): changed objects are downloaded, checked like a publication and switched
 * in atomically; when S3 is unreachable or holds a bad image, the last good release stays.
 *   POST /api/v1/releases/{X.Y.Z}/activate (Authorization: Bearer TOKEN) check both images' signature,
 *        bank and version, then switch `current` to the release atomically
 * With --redirect-downloads the images are copied into the bucket under their SHA-256 and image
 * requests answered with a 307 to a presigned URL of the copy (mirror.c, s3presign.c).
 * Exit status: 0 after SIGTERM/SIGINT, 2 bad arguments, 3 unusable root, key or database, 4 cannot listen. */
#include "cJSON.h"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fota/hostlib.h"
#include "fota/httpx.h"
#include "fota/fleet.h"
#include "fota/delivery.h"
#include "fota/fleet_api.h"
#include "fota/front.h"
#include "fota/image.h"
#include "fota/metrics.h"
#include "fota/mirror.h"
#include "fota/options.h"
#include "fota/releases.h"
#include "fota/reports.h"
#include "fota/routes.h"
#include "fota/s3presign.h"
#include "fota/s3sync.h"
#include "fota/srv.h"
#include "fota/srvlog.h"

#define MAX_BODY 4096 /* largest request body (reports) */

typedef struct {
    const char *root; /* absolute */
    const char *token; /* publish token (16-512 characters); "": publishing disabled */
    reports_t *reports;
    db_t *fdb, *frdb; /* the fleet's store (the --db database): writing, and reading connections */
    delivery_t dl;    /* the release folder, the fleet, the S3 copies: what a device is sent */
} server_t;

static const char *bearer(struct MHD_Connection *c)
{
    return delivery_bearer(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
}

static unsigned identify(server_t *s, struct MHD_Connection *c, const char *path_id, delivery_who_t *w, const char **msg)
{
    return delivery_identify(&s->dl, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Device-Id"), bearer(c), path_id, w, msg);
}

typedef struct {
    char body[MAX_BODY + 1];
    size_t len;
    int too_large;
    int upload_fd;      /* PUT of a release file: written as it arrives, never held in memory */
    char upload_tmp[700];  /* into this temporary file of the staging folder ... */
    char upload_path[700]; /* ... renamed to this one when it is complete */
    uint64_t uploaded;
    int upload_failed;
    routes_match_t found; /* the request's route (fota/routes.h), looked up once when it starts */
    route_t route;
    const char *allow;    /* ROUTES_METHOD: the resource's Allow header */
    int refused;          /* the upload was refused before its body: answer that, ignore the body */
    unsigned refused_status;
    char refused_msg[160];
} request_t;

#define MAX_UPLOAD LAYOUT_BANK_SIZE

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)c;
    (void)socket_context;
    metrics_connection(code == MHD_CONNECTION_NOTIFY_STARTED);
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *uri)
{
    (void)cls;
    (void)c;
    return srv_unescape(uri);
}



static enum MHD_Result serve_file(server_t *s, struct MHD_Connection *c, const delivery_who_t *w, const char *name,
                                  const char *type, int is_image, const char *method, const char *url)
{
    delivery_answer_t answer, *a = &answer; /* on the stack, as its 4 KiB Location always was */
    delivery_answer(&s->dl, w, name, type, is_image, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE),
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE), a);
    enum MHD_Result ret = MHD_NO;
    struct MHD_Response *r = NULL;
    switch (a->kind) {
    case DELIVERY_ERROR:
        ret = send_error(c, a->status, a->msg, method, url);
        break;
    case DELIVERY_NOT_MODIFIED:
        ret = send_text_h(c, MHD_HTTP_NOT_MODIFIED, NULL, "", MHD_HTTP_HEADER_ETAG, a->etag, method, url);
        break;
    case DELIVERY_UNSATISFIABLE:
        ret = send_text_h(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, NULL, "", MHD_HTTP_HEADER_CONTENT_RANGE, a->range, method, url);
        break;
    case DELIVERY_REDIRECT:
        ret = send_redirect(c, a->loc, method, url);
        break;
    case DELIVERY_BODY:
        if (a->blob != NULL) { /* from memory: the response holds the reference and drops it when done */
            r = MHD_create_response_from_buffer_with_free_callback_cls((size_t)a->n, a->blob->data + a->first,
                                                                       release_blob_unref, a->blob);
            if (r != NULL) {
                a->blob = NULL;
            }
        } else {
            r = MHD_create_response_from_fd_at_offset64(a->n, a->fd, a->first); /* closes fd when destroyed */
            if (r != NULL) {
                a->fd = -1;
            }
        }
        if (r == NULL) {
            break;
        }
        const char *names[4], *values[4];
        for (size_t i = 0, k = delivery_headers(a, names, values); i < k; i++) {
            MHD_add_response_header(r, names[i], values[i]);
        }
        ret = MHD_queue_response(c, a->status, r);
        MHD_destroy_response(r);
        metrics_response(a->status, a->n);
        srvlog(SRVLOG_INFO, "%s %s -> %u (%llu bytes)", method, url, a->status, (unsigned long long)a->n);
        break;
    }
    delivery_answer_done(a);
    return ret;
}

static enum MHD_Result api_release(server_t *s, struct MHD_Connection *c, const delivery_who_t *w, const char *method,
                                   const char *url)
{
    const char *bank_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "bank");
    const char *cur_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "current");
    const char *base_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "base");
    layout_bank_t bank = fota_parse_bank(bank_s);
    if (bank == LAYOUT_BANK_NONE) {
        return send_error(c, MHD_HTTP_BAD_REQUEST, "query parameter bank must be a or b", method, url);
    }
    if (base_s != NULL && !srv_is_sha256_hex(base_s)) {
        return send_error(c, MHD_HTTP_BAD_REQUEST, "query parameter base must be 64 lowercase hex digits", method, url);
    }
    img_version_t current;
    if (cur_s != NULL && img_version_parse(cur_s, &current) != 0) {
        return send_error(c, MHD_HTTP_BAD_REQUEST, "query parameter current must be X.Y.Z", method, url);
    }
    const char *name = release_files[bank == LAYOUT_BANK_A ? 0 : 1];
    char path[600];
    delivery_path(&s->dl, w, name, path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return send_error(c, MHD_HTTP_NOT_FOUND, "the current release has no image for that bank", method, url);
    }
    release_file_t info;
    const release_file_t *fi = releases_file_info(s->dl.rel, path, fd, &st, &info) == 0 ? &info : NULL;
    close(fd);
    if (fi != NULL) {
        release_blob_unref(info.blob); /* only its header and hash are needed here */
    }
    if (fi == NULL || (fi->verdict != IMG_OK && fi->verdict != IMG_ERR_NO_KEY)) {
        char msg[200];
        snprintf(msg, sizeof(msg), "release image refused: %s", fi ? img_strerror(fi->verdict) : "unreadable");
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg, method, url);
    }
    char vs[32], link[64];
    img_version_format(&fi->hdr.version, vs, sizeof(vs));
    snprintf(link, sizeof(link), "/firmware/%s", name);
    cJSON *o = cJSON_CreateObject();
    char bank_letter[2] = {layout_bank_letter(bank), 0};
    int fail = o == NULL;
    fail |= !cJSON_AddStringToObject(o, "version", vs);
    fail |= !cJSON_AddStringToObject(o, "bank", bank_letter);
    fail |= !cJSON_AddNumberToObject(o, "size", (double)st.st_size);
    fail |= !cJSON_AddStringToObject(o, "sha256", fi->sha_hex);
    fail |= !cJSON_AddNumberToObject(o, "security_counter", fi->hdr.security_counter);
    fail |= !cJSON_AddStringToObject(o, "url", link);
    fail |= !cJSON_AddBoolToObject(o, "signature_checked", fi->verdict == IMG_OK);
    fail |= !cJSON_AddBoolToObject(o, "encrypted", (fi->hdr.flags & IMG_FLAG_ENCRYPTED) != 0);
    fail |= !cJSON_AddBoolToObject(o, "update", cur_s == NULL || img_version_cmp(&fi->hdr.version, &current) > 0);
    /* base: the SHA-256 the device's running image is signed over; when this release holds a patch
     * from it (made at publication, docs/delta.md), its URL and size. */
    char ppath[700];
    struct stat pst;
    if (base_s != NULL && !fail) {
        char pname[100];
        snprintf(pname, sizeof(pname), "patches/%s.patch", base_s);
        delivery_path(&s->dl, w, pname, ppath, sizeof(ppath));
        if (stat(ppath, &pst) == 0 && S_ISREG(pst.st_mode)) {
            char purl[100];
            snprintf(purl, sizeof(purl), "/api/v1/patches/%s", base_s);
            cJSON *po = cJSON_AddObjectToObject(o, "patch");
            fail |= po == NULL || !cJSON_AddStringToObject(po, "url", purl) ||
                    !cJSON_AddNumberToObject(po, "size", (double)pst.st_size);
        }
    }
    if (fail) {
        cJSON_Delete(o);
        o = NULL;
    }
    return send_json(c, o, method, url);
}

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static enum MHD_Result api_report(server_t *s, struct MHD_Connection *c, const char *id, request_t *rq,
                                  const char *method, const char *url)
{
    if (rq->too_large) {
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "report body larger than 4096 bytes", method, url);
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(rq->body, rq->len, &end, 0);
    if (o == NULL || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return send_error(c, MHD_HTTP_BAD_REQUEST, "report body is not a JSON object", method, url);
    }
    while (end < rq->body + rq->len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) {
        end++;
    }
    if (end != rq->body + rq->len) {
        cJSON_Delete(o);
        return send_error(c, MHD_HTTP_BAD_REQUEST, "report body has data after its JSON object", method, url);
    }
    const char *version = json_str(o, "version"), *bank = json_str(o, "bank"), *state = json_str(o, "state"),
               *err = json_str(o, "error"), *target = json_str(o, "target");
    if (version == NULL || state == NULL) {
        cJSON_Delete(o);
        return send_error(c, MHD_HTTP_BAD_REQUEST, "report needs string fields version and state", method, url);
    }
    /* Stored text is served back as JSON: it must be UTF-8. */
    static const char *const fields[5] = {"version", "bank", "state", "error", "target"};
    const char *values[5] = {version, bank, state, err, target};
    for (int i = 0; i < 5; i++) {
        if (values[i] != NULL && !srv_valid_utf8(values[i], strlen(values[i]))) {
            char msg[80];
            snprintf(msg, sizeof(msg), "report field %s is not valid UTF-8", fields[i]);
            cJSON_Delete(o);
            return send_error(c, MHD_HTTP_BAD_REQUEST, msg, method, url);
        }
    }
    report_t r = {.device = id, .version = version, .bank = bank, .state = state, .error = err, .target = target,
                  .received = (int64_t)time(NULL)};
    reports_err_t re = reports_add(s->reports, &r);
    if (re == REPORTS_OK) {
        metrics_result(version, state);
    }
    cJSON_Delete(o); /* version and state point into it */
    if (re == REPORTS_FULL) {
        return send_text_h(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                           "{\"error\":\"too many reports at once: retry later\"}", MHD_HTTP_HEADER_RETRY_AFTER, "1",
                           method, url);
    }
    if (re == REPORTS_TOO_LONG) {
        return send_error(c, MHD_HTTP_BAD_REQUEST, "report field too long (version, bank, state: 63 bytes; error: 511)",
                          method, url);
    }
    return send_text(c, MHD_HTTP_ACCEPTED, "application/json", "{\"accepted\":true}", method, url);
}

static enum MHD_Result api_reports(server_t *s, struct MHD_Connection *c, const char *id, const char *method,
                                   const char *url)
{
    char *json = NULL;
    if (reports_list_json(s->reports, id, &json) != REPORTS_OK) {
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read reports", method, url);
    }
    enum MHD_Result r = send_text(c, MHD_HTTP_OK, "application/json", json, method, url);
    cJSON_free(json);
    return r;
}

static int authorized(const server_t *s, struct MHD_Connection *c)
{
    const char *t = bearer(c);
    if (s->token[0] == '\0' || t == NULL) {
        return 0;
    }
    size_t n = strlen(s->token);
    if (strlen(t) != n) {
        return 0;
    }
    return crypto_memcmp_ct((const uint8_t *)t, (const uint8_t *)s->token, n) == 0;
}

/* make_current 0: publish only (the release is kept for rollouts; `current` stays). */
static enum MHD_Result api_activate(server_t *s, struct MHD_Connection *c, const char *ver, int make_current,
                                    const char *method, const char *url)
{
    char staging[600], final[600], why[200];
    snprintf(staging, sizeof(staging), "%s/releases/%s.staging", s->root, ver);
    snprintf(final, sizeof(final), "%s/releases/%s", s->root, ver);
    struct stat st;
    if (stat(staging, &st) != 0) {
        if (stat(final, &st) != 0) {
            return send_error(c, MHD_HTTP_CONFLICT, "nothing uploaded for this release", method, url);
        }
        /* Staged and moved into place before, but not switched to (a failure in between): the
         * same checks, then the switch. */
        snprintf(staging, sizeof(staging), "%s", final);
    }
    int rc = make_current ? releases_activate(s->dl.rel, staging, ver, ver, why, sizeof(why))
                          : releases_publish(s->dl.rel, staging, ver, why, sizeof(why));
    if (rc != 0) {
        unsigned status = strncmp(why, "cannot switch", 13) == 0 ? MHD_HTTP_INTERNAL_SERVER_ERROR
                          : strstr(why, " has no ") || strstr(why, "is the current one") ? MHD_HTTP_CONFLICT
                                                                                       : MHD_HTTP_UNPROCESSABLE_CONTENT;
        return send_error(c, status, why, method, url);
    }
    fleet_audit(s->dl.fleet, "operator", make_current ? "release activated" : "release published", ver);
    return send_text(c, MHD_HTTP_OK, "application/json",
                     make_current ? "{\"activated\":true}" : "{\"published\":true}", method, url);
}

/* First call of a PUT: decide whether to take the body, and open where it goes. */
static void upload_begin(server_t *s, struct MHD_Connection *c, const char *url, request_t *rq)
{
    rq->upload_fd = -1;
    if (!authorized(s, c)) {
        rq->refused = 1;
        rq->refused_status = MHD_HTTP_UNAUTHORIZED;
        snprintf(rq->refused_msg, sizeof(rq->refused_msg), "publishing needs Authorization: Bearer <token>");
        return;
    }
    /* A release's images, or a patch its publisher made (patches/<base's signed SHA-256>.patch: an
     * encrypted release's, which the server cannot make; docs/encryption.md): ROUTE_RELEASE_UPLOAD,
     * for a version X.Y.Z. */
    const char *ver = rq->route.arg;
    img_version_t v;
    if (rq->found != ROUTES_FOUND || rq->route.id != ROUTE_RELEASE_UPLOAD || strlen(ver) >= 32 ||
        img_version_parse(ver, &v) != 0) {
        rq->refused = 1;
        rq->refused_status = MHD_HTTP_BAD_REQUEST;
        snprintf(rq->refused_msg, sizeof(rq->refused_msg),
                 "upload to /api/v1/releases/X.Y.Z/slot_a.bin, slot_b.bin or patches/<base sha256>.patch");
        return;
    }
    const char *what = url + strlen("/api/v1/releases/") + strlen(ver) + 1; /* slot_a.bin, patches/... */
    char dir[600], path[700];
    snprintf(dir, sizeof(dir), "%s/releases", s->root);
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%s/releases/%s.staging", s->root, ver);
    mkdir(dir, 0755);
    if (strncmp(what, "patches/", 8) == 0) {
        snprintf(dir, sizeof(dir), "%s/releases/%s.staging/patches", s->root, ver);
        mkdir(dir, 0755);
        what += 8;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, what);
    /* Written to a temporary file, renamed over `what` when complete (upload_finish): activation
     * only ever sees whole files, and a failed or abandoned upload leaves nothing behind. */
    snprintf(rq->upload_path, sizeof(rq->upload_path), "%s", path);
    /* Outside the staging folder: that folder may become the live release while this runs. */
    char tmpdir[600];
    snprintf(tmpdir, sizeof(tmpdir), "%s/releases/.uploads", s->root);
    mkdir(tmpdir, 0755);
    snprintf(rq->upload_tmp, sizeof(rq->upload_tmp), "%s/%s-%s.XXXXXX", tmpdir, ver, what);
    rq->upload_fd = mkostemp(rq->upload_tmp, O_CLOEXEC);
    if (rq->upload_fd >= 0) {
        (void)fchmod(rq->upload_fd, 0644);
    }
    if (rq->upload_fd < 0) {
        rq->refused = 1;
        rq->refused_status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        snprintf(rq->refused_msg, sizeof(rq->refused_msg), "cannot store the upload");
    }
}

/* The end of a release file's upload: the whole file is renamed into the staging folder, under
 * the publish lock, so it lands either before an activation checks the folder or finds the
 * folder gone (activated meanwhile: 409). Any failure removes the temporary file. */
static enum MHD_Result upload_finish(server_t *s, struct MHD_Connection *c, request_t *rq, const char *method,
                                     const char *url)
{
    int bad = rq->upload_failed || fsync(rq->upload_fd) != 0;
    bad = close(rq->upload_fd) != 0 || bad;
    rq->upload_fd = -1;
    if (bad) {
        unlink(rq->upload_tmp);
        return send_error(c, rq->uploaded > MAX_UPLOAD ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_INSUFFICIENT_STORAGE,
                          rq->uploaded > MAX_UPLOAD ? "image larger than a bank" : "cannot store the upload (disk full?)",
                          method, url);
    }
    int err = releases_rename_in(s->dl.rel, rq->upload_tmp, rq->upload_path);
    if (err != 0) {
        unlink(rq->upload_tmp);
        if (err == ENOENT) {
            return send_error(c, MHD_HTTP_CONFLICT,
                              "this release was activated while the upload ran: publish it under a new version",
                              method, url);
        }
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the upload", method, url);
    }
    return send_text(c, MHD_HTTP_CREATED, "application/json", "{\"stored\":true}", method, url);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    server_t *s = cls;
    (void)version;
    if (*con_cls == NULL) {
        request_t *rq = calloc(1, sizeof(*rq));
        if (rq == NULL) {
            return MHD_NO;
        }
        rq->upload_fd = -1;
        *con_cls = rq;
        rq->found = routes_find(method, url, &rq->route, &rq->allow);
        if (strcmp(method, "PUT") == 0 && strncmp(url, "/api/v1/releases/", 17) == 0) {
            upload_begin(s, c, url, rq);
        }
        return MHD_YES;
    }
    request_t *rq = *con_cls;
    if (*upload_size > 0 && (rq->upload_fd >= 0 || rq->refused)) {
        if (rq->upload_fd >= 0 && !rq->upload_failed) {
            if (rq->uploaded + *upload_size > MAX_UPLOAD ||
                write(rq->upload_fd, upload, *upload_size) != (ssize_t)*upload_size) {
                rq->upload_failed = 1;
            }
            rq->uploaded += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (rq->len + *upload_size > MAX_BODY) {
            rq->too_large = 1;
        } else {
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strstr(url, "..") != NULL || strchr(url, '\\') != NULL) {
        return send_error(c, MHD_HTTP_BAD_REQUEST, "path traversal refused", method, url);
    }
    const route_t route = rq->route;
    if (rq->found == ROUTES_METHOD) {
        return send_error_allow(c, rq->allow, method, url);
    }
    if (rq->refused) {
        return send_error(c, rq->refused_status, rq->refused_msg, method, url);
    }
    if (rq->upload_fd >= 0) {
        return upload_finish(s, c, rq, method, url);
    }
    if (rq->found == ROUTES_NONE) {
        return send_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint", method, url);
    }
    int admin = authorized(s, c);
    delivery_who_t w;
    const char *msg = NULL;
    unsigned refused;
    img_version_t v;
    switch (route.id) {
    case ROUTE_RELEASE_ACTIVATE:
    case ROUTE_RELEASE_PUBLISH:
        if (!admin) {
            return send_error(c, MHD_HTTP_UNAUTHORIZED, "publishing needs Authorization: Bearer <token>", method, url);
        }
        if (strlen(route.arg) >= 32 || img_version_parse(route.arg, &v) != 0) {
            return send_error(c, MHD_HTTP_BAD_REQUEST,
                              "POST /api/v1/releases/X.Y.Z/activate (make it current) or .../publish (for rollouts)",
                              method, url);
        }
        if (!releases_have_key(s->dl.rel)) {
            return send_error(c, MHD_HTTP_CONFLICT, "the server has no --pubkey to check releases with", method, url);
        }
        return api_activate(s, c, route.arg, route.id == ROUTE_RELEASE_ACTIVATE, method, url);
    case ROUTE_RELEASE_UPLOAD: /* upload_begin took every PUT there: refused above, or finished */
        return send_error(c, MHD_HTTP_BAD_REQUEST, "no upload", method, url);
    case ROUTE_VERSION:
    case ROUTE_FIRMWARE:
    case ROUTE_PATCH:
    case ROUTE_RELEASE:
        refused = identify(s, c, NULL, &w, &msg);
        if (refused != 0) {
            return send_error(c, refused, msg, method, url);
        }
        fleet_target(s->dl.fleet, w.id, w.grp, w.version, sizeof(w.version), NULL, 0);
        if (route.id == ROUTE_FIRMWARE) {
            return serve_file(s, c, &w, url + strlen("/firmware/"), "application/octet-stream", 1, method, url);
        }
        if (route.id == ROUTE_PATCH) { /* of the release this device is to run */
            char pname[100];
            snprintf(pname, sizeof(pname), "patches/%s.patch", route.arg);
            return serve_file(s, c, &w, pname, "application/octet-stream", 0, method, url);
        }
        if (route.id == ROUTE_VERSION) {
            return serve_file(s, c, &w, "version.txt", "text/plain", 0, method, url);
        }
        return api_release(s, c, &w, method, url);
    case ROUTE_METRICS: {
        static __thread char text[64 * 1024];
        char extra[160];
        snprintf(extra, sizeof(extra),
                 "# HELP fota_reports_queued Device reports accepted and not yet written.\n"
                 "# TYPE fota_reports_queued gauge\nfota_reports_queued %zu\n",
                 reports_pending(s->reports));
        metrics_render(text, sizeof(text), extra);
        return send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4", text, method, url);
    }
    case ROUTE_DEVICE_REPORT:
    case ROUTE_DEVICE_REPORTS:
        if (!srv_valid_device_id(route.arg)) {
            return send_error(c, MHD_HTTP_BAD_REQUEST, "device id must be 1-64 of A-Z a-z 0-9 . _ -", method, url);
        }
        /* Reports: the device itself or an operator; anyone while devices are open (the seed's). */
        refused = route.id == ROUTE_DEVICE_REPORTS && admin ? 0 : identify(s, c, route.arg, &w, &msg);
        if (refused != 0) {
            return send_error(c, refused, msg, method, url);
        }
        return route.id == ROUTE_DEVICE_REPORT ? api_report(s, c, route.arg, rq, method, url)
                                               : api_reports(s, c, route.arg, method, url);
    default: { /* the operator's fleet API and web view */
        fleet_api_t fa = {s->dl.fleet, s->dl.rel, s->root, s->token};
        return fleet_api_answer(&fa, c, &route, method, url, rq->body, rq->len, rq->too_large, admin);
    }
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    request_t *rq = *con_cls;
    if (rq != NULL && rq->upload_fd >= 0) {
        close(rq->upload_fd); /* the upload never finished (client gone, timeout): nothing stays */
        unlink(rq->upload_tmp);
    }
    free(*con_cls);
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    fota_set_program("fota-server"); /* the shared helpers' messages name this program */
    static server_opts_t o;
    int rc = server_opts_parse(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }
    /* Whatever fails from here exits 3 (4: cannot listen) through one path that frees it all. */
    static server_t s;
    s.root = o.root;
    s.token = o.token;
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE];
    int have_key = 0, curl = 0;
    uint8_t *cert_pem = NULL, *key_pem = NULL;
    size_t cert_len = 0, key_len = 0;
    struct MHD_Daemon *d = NULL;
    front_t *front = NULL;
    int lfd = -1; /* the front's listening socket, until the front owns it */
    rc = 3;
    if (o.s3.bucket != NULL) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "fota-server: cannot start libcurl\n");
            goto out;
        }
        curl = 1;
    }
    if (o.cert != NULL) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            fprintf(stderr, "fota-server: this libmicrohttpd has no TLS support\n");
            goto out;
        }
        /* NUL-terminated copies: libmicrohttpd takes PEM text. */
        if (fota_read_file(o.cert, 1u << 20, &cert_pem, &cert_len) != 0 ||
            fota_read_file(o.tls_key, 1u << 20, &key_pem, &key_len) != 0) {
            goto out;
        }
        uint8_t *c2 = realloc(cert_pem, cert_len + 1);
        if (c2 != NULL) {
            cert_pem = c2;
        }
        uint8_t *k2 = realloc(key_pem, key_len + 1);
        if (k2 != NULL) {
            key_pem = k2;
        }
        if (c2 == NULL || k2 == NULL) {
            fprintf(stderr, "fota-server: out of memory\n");
            goto out;
        }
        cert_pem[cert_len] = '\0';
        key_pem[key_len] = '\0';
    }
    if (o.pubkey != NULL) {
        if (fota_load_pubkey(o.pubkey, pub) != 0) {
            goto out;
        }
        have_key = 1;
    }
    char dbpath[600];
    snprintf(dbpath, sizeof(dbpath), "%s/reports.sqlite", s.root);
    char why[200];
    s.reports = reports_open(o.db ? o.db : dbpath, why, sizeof(why));
    if (s.reports == NULL) {
        fprintf(stderr, "fota-server: cannot open the report database '%s': %s\n", o.db ? o.db : dbpath, why);
        goto out;
    }
    /* The fleet lives in the same database, on its own connection. */
    if ((s.fdb = db_open(o.db ? o.db : dbpath, why, sizeof(why))) == NULL ||
        (s.frdb = db_open(o.db ? o.db : dbpath, why, sizeof(why))) == NULL ||
        (s.dl.fleet = fleet_open(s.fdb, s.frdb, o.fleet_mode, why, sizeof(why))) == NULL) {
        fprintf(stderr, "fota-server: cannot open the device store in '%s': %s\n", o.db ? o.db : dbpath, why);
        goto out;
    }
    reports_set_hook(s.reports, fleet_on_reports, s.dl.fleet);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* Each connection is a descriptor: take the hard limit, and hold no more connections than it
     * allows (with room for files, the database and the listening socket). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            (void)setrlimit(RLIMIT_NOFILE, &rl);
            (void)getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)o.max_conns + 64u) {
            uint32_t fit = rl.rlim_cur > 128u ? (uint32_t)(rl.rlim_cur - 64u) : 64u;
            fprintf(stderr, "fota-server: descriptor limit %llu: at most %u connections (not %u)\n",
                    (unsigned long long)rl.rlim_cur, (unsigned)fit, (unsigned)o.max_conns);
            o.max_conns = fit;
        }
    }
    if (o.threads == 0) {
        /* One per CPU, at least two: libmicrohttpd 0.9.75 with a single epoll thread (no pool) leaves
         * keep-alive requests unread in their sockets for about a second at a time under load (128
         * connections: 1.2k req/s against 11k with a pool of 2; docs/PERFORMANCE.md), so even a
         * one-CPU machine gets a pool. */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = ncpu > 2 ? (ncpu > 64 ? 64u : (uint32_t)ncpu) : 2u;
    }
    s.dl.rel = releases_open(s.root, have_key ? pub : NULL);
    if (s.dl.rel == NULL) {
        fprintf(stderr, "fota-server: out of memory\n");
        goto out;
    }
    releases_set_delta_from(s.dl.rel, o.delta_from);
    /* epoll with a pool of threads, each with its own share of the connections: no select() and
     * its FD_SETSIZE wall (1,024 descriptors), and a timeout for connections that stall. One
     * thread (--threads 1) is poll(): level-triggered, so it cannot lose a request the way the
     * single epoll thread does (above); it costs O(connections) per wake-up. */
    unsigned flags = (o.threads == 1 ? MHD_USE_POLL_INTERNAL_THREAD : MHD_USE_EPOLL_INTERNAL_THREAD) | MHD_USE_TURBO | MHD_USE_ERROR_LOG | (cert_pem ? MHD_USE_TLS : 0) |
                     (o.addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    /* Plain HTTP: the front listens, sends image bodies itself with sendfile and hands the rest of
     * the requests to libmicrohttpd (fota/front.h; docs/server.md). TLS and --redirect-downloads:
     * libmicrohttpd listens and answers everything. */
    if (cert_pem == NULL && !o.redirect) {
        signal(SIGPIPE, SIG_IGN); /* sendfile has no MSG_NOSIGNAL: a gone client is an EPIPE */
        if ((lfd = front_listen(&o.addr)) < 0) {
            fprintf(stderr, "fota-server: cannot listen on %s: %s\n", o.where, strerror(errno));
            rc = 4;
            goto out;
        }
        flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    }
    struct MHD_OptionItem common[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o.max_conns, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o.idle_timeout, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, NULL},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    if (cert_pem == NULL) {
        for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
            if (common[i].option == MHD_OPTION_HTTPS_MEM_CERT) {
                common[i].option = MHD_OPTION_END; /* no TLS: the list ends before the certificate */
                break;
            }
        }
    }
    struct MHD_OptionItem more[3];
    size_t nmore = 0;
    if (o.threads > 1) { /* one thread: no pool */
        more[nmore++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)o.threads, NULL};
    }
    if (lfd < 0) {
        more[nmore++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &o.addr};
    }
    more[nmore] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* Before the first request, which the serving threads answer with s.dl as it is then. */
    if (o.redirect && (s.dl.mirror = mirror_start(&o.mirror)) == NULL) {
        fprintf(stderr, "fota-server: cannot start the S3 copier for --redirect-downloads\n");
        goto out;
    }
    d = MHD_start_daemon(flags, (uint16_t)o.port, NULL, NULL, handler, &s, MHD_OPTION_ARRAY, common,
                                            MHD_OPTION_ARRAY, more, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "fota-server: cannot listen on %s%s\n", o.where,
                cert_pem ? " (or the certificate and key do not load)" : "");
        rc = 4;
        goto out;
    }
    if (lfd >= 0) {
        front_config_t fc = {lfd, o.threads, o.max_conns, o.idle_timeout, d, delivery_front_answer, &s.dl};
        lfd = -1; /* the front's, whether it starts or not */
        if ((front = front_start(&fc)) == NULL) {
            fprintf(stderr, "fota-server: cannot start the threads that serve downloads\n");
            goto out;
        }
    }
    srvlog(SRVLOG_INFO, "fota-server: serving %s on %s://%s (%u threads, up to %u connections, idle timeout %u s)", s.root,
           cert_pem ? "https" : "http", o.where, (unsigned)o.threads, (unsigned)o.max_conns,
           (unsigned)o.idle_timeout);
    if (o.redirect) {
        srvlog(SRVLOG_INFO, "fota-server: images redirected to copies in s3://%s/%s, presigned for %u s under %s",
               o.s3.bucket, o.mirror.prefix, (unsigned)o.mirror.expires, o.mirror.base);
    }
    time_t next_sync = 0;
    while (!stop) {
        if (o.s3.bucket != NULL && time(NULL) >= next_sync) {
            s3_sync(s.dl.rel, &o.s3);
            next_sync = time(NULL) + o.s3.interval;
            if (o.s3.activated[0] != '\0') {
                char detail[200];
                snprintf(detail, sizeof(detail), "%s from s3://%s/%s", o.s3.activated, o.s3.bucket, o.s3.prefix);
                fleet_audit(s.dl.fleet, "s3-sync", "release activated", detail);
            }
        }
        fleet_tick(s.dl.fleet); /* rollouts: halted or widened as their results say */
        sleep(1); /* a signal ends it early */
    }
    rc = 0;
out:
    front_stop(front); /* first: it hands connections to the daemon */
    if (lfd >= 0) {
        close(lfd);
    }
    if (d != NULL) {
        MHD_stop_daemon(d);
    }
    mirror_stop(s.dl.mirror);
    reports_close(s.reports); /* its writer's last batches still reach the fleet */
    fleet_close(s.dl.fleet);
    db_close(s.fdb);
    db_close(s.frdb);
    free(cert_pem);
    free(key_pem);
    releases_close(s.dl.rel);
    if (curl) {
        curl_global_cleanup();
    }
    if (rc == 0) {
        srvlog(SRVLOG_INFO, "fota-server: stopped");
    }
    return rc;
}
