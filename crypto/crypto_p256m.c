/* The crypto port's signature check over p256-m (Mbed TLS's 3rdparty/p256-m): ECDSA-P256
 * verification with fixed-size 32-bit limbs on the stack and no heap. The same source runs on the
 * device and in the host tools, so `fota sign`, `fota verify` and `compose --pubkey` accept an
 * image exactly when the bootloader does (issue 10: the heap-based verifier refused valid
 * signatures when its static pool ran short). */
#include "fota/crypto.h"

#include "p256-m.h"

crypto_err_t crypto_p256_verify(const uint8_t pubkey[CRYPTO_P256_PUBKEY_SIZE],
                                const uint8_t hash[CRYPTO_SHA256_SIZE],
                                const uint8_t sig[CRYPTO_P256_SIG_SIZE])
{
    /* The key first, so a bad key is reported as such whatever the signature: only the
     * uncompressed form, on the curve, with coordinates below p. */
    if (pubkey[0] != 0x04 || p256_validate_pubkey(pubkey + 1) != P256_SUCCESS) {
        return CRYPTO_ERR_BAD_KEY;
    }
    /* Refuses r or s outside [1, n-1] itself; accepts both s and n - s (docs/image-format.md). */
    switch (p256_ecdsa_verify(sig, pubkey + 1, hash, CRYPTO_SHA256_SIZE)) {
    case P256_SUCCESS:
        return CRYPTO_OK;
    case P256_INVALID_PUBKEY:
        return CRYPTO_ERR_BAD_KEY;
    case P256_INVALID_SIGNATURE:
        return CRYPTO_ERR_BAD_SIGNATURE;
    default:
        return CRYPTO_ERR_INTERNAL;
    }
}
