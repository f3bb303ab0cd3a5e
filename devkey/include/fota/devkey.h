/* The device's own key for encrypted images (docs/encryption.md): a P-256 private scalar kept in a
 * record in the last 64 bytes of the bootloader's sectors (LAYOUT_DEVKEY_BASE, 0x08007FC0), so
 * write-protected with the bootloader, written when the device is provisioned (`fota compose
 * --device-key`). The record:
 *
 *   magic u32 "FDEK" | format u16 (1) | key length u16 (32) | private scalar[32] | CRC-32 u32
 *
 * (little endian; the CRC over the 40 bytes before it). The agent reads it at the BEGIN of an
 * encrypted image, copies the scalar for the unwrap and wipes the copy; nothing else reads it. */
#ifndef FOTA_DEVKEY_H
#define FOTA_DEVKEY_H

#include <stdint.h>

#include "fota/layout.h"

#define DEVKEY_ADDR LAYOUT_DEVKEY_BASE
#define DEVKEY_MAGIC 0x4B454446u /* "FDEK" */
#define DEVKEY_FORMAT 1
#define DEVKEY_KEY_SIZE 32
#define DEVKEY_RECORD_SIZE (4 + 2 + 2 + DEVKEY_KEY_SIZE + 4)
_Static_assert(DEVKEY_RECORD_SIZE <= LAYOUT_DEVKEY_SIZE, "the key record fits its place");

typedef enum {
    DEVKEY_OK = 0,
    DEVKEY_ERR_NONE,    /* no record (erased, or not a key record): the device has no key */
    DEVKEY_ERR_CORRUPT, /* a record whose CRC, format or length is wrong */
} devkey_err_t;

void devkey_encode(const uint8_t key[DEVKEY_KEY_SIZE], uint8_t rec[DEVKEY_RECORD_SIZE]);
/* The scalar from a record; key untouched unless DEVKEY_OK. */
devkey_err_t devkey_decode(const uint8_t rec[DEVKEY_RECORD_SIZE], uint8_t key[DEVKEY_KEY_SIZE]);
const char *devkey_strerror(devkey_err_t e);

#endif
