/* PSA_WANT_ list for the device (mbedtls_config_device.h): SHA-256 and verification of ECDSA-P256
 * signatures over it, with public keys only. */
#ifndef FOTA_PSA_CONFIG_DEVICE_H
#define FOTA_PSA_CONFIG_DEVICE_H

#define PSA_WANT_ALG_SHA_256 1
#define PSA_WANT_ALG_ECDSA 1
#define PSA_WANT_KEY_TYPE_ECC_PUBLIC_KEY 1
#define PSA_WANT_ECC_SECP_R1_256 1

#endif
