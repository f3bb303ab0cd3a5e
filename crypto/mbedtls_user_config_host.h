/* Added to mbedTLS 3.6's default configuration for the host build (MBEDTLS_USER_CONFIG_FILE):
 * P-256 signatures through PSA go to the p256-m driver, the code the device runs, so `fota sign`'s
 * self-check, `fota verify`, `compose --pubkey` and fota-server accept exactly what the bootloader
 * accepts. Everything else (signing, key files, the other hashes) is mbedTLS's own. */
#ifndef FOTA_MBEDTLS_USER_CONFIG_HOST_H
#define FOTA_MBEDTLS_USER_CONFIG_HOST_H

#define MBEDTLS_PSA_P256M_DRIVER_ENABLED

#endif
