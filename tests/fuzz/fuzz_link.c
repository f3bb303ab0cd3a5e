/* libFuzzer harness: link frame decoding and STATUS payload decoding on arbitrary transactions. */
#include <stddef.h>
#include <stdint.h>

#include "fota/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    link_frame_t f;
    if (link_decode(data, size, &f) == LINK_OK) {
        link_status_t st;
        (void)link_status_decode(f.payload, f.len, &st);
    }
    link_status_t st;
    (void)link_status_decode(data, size, &st);
    return 0;
}
