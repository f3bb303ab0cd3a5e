/* The verifier alone, linked into the bootloader region: measures what signature verification
 * costs in flash and RAM before the bootloader (issue 3) grows around it. It verifies bank A with
 * the built-in key and leaves the verdict in `probe_result` for a debugger. */
#include <string.h>

#include "fota/image.h"
#include "fota/trusted_key.h"

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
    for (;;) {
    }
}
