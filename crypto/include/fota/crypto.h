/* The crypto port: the only way bootloader, agent, bridge and tools reach hashing and signature
 * checks. One implementation, crypto_psa.c, over the PSA Crypto API: mbedTLS 3.6 LTS from Debian's
 * source package on the device and the host (P-256 by its p256-m driver: no heap), and the
 * mbedTLS / TF-PSA-Crypto of ESP-IDF v5.5 and v6 on the ESP32. */
#ifndef FOTA_CRYPTO_H
#define FOTA_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_SIZE 32
#define CRYPTO_P256_PUBKEY_SIZE 65 /* uncompressed point: 0x04 || X || Y */
#define CRYPTO_P256_SIG_SIZE 64    /* r || s, each 32 bytes big-endian */

typedef enum {
    CRYPTO_OK = 0,
    CRYPTO_ERR_BAD_KEY,       /* the public key is not a point on P-256 */
    CRYPTO_ERR_BAD_SIGNATURE, /* the signature does not verify */
    CRYPTO_ERR_INTERNAL,      /* any other library failure */
} crypto_err_t;

/* Streaming SHA-256. The layout is private: do not rely on its size or contents. It holds a PSA
 * hash operation (up to 232 B with every hash mbedTLS 3.6 has, 201-224 B in TF-PSA-Crypto's
 * default configuration) and a status; crypto_psa.c checks at compile time that it fits. */
typedef struct {
    uint64_t opaque[34];
} crypto_sha256_ctx;

void crypto_sha256_start(crypto_sha256_ctx *ctx);
void crypto_sha256_update(crypto_sha256_ctx *ctx, const uint8_t *data, size_t len);
/* dst continues from where src stands (two messages with a common prefix hash it once). */
void crypto_sha256_clone(crypto_sha256_ctx *dst, const crypto_sha256_ctx *src);
/* start, update and clone cannot report a failure of the library: finish reports the first one
 * (CRYPTO_ERR_INTERNAL, with hash zeroed). With a software SHA-256 none is expected. */
__attribute__((warn_unused_result)) crypto_err_t crypto_sha256_finish(crypto_sha256_ctx *ctx,
                                                                      uint8_t hash[CRYPTO_SHA256_SIZE]);
__attribute__((warn_unused_result)) crypto_err_t crypto_sha256(const uint8_t *data, size_t len,
                                                               uint8_t hash[CRYPTO_SHA256_SIZE]);

/* Checks an ECDSA-P256 signature over a SHA-256 digest. Returns CRYPTO_OK only when it verifies. */
crypto_err_t crypto_p256_verify(const uint8_t pubkey[CRYPTO_P256_PUBKEY_SIZE],
                                const uint8_t hash[CRYPTO_SHA256_SIZE],
                                const uint8_t sig[CRYPTO_P256_SIG_SIZE]);

/* Constant-time comparison: 0 when equal. */
int crypto_memcmp_ct(const uint8_t *a, const uint8_t *b, size_t len);

const char *crypto_strerror(crypto_err_t err);

/* Starts the library (and, in a build with a crypto pool, the pool first): what every function of
 * the port does before its first use. For crypto_enc.c. CRYPTO_OK or CRYPTO_ERR_INTERNAL. */
crypto_err_t crypto_init(void);

#endif
