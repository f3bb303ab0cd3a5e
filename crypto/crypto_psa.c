/* The crypto port over the PSA Crypto API: SHA-256 with psa_hash_*, ECDSA-P256 with
 * psa_import_key + psa_verify_hash. One source for every build: the firmware and the host compile
 * it against mbedTLS 3.6 LTS (Debian's source package), the ESP32 bridge against the mbedTLS of
 * ESP-IDF v5.5 (3.6) or the TF-PSA-Crypto of ESP-IDF v6 (mbedTLS 4), which keep this API.
 *
 * On the device and the host, P-256 is p256-m (mbedTLS's 3rdparty/p256-m, its PSA driver): fixed
 * 32-bit limbs on the stack, no heap, and the same code checks a signature in `fota verify` and in
 * the bootloader. PSA is initialised on first use; psa_crypto_init is cheap once it has succeeded. */
#include "fota/crypto.h"

#include <string.h>

#include <psa/crypto.h>

#if defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C)
/* Only two device builds allocate, from this pool, set up before PSA starts: the measurement build
 * with mbedTLS's own P-256 (mbedtls_config_device.h), and the decrypting build
 * (mbedtls_config_device_enc.h: PSA's built-in AES-CTR and HKDF allocate their contexts). */
#include <mbedtls/memory_buffer_alloc.h>
#ifndef FOTA_CRYPTO_POOL_SIZE
#define FOTA_CRYPTO_POOL_SIZE 16384
#endif
static unsigned char crypto_pool[FOTA_CRYPTO_POOL_SIZE];

static psa_status_t crypto_start(void)
{
    static int pool_ready;
    if (!pool_ready) {
        mbedtls_memory_buffer_alloc_init(crypto_pool, sizeof(crypto_pool));
        pool_ready = 1;
    }
    return psa_crypto_init();
}

/* The pool's high-water mark: mbedtls_memory_buffer_alloc_init zeroes the pool, and every block
 * the allocator ever handed out leaves a non-zero header after it, so the last non-zero byte is
 * the deepest the allocations reached. For sig-probe's report; declared there. */
size_t crypto_pool_high_water(void);
size_t crypto_pool_high_water(void)
{
    size_t n = sizeof(crypto_pool);
    while (n > 0 && crypto_pool[n - 1] == 0) {
        n--;
    }
    return n;
}
#else
static psa_status_t crypto_start(void)
{
    return psa_crypto_init();
}
#endif

crypto_err_t crypto_init(void)
{
    return crypto_start() == PSA_SUCCESS ? CRYPTO_OK : CRYPTO_ERR_INTERNAL;
}

/* The hash state lives in the caller's crypto_sha256_ctx (no allocation): it must be large enough
 * for this build's psa_hash_operation_t, whose size depends on the hashes the library is built
 * with (about 112 B on the device, 232 B on the host with every hash, 201-224 B in TF-PSA-Crypto's
 * default configuration). */
typedef struct {
    psa_hash_operation_t op;
    psa_status_t status; /* first failure since start; PSA_SUCCESS otherwise */
} sha_state_t;

_Static_assert(sizeof(sha_state_t) <= sizeof(crypto_sha256_ctx),
               "crypto_sha256_ctx too small for this library's psa_hash_operation_t");
_Static_assert(_Alignof(sha_state_t) <= _Alignof(crypto_sha256_ctx),
               "crypto_sha256_ctx under-aligned for psa_hash_operation_t");

static sha_state_t *sha_state(crypto_sha256_ctx *ctx)
{
    return (sha_state_t *)(void *)ctx->opaque;
}

static crypto_err_t from_status(psa_status_t s)
{
    return s == PSA_SUCCESS ? CRYPTO_OK : CRYPTO_ERR_INTERNAL;
}

void crypto_sha256_start(crypto_sha256_ctx *ctx)
{
    sha_state_t *st = sha_state(ctx);
    st->op = psa_hash_operation_init();
    st->status = crypto_start();
    if (st->status == PSA_SUCCESS) {
        st->status = psa_hash_setup(&st->op, PSA_ALG_SHA_256);
    }
}

void crypto_sha256_update(crypto_sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    sha_state_t *st = sha_state(ctx);
    if (st->status == PSA_SUCCESS && len > 0) {
        st->status = psa_hash_update(&st->op, data, len);
    }
}

void crypto_sha256_clone(crypto_sha256_ctx *dst, const crypto_sha256_ctx *src)
{
    const sha_state_t *s = (const sha_state_t *)(const void *)src->opaque;
    sha_state_t *d = sha_state(dst);
    d->op = psa_hash_operation_init();
    d->status = s->status;
    if (d->status == PSA_SUCCESS) {
        d->status = psa_hash_clone(&s->op, &d->op);
    }
}

crypto_err_t crypto_sha256_finish(crypto_sha256_ctx *ctx, uint8_t hash[CRYPTO_SHA256_SIZE])
{
    sha_state_t *st = sha_state(ctx);
    if (st->status == PSA_SUCCESS) {
        size_t n = 0;
        st->status = psa_hash_finish(&st->op, hash, CRYPTO_SHA256_SIZE, &n);
        if (st->status == PSA_SUCCESS && n != CRYPTO_SHA256_SIZE) {
            st->status = PSA_ERROR_CORRUPTION_DETECTED;
        }
    }
    psa_status_t s = st->status;
    (void)psa_hash_abort(&st->op); /* frees whatever a failure left; a no-op after finish */
    if (s != PSA_SUCCESS) {
        memset(hash, 0, CRYPTO_SHA256_SIZE); /* never a digest that could be mistaken for one */
    }
    return from_status(s);
}

crypto_err_t crypto_sha256(const uint8_t *data, size_t len, uint8_t hash[CRYPTO_SHA256_SIZE])
{
    crypto_sha256_ctx ctx;
    crypto_sha256_start(&ctx);
    crypto_sha256_update(&ctx, data, len);
    return crypto_sha256_finish(&ctx, hash);
}

crypto_err_t crypto_p256_verify(const uint8_t pubkey[CRYPTO_P256_PUBKEY_SIZE], const uint8_t hash[CRYPTO_SHA256_SIZE],
                                const uint8_t sig[CRYPTO_P256_SIG_SIZE])
{
    if (crypto_start() != PSA_SUCCESS) {
        return CRYPTO_ERR_INTERNAL;
    }
    const psa_algorithm_t alg = PSA_ALG_ECDSA(PSA_ALG_SHA_256);
    psa_key_attributes_t attr = psa_key_attributes_init();
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&attr, 256);
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&attr, alg);
    /* The key first, so a bad key is reported as such whatever the signature: import takes only
     * the uncompressed form (0x04 || X || Y), on the curve, with coordinates below p. */
    psa_key_id_t key = PSA_KEY_ID_NULL;
    psa_status_t s = psa_import_key(&attr, pubkey, CRYPTO_P256_PUBKEY_SIZE, &key);
    psa_reset_key_attributes(&attr);
    if (s == PSA_ERROR_INVALID_ARGUMENT || s == PSA_ERROR_NOT_SUPPORTED) {
        return CRYPTO_ERR_BAD_KEY;
    }
    if (s != PSA_SUCCESS) {
        return CRYPTO_ERR_INTERNAL; /* e.g. no free key slot */
    }
    /* Refuses r or s outside [1, n-1]; accepts both s and n - s (docs/image-format.md). */
    s = psa_verify_hash(key, alg, hash, CRYPTO_SHA256_SIZE, sig, CRYPTO_P256_SIG_SIZE);
    psa_status_t d = psa_destroy_key(key);
    if (s == PSA_ERROR_INVALID_SIGNATURE) {
        return CRYPTO_ERR_BAD_SIGNATURE;
    }
    if (s != PSA_SUCCESS || d != PSA_SUCCESS) {
        return CRYPTO_ERR_INTERNAL;
    }
    return CRYPTO_OK;
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

#if defined(MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG)
/* The device's build has no random generator (mbedtls_config_device.h): it verifies, and nothing
 * in a verification asks for randomness. A request would mean a bug: refuse it. */
psa_status_t mbedtls_psa_external_get_random(mbedtls_psa_external_random_context_t *context, uint8_t *output,
                                             size_t output_size, size_t *output_length)
{
    (void)context;
    (void)output;
    (void)output_size;
    *output_length = 0;
    return PSA_ERROR_INSUFFICIENT_ENTROPY;
}
#endif
