/* fota-server's S3 sync: see fota/s3sync.h. */
#include "fota/s3sync.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fota/hostlib.h"
#include "fota/crypto.h"
#include "fota/delta.h"
#include "fota/s3presign.h"
#include "fota/srv.h"
#include "fota/srvlog.h"

/* Patches of a release synced at most (more are logged and left), and their size at most. */
#define S3_MAX_PATCHES 16
#define S3_PATCH_MAX (4u << 20)

typedef struct {
    FILE *f;
    char *mem;
    size_t len, cap;
} s3_sink_t;

static size_t s3_write(char *data, size_t size, size_t n, void *ud)
{
    s3_sink_t *k = ud;
    size_t len = size * n;
    if (k->len + len > k->cap) {
        return 0; /* larger than anything we accept: abort */
    }
    if (k->f != NULL) {
        if (fwrite(data, 1, len, k->f) != len) {
            return 0;
        }
    } else {
        memcpy(k->mem + k->len, data, len);
    }
    k->len += len;
    return len;
}

/* One signed request to endpoint/bucket/path (path already escaped): GET into sink, PUT of the
 * len bytes at body, or HEAD (both NULL). 0 on HTTP 200. */
static int s3_request(const s3_t *s3, const char *path, s3_sink_t *sink, const uint8_t *body, size_t len, char *why,
                      size_t cap)
{
    char url[2400], sigv4[80];
    if ((size_t)snprintf(url, sizeof(url), "%s/%s%s", s3->endpoint, s3->bucket, path) >= sizeof(url)) {
        snprintf(why, cap, "URL too long");
        return -1;
    }
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, cap, "cannot start libcurl");
        return -1;
    }
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", s3->region);
    struct curl_slist *h = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (s3->token_header[0] != '\0') {
        h = curl_slist_append(h, s3->token_header);
    }
    if (body != NULL) {
        h = curl_slist_append(h, "Content-Type: application/octet-stream");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (sink != NULL) {
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    } else {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, s3->userpwd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = h != NULL ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        snprintf(why, cap, "%s", curl_easy_strerror(rc));
        return -1;
    }
    if (status != 200) {
        snprintf(why, cap, "HTTP %ld for %s", status, path);
        return -1;
    }
    return 0;
}

static int s3_get(const s3_t *s3, const char *path, s3_sink_t *sink, char *why, size_t cap)
{
    return s3_request(s3, path, sink, NULL, 0, why, cap);
}

/* "/" and the key percent-encoded (spaces, '?', '+' ... in a key): the path of its path-style URL. */
static int object_path(const char *key, char *out, size_t cap, char *why, size_t wcap)
{
    out[0] = '/';
    if (s3_uri_encode(key, out + 1, cap - 1) != 0) {
        snprintf(why, wcap, "key too long");
        return -1;
    }
    return 0;
}

/* PUT (data not NULL) or HEAD of s3://bucket/key. */
static int s3_object(const s3_t *s3, const char *key, const uint8_t *data, size_t len, char *why, size_t cap)
{
    char path[1200];
    if (object_path(key, path, sizeof(path), why, cap) != 0) {
        return -1;
    }
    return s3_request(s3, path, NULL, data, len, why, cap);
}

int s3_put(const s3_t *s3, const char *key, const uint8_t *data, size_t len, char *why, size_t cap)
{
    if (data == NULL) {
        snprintf(why, cap, "nothing to put");
        return -1;
    }
    return s3_object(s3, key, data, len, why, cap);
}

int s3_head(const s3_t *s3, const char *key, char *why, size_t cap)
{
    return s3_object(s3, key, NULL, 0, why, cap);
}

/* patches/<64 hex>.patch under the prefix: a patch its publisher made (docs/server.md). */
static int patch_key(const s3_t *s3, const char *key, const char **name)
{
    size_t pl = strlen(s3->prefix);
    if (strncmp(key, s3->prefix, pl) != 0 || strncmp(key + pl, "patches/", 8) != 0) {
        return 0;
    }
    *name = key + pl + 8;
    return srv_is_patch_name(*name);
}

/* GET s3://bucket/prefix+name into file, at most cap bytes. 0, or -1 (logged). */
static int fetch_object(const s3_t *s3, const char *name, const char *file, size_t cap)
{
    char why[300], key[400], path[1200];
    if ((size_t)snprintf(key, sizeof(key), "%s%s", s3->prefix, name) >= sizeof(key) ||
        object_path(key, path, sizeof(path), why, sizeof(why)) != 0) {
        snprintf(why, sizeof(why), "key too long");
        srvlog(SRVLOG_WARN, "fota-server: s3: %s: %s; keeping the current release", key, why);
        return -1;
    }
    FILE *f = fopen(file, "wb");
    s3_sink_t sink = {f, NULL, 0, cap};
    int rc = f ? s3_get(s3, path, &sink, why, sizeof(why)) : -1;
    if (f == NULL || fclose(f) != 0 || rc != 0) {
        srvlog(SRVLOG_WARN, "fota-server: s3: download of %s failed: %s; keeping the current release", key,
               f ? why : strerror(errno));
        return -1;
    }
    return 0;
}

/* A patch in the bucket whose target is another version than the release's: left by an earlier
 * release (nothing removes old keys from a bucket), so not this release's, and not a reason to
 * refuse it. 1 when it is such a patch. Any other fault is for activation to judge. */
static int stale_patch(const char *file, const char *version)
{
    uint8_t hdr[DELTA_HDR_SIZE]; /* the header says which image the patch makes: read no more */
    delta_info_t in;
    img_header_t h;
    img_version_t want;
    FILE *f = fopen(file, "rb");
    size_t got = f != NULL ? fread(hdr, 1, sizeof(hdr), f) : 0;
    if (f != NULL) {
        fclose(f);
    }
    return delta_parse_header(hdr, got, &in) == DELTA_OK && img_header_decode(in.target_header, &h) == IMG_OK &&
           img_version_parse(version, &want) == 0 && img_version_cmp(&h.version, &want) != 0;
}

void s3_sync(releases_t *s, s3_t *s3)
{
    s3->activated[0] = '\0';
    char why[300], path[700];
    static char xml[256 * 1024];
    char etag[3][80] = {"", "", ""};
    char patch[S3_MAX_PATCHES][72], patch_etag[S3_MAX_PATCHES][80];
    unsigned npatch = 0, extra = 0;
    char token[1024] = "";
    CURL *esc = curl_easy_init();
    if (esc == NULL) {
        return;
    }
    /* Page through the listing, 64 keys a page (what we keep per page), until the three release
     * objects are known: up to 6400 keys under the prefix. Keys come in order, so the patches
     * ("patches/...") are known before slot_a.bin. */
    for (int page = 0; page < 100; page++) {
        s3_sink_t list = {NULL, xml, 0, sizeof(xml) - 1};
        char *prefix = curl_easy_escape(esc, s3->prefix, 0);
        char *cont = token[0] ? curl_easy_escape(esc, token, 0) : NULL;
        /* Parameters in the order SigV4 sorts them into its canonical request. */
        snprintf(path, sizeof(path), "?%s%s%slist-type=2&max-keys=64&prefix=%s", cont ? "continuation-token=" : "",
                 cont ? cont : "", cont ? "&" : "", prefix ? prefix : "");
        curl_free(prefix);
        curl_free(cont);
        if (s3_get(s3, path, &list, why, sizeof(why)) != 0) {
            srvlog(SRVLOG_WARN, "fota-server: s3: cannot list s3://%s/%s: %s; keeping the current release", s3->bucket,
                   s3->prefix, why);
            curl_easy_cleanup(esc);
            return;
        }
        srv_s3_object_t objs[64];
        int n = srv_s3_list_parse(xml, list.len, objs, 64);
        int more = n < 0 ? -1 : srv_s3_list_next(xml, list.len, token, sizeof(token));
        if (n > 64) {
            n = -1; /* more entries than the max-keys we asked for */
        }
        if (n < 0 || more < 0) {
            srvlog(SRVLOG_WARN, "fota-server: s3: the bucket listing is malformed; keeping the current release");
            curl_easy_cleanup(esc);
            return;
        }
        for (int i = 0; i < n; i++) {
            const char *name;
            for (int k = 0; k < 3; k++) {
                char want[300];
                snprintf(want, sizeof(want), "%s%s", s3->prefix, release_files[k]);
                if (strcmp(objs[i].key, want) == 0) {
                    snprintf(etag[k], sizeof(etag[k]), "%s", objs[i].etag);
                }
            }
            if (patch_key(s3, objs[i].key, &name)) {
                if (npatch < S3_MAX_PATCHES) {
                    snprintf(patch[npatch], sizeof(patch[npatch]), "%s", name);
                    snprintf(patch_etag[npatch], sizeof(patch_etag[npatch]), "%s", objs[i].etag);
                    npatch++;
                } else {
                    extra++;
                }
            }
        }
        if (!more || (etag[0][0] && etag[1][0] && etag[2][0])) {
            break;
        }
    }
    curl_easy_cleanup(esc);
    if (!etag[0][0] || !etag[1][0] || !etag[2][0]) {
        srvlog(SRVLOG_WARN,
               "fota-server: s3: s3://%s/%s lacks slot_a.bin, slot_b.bin or version.txt; keeping the current "
               "release",
               s3->bucket, s3->prefix);
        return;
    }
    /* What was listed, as one hash: a new ETag of any of the release's objects, or a patch added
     * or removed, is a change. */
    crypto_sha256_ctx h;
    uint8_t seen[32];
    crypto_sha256_start(&h);
    crypto_sha256_update(&h, (const uint8_t *)etag, sizeof(etag));
    for (unsigned i = 0; i < npatch; i++) {
        crypto_sha256_update(&h, (const uint8_t *)patch[i], strlen(patch[i]) + 1);
        crypto_sha256_update(&h, (const uint8_t *)patch_etag[i], strlen(patch_etag[i]) + 1);
    }
    if (crypto_sha256_finish(&h, seen) != CRYPTO_OK || memcmp(seen, s3->seen, sizeof(seen)) == 0) {
        return; /* nothing changed since the last look */
    }
    if (extra > 0) {
        srvlog(SRVLOG_WARN, "fota-server: s3: %u patches under s3://%s/%spatches/ beyond the first %d are not synced",
               extra, s3->bucket, s3->prefix, S3_MAX_PATCHES);
    }
    char staging[600];
    snprintf(staging, sizeof(staging), "%s/releases", releases_root(s));
    mkdir(staging, 0755);
    snprintf(staging, sizeof(staging), "%s/releases/.s3-staging", releases_root(s));
    releases_remove_folder(staging);
    if (mkdir(staging, 0755) != 0) {
        srvlog(SRVLOG_WARN, "fota-server: s3: cannot create %s: %s", staging, strerror(errno));
        return;
    }
    char version[40] = "";
    for (int k = 0; k < 3; k++) {
        char file[700];
        snprintf(file, sizeof(file), "%s/%s", staging, release_files[k]);
        if (fetch_object(s3, release_files[k], file, LAYOUT_BANK_SIZE) != 0) {
            return; /* not marked seen: tried again next time */
        }
        if (k == 2) {
            FILE *v = fopen(file, "r");
            size_t got = v ? fread(version, 1, sizeof(version) - 1, v) : 0;
            if (v != NULL) {
                fclose(v);
            }
            version[got] = '\0';
            version[strcspn(version, "\r\n ")] = '\0';
        }
    }
    /* The publisher's patches (an encrypted release's, which the server cannot make), checked by
     * activation as uploaded ones are; those of another release are left out. */
    unsigned synced = 0;
    for (unsigned i = 0; i < npatch; i++) {
        char file[800], name[90];
        snprintf(file, sizeof(file), "%s/patches", staging);
        if (i == 0 && mkdir(file, 0755) != 0) {
            srvlog(SRVLOG_WARN, "fota-server: s3: cannot create %s: %s", file, strerror(errno));
            return;
        }
        snprintf(name, sizeof(name), "patches/%.71s", patch[i]);
        snprintf(file, sizeof(file), "%s/%s", staging, name);
        if (fetch_object(s3, name, file, S3_PATCH_MAX) != 0) {
            return;
        }
        if (stale_patch(file, version)) {
            srvlog(SRVLOG_INFO, "fota-server: s3: %s is for another release than %s: not synced", name, version);
            unlink(file);
        } else {
            synced++;
        }
    }
    memcpy(s3->seen, seen, sizeof(seen));
    char name[80];
    snprintf(name, sizeof(name), "%.32s-s3-%02x%02x%02x%02x", version, seen[0], seen[1], seen[2], seen[3]);
    if (releases_activate(s, staging, version, name, why, sizeof(why)) != 0) {
        srvlog(SRVLOG_WARN, "fota-server: s3: release in s3://%s/%s refused: %s; keeping the current release",
               s3->bucket, s3->prefix, why);
    } else {
        srvlog(SRVLOG_INFO, "fota-server: s3: release %s synced from s3://%s/%s (%u patches of its publisher)", version,
               s3->bucket, s3->prefix, synced);
        snprintf(s3->activated, sizeof(s3->activated), "%s", version);
    }
}
