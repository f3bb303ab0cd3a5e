/* The example application: one source, linked once for bank A and once for bank B. It finds its
 * bank from the program counter (as the seed does), prints its signed version, checks itself,
 * confirms itself in the metadata, then blinks the seed's LED for its bank (A green, B orange)
 * keeps the watchdog fed, and runs the OTA agent on SPI1 (blue LED while a transfer is on). */
#include "board.h"
#include "fota/agent.h"
#include "fota/image.h"
#include "fota/meta.h"
#include "fota/trusted_key.h"
#include "spi_slave.h"

static agent_t agent; /* static: its size is part of the application's RAM, printed by the build */

/* The self-test's reads: one per hash chunk, so the watchdog is kicked between chunks. */
static int read_own(void *rctx, uint32_t offset, uint8_t *buf, uint32_t len)
{
    const flash_port_t *f = rctx;
    board_watchdog_kick();
    return flash_read(f, layout_bank_base(layout_bank_of(board_pc())) + offset, buf, len) == FLASH_OK ? 0 : -1;
}

static void reset_device(void *ctx)
{
    (void)ctx;
    board_log_line("app: image staged for trial: resetting");
    board_delay_ms(2);
    board_reset();
}


int main(void)
{
    uint32_t pc = board_pc();
    layout_bank_t bank = layout_bank_of(pc);
    board_set_vtor(layout_bank_base(bank) + LAYOUT_IMG_HDR_SIZE);
    board_init();
    board_watchdog_kick();

    flash_port_t flash = board_flash_port_app(bank); /* refuses sectors 0-1 and this bank */
    /* Self-test: our own image, as the bootloader checked it. */
    img_header_t hdr;
    img_policy_t pol = {.pubkey = fota_trusted_pubkey, .min_security_counter = 0, .bank = bank};
    img_err_t e = img_verify_read(read_own, &flash, LAYOUT_BANK_SIZE, &pol, &hdr);
    if (e != IMG_OK) {
        board_logf("app: self-test failed: %s", img_strerror(e));
        for (;;) {
        }
    }
    board_logf("app: clock %s", board_clock_text(board_clock()));
    board_logf("app: v%u.%u.%u running from bank %c (pc=0x%08x)", hdr.version.major, hdr.version.minor, hdr.version.patch,
        layout_bank_letter(bank), (unsigned)pc);

    meta_log_t log;
    meta_err_t me = meta_log_open(&log, &flash);
    if (me == META_OK) {
        int was_trial = log.state.trial_bank == bank;
        me = meta_confirm(&log, bank, hdr.security_counter);
        if (me == META_OK) {
            board_logf(was_trial ? "app: confirmed (trial over)" : "app: confirmed");
        }
    }
    if (me != META_OK) {
        board_logf("app: could not confirm: %s", meta_strerror(me));
    }

    agent_config_t cfg = {.flash = &flash,
                          .pubkey = fota_trusted_pubkey,
                          .running = bank,
                          .boot_version = {1, 0, 0, 0},
                          .app_version = hdr.version,
                          .reset = reset_device,
                          .ctx = 0};
    agent_init(&agent, &cfg);
    spi_slave_init(&agent);

    boot_led_t led = bank == LAYOUT_BANK_A ? BOOT_LED_GREEN : BOOT_LED_ORANGE;
    for (uint32_t tick = 0;; tick++) {
        /* The main loop never blocks longer than one agent step (one flash operation). */
        int busy = agent_poll(&agent);
        board_led(BOOT_LED_BLUE, busy || agent.state == AGENT_RECEIVING);
        board_watchdog_kick();
        if (!busy) {
            board_delay_ms(1);
        }
        if (tick % 250 == 0) {
            board_led_toggle(led);
        }
    }
}
