/* libFuzzer harness: the image verifier (streaming, piecewise) and the header and trailer parsers
 * on arbitrary bytes. The first input byte picks how the rest is split into update() calls. */
#include <stddef.h>
#include <stdint.h>

#include "fota/image.h"

/* Any valid P-256 point will do: the fuzzer cannot forge a signature, it explores the parser. */
static const uint8_t key[CRYPTO_P256_PUBKEY_SIZE] = {
    0x04, 0x1c, 0xcb, 0xe9, 0x1c, 0x07, 0x5f, 0xc7, 0xf4, 0xf0, 0x33, 0xbf, 0xa2, 0x48, 0xdb, 0x8f, 0xcc,
    0xd3, 0x56, 0x5d, 0xe9, 0x4b, 0xbf, 0xb1, 0x2f, 0x3c, 0x59, 0xff, 0x46, 0xc2, 0x71, 0xbf, 0x83, 0xce,
    0x40, 0x14, 0xc6, 0x88, 0x11, 0xf9, 0xa2, 0x1a, 0x1f, 0xdb, 0x2c, 0x0e, 0x61, 0x13, 0xe0, 0x6d, 0xb7,
    0xca, 0x93, 0xb7, 0x40, 0x4e, 0x78, 0xdc, 0x7c, 0xcd, 0x5c, 0xa8, 0x9a, 0x4c, 0xa9};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t step = (size_t)data[0] * 7 + 1;
    data++;
    size--;
    img_policy_t pol = {.pubkey = key, .min_security_counter = 0, .bank = LAYOUT_BANK_NONE};
    img_verify_ctx_t ctx;
    img_verify_init(&ctx, &pol);
    for (size_t off = 0; off < size; off += step) {
        img_verify_update(&ctx, data + off, size - off < step ? size - off : step);
    }
    img_header_t h;
    (void)img_verify_final(&ctx, &h);
    if (size >= IMG_HEADER_FIELDS_SIZE) {
        (void)img_header_decode(data, &h);
    }
    img_trailer_t t;
    (void)img_trailer_parse(data, size, &t);
    return 0;
}
