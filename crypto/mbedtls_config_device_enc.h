/* mbedTLS configuration of the device build that decrypts images: mbedtls_config_device.h with the
 * PSA algorithms of psa_config_device_enc.h (the legacy modules their built-in drivers need, AES
 * and the cipher layer, follow from them). */
#ifndef FOTA_MBEDTLS_CONFIG_DEVICE_ENC_H
#define FOTA_MBEDTLS_CONFIG_DEVICE_ENC_H

#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_CRYPTO_CONFIG
#define MBEDTLS_PSA_CRYPTO_CONFIG_FILE "psa_config_device_enc.h"
#define MBEDTLS_PSA_P256M_DRIVER_ENABLED

#define MBEDTLS_SHA256_C

/* PSA's built-in AES-CTR (mbedtls_cipher_setup) and HKDF (the info it keeps) allocate their
 * contexts: from crypto_psa.c's bounded pool, the one allocation the device allows for crypto.
 * Without it they fail with PSA_ERROR_INSUFFICIENT_MEMORY (enc_probe showed it). Measured by
 * shrinking it under enc_probe: 256 bytes fail (AES-CTR), 384 pass; 1,024 leaves room. */
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#ifndef FOTA_CRYPTO_POOL_SIZE
#define FOTA_CRYPTO_POOL_SIZE 1024
#endif

#define MBEDTLS_PSA_STATIC_KEY_SLOTS
#define MBEDTLS_PSA_KEY_SLOT_COUNT 1 /* every crypto_enc.c call imports one key and destroys it */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
#define MBEDTLS_PSA_ASSUME_EXCLUSIVE_BUFFERS

#define MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG

#endif
