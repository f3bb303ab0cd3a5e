/* The device-key record: see fota/devkey.h. */
#include "fota/devkey.h"

#include <string.h>

#include "fota/crc32.h"
#include "fota/le.h"

#define DEVKEY_BODY (DEVKEY_RECORD_SIZE - 4)

void devkey_encode(const uint8_t key[DEVKEY_KEY_SIZE], uint8_t rec[DEVKEY_RECORD_SIZE])
{
    le_put32(rec, DEVKEY_MAGIC);
    le_put16(rec + 4, DEVKEY_FORMAT);
    le_put16(rec + 6, DEVKEY_KEY_SIZE);
    memcpy(rec + 8, key, DEVKEY_KEY_SIZE);
    le_put32(rec + DEVKEY_BODY, crc32(rec, DEVKEY_BODY));
}

devkey_err_t devkey_decode(const uint8_t rec[DEVKEY_RECORD_SIZE], uint8_t key[DEVKEY_KEY_SIZE])
{
    if (le_get32(rec) != DEVKEY_MAGIC) {
        return DEVKEY_ERR_NONE;
    }
    if (le_get16(rec + 4) != DEVKEY_FORMAT || le_get16(rec + 6) != DEVKEY_KEY_SIZE ||
        le_get32(rec + DEVKEY_BODY) != crc32(rec, DEVKEY_BODY)) {
        return DEVKEY_ERR_CORRUPT;
    }
    memcpy(key, rec + 8, DEVKEY_KEY_SIZE);
    return DEVKEY_OK;
}

const char *devkey_strerror(devkey_err_t e)
{
    switch (e) {
    case DEVKEY_OK:
        return "ok";
    case DEVKEY_ERR_NONE:
        return "no device key record";
    case DEVKEY_ERR_CORRUPT:
        return "the device key record is corrupt";
    }
    return "unknown device key error";
}
