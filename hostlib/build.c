/* Builds signed images: the one place that writes the format img_verify reads. */
#include <stdlib.h>
#include <string.h>

#include "fota/hostlib.h"
#include "fota/le.h"

static uint8_t *put_tlv(uint8_t *p, uint16_t type, const uint8_t *val, uint16_t len)
{
    le_put16(p, type);
    le_put16(p + 2, len);
    memcpy(p + IMG_TLV_HDR_SIZE, val, len);
    return p + IMG_TLV_HDR_SIZE + len;
}

int fota_image_build(fota_signer *s, const uint8_t *payload, size_t payload_len, layout_bank_t bank,
                     const img_version_t *version, uint32_t security_counter, const uint8_t *extra_tlv,
                     size_t extra_len, uint8_t **image, size_t *image_len)
{
    return fota_image_build_flags(s, payload, payload_len, bank, version, security_counter, 0, extra_tlv, extra_len,
                                  image, image_len);
}

int fota_image_build_flags(fota_signer *s, const uint8_t *payload, size_t payload_len, layout_bank_t bank,
                           const img_version_t *version, uint32_t security_counter, uint32_t flags,
                           const uint8_t *extra_tlv, size_t extra_len, uint8_t **image, size_t *image_len)
{
    const size_t std_trailer = IMG_TLV_INFO_SIZE + 3 * IMG_TLV_HDR_SIZE + 2 * CRYPTO_SHA256_SIZE + CRYPTO_P256_SIG_SIZE;
    size_t trailer_len = std_trailer + extra_len;
    if (bank != LAYOUT_BANK_A && bank != LAYOUT_BANK_B) {
        fota_err("no target bank");
        return -1;
    }
    if (trailer_len > FOTA_IMG_TRAILER_MAX) {
        fota_err("trailer of %zu bytes exceeds the %d-byte limit", trailer_len, FOTA_IMG_TRAILER_MAX);
        return -1;
    }
    if (payload_len < IMG_MIN_PAYLOAD || IMG_HEADER_SIZE + payload_len + trailer_len > LAYOUT_BANK_SIZE) {
        fota_err("payload of %zu bytes does not fit a %u-byte bank with its header and trailer", payload_len,
                 (unsigned)LAYOUT_BANK_SIZE);
        return -1;
    }
    size_t total = IMG_HEADER_SIZE + payload_len + trailer_len;
    uint8_t *img = malloc(total);
    if (img == NULL) {
        fota_err("out of memory");
        return -1;
    }
    img_header_t h = {
        .magic = IMG_MAGIC,
        .format = IMG_FORMAT_VERSION,
        .hdr_size = IMG_HEADER_SIZE,
        .payload_size = (uint32_t)payload_len,
        .trailer_size = (uint32_t)trailer_len,
        .version = *version,
        .security_counter = security_counter,
        .bank = (uint8_t)bank,
        .load_addr = layout_bank_base(bank) + IMG_HEADER_SIZE,
        .flags = flags,
    };
    img_header_encode(&h, img);
    memcpy(img + IMG_HEADER_SIZE, payload, payload_len);

    uint8_t digest[CRYPTO_SHA256_SIZE], sig[CRYPTO_P256_SIG_SIZE], pub[CRYPTO_P256_PUBKEY_SIZE],
        key_id[CRYPTO_SHA256_SIZE];
    if (crypto_sha256(img, IMG_HEADER_SIZE + payload_len, digest) != CRYPTO_OK ||
        fota_signer_sign(s, digest, sig) != 0) {
        free(img);
        return -1;
    }
    fota_signer_pubkey(s, pub);
    if (crypto_sha256(pub, sizeof(pub), key_id) != CRYPTO_OK) {
        free(img);
        return -1;
    }

    uint8_t *t = img + IMG_HEADER_SIZE + payload_len;
    le_put16(t, IMG_TLV_INFO_MAGIC);
    le_put16(t + 2, (uint16_t)trailer_len);
    uint8_t *p = t + IMG_TLV_INFO_SIZE;
    p = put_tlv(p, IMG_TLV_KEY_ID, key_id, sizeof(key_id));
    p = put_tlv(p, IMG_TLV_SHA256, digest, sizeof(digest));
    p = put_tlv(p, IMG_TLV_ECDSA_P256, sig, sizeof(sig));
    if (extra_len > 0) {
        memcpy(p, extra_tlv, extra_len);
    }
    *image = img;
    *image_len = total;
    return 0;
}

int fota_image_signed_hash(const uint8_t *img, size_t len, uint8_t out[CRYPTO_SHA256_SIZE])
{
    img_header_t h;
    img_trailer_t t;
    if (len < IMG_HEADER_SIZE || img_header_decode(img, &h) != IMG_OK || img_total_size(&h) != len ||
        img_trailer_parse(img + h.hdr_size + h.payload_size, h.trailer_size, &t) != IMG_OK) {
        return -1;
    }
    memcpy(out, t.sha256, CRYPTO_SHA256_SIZE);
    return 0;
}
