/* Host helpers shared by the `fota` tool, fota-sim, fota-emu, fota-link, fota-server, the Linux
 * bridge and the tests: files, numbers, keys and signing, ELF, image building. Messages go to
 * standard error prefixed with the program's name (fota_set_program). */
#ifndef FOTA_HOSTLIB_H
#define FOTA_HOSTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "fota/crypto.h"
#include "fota/image.h"
#include "fota/layout.h"

/* Exit codes, documented in `fota --help` and docs/tools.md. */
enum {
    EXIT_OK = 0,
    EXIT_REJECTED = 1, /* verify/inspect: the image is invalid or untrusted */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_INPUT = 3,    /* an input file is missing, unreadable or not acceptable */
    EXIT_OUTPUT = 4,   /* an output cannot be written, or an internal failure */
};

/* The name messages start with ("fota" unless set). */
void fota_set_program(const char *name);

/* Prints "<program>: <formatted message>" on stderr. */
void fota_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a whole file of at most max bytes into a malloc'd buffer; prints the error itself. */
int fota_read_file(const char *path, size_t max, uint8_t **data, size_t *len);
/* Writes a file atomically (temporary file, fsync, rename); prints the error itself. */
int fota_write_file(const char *path, const uint8_t *data, size_t len, int mode);

/* Prints the message for a getopt failure ('?' or ':') and returns EXIT_USAGE. */
int fota_bad_option(const char *cmd, int c, int optopt_val, char **argv, int optind_val);

/* Parses "a"/"A"/"b"/"B"; returns LAYOUT_BANK_NONE otherwise. */
layout_bank_t fota_parse_bank(const char *s);
/* Parses a decimal u32; returns 0 on success. */
int fota_parse_u32(const char *s, uint32_t *out);
void fota_hex(const uint8_t *data, size_t len, char *out);

/* The signature of a link to fota-server's web view valid until exp (Unix time): hex
 * HMAC-SHA256(key, "fota-ui " exp), key being the operator token. 0, or -1 for an empty key. */
int fota_ui_sign(const char *key, long long exp, char sig[65]);

/* Loads a P-256 key from a PEM file (private or public) and gives its public point.
 * Prints the error itself; returns 0 on success. */
int fota_load_pubkey(const char *path, uint8_t pub[CRYPTO_P256_PUBKEY_SIZE]);
/* The public key of a key file as PEM text; prints the error itself. */
int fota_pubkey_pem(const char *path, char *out, size_t size);

/* Signing key, opaque. */
typedef struct fota_signer fota_signer;
fota_signer *fota_signer_load(const char *path);
int fota_signer_sign(fota_signer *s, const uint8_t hash[CRYPTO_SHA256_SIZE], uint8_t sig[CRYPTO_P256_SIG_SIZE]);
void fota_signer_pubkey(const fota_signer *s, uint8_t pub[CRYPTO_P256_PUBKEY_SIZE]);
void fota_signer_free(fota_signer *s);
/* A new random key in memory (fota keygen, the signature sweep); prints the error itself. */
fota_signer *fota_signer_generate(void);
/* The key with private scalar d (big-endian, 1 <= d < n): edge-case keys for tests. */
fota_signer *fota_signer_from_scalar(const uint8_t d[32]);
/* Writes a new key pair; returns an exit code. */
int fota_keygen_files(const char *priv_path, const char *pub_path);

/* Converts an ARM ELF executable to the flat binary of its loadable segments (by load address),
 * gaps filled with 0xFF. Returns 0, or -1 with a message in err. */
int fota_elf_to_bin(const uint8_t *elf, size_t len, uint8_t **bin, size_t *bin_len, uint32_t *base, char *err,
                    size_t errlen);
int fota_is_elf(const uint8_t *data, size_t len);

/* Builds a signed image for bank from a payload linked at that bank's application origin:
 * header, payload, trailer (key id, SHA-256, signature, then extra_tlv verbatim: tests use it to
 * add records). Returns 0 and a malloc'd image, or -1 after printing why. */
int fota_image_build(fota_signer *s, const uint8_t *payload, size_t payload_len, layout_bank_t bank,
                     const img_version_t *version, uint32_t security_counter, const uint8_t *extra_tlv,
                     size_t extra_len, uint8_t **image, size_t *image_len);

/* The same with header flags (IMG_FLAG_ENCRYPTED: fota_enc_wrap). */
int fota_image_build_flags(fota_signer *s, const uint8_t *payload, size_t payload_len, layout_bank_t bank,
                           const img_version_t *version, uint32_t security_counter, uint32_t flags,
                           const uint8_t *extra_tlv, size_t extra_len, uint8_t **image, size_t *image_len);

/* Encrypted images (docs/encryption.md). fota_enc_wrap makes a fresh AES-128 image key and its
 * IMG_TLV_ENC_EC256 record (type, length, value) for the device key device_pub: ECDH with a fresh
 * ephemeral key, HKDF-SHA256, HMAC-SHA256. Build the image with IMG_FLAG_ENCRYPTED and that record
 * (the signature covers the plaintext), then fota_image_encrypt_payload encrypts its payload in
 * place (AES-128-CTR). fota_image_decrypt undoes it with the device's private scalar: -1 (and a
 * message) when the image is not encrypted, malformed, or not for this key. */
int fota_enc_wrap(const uint8_t device_pub[CRYPTO_P256_PUBKEY_SIZE],
                  uint8_t record[IMG_TLV_HDR_SIZE + IMG_ENC_EC256_SIZE], uint8_t image_key[16]);
int fota_image_encrypt_payload(uint8_t *image, size_t len, const uint8_t image_key[16]);
int fota_image_decrypt(uint8_t *image, size_t len, const uint8_t device_priv[32]);
/* What can be checked of an image encrypted for a device without the device's key (fota-server,
 * a publisher's pipeline): its structure, the key record, the signer (key id, with pubkey) and the
 * signature over the hash its trailer states. Not that the payload has that hash: that needs the
 * plaintext, which only the device (or `fota verify --device-key`) has. IMG_OK; IMG_ERR_NO_KEY
 * when all but the signature holds and pubkey is NULL; otherwise why it is refused. hdr may be
 * NULL. */
img_err_t fota_image_check_sealed(const uint8_t *img, size_t len, const uint8_t *pubkey, img_header_t *hdr);
/* Patches of encrypted releases (docs/encryption.md): fota_patch_seal encrypts a plain patch for
 * the device key device_pub (a fresh AES-128 key wrapped as for an image: the record after the
 * header, DELTA_FLAG_ENCRYPTED, the body in counter mode); fota_patch_open undoes it with the
 * device's private scalar, giving the plain patch. 0 and *out (malloc'd), or -1 after a message. */
int fota_patch_seal(const uint8_t *patch, size_t len, const uint8_t device_pub[CRYPTO_P256_PUBKEY_SIZE],
                    uint8_t **out, size_t *out_len);
int fota_patch_open(const uint8_t *patch, size_t len, const uint8_t device_priv[32], uint8_t **out,
                    size_t *out_len);
/* A loaded key's private scalar (big-endian), for ECDH. 0, or -1 after printing why. */
int fota_signer_private(const fota_signer *s, uint8_t d[32]);
/* A device's key for encrypted images (fota keygen --device-enc) from its PEM file: the private
 * scalar, and the public point when pub is not NULL. 0, or -1 after printing why. */
int fota_load_device_key(const char *path, uint8_t priv[32], uint8_t *pub);

/* The SHA-256 a signed image is signed over (its IMG_TLV_SHA256 record): how a patch names its
 * base (docs/delta.md). Checks only the structure: run img_verify_buffer first to trust it. 0, or
 * -1 when the header or trailer cannot be parsed. */
int fota_image_signed_hash(const uint8_t *img, size_t len, uint8_t out[CRYPTO_SHA256_SIZE]);

#endif
