/* fota-server's release store: see fota/releases.h. */
#include "fota/releases.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fota/delta.h"
#include "fota/delta_enc.h"
#include "fota/hostlib.h"
#include "fota/layout.h"
#include "fota/srvlog.h"

#define CACHE_SLOTS 8

struct releases {
    char *root;
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE];
    int have_key;
    pthread_mutex_t cache_lock;   /* requests are answered by a pool of threads */
    pthread_mutex_t publish_lock; /* one release switch at a time (current.new): API and S3 sync */
    release_file_t cache[CACHE_SLOTS];
    unsigned next_slot;
    unsigned delta_from; /* previous releases a new one gets patches from (docs/delta.md) */
};

const char *const release_files[RELEASE_FILES] = {"slot_a.bin", "slot_b.bin", "version.txt"};

release_blob_t *release_blob_ref(release_blob_t *b)
{
    if (b != NULL) {
        __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
    }
    return b;
}

void release_blob_unref(void *p)
{
    release_blob_t *b = p;
    if (b != NULL && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        free(b);
    }
}

releases_t *releases_open(const char *root, const uint8_t pub[CRYPTO_P256_PUBKEY_SIZE])
{
    releases_t *rs = calloc(1, sizeof(*rs));
    if (rs == NULL || (rs->root = strdup(root)) == NULL) {
        free(rs);
        return NULL;
    }
    if (pub != NULL) {
        memcpy(rs->pub, pub, CRYPTO_P256_PUBKEY_SIZE);
        rs->have_key = 1;
    }
    rs->delta_from = RELEASES_DELTA_FROM;
    if (pthread_mutex_init(&rs->cache_lock, NULL) != 0 || pthread_mutex_init(&rs->publish_lock, NULL) != 0) {
        free(rs->root);
        free(rs);
        return NULL;
    }
    return rs;
}

void releases_close(releases_t *rs)
{
    if (rs == NULL) {
        return;
    }
    for (int i = 0; i < CACHE_SLOTS; i++) {
        release_blob_unref(rs->cache[i].blob);
    }
    pthread_mutex_destroy(&rs->cache_lock);
    pthread_mutex_destroy(&rs->publish_lock);
    free(rs->root);
    free(rs);
}

const char *releases_root(const releases_t *rs)
{
    return rs->root;
}

int releases_have_key(const releases_t *rs)
{
    return rs->have_key;
}

void releases_path(const releases_t *s, const char *name, char *out, size_t cap)
{
    char cur[512];
    struct stat st;
    snprintf(cur, sizeof(cur), "%s/current", s->root);
    /* A `current` that exists, even dangling, is the release: a broken one serves nothing (404)
     * rather than the root's own files. */
    if (lstat(cur, &st) == 0) {
        snprintf(out, cap, "%s/%s", cur, name);
    } else {
        snprintf(out, cap, "%s/%s", s->root, name);
    }
}

static int file_info_locked(releases_t *s, const char *path, int fd, const struct stat *st, release_file_t *out);

int releases_file_info(releases_t *s, const char *path, int fd, const struct stat *st, release_file_t *out)
{
    pthread_mutex_lock(&s->cache_lock);
    int r = file_info_locked(s, path, fd, st, out);
    pthread_mutex_unlock(&s->cache_lock);
    return r;
}

/* The release verdict: an image encrypted for a device (docs/encryption.md) is checked as far as
 * the server can without the device's key (structure, key record, signer and signature over the
 * stated hash); any other image completely. */
static img_err_t verify(const uint8_t *buf, size_t len, const uint8_t *pub, img_header_t *hdr)
{
    img_header_t h;
    if (len >= IMG_HEADER_FIELDS_SIZE && img_header_decode(buf, &h) == IMG_OK && (h.flags & IMG_FLAG_ENCRYPTED) != 0) {
        return fota_image_check_sealed(buf, len, pub, hdr);
    }
    img_policy_t pol = {.pubkey = pub, .min_security_counter = 0, .bank = LAYOUT_BANK_NONE};
    return img_verify_buffer(buf, len, &pol, hdr);
}

static int file_info_locked(releases_t *s, const char *path, int fd, const struct stat *st, release_file_t *out)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        release_file_t *c = &s->cache[i];
        if (c->used && strcmp(c->path, path) == 0 && c->dev == st->st_dev && c->ino == st->st_ino &&
            c->size == st->st_size && c->mtime.tv_sec == st->st_mtim.tv_sec &&
            c->mtime.tv_nsec == st->st_mtim.tv_nsec) {
            *out = *c;
            out->blob = release_blob_ref(c->blob);
            return 0;
        }
    }
    if (st->st_size > 16 * 1024 * 1024) {
        return -1;
    }
    release_blob_t *blob = malloc(sizeof(release_blob_t) + (size_t)st->st_size + 1);
    if (blob == NULL) {
        return -1;
    }
    blob->refs = 1; /* the cache's */
    blob->size = (size_t)st->st_size;
    uint8_t *buf = blob->data;
    ssize_t got = pread(fd, buf, (size_t)st->st_size, 0);
    uint8_t sha[CRYPTO_SHA256_SIZE];
    if (got != st->st_size || crypto_sha256(buf, (size_t)got, sha) != CRYPTO_OK) {
        free(blob);
        return -1;
    }
    release_file_t *c = &s->cache[s->next_slot++ % CACHE_SLOTS];
    release_blob_unref(c->blob); /* the slot's previous file: freed once no response still sends it */
    memset(c, 0, sizeof(*c));
    c->blob = blob;
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->dev = st->st_dev;
    c->ino = st->st_ino;
    c->size = st->st_size;
    c->mtime = st->st_mtim;
    fota_hex(sha, sizeof(sha), c->sha_hex);
    c->verdict = verify(buf, (size_t)got, s->have_key ? s->pub : NULL, &c->hdr);
    if (c->verdict != IMG_OK && c->verdict != IMG_ERR_NO_KEY && got >= IMG_HEADER_FIELDS_SIZE) {
        (void)img_header_decode(buf, &c->hdr);
    }
    c->used = 1;
    *out = *c;
    out->blob = release_blob_ref(blob);
    return 0;
}

static img_err_t check_image(const releases_t *s, const char *path, img_header_t *hdr)
{
    uint8_t *buf;
    size_t len;
    if (fota_read_file(path, LAYOUT_BANK_SIZE, &buf, &len) != 0) {
        return IMG_ERR_READ;
    }
    img_err_t e = verify(buf, len, s->pub, hdr);
    free(buf);
    return e;
}

void releases_remove_folder(const char *folder)
{
    for (size_t i = 0; i < RELEASE_FILES; i++) {
        char f[700];
        snprintf(f, sizeof(f), "%s/%s", folder, release_files[i]);
        unlink(f);
    }
    char pd[700];
    snprintf(pd, sizeof(pd), "%s/patches", folder);
    DIR *d = opendir(pd);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char f[1000];
        snprintf(f, sizeof(f), "%s/%s", pd, e->d_name);
        if (e->d_name[0] != '.') {
            unlink(f);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(pd);
    rmdir(folder);
}

static int activate_locked(const releases_t *s, const char *staging, const char *ver, const char *name,
                           int make_current, char *why, size_t cap);

void releases_set_delta_from(releases_t *rs, unsigned n)
{
    rs->delta_from = n;
}

/* One patch: base (a previous release's image) to target (the new release's image for the other
 * bank), into folder/<signed hash of base>.patch when it is worth it. 1 written, 0 not, -1 error. */
static int make_patch(const char *base_path, const char *target_path, const char *folder)
{
    uint8_t *base = NULL, *target = NULL, *patch = NULL;
    size_t bl = 0, tl = 0, pl = 0;
    int r = -1;
    img_header_t bh, th;
    uint8_t id[CRYPTO_SHA256_SIZE];
    char err[160], hex[65], path[800];
    if (fota_read_file(base_path, LAYOUT_BANK_SIZE, &base, &bl) != 0 ||
        fota_read_file(target_path, LAYOUT_BANK_SIZE, &target, &tl) != 0 || img_header_decode(base, &bh) != IMG_OK ||
        img_header_decode(target, &th) != IMG_OK || fota_image_signed_hash(base, bl, id) != 0) {
        goto out;
    }
    if (bh.bank == th.bank || ((bh.flags | th.flags) & IMG_FLAG_ENCRYPTED) != 0) {
        /* An image is never patched into the bank it runs from. Nor from or to an encrypted
         * image: the server holds its ciphertext, a patch must be made from the plaintexts
         * (docs/encryption.md). */
        r = 0;
        goto out;
    }
    if (delta_encode(base, (uint32_t)bl, layout_bank_base((layout_bank_t)bh.bank), id, target, (uint32_t)tl,
                     layout_bank_base((layout_bank_t)th.bank), &patch, &pl, NULL, err, sizeof(err)) != 0) {
        srvlog(SRVLOG_WARN, "fota-server: no patch from %s: %s", base_path, err);
        goto out;
    }
    r = 0;
    if (pl * 2 > tl) {
        goto out; /* more than half the image: the image itself is the better download */
    }
    fota_hex(id, sizeof(id), hex);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s.patch", folder, hex) >= sizeof(path)) {
        r = -1;
        goto out;
    }
    r = fota_write_file(path, patch, pl, 0644) == 0 ? 1 : -1;
    srvlog(SRVLOG_INFO, "fota-server: patch %s.patch: %zu bytes for a %zu-byte image (from %s)", hex, pl, tl, base_path);
out:
    free(base);
    free(target);
    free(patch);
    return r;
}

typedef struct {
    img_version_t v;
    char name[256];
} prev_t;

static int prev_newer_first(const void *a, const void *b)
{
    return -img_version_cmp(&((const prev_t *)a)->v, &((const prev_t *)b)->v);
}

/* Patches into staging/patches from the newest delta_from releases older than ver: a device that
 * runs one of their images gets the new image for its other bank as a patch. Best effort: a
 * release without patches is served whole. */
static void make_patches(const releases_t *s, const char *staging, const img_version_t *ver)
{
    if (s->delta_from == 0) {
        return;
    }
    char dir[700], folder[800];
    snprintf(dir, sizeof(dir), "%s/releases", s->root);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    prev_t prev[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < sizeof(prev) / sizeof(prev[0])) {
        char vpath[1000], line[40] = "";
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(prev[0].name)) {
            continue;
        }
        snprintf(vpath, sizeof(vpath), "%s/%s/version.txt", dir, e->d_name);
        FILE *f = fopen(vpath, "r");
        if (f == NULL) {
            continue;
        }
        if (fgets(line, sizeof(line), f) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (img_version_parse(line, &prev[n].v) == 0 && img_version_cmp(&prev[n].v, ver) < 0) {
                snprintf(prev[n].name, sizeof(prev[n].name), "%s", e->d_name);
                n++;
            }
        }
        fclose(f);
    }
    closedir(d);
    qsort(prev, n, sizeof(prev[0]), prev_newer_first);
    snprintf(folder, sizeof(folder), "%s/patches", staging);
    if (mkdir(folder, 0755) != 0 && errno != EEXIST) {
        return;
    }
    unsigned made = 0;
    for (size_t i = 0; i < n && i < s->delta_from; i++) {
        for (int b = 0; b < 2; b++) {
            char base[1000], target[1000];
            snprintf(base, sizeof(base), "%s/%s/%s", dir, prev[i].name, release_files[b]);
            snprintf(target, sizeof(target), "%s/%s", staging, release_files[1 - b]);
            made += make_patch(base, target, folder) == 1;
        }
    }
    srvlog(SRVLOG_INFO, "fota-server: %u patches from %zu earlier releases", made, n < s->delta_from ? n : (size_t)s->delta_from);
}

int releases_activate(releases_t *s, const char *staging, const char *ver, const char *name, char *why, size_t cap)
{
    pthread_mutex_lock(&s->publish_lock);
    int r = activate_locked(s, staging, ver, name, 1, why, cap);
    pthread_mutex_unlock(&s->publish_lock);
    return r;
}

int releases_publish(releases_t *s, const char *staging, const char *ver, char *why, size_t cap)
{
    pthread_mutex_lock(&s->publish_lock);
    int r = activate_locked(s, staging, ver, ver, 0, why, cap);
    pthread_mutex_unlock(&s->publish_lock);
    return r;
}

void releases_version_path(const releases_t *s, const char *ver, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/releases/%s/%s", s->root, ver, name);
}

/* One patch the publisher uploaded (patches/<base's signed SHA-256>.patch): the server cannot make
 * patches of an encrypted release, its publisher can (docs/encryption.md). It must be a whole patch
 * from the base its name gives, making exactly this release's image for the other bank (size and
 * header); a patch of an encrypted release must itself be encrypted (else it would publish the
 * plaintext). 0, or -1 with the reason in why. */
static int check_uploaded_patch(const char *staging, const char *fname, char *why, size_t cap)
{
    char path[1000], hex[65];
    uint8_t *patch = NULL;
    size_t pl = 0;
    delta_info_t in;
    img_header_t h;
    int r = -1;
    snprintf(path, sizeof(path), "%s/patches/%s", staging, fname);
    if (fota_read_file(path, 4u << 20, &patch, &pl) != 0 || delta_parse_patch(patch, pl, &in) != DELTA_OK ||
        img_header_decode(in.target_header, &h) != IMG_OK) {
        snprintf(why, cap, "patches/%.80s is not a whole patch", fname);
        goto out;
    }
    fota_hex(in.base_sha256, sizeof(in.base_sha256), hex);
    if (strlen(fname) != 70 || strncmp(fname, hex, 64) != 0) {
        snprintf(why, cap, "patches/%.80s is named for another base than the one it patches", fname);
        goto out;
    }
    /* The image's size and header fields: the rest is the patch's own target hash, checked where
     * it is applied. (Both images were verified whole before the patches are checked.) */
    snprintf(path, sizeof(path), "%s/%s", staging, release_files[h.bank == LAYOUT_BANK_A ? 0 : 1]);
    uint8_t ih[IMG_HEADER_FIELDS_SIZE];
    struct stat st;
    FILE *f = h.bank <= LAYOUT_BANK_B ? fopen(path, "rb") : NULL;
    int same = f != NULL && fstat(fileno(f), &st) == 0 && (uint64_t)st.st_size == in.target_size &&
               fread(ih, 1, sizeof(ih), f) == sizeof(ih) && memcmp(ih, in.target_header, sizeof(ih)) == 0;
    if (f != NULL) {
        fclose(f);
    }
    if (!same) {
        snprintf(why, cap, "patches/%.80s does not make this release's image for its bank", fname);
        goto out;
    }
    if ((h.flags & IMG_FLAG_ENCRYPTED) != 0 && (in.flags & DELTA_FLAG_ENCRYPTED) == 0) {
        snprintf(why, cap, "patches/%.80s is a plain patch of an encrypted release (it would publish its plaintext)",
                 fname);
        goto out;
    }
    r = 0;
out:
    free(patch);
    return r;
}

static int check_uploaded_patches(const char *staging, char *why, size_t cap)
{
    char dir[700];
    snprintf(dir, sizeof(dir), "%s/patches", staging);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0;
    }
    struct dirent *e;
    int r = 0;
    while (r == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            r = check_uploaded_patch(staging, e->d_name, why, cap);
        }
    }
    closedir(d);
    return r;
}

static int activate_locked(const releases_t *s, const char *staging, const char *ver, const char *name,
                           int make_current, char *why, size_t cap)
{
    img_version_t want;
    if (img_version_parse(ver, &want) != 0) {
        snprintf(why, cap, "version '%.32s' is not X.Y.Z", ver);
        return -1;
    }
    for (int b = 0; b < 2; b++) {
        char path[700];
        img_header_t h;
        snprintf(path, sizeof(path), "%s/%s", staging, release_files[b]);
        img_err_t e = check_image(s, path, &h);
        if (e == IMG_ERR_READ) {
            snprintf(why, cap, "release %s has no %s", ver, release_files[b]);
            return -1;
        }
        if (e != IMG_OK) {
            snprintf(why, cap, "%s refused: %s", release_files[b], img_strerror(e));
            return -1;
        }
        if (h.bank != (b == 0 ? LAYOUT_BANK_A : LAYOUT_BANK_B)) {
            snprintf(why, cap, "%s is an image for bank %c", release_files[b], layout_bank_letter(h.bank));
            return -1;
        }
        if (img_version_cmp(&h.version, &want) != 0) {
            snprintf(why, cap, "%s is version %u.%u.%u, not %s", release_files[b], h.version.major, h.version.minor,
                     h.version.patch, ver);
            return -1;
        }
    }
    char vpath[700], final[600], cur[600], tmp[600];
    snprintf(vpath, sizeof(vpath), "%s/version.txt", staging);
    snprintf(final, sizeof(final), "%s/releases/%s", s->root, name);
    snprintf(cur, sizeof(cur), "%s/current", s->root);
    snprintf(tmp, sizeof(tmp), "%s/current.new", s->root);
    char vline[40];
    int n = snprintf(vline, sizeof(vline), "%s\n", ver);
    unlink(tmp);
    char target[600];
    ssize_t tl = readlink(cur, target, sizeof(target) - 1);
    target[tl > 0 ? tl : 0] = '\0';
    int is_current = tl > 0 && strcmp(target, final) == 0;
    if (strcmp(staging, final) != 0) {
        if (is_current) {
            snprintf(why, cap, "release %s is the current one: publish a new version", ver);
            errno = EEXIST;
            return -1;
        }
        releases_remove_folder(final); /* left by an attempt that failed before its switch */
    }
    /* Patches from the releases before it, in the folder before it is switched in: a device that
     * asks at once finds them. The publisher's own come first (checked), the server's after. */
    if (check_uploaded_patches(staging, why, cap) != 0) {
        return -1;
    }
    make_patches(s, staging, &want);
    /* The complete release folder first, then one rename makes it current. */
    if (fota_write_file(vpath, (const uint8_t *)vline, (size_t)n, 0644) != 0 ||
        (strcmp(staging, final) != 0 && rename(staging, final) != 0)) {
        snprintf(why, cap, "cannot store the release: %s", strerror(errno));
        return -1;
    }
    if (!make_current) {
        srvlog(SRVLOG_INFO, "fota-server: release %s is published (not current: for rollouts)", ver);
        return 0;
    }
    if (symlink(final, tmp) != 0 || rename(tmp, cur) != 0) {
        snprintf(why, cap, "cannot switch the release: %s", strerror(errno));
        unlink(tmp);
        return -1;
    }
    srvlog(SRVLOG_INFO, "fota-server: release %s is now current", ver);
    return 0;
}

int releases_rename_in(releases_t *rs, const char *from, const char *to)
{
    pthread_mutex_lock(&rs->publish_lock);
    int r = rename(from, to) == 0 ? 0 : errno;
    pthread_mutex_unlock(&rs->publish_lock);
    return r;
}
