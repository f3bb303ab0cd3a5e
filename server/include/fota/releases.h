/* fota-server's release store: the release folder (`current` and `releases/`), the cache of each
 * release file's hash, verdict and bytes, and the switch to a new release. Shared by the serving
 * threads, the publish API and the S3 sync; thread-safe. */
#ifndef FOTA_RELEASES_H
#define FOTA_RELEASES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "fota/crypto.h"
#include "fota/image.h"

/* A release file's bytes, shared by the cache and the responses sending them (reference counted:
 * the last holder frees it). Responses from memory go out in large writes: measured faster than
 * sendfile here over HTTP (docs/PERFORMANCE.md), and 2-3x faster over TLS, where libmicrohttpd
 * reads and encrypts a file descriptor's bytes 4 KiB at a time. */
typedef struct {
    int refs;
    size_t size;
    uint8_t data[];
} release_blob_t;

release_blob_t *release_blob_ref(release_blob_t *b);
void release_blob_unref(void *b); /* NULL is fine; a libmicrohttpd free callback */

typedef struct {
    char path[512];
    release_blob_t *blob; /* the file's bytes (a reference the holder must drop) */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char sha_hex[65];
    img_header_t hdr;
    img_err_t verdict; /* IMG_OK, IMG_ERR_NO_KEY without a key, or why it is refused */
    int used;
} release_file_t;

/* The seed's files of a release, in this order: the bank A and bank B images, then version.txt. */
#define RELEASE_FILES 3
extern const char *const release_files[RELEASE_FILES];

typedef struct releases releases_t;

/* root: an absolute folder. pub: the key images must verify with, or NULL (then images are
 * served unchecked and nothing can be activated). NULL when out of memory. */
releases_t *releases_open(const char *root, const uint8_t pub[CRYPTO_P256_PUBKEY_SIZE]);
void releases_close(releases_t *rs);
const char *releases_root(const releases_t *rs);
int releases_have_key(const releases_t *rs);
/* The path of a file of the current release (root/current/NAME, or root/NAME without `current`;
 * a `current` that points nowhere still wins: it serves nothing rather than the root's files). */
void releases_path(const releases_t *rs, const char *name, char *out, size_t cap);
/* SHA-256, header, verdict and bytes of the file open as fd (st its fstat), computed once per
 * version of the file; *out holds a reference to the bytes. 0, or -1 when unreadable. */
int releases_file_info(releases_t *rs, const char *path, int fd, const struct stat *st, release_file_t *out);
/* Checks the release staged in folder staging (both images verify, are for their banks and carry
 * version ver), then makes it current as root/releases/NAME with one rename. Serialised with the
 * other switches and with releases_rename_in. -1 with why: "... has no ...", "... is the current
 * one ...", "cannot switch ..." or why an image is refused. */
int releases_activate(releases_t *rs, const char *staging, const char *ver, const char *name, char *why, size_t cap);
/* The same checks, then staging becomes root/releases/VER without switching `current`: a release
 * that rollouts can offer (fota/fleet.h). Also for a release already there. */
int releases_publish(releases_t *rs, const char *staging, const char *ver, char *why, size_t cap);
/* How many earlier releases a new one gets patches from, at activation or publication: each
 * image of each of them, to the new image for the other bank, into the release's patches/ folder,
 * named by the base's signed SHA-256 (docs/delta.md). 0: none. */
#define RELEASES_DELTA_FROM 3
void releases_set_delta_from(releases_t *rs, unsigned n);
/* root/releases/VER/NAME: a file of a published release, current or not. */
void releases_version_path(const releases_t *rs, const char *ver, const char *name, char *out, size_t cap);
/* Removes a release folder that is not current (a staging folder, or one left by a failed
 * attempt): its release files, its patches/ and then the folder. What else it holds stays. */
void releases_remove_folder(const char *folder);
/* rename(from, to) under the switch lock: an upload lands before an activation checks the folder,
 * or finds it gone. 0, or the errno. */
int releases_rename_in(releases_t *rs, const char *from, const char *to);

#endif
