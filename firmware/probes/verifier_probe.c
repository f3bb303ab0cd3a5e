/* The verifier alone, linked into the bootloader region: measures what signature verification
 * costs in flash and RAM before the bootloader (issue 3) grows around it. It verifies bank A with
 * the built-in key and reports the verdict (an img_err_t) as its exit status through ARM
 * semihosting, so QEMU (-semihosting) exits with it. Test-only: on a board without a debugger
 * the semihosting breakpoint faults. */
#include <string.h>

#include "fota/image.h"
#include "fota/trusted_key.h"
#include "semihost.h"

volatile img_err_t probe_result;

static int read_flash(void *rctx, uint32_t offset, uint8_t *buf, uint32_t len)
{
    (void)rctx;
    memcpy(buf, (const void *)(uintptr_t)(LAYOUT_BANK_A_BASE + offset), len);
    return 0;
}

int main(void)
{
    img_policy_t pol = {.pubkey = fota_trusted_pubkey, .min_security_counter = 0, .bank = LAYOUT_BANK_A};
    probe_result = img_verify_read(read_flash, NULL, LAYOUT_BANK_SIZE, &pol, NULL);
    semihost_exit((uint32_t)probe_result);
    for (;;) {
    }
}
