/* mbedTLS configuration of the device build that decrypts images: mbedtls_config_device.h with the
 * PSA algorithms of psa_config_device_enc.h (the legacy modules their built-in drivers need, AES
 * and the cipher layer, follow from them) and a crypto pool.
 *
 * PSA's built-in AES-CTR (mbedtls_cipher_setup) and HKDF (the info it keeps) allocate their
 * contexts: from crypto_psa.c's bounded pool, the one allocation the device allows for crypto.
 * Without it they fail with PSA_ERROR_INSUFFICIENT_MEMORY (enc_probe showed it). Measured by
 * shrinking it under enc_probe: 256 bytes fail (AES-CTR), 384 pass; 1,024 leaves room. */
#ifndef FOTA_MBEDTLS_CONFIG_DEVICE_ENC_H
#define FOTA_MBEDTLS_CONFIG_DEVICE_ENC_H

#define FOTA_PSA_CONFIG_FILE "psa_config_device_enc.h"
#define FOTA_DEVICE_CRYPTO_POOL
#ifndef FOTA_CRYPTO_POOL_SIZE
#define FOTA_CRYPTO_POOL_SIZE 1024
#endif
#include "mbedtls_config_device.h"

/* Counter mode only ever runs the block cipher forwards: no AES decryption code, and no 4 KiB of
 * inverse tables in RAM (the forward ones, 4 KiB, are built in RAM at first use). */
#define MBEDTLS_BLOCK_CIPHER_NO_DECRYPT

#endif
