/* The crypto port's image-encryption primitives (fota/crypto_enc.h) over the PSA Crypto API:
 * ECDH on P-256 (the p256-m driver, as signatures), HKDF-SHA256 and HMAC-SHA256 (PSA's key
 * derivation and MAC), AES-128-CTR (PSA's cipher). Each call imports its key into a volatile slot
 * and destroys it before returning, so no key outlives the call in the library. */
#include "fota/crypto_enc.h"

#include <string.h>

#include <mbedtls/platform_util.h>
#include <psa/crypto.h>

static crypto_err_t status_err(psa_status_t s)
{
    return s == PSA_SUCCESS ? CRYPTO_OK : s == PSA_ERROR_INVALID_ARGUMENT ? CRYPTO_ERR_BAD_KEY : CRYPTO_ERR_INTERNAL;
}

crypto_err_t crypto_ecdh_p256(const uint8_t priv[CRYPTO_P256_PRIV_SIZE], const uint8_t peer[CRYPTO_P256_PUBKEY_SIZE],
                              uint8_t secret[CRYPTO_P256_PRIV_SIZE])
{
    if (crypto_init() != CRYPTO_OK) {
        return CRYPTO_ERR_INTERNAL;
    }
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&a, 256);
    psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
    psa_set_key_algorithm(&a, PSA_ALG_ECDH);
    psa_key_id_t k = 0;
    psa_status_t s = psa_import_key(&a, priv, CRYPTO_P256_PRIV_SIZE, &k);
    if (s != PSA_SUCCESS) {
        return CRYPTO_ERR_BAD_KEY;
    }
    size_t n = 0;
    s = psa_raw_key_agreement(PSA_ALG_ECDH, k, peer, CRYPTO_P256_PUBKEY_SIZE, secret, CRYPTO_P256_PRIV_SIZE, &n);
    psa_destroy_key(k);
    if (s == PSA_SUCCESS && n != CRYPTO_P256_PRIV_SIZE) {
        s = PSA_ERROR_GENERIC_ERROR;
    }
    if (s != PSA_SUCCESS) {
        memset(secret, 0, CRYPTO_P256_PRIV_SIZE);
    }
    return status_err(s);
}

crypto_err_t crypto_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                                const uint8_t *info, size_t info_len, uint8_t *okm, size_t okm_len)
{
    if (crypto_init() != CRYPTO_OK) {
        return CRYPTO_ERR_INTERNAL;
    }
    psa_key_derivation_operation_t op = PSA_KEY_DERIVATION_OPERATION_INIT;
    psa_status_t s = psa_key_derivation_setup(&op, PSA_ALG_HKDF(PSA_ALG_SHA_256));
    if (s == PSA_SUCCESS && salt_len > 0) {
        s = psa_key_derivation_input_bytes(&op, PSA_KEY_DERIVATION_INPUT_SALT, salt, salt_len);
    }
    if (s == PSA_SUCCESS) {
        s = psa_key_derivation_input_bytes(&op, PSA_KEY_DERIVATION_INPUT_SECRET, ikm, ikm_len);
    }
    if (s == PSA_SUCCESS) {
        s = psa_key_derivation_input_bytes(&op, PSA_KEY_DERIVATION_INPUT_INFO, info, info_len);
    }
    if (s == PSA_SUCCESS) {
        s = psa_key_derivation_output_bytes(&op, okm, okm_len);
    }
    psa_key_derivation_abort(&op);
    if (s != PSA_SUCCESS) {
        memset(okm, 0, okm_len);
    }
    return status_err(s);
}

static psa_status_t import_hmac(const uint8_t *key, size_t key_len, psa_key_usage_t usage, psa_key_id_t *k)
{
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_set_key_type(&a, PSA_KEY_TYPE_HMAC);
    psa_set_key_usage_flags(&a, usage);
    psa_set_key_algorithm(&a, PSA_ALG_HMAC(PSA_ALG_SHA_256));
    return psa_import_key(&a, key, key_len, k);
}

crypto_err_t crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                                uint8_t mac[CRYPTO_SHA256_SIZE])
{
    if (crypto_init() != CRYPTO_OK) {
        return CRYPTO_ERR_INTERNAL;
    }
    psa_key_id_t k = 0;
    psa_status_t s = import_hmac(key, key_len, PSA_KEY_USAGE_SIGN_MESSAGE, &k);
    if (s != PSA_SUCCESS) {
        return CRYPTO_ERR_INTERNAL;
    }
    size_t n = 0;
    s = psa_mac_compute(k, PSA_ALG_HMAC(PSA_ALG_SHA_256), data, len, mac, CRYPTO_SHA256_SIZE, &n);
    psa_destroy_key(k);
    return status_err(s == PSA_SUCCESS && n != CRYPTO_SHA256_SIZE ? PSA_ERROR_GENERIC_ERROR : s);
}

crypto_err_t crypto_hmac_sha256_verify(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                                       const uint8_t mac[CRYPTO_SHA256_SIZE])
{
    if (crypto_init() != CRYPTO_OK) {
        return CRYPTO_ERR_INTERNAL;
    }
    psa_key_id_t k = 0;
    psa_status_t s = import_hmac(key, key_len, PSA_KEY_USAGE_VERIFY_MESSAGE, &k);
    if (s != PSA_SUCCESS) {
        return CRYPTO_ERR_INTERNAL;
    }
    s = psa_mac_verify(k, PSA_ALG_HMAC(PSA_ALG_SHA_256), data, len, mac, CRYPTO_SHA256_SIZE);
    psa_destroy_key(k);
    return s == PSA_SUCCESS                   ? CRYPTO_OK
           : s == PSA_ERROR_INVALID_SIGNATURE ? CRYPTO_ERR_BAD_SIGNATURE
                                              : CRYPTO_ERR_INTERNAL;
}

crypto_err_t crypto_aes128_ctr(const uint8_t key[CRYPTO_AES128_KEY_SIZE], const uint8_t iv[16], uint64_t offset,
                               const uint8_t *in, uint8_t *out, size_t len)
{
    if (crypto_init() != CRYPTO_OK) {
        return CRYPTO_ERR_INTERNAL;
    }
    /* The counter block for offset: iv + offset / 16, as a 128-bit big-endian number. */
    uint8_t ctr[16];
    memcpy(ctr, iv, sizeof(ctr));
    uint64_t add = offset / 16u;
    for (int i = 15; i >= 0 && add != 0; i--) {
        uint64_t v = (uint64_t)ctr[i] + (add & 0xFFu);
        ctr[i] = (uint8_t)v;
        add = (add >> 8) + (v >> 8);
    }
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_set_key_type(&a, PSA_KEY_TYPE_AES);
    psa_set_key_bits(&a, 128);
    psa_set_key_usage_flags(&a, PSA_KEY_USAGE_ENCRYPT);
    psa_set_key_algorithm(&a, PSA_ALG_CTR);
    psa_key_id_t k = 0;
    psa_status_t s = psa_import_key(&a, key, CRYPTO_AES128_KEY_SIZE, &k);
    if (s != PSA_SUCCESS) {
        return CRYPTO_ERR_INTERNAL;
    }
    psa_cipher_operation_t op = PSA_CIPHER_OPERATION_INIT;
    s = psa_cipher_encrypt_setup(&op, k, PSA_ALG_CTR);
    if (s == PSA_SUCCESS) {
        s = psa_cipher_set_iv(&op, ctr, sizeof(ctr));
    }
    size_t n = 0;
    unsigned skip = (unsigned)(offset % 16u);
    if (s == PSA_SUCCESS && skip > 0) { /* the keystream of this block before offset */
        uint8_t z[16] = {0}, junk[16];
        s = psa_cipher_update(&op, z, skip, junk, sizeof(junk), &n);
    }
    /* In pieces: PSA wants an output at least as large as its input, never overlapping unless
     * equal, and the pieces keep the stack small. */
    for (size_t done = 0; s == PSA_SUCCESS && done < len;) {
        size_t piece = len - done < 256u ? len - done : 256u;
        uint8_t buf[256];
        s = psa_cipher_update(&op, in + done, piece, buf, sizeof(buf), &n);
        if (s == PSA_SUCCESS && n != piece) {
            s = PSA_ERROR_GENERIC_ERROR;
        }
        if (s == PSA_SUCCESS) {
            memcpy(out + done, buf, piece);
            done += piece;
        }
    }
    psa_cipher_abort(&op);
    psa_destroy_key(k);
    return status_err(s);
}

static const char enc_kdf_info[] = "fota-enc-ec256-v1";
static const uint8_t zero_iv[16];

/* k_wrap || k_mac from the shared secret Z: the one KDF the wrapper and the unwrapper share. */
static crypto_err_t ec256_keys(const uint8_t z[CRYPTO_P256_PRIV_SIZE], uint8_t keys[CRYPTO_ENC_KEYS_SIZE])
{
    return crypto_hkdf_sha256(NULL, 0, z, CRYPTO_P256_PRIV_SIZE, (const uint8_t *)enc_kdf_info,
                              sizeof(enc_kdf_info) - 1, keys, CRYPTO_ENC_KEYS_SIZE);
}

crypto_err_t crypto_enc_ec256_unwrap(const uint8_t priv[CRYPTO_P256_PRIV_SIZE],
                                     const uint8_t record[CRYPTO_ENC_EC256_SIZE],
                                     uint8_t image_key[CRYPTO_AES128_KEY_SIZE])
{
    const uint8_t *tag = record + CRYPTO_P256_PUBKEY_SIZE, *wrapped = tag + CRYPTO_SHA256_SIZE;
    uint8_t z[CRYPTO_P256_PRIV_SIZE], keys[CRYPTO_ENC_KEYS_SIZE];
    crypto_err_t e = crypto_ecdh_p256(priv, record, z);
    if (e == CRYPTO_OK) {
        e = ec256_keys(z, keys);
    }
    if (e == CRYPTO_OK) {
        e = crypto_hmac_sha256_verify(keys + CRYPTO_AES128_KEY_SIZE, CRYPTO_SHA256_SIZE, wrapped,
                                      CRYPTO_AES128_KEY_SIZE, tag);
    }
    if (e == CRYPTO_OK) {
        e = crypto_aes128_ctr(keys, zero_iv, 0, wrapped, image_key, CRYPTO_AES128_KEY_SIZE);
    }
    mbedtls_platform_zeroize(z, sizeof(z));
    mbedtls_platform_zeroize(keys, sizeof(keys));
    if (e != CRYPTO_OK) {
        mbedtls_platform_zeroize(image_key, CRYPTO_AES128_KEY_SIZE);
    }
    return e;
}

crypto_err_t crypto_enc_ec256_wrap(const uint8_t eph_priv[CRYPTO_P256_PRIV_SIZE],
                                   const uint8_t eph_pub[CRYPTO_P256_PUBKEY_SIZE],
                                   const uint8_t device_pub[CRYPTO_P256_PUBKEY_SIZE],
                                   const uint8_t image_key[CRYPTO_AES128_KEY_SIZE],
                                   uint8_t record[CRYPTO_ENC_EC256_SIZE])
{
    uint8_t *tag = record + CRYPTO_P256_PUBKEY_SIZE, *wrapped = tag + CRYPTO_SHA256_SIZE;
    uint8_t z[CRYPTO_P256_PRIV_SIZE], keys[CRYPTO_ENC_KEYS_SIZE];
    memcpy(record, eph_pub, CRYPTO_P256_PUBKEY_SIZE);
    crypto_err_t e = crypto_ecdh_p256(eph_priv, device_pub, z);
    if (e == CRYPTO_OK) {
        e = ec256_keys(z, keys);
    }
    if (e == CRYPTO_OK) {
        e = crypto_aes128_ctr(keys, zero_iv, 0, image_key, wrapped, CRYPTO_AES128_KEY_SIZE);
    }
    if (e == CRYPTO_OK) {
        e = crypto_hmac_sha256(keys + CRYPTO_AES128_KEY_SIZE, CRYPTO_SHA256_SIZE, wrapped, CRYPTO_AES128_KEY_SIZE, tag);
    }
    mbedtls_platform_zeroize(z, sizeof(z));
    mbedtls_platform_zeroize(keys, sizeof(keys));
    return e;
}

crypto_err_t crypto_enc_payload(const uint8_t key[CRYPTO_AES128_KEY_SIZE], uint64_t offset, const uint8_t *in,
                                uint8_t *out, size_t len)
{
    return crypto_aes128_ctr(key, zero_iv, offset, in, out, len);
}
