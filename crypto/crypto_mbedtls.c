/* The crypto port over mbedTLS 2.28: SHA-256 and ECDSA-P256 verification.
 * Same source on host and device; only the mbedTLS configuration differs. */
#include "fota/crypto.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>

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
    (void)mbedtls_sha256_starts_ret(sha_ctx(ctx), 0);
}

void crypto_sha256_clone(crypto_sha256_ctx *dst, const crypto_sha256_ctx *src)
{
    mbedtls_sha256_clone(sha_ctx(dst), (const mbedtls_sha256_context *)(const void *)src->opaque);
}

void crypto_sha256_update(crypto_sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    (void)mbedtls_sha256_update_ret(sha_ctx(ctx), data, len);
}

void crypto_sha256_finish(crypto_sha256_ctx *ctx, uint8_t hash[CRYPTO_SHA256_SIZE])
{
    (void)mbedtls_sha256_finish_ret(sha_ctx(ctx), hash);
    mbedtls_sha256_free(sha_ctx(ctx));
}

void crypto_sha256(const uint8_t *data, size_t len, uint8_t hash[CRYPTO_SHA256_SIZE])
{
    crypto_sha256_ctx ctx;
    crypto_sha256_start(&ctx);
    crypto_sha256_update(&ctx, data, len);
    crypto_sha256_finish(&ctx, hash);
}

static crypto_err_t map_err(int ret, crypto_err_t otherwise)
{
    if (ret == MBEDTLS_ERR_MPI_ALLOC_FAILED || ret == MBEDTLS_ERR_ECP_ALLOC_FAILED) {
        return CRYPTO_ERR_NO_MEMORY;
    }
    return otherwise;
}

crypto_err_t crypto_p256_verify(const uint8_t pubkey[CRYPTO_P256_PUBKEY_SIZE],
                                const uint8_t hash[CRYPTO_SHA256_SIZE],
                                const uint8_t sig[CRYPTO_P256_SIG_SIZE])
{
    static int port_ready;
    if (!port_ready) {
        crypto_port_init();
        port_ready = 1;
    }

    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);

    crypto_err_t err = CRYPTO_OK;
    int ret = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    if (ret != 0) {
        err = map_err(ret, CRYPTO_ERR_INTERNAL);
        goto out;
    }
    ret = mbedtls_ecp_point_read_binary(&grp, &q, pubkey, CRYPTO_P256_PUBKEY_SIZE);
    if (ret == 0) {
        ret = mbedtls_ecp_check_pubkey(&grp, &q);
    }
    if (ret != 0) {
        err = map_err(ret, CRYPTO_ERR_BAD_KEY);
        goto out;
    }
    ret = mbedtls_mpi_read_binary(&r, sig, 32);
    if (ret == 0) {
        ret = mbedtls_mpi_read_binary(&s, sig + 32, 32);
    }
    if (ret != 0) {
        err = map_err(ret, CRYPTO_ERR_INTERNAL);
        goto out;
    }
    /* Rejects r or s outside [1, n-1] itself. */
    ret = mbedtls_ecdsa_verify(&grp, hash, CRYPTO_SHA256_SIZE, &q, &r, &s);
    if (ret != 0) {
        err = map_err(ret, CRYPTO_ERR_BAD_SIGNATURE);
    }
out:
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return err;
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
    case CRYPTO_ERR_NO_MEMORY:
        return "crypto memory pool exhausted";
    case CRYPTO_ERR_INTERNAL:
        return "crypto library failure";
    }
    return "unknown crypto error";
}
