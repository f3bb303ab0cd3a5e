/* libFuzzer harness: the ELF-to-binary converter of `fota sign` and `fota compose`. */
#include <stdint.h>
#include <stdlib.h>

#include "fota/hostlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *bin = NULL;
    size_t len;
    uint32_t base;
    char err[160];
    if (fota_elf_to_bin(data, size, &bin, &len, &base, err, sizeof(err)) == 0) {
        free(bin);
    }
    return 0;
}
