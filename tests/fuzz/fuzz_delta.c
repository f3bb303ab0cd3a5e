/* libFuzzer harness: the device's patch decoder (delta/delta.c). The first input byte picks the
 * feed size, the rest is the patch. Checks the decoder's promises on hostile input: it never
 * reads the base outside the size the header gives, never makes more bytes than the target size,
 * and always ends (done or an error). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fota/delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE_MAX (1u << 20)
static uint8_t base[BASE_MAX];
static uint32_t base_limit;

static int read_base(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    (void)ctx;
    if (off > base_limit || len > base_limit - off) {
        abort(); /* the decoder read outside the base it was told about */
    }
    memcpy(buf, base + off, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        uint32_t s = 1;
        for (uint32_t i = 0; i < BASE_MAX; i++) {
            s = s * 1103515245u + 12345u;
            base[i] = (uint8_t)(s >> 16);
        }
        init = 1;
    }
    if (size < 1) {
        return 0;
    }
    size_t chunk = 1u + data[0] % 200u;
    data++;
    size--;
    static delta_dec_t d;
    delta_dec_init(&d, read_base, NULL);
    base_limit = 0;
    size_t pos = 0, made = 0;
    uint8_t out[300];
    for (;;) {
        size_t n = size - pos < chunk ? size - pos : chunk, used, got;
        delta_err_t e = delta_dec_run(&d, data + pos, n, &used, out, 1u + (pos % sizeof(out)), &got);
        if (e == DELTA_HEADER) {
            base_limit = delta_dec_info(&d)->base_size;
        }
        made += got;
        if (base_limit && made > delta_dec_info(&d)->target_size) {
            abort();
        }
        pos += used;
        if (e < 0 || e == DELTA_DONE) {
            break;
        }
        if (pos == size && used == 0 && got == 0 && e != DELTA_HEADER) {
            if (delta_dec_end(&d) == DELTA_DONE) {
                abort(); /* ended without saying so */
            }
            break;
        }
    }
    return 0;
}
