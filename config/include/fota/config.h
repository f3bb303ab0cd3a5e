/* Every tunable of the system in one place, each with its default and what bounds it.
 * Override any of them with -D at build time; the layout itself lives in fota/layout.h. */
#ifndef FOTA_CONFIG_H
#define FOTA_CONFIG_H

/* Largest trailer (TLV area) an image may carry, in bytes. Bounds the verifier's trailer buffer;
 * a signed trailer (key id, hash, signature) takes 4 + 3 * 4 + 32 + 32 + 64 = 144 bytes, one of an
 * image encrypted for transport 144 + 4 + 113 = 261 (docs/encryption.md). */
#ifndef FOTA_IMG_TRAILER_MAX
#define FOTA_IMG_TRAILER_MAX 384
#endif

/* Bytes read from flash per step when an image is verified in place (stack buffer). */
#ifndef FOTA_IMG_READ_CHUNK
#define FOTA_IMG_READ_CHUNK 256
#endif

/* Boots of a new image allowed before it must have confirmed itself; then the bootloader reverts. */
#ifndef FOTA_TRIAL_ATTEMPTS
#define FOTA_TRIAL_ATTEMPTS 3
#endif

#endif
