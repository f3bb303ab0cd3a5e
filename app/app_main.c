/* The example application: one source, linked once for bank A and once for bank B. It finds its
 * bank from the program counter (as the seed does), prints its signed version, checks itself,
 * confirms itself in the metadata, then blinks the seed's LED for its bank (A green, B orange)
 * and keeps the watchdog fed. The OTA agent joins it in issue 4. */
#include "board.h"
#include "fota/fmt.h"
#include "fota/image.h"
#include "fota/meta.h"
#include "fota/trusted_key.h"

static int read_own(void *rctx, uint32_t offset, uint8_t *buf, uint32_t len)
{
    const flash_port_t *f = rctx;
    (void)f;
    return flash_read(f, layout_bank_base(layout_bank_of(board_pc())) + offset, buf, len) == FLASH_OK ? 0 : -1;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[120];
    va_list ap;
    va_start(ap, fmt);
    fmt_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    board_log_line(line);
}

int main(void)
{
    uint32_t pc = board_pc();
    layout_bank_t bank = layout_bank_of(pc);
    board_set_vtor(layout_bank_base(bank) + LAYOUT_IMG_HDR_SIZE);
    board_init();
    board_watchdog_kick();

    flash_port_t flash = board_flash_port();
    /* Self-test: our own image, as the bootloader checked it. */
    img_header_t hdr;
    img_policy_t pol = {.pubkey = fota_trusted_pubkey, .min_security_counter = 0, .bank = bank};
    img_err_t e = img_verify_read(read_own, &flash, LAYOUT_BANK_SIZE, &pol, &hdr);
    if (e != IMG_OK) {
        say("app: self-test failed: %s", img_strerror(e));
        for (;;) {
        }
    }
    say("app: v%u.%u.%u running from bank %c (pc=0x%08x)", hdr.version.major, hdr.version.minor, hdr.version.patch,
        layout_bank_letter(bank), (unsigned)pc);

    meta_log_t log;
    meta_err_t me = meta_log_open(&log, &flash);
    if (me == META_OK) {
        int was_trial = log.state.trial_bank == bank;
        me = meta_confirm(&log, bank, hdr.security_counter);
        if (me == META_OK) {
            say(was_trial ? "app: confirmed (trial over)" : "app: confirmed");
        }
    }
    if (me != META_OK) {
        say("app: could not confirm: %s", meta_strerror(me));
    }

    boot_led_t led = bank == LAYOUT_BANK_A ? BOOT_LED_GREEN : BOOT_LED_ORANGE;
    for (;;) {
        board_led_toggle(led);
        board_watchdog_kick();
        board_delay_ms(500);
    }
}
