/* CRC-32 as in IEEE 802.3 (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF):
 * crc32("123456789") == 0xCBF43926. Guards link frames and metadata records against
 * corruption, never against an attacker (that is the signature's job). */
#ifndef FOTA_CRC32_H
#define FOTA_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* One call over a whole buffer. */
uint32_t crc32(const uint8_t *data, size_t len);

/* Incremental: crc = crc32_update(CRC32_INIT, a, n); crc = crc32_update(crc, b, m);
 * result = crc32_final(crc). */
#define CRC32_INIT 0xFFFFFFFFu
uint32_t crc32_update(uint32_t crc, const uint8_t *data, size_t len);
static inline uint32_t crc32_final(uint32_t crc)
{
    return crc ^ 0xFFFFFFFFu;
}

#endif
