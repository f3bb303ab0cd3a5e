/* Signature checks on the device: runs crypto_p256_verify, exactly as the bootloader and the agent
 * build it, over a table of public key / digest / signature triples that the test loads at bank A
 * (tests/crypto/sig_table.h, written by tests/crypto/sig_sweep). Prints every refused pair and
 * the stack the checks used through ARM semihosting, and exits with the number refused (at most
 * 250; 254: no table). Test-only (semihosting): runs under QEMU. */
#include <stdint.h>
#include <string.h>

#include "fota/crypto.h"
#include "fota/fmt.h"
#include "fota/layout.h"
#define SIG_TABLE_DEVICE
#include "../../tests/crypto/sig_table.h"
#include "semihost.h"

#include <mbedtls/build_info.h> /* the configuration the crypto library was built with */
#if defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C)
size_t crypto_pool_high_water(void); /* crypto_psa.c, in the measurement build with a pool */
#endif

#define PAINT_BYTES 8192u
#define PAINT 0xA5A5A5A5u

/* Fills the stack below the caller's frame, so the deepest word the checks wrote can be found. */
static __attribute__((noinline)) uintptr_t paint_stack(void)
{
    volatile uint32_t here = 0;
    uintptr_t top = ((uintptr_t)&here - 256u) & ~(uintptr_t)3;
    for (uintptr_t p = top - PAINT_BYTES; p < top; p += 4) {
        *(volatile uint32_t *)p = PAINT;
    }
    return top;
}

static uint32_t stack_used(uintptr_t top)
{
    uintptr_t p = top - PAINT_BYTES;
    while (p < top && *(volatile uint32_t *)p == PAINT) {
        p += 4;
    }
    return (uint32_t)(top - p);
}

int main(void)
{
    const sig_table_header_t *h = (const sig_table_header_t *)LAYOUT_BANK_A_BASE;
    uint32_t room = (LAYOUT_FLASH_BASE + LAYOUT_FLASH_SIZE - LAYOUT_BANK_A_BASE - sizeof(*h)) / sizeof(sig_record_t);
    if (h->magic != SIG_TABLE_MAGIC || h->count > room) {
        semihost_say("sig_probe: no signature table at bank A\n");
        semihost_exit(254);
    }
    const sig_record_t *rec = (const sig_record_t *)(h + 1);
    uintptr_t top = paint_stack();
    uint32_t refused = 0;
    for (uint32_t i = 0; i < h->count; i++) {
        crypto_err_t e = crypto_p256_verify(rec[i].pubkey, rec[i].hash, rec[i].sig);
        if (e != CRYPTO_OK) {
            refused++;
            semihost_say("sig_probe: pair %u refused: %s\n", (unsigned)i, crypto_strerror(e));
        }
    }
    semihost_say("sig_probe: %u pairs checked on the device, %u refused, %u bytes of stack below main\n",
        (unsigned)h->count, (unsigned)refused, (unsigned)stack_used(top));
#include <mbedtls/build_info.h> /* the configuration the crypto library was built with */
#if defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C)
    semihost_say("sig_probe: crypto pool high-water mark %u bytes\n", (unsigned)crypto_pool_high_water());
#endif
    semihost_exit(refused > 250 ? 250 : refused);
    for (;;) {
    }
}
