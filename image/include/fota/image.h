/* The signed image format (docs/image-format.md) and its one strict parser and verifier, shared by
 * the bootloader, the agent, the tools and the server. No allocation; every length is bounded
 * before it is used. All on-flash fields are little endian.
 *
 *   bank base: header (IMG_HEADER_SIZE bytes: fields, then 0xFF padding)
 *              payload (the application, linked at bank base + IMG_HEADER_SIZE)
 *              trailer (TLV area: key id, SHA-256 of header and payload, ECDSA-P256 signature) */
#ifndef FOTA_IMAGE_H
#define FOTA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "fota/config.h"
#include "fota/crypto.h"
#include "fota/layout.h"

#define IMG_MAGIC 0x41544F46u       /* "FOTA" in the first four bytes: marks an image header */
#define IMG_FORMAT_VERSION 1        /* layout of the header fields below */
#define IMG_HEADER_SIZE LAYOUT_IMG_HDR_SIZE
#define IMG_HEADER_FIELDS_SIZE 64   /* encoded fields; the rest of the header is padding */
#define IMG_TLV_INFO_MAGIC 0xF07Au  /* starts the trailer: guards against a misplaced trailer */
#define IMG_TLV_INFO_SIZE 4         /* magic u16, total trailer length u16 */
#define IMG_TLV_HDR_SIZE 4          /* type u16, length u16 */
#define IMG_MIN_PAYLOAD 8           /* at least the initial stack pointer and the reset vector */

/* Trailer record types. A type with IMG_TLV_IGNORABLE set may be skipped by a verifier that does
 * not know it; any other unknown type is critical and makes the image invalid. */
#define IMG_TLV_KEY_ID 0x0001     /* SHA-256 of the signer's public key (65-byte point), 32 bytes */
#define IMG_TLV_SHA256 0x0010     /* SHA-256 of header and payload, 32 bytes */
#define IMG_TLV_ECDSA_P256 0x0020 /* ECDSA-P256 over that SHA-256: r || s big-endian, 64 bytes */
#define IMG_TLV_IGNORABLE 0x8000  /* flag bit: unknown records with it are skipped */
/* The key the payload was encrypted with for transport, wrapped for one device's P-256 key
 * (docs/encryption.md): ephemeral public key (65) || HMAC-SHA256 tag (32) || wrapped key (16).
 * Present exactly when the header has IMG_FLAG_ENCRYPTED. */
#define IMG_TLV_ENC_EC256 0x0030
#define IMG_ENC_EC256_SIZE 113

/* Header flags: none defined yet, so any set bit is rejected (a newer signer's feature that this
 * verifier cannot honour must not be silently ignored). */
#define IMG_FLAG_ENCRYPTED 0x00000001u /* the payload travels encrypted (docs/encryption.md); hash and
                                         * signature cover the plaintext, which is what flash holds */
#define IMG_FLAGS_KNOWN IMG_FLAG_ENCRYPTED

typedef enum {
    IMG_OK = 0,
    IMG_ERR_MAGIC,       /* not an image */
    IMG_ERR_FORMAT,      /* format version this code does not know */
    IMG_ERR_HEADER,      /* header size, reserved fields, padding (not all 0xFF) or flags wrong */
    IMG_ERR_BANK,        /* bank field or load address invalid or inconsistent */
    IMG_ERR_SIZE,        /* payload/trailer sizes out of bounds or image larger than a bank */
    IMG_ERR_TRUNCATED,   /* fewer bytes than the header announces */
    IMG_ERR_TRAILING,    /* bytes after the end the header announces */
    IMG_ERR_TLV,         /* trailer malformed: magic, lengths, duplicates */
    IMG_ERR_TLV_UNKNOWN, /* unknown critical trailer record */
    IMG_ERR_TLV_MISSING, /* key id, hash or signature record missing */
    IMG_ERR_HASH,        /* SHA-256 does not match: corrupted */
    IMG_ERR_KEY_ID,      /* signed with another key */
    IMG_ERR_SIGNATURE,   /* signature does not verify */
    IMG_ERR_NO_KEY,      /* everything else is fine but no key was given to check the signature */
    IMG_ERR_WRONG_BANK,  /* a valid image for the other bank */
    IMG_ERR_ROLLBACK,    /* security counter below the device's */
    IMG_ERR_VECTORS,     /* initial stack pointer or reset vector not usable */
    IMG_ERR_READ,        /* the read callback failed */
    IMG_ERR_CRYPTO,      /* the crypto port failed (bad built-in key, library failure) */
    IMG_ERR_ENCRYPTED,   /* encrypted for transport, and this caller does not decrypt (policy) */
} img_err_t;

typedef struct {
    uint8_t major;
    uint8_t minor;
    uint16_t patch;
    uint32_t build; /* build number, informational: not part of version ordering */
} img_version_t;

/* Decoded header fields; layout of the encoding in docs/image-format.md. */
typedef struct {
    uint32_t magic;            /* IMG_MAGIC */
    uint16_t format;           /* IMG_FORMAT_VERSION */
    uint16_t hdr_size;         /* bytes from bank base to payload: IMG_HEADER_SIZE */
    uint32_t payload_size;     /* bytes */
    uint32_t trailer_size;     /* bytes of TLV area, including its 4-byte info header */
    img_version_t version;
    uint32_t security_counter; /* anti-rollback: must not be below the device's */
    uint8_t bank;              /* layout_bank_t the payload is linked for */
    uint32_t load_addr;        /* absolute address of the payload: bank base + hdr_size */
    uint32_t flags;            /* IMG_FLAGS_KNOWN bits only */
} img_header_t;

/* Where the trailer records are, after img_trailer_parse; pointers into the caller's buffer. */
typedef struct {
    const uint8_t *key_id;    /* CRYPTO_SHA256_SIZE bytes */
    const uint8_t *sha256;    /* CRYPTO_SHA256_SIZE bytes */
    const uint8_t *signature; /* CRYPTO_P256_SIG_SIZE bytes */
    const uint8_t *enc;       /* IMG_ENC_EC256_SIZE bytes, or NULL: an image not encrypted */
} img_trailer_t;

/* What the verifier demands beyond a well-formed image. */
typedef struct {
    const uint8_t *pubkey;         /* CRYPTO_P256_PUBKEY_SIZE bytes; NULL: never IMG_OK (IMG_ERR_NO_KEY) */
    uint32_t min_security_counter; /* the device's counter */
    layout_bank_t bank;            /* bank it must be linked for, or LAYOUT_BANK_NONE for either */
    uint8_t decrypts;              /* the caller decrypts the payload (a host tool after decrypting;
                                    * the agent once it decrypts): IMG_FLAG_ENCRYPTED is acceptable.
                                    * 0: such an image is IMG_ERR_ENCRYPTED, before any payload */
} img_policy_t;

/* Header codec. decode checks the structure (magic, format, sizes, bank, reserved fields);
 * encode writes IMG_HEADER_SIZE bytes (fields, then 0xFF padding). */
img_err_t img_header_decode(const uint8_t buf[IMG_HEADER_FIELDS_SIZE], img_header_t *hdr);
void img_header_encode(const img_header_t *hdr, uint8_t buf[IMG_HEADER_SIZE]);
/* Bank, security counter and encryption against a policy. */
img_err_t img_header_check(const img_header_t *hdr, const img_policy_t *policy);
/* Header + payload + trailer, in bytes. */
uint32_t img_total_size(const img_header_t *hdr);

/* Parses a trailer of exactly len bytes. */
img_err_t img_trailer_parse(const uint8_t *buf, size_t len, img_trailer_t *out);

/* The signer's checks on a parsed trailer: pubkey's SHA-256 is its key id, and its signature
 * over sha256 verifies with pubkey. IMG_OK, IMG_ERR_NO_KEY (pubkey NULL), IMG_ERR_KEY_ID,
 * IMG_ERR_SIGNATURE or IMG_ERR_CRYPTO. The verifier's last step; also what can be checked of an
 * image encrypted for a device without its key (over the hash its trailer states). */
img_err_t img_check_signer(const uint8_t *pubkey, const img_trailer_t *t, const uint8_t sha256[CRYPTO_SHA256_SIZE]);
/* Initial stack pointer inside SRAM and reset vector (Thumb) inside the payload. */
img_err_t img_check_vectors(const img_header_t *hdr, const uint8_t first8[8]);

/* Incremental verifier: feed the image bytes in order, from its first byte to its last.
 * The first error is sticky. Size: about 0.5 KiB, no allocation. */
typedef struct {
    img_policy_t policy;
    img_header_t hdr;
    crypto_sha256_ctx sha;
    uint8_t head[IMG_HEADER_FIELDS_SIZE];
    uint8_t vectors[8];
    uint8_t trailer[FOTA_IMG_TRAILER_MAX];
    uint32_t pos; /* bytes consumed */
    img_err_t err;
    uint8_t have_header;
} img_verify_ctx_t;

void img_verify_init(img_verify_ctx_t *ctx, const img_policy_t *policy);
img_err_t img_verify_update(img_verify_ctx_t *ctx, const uint8_t *data, size_t len);
/* IMG_OK only when the image is complete, well formed, its hash matches, it is signed by the
 * policy's key, and the policy's bank and security counter hold. hdr may be NULL. */
img_err_t img_verify_final(img_verify_ctx_t *ctx, img_header_t *hdr);
/* Once the header is in: where the signed hash ends (header and payload; the trailer follows).
 * 0 before. While ctx->pos is there, ctx->sha holds the hash of every byte so far. */
uint32_t img_verify_hashed_end(const img_verify_ctx_t *ctx);

/* One call over an image held in memory: exactly len bytes, from its first byte to its last
 * (extra bytes are IMG_ERR_TRAILING). hdr may be NULL. */
img_err_t img_verify_buffer(const uint8_t *data, size_t len, const img_policy_t *policy, img_header_t *hdr);

/* Reads len bytes at offset from the start of a region; returns 0 on success. */
typedef int (*img_read_fn)(void *rctx, uint32_t offset, uint8_t *buf, uint32_t len);

/* One call: verifies the image at the start of a region of region_size bytes (a bank in flash,
 * a file in memory), reading FOTA_IMG_READ_CHUNK bytes at a time. hdr may be NULL. */
img_err_t img_verify_read(img_read_fn read, void *rctx, uint32_t region_size,
                          const img_policy_t *policy, img_header_t *hdr);

/* Versions: ordering by major, minor, patch (build ignored); returns <0, 0, >0. */
int img_version_cmp(const img_version_t *a, const img_version_t *b);
/* Parses "1.2.3" or "1.2.3+45"; returns 0 on success, -1 for anything else. */
int img_version_parse(const char *s, img_version_t *v);
/* Writes "1.2.3+45" (or "1.2.3" when build is 0); returns snprintf's count. */
int img_version_format(const img_version_t *v, char *buf, size_t size);

const char *img_strerror(img_err_t err);

#endif
