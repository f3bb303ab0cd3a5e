/* The crypto port's hashing over mbedTLS 3.6, built from Debian's source package for the host and
 * the device alike (the _ret names below serve an older mbedTLS, as ESP-IDF v4.4 ships).
 * Signatures: crypto_p256m.c. */
#include "fota/crypto.h"

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

/* mbedTLS 3 dropped the _ret suffix (the functions return the error either way). */
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#define mbedtls_sha256_starts mbedtls_sha256_starts_ret
#define mbedtls_sha256_update mbedtls_sha256_update_ret
#define mbedtls_sha256_finish mbedtls_sha256_finish_ret
#endif

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(crypto_sha256_ctx),
               "crypto_sha256_ctx too small for mbedtls_sha256_context");

static mbedtls_sha256_context *sha_ctx(crypto_sha256_ctx *ctx)
{
    return (mbedtls_sha256_context *)(void *)ctx->opaque;
}

void crypto_sha256_start(crypto_sha256_ctx *ctx)
{
    mbedtls_sha256_init(sha_ctx(ctx));
    /* Cannot fail with the software implementation. */
    (void)mbedtls_sha256_starts(sha_ctx(ctx), 0);
}

void crypto_sha256_clone(crypto_sha256_ctx *dst, const crypto_sha256_ctx *src)
{
    mbedtls_sha256_clone(sha_ctx(dst), (const mbedtls_sha256_context *)(const void *)src->opaque);
}

void crypto_sha256_update(crypto_sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    (void)mbedtls_sha256_update(sha_ctx(ctx), data, len);
}

void crypto_sha256_finish(crypto_sha256_ctx *ctx, uint8_t hash[CRYPTO_SHA256_SIZE])
{
    (void)mbedtls_sha256_finish(sha_ctx(ctx), hash);
    mbedtls_sha256_free(sha_ctx(ctx));
}

void crypto_sha256(const uint8_t *data, size_t len, uint8_t hash[CRYPTO_SHA256_SIZE])
{
    crypto_sha256_ctx ctx;
    crypto_sha256_start(&ctx);
    crypto_sha256_update(&ctx, data, len);
    crypto_sha256_finish(&ctx, hash);
}

int crypto_memcmp_ct(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++) {
        diff |= (uint8_t)(a[i] ^ b[i]);
    }
    return diff != 0;
}

const char *crypto_strerror(crypto_err_t err)
{
    switch (err) {
    case CRYPTO_OK:
        return "ok";
    case CRYPTO_ERR_BAD_KEY:
        return "public key is not a valid P-256 point";
    case CRYPTO_ERR_BAD_SIGNATURE:
        return "signature does not verify";
    case CRYPTO_ERR_INTERNAL:
        return "crypto library failure";
    }
    return "unknown crypto error";
}
