/* mbedTLS 2.28 configuration for the device: SHA-256 and ECDSA-P256 verification, nothing else.
 * Selected with -DMBEDTLS_CONFIG_FILE by the firmware build; the host uses Debian's own build. */
#ifndef FOTA_MBEDTLS_CONFIG_DEVICE_H
#define FOTA_MBEDTLS_CONFIG_DEVICE_H

/* System: bare metal, allocation only from the static pool in crypto/port_pool.c. */
#define MBEDTLS_HAVE_ASM /* Thumb-2 multiply-accumulate for bignum */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
/* mbedTLS calls exit() only when it finds its pool corrupted: a bug, routed to the port. */
#define MBEDTLS_PLATFORM_EXIT_MACRO crypto_port_panic
void crypto_port_panic(int code);
#define MBEDTLS_NO_PLATFORM_ENTROPY
/* No C library allocator: until the pool is handed over, allocation fails (never sbrk). */
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS

/* Hashing. */
#define MBEDTLS_SHA256_C
/* MBEDTLS_SHA256_SMALLER off: the unrolled rounds hash faster (boot time, issue 9) */

/* Verification of ECDSA over P-256. */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ASN1_PARSE_C /* required by ECDSA_C; unused code is dropped by --gc-sections */
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM /* fast reduction modulo the P-256 prime */
/* Verification handles only public values, so no blinding RNG is needed. */
#define MBEDTLS_ECP_NO_INTERNAL_RNG

/* Memory: sized for one 256-bit curve; smaller windows trade speed for RAM. */
#define MBEDTLS_MPI_WINDOW_SIZE 2
#define MBEDTLS_MPI_MAX_SIZE 32
#define MBEDTLS_ECP_MAX_BITS 256
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0

#include "mbedtls/check_config.h"

#endif
