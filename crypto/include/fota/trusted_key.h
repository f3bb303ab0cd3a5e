/* The public key the bootloader and the agent trust. The build generates its definition with
 * `fota pubkey --format c` from the signing key it was configured with. */
#ifndef FOTA_TRUSTED_KEY_H
#define FOTA_TRUSTED_KEY_H

#include <stdint.h>

#include "fota/crypto.h"

extern const uint8_t fota_trusted_pubkey[CRYPTO_P256_PUBKEY_SIZE];

#endif
