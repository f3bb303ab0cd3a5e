/* mbedTLS 3.6 configuration for the device: SHA-256, nothing else. Signatures are checked by
 * p256-m (crypto/crypto_p256m.c), which needs no heap: the device has no allocator at all.
 * Selected with -DMBEDTLS_CONFIG_FILE by the firmware build; the host uses Debian's own build. */
#ifndef FOTA_MBEDTLS_CONFIG_DEVICE_H
#define FOTA_MBEDTLS_CONFIG_DEVICE_H

/* Hashing. MBEDTLS_SHA256_SMALLER off: the unrolled rounds hash faster (boot time, issue 9). */
#define MBEDTLS_SHA256_C

/* p256-m (3rdparty/p256-m in the same source tree) is compiled in: the switch that enables its
 * source file. Nothing else of PSA is built; its only use of PSA, the random generator for
 * keys and signing, is never linked (the device only verifies). */
#define MBEDTLS_PSA_P256M_DRIVER_ENABLED

#endif
