/* PSA algorithms of the device build that decrypts images (issue 14; docs/encryption.md): the
 * verifier's (psa_config_device.h) plus ECDH on P-256 (the p256-m driver), HMAC-SHA256, HKDF and
 * AES-128-CTR. For the application only: the bootloader keeps psa_config_device.h. Today only the
 * encryption probe (firmware/probes/enc_probe.c) is built with it. */
#ifndef FOTA_PSA_CONFIG_DEVICE_ENC_H
#define FOTA_PSA_CONFIG_DEVICE_ENC_H

#include "psa_config_device.h"

#define PSA_WANT_ALG_ECDH 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_BASIC 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_IMPORT 1
#define PSA_WANT_ALG_HMAC 1
#define PSA_WANT_KEY_TYPE_HMAC 1
#define PSA_WANT_ALG_HKDF 1
#define PSA_WANT_KEY_TYPE_DERIVE 1
#define PSA_WANT_KEY_TYPE_AES 1
#define PSA_WANT_ALG_CTR 1

#endif
