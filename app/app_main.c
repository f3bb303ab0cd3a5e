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

/* FOTA_APP_VARIANT: small edits of this file that make the delta-update corpus (scripts/bench-delta.sh,
 * docs/delta.md): 1 one line changed, 2 a new function, 3 and 4 two versions of a constant table.
 * 0, the default, is the product. */
#ifndef FOTA_APP_VARIANT
#define FOTA_APP_VARIANT 0
#endif
#if FOTA_APP_VARIANT == 3 || FOTA_APP_VARIANT == 4
/* LED brightness steps (a gamma curve); variant 4 is a retuned curve. */
static const uint16_t led_curve[64] = {
#if FOTA_APP_VARIANT == 3
    0,   1,   2,   3,   5,   7,   9,   12,  15,  19,  23,  28,  33,  38,  44,  50,  57,  64,  72,  80,  88,  97,
    107, 117, 127, 138, 150, 162, 174, 187, 201, 215, 229, 244, 260, 276, 292, 309, 327, 345, 364, 383, 403, 423,
    444, 465, 487, 509, 532, 556, 580, 604, 629, 655, 681, 708, 735, 763, 791, 820, 849, 879, 909, 940,
#else
    0,   1,   1,   2,   3,   4,   6,   8,   10,  13,  16,  20,  24,  28,  33,  38,  44,  50,  57,  64,  72,  80,
    89,  98,  108, 118, 129, 140, 152, 165, 178, 192, 206, 221, 236, 252, 269, 286, 304, 322, 341, 361, 381, 402,
    424, 446, 469, 492, 516, 541, 566, 592, 619, 646, 674, 703, 732, 762, 793, 824, 856, 889, 922, 956,
#endif
};
#endif
#if FOTA_APP_VARIANT == 2
/* How many of the image's words are all ones: a new function, logged once at start. */
static uint32_t erased_words(const flash_port_t *f, layout_bank_t bank, uint32_t size)
{
    uint32_t n = 0, w;
    for (uint32_t off = 0; off + 4u <= size; off += 4u) {
        if (flash_read(f, layout_bank_base(bank) + off, (uint8_t *)&w, 4) == FLASH_OK && w == 0xFFFFFFFFu) {
            n++;
        }
    }
    return n;
}
#endif

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
    /* Self-test: our own image, as the bootloader checked it (decrypted by the agent if it came
     * encrypted: flash holds plaintext). */
    img_header_t hdr;
    img_policy_t pol = {.pubkey = fota_trusted_pubkey, .min_security_counter = 0, .bank = bank, .decrypts = 1};
    img_err_t e = img_verify_read(read_own, &flash, LAYOUT_BANK_SIZE, &pol, &hdr);
    if (e != IMG_OK) {
        board_logf("app: self-test failed: %s", img_strerror(e));
        for (;;) {
        }
    }
    board_logf("app: clock %s", board_clock_text(board_clock()));
#if FOTA_APP_VARIANT == 1
    board_logf("app: version %u.%u.%u is running from bank %c (pc=0x%08x)", hdr.version.major, hdr.version.minor,
        hdr.version.patch, layout_bank_letter(bank), (unsigned)pc);
#else
    board_logf("app: v%u.%u.%u running from bank %c (pc=0x%08x)", hdr.version.major, hdr.version.minor, hdr.version.patch,
        layout_bank_letter(bank), (unsigned)pc);
#endif
#if FOTA_APP_VARIANT == 2
    board_logf("app: %u erased words in the image", (unsigned)erased_words(&flash, bank, img_total_size(&hdr)));
#endif

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
#if FOTA_APP_VARIANT == 3 || FOTA_APP_VARIANT == 4
        board_led(BOOT_LED_RED, (tick & 1023u) < led_curve[(tick >> 10) & 63u]);
#endif
    }
}
