/* libFuzzer harness: the metadata record decoder, over every 32-byte window of the input. */
#include <stddef.h>
#include <stdint.h>

#include "fota/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t off = 0; off + META_RECORD_SIZE <= size; off += 4) {
        uint32_t seq;
        meta_state_t st;
        (void)meta_record_decode(data + off, &seq, &st);
    }
    return 0;
}
