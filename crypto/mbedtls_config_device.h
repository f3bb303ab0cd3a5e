/* mbedTLS 3.6 configuration for the device (bootloader and application): the PSA Crypto API with
 * SHA-256 and ECDSA-P256 verification, nothing else. P-256 is the p256-m driver (fixed-size limbs
 * on the stack); mbedTLS's own ECP/bignum is not built. Selected with -DMBEDTLS_CONFIG_FILE by the
 * firmware build; the PSA_WANT_ list is psa_config_device.h. Figures: docs/PERFORMANCE.md. */
#ifndef FOTA_MBEDTLS_CONFIG_DEVICE_H
#define FOTA_MBEDTLS_CONFIG_DEVICE_H

#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_CRYPTO_CONFIG
#if !defined(FOTA_PSA_CONFIG_FILE)
#define FOTA_PSA_CONFIG_FILE "psa_config_device.h"
#endif
#define MBEDTLS_PSA_CRYPTO_CONFIG_FILE FOTA_PSA_CONFIG_FILE
#if !defined(FOTA_P256_MBEDTLS)
#define MBEDTLS_PSA_P256M_DRIVER_ENABLED
#else
/* Measurement only (`make bench`, docs/PERFORMANCE.md): mbedTLS's own ECP, bignum and ECDSA in
 * place of p256-m, for the comparison issue 11 asked for. They allocate: a static pool, sized by
 * FOTA_CRYPTO_POOL_SIZE in crypto_psa.c, whose high-water mark sig-probe reports. */
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#endif
#if defined(FOTA_DEVICE_CRYPTO_POOL) && !defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C)
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C /* the decrypting build's pool (mbedtls_config_device_enc.h) */
#endif

/* Hashing. MBEDTLS_SHA256_SMALLER off: the unrolled rounds hash faster (boot time, issue 9). */
#define MBEDTLS_SHA256_C

/* No heap on the device. Key slots are static (one: a verify imports one public key, uses it and
 * destroys it), and mbedtls_calloc is a pointer whose default, with no standard functions, returns
 * NULL: anything that would allocate fails instead of reaching a malloc that does not exist. */
#define MBEDTLS_PSA_STATIC_KEY_SLOTS
#define MBEDTLS_PSA_KEY_SLOT_COUNT 1
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
/* PSA copies every input and output buffer (allocating) unless told that the caller's buffers
 * are its own: they are, the device has one address space and no untrusted caller. */
#define MBEDTLS_PSA_ASSUME_EXCLUSIVE_BUFFERS

/* Randomness is for keys and signing, which the device never does: no DRBG and no entropy
 * source are built. crypto_psa.c's mbedtls_psa_external_get_random refuses (a request would be
 * a bug, and refusing beats weak randomness). */
#define MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG

#endif
