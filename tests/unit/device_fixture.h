/* A simulated device for bootloader tests: 1 MiB of simulated F407 flash, a signing key, signed
 * images v1 (bank A) and v2 (bank B), and a boot port that records instead of jumping. */
#ifndef FOTA_DEVICE_FIXTURE_H
#define FOTA_DEVICE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fota/hostlib.h"
#include "fota/boot.h"
#include "fota/flash_sim.h"
#include "fota/le.h"
#include "test_util.h"

typedef struct {
    uint8_t *mem;
    flash_sim_t sim;
    uint8_t otp[FLASH_SIM_OTP_BYTES]; /* the OTP area, erased at start */
    flash_port_t otp_port;
    boot_port_t port;
    int jumped;           /* jump() calls */
    uint32_t jump_addr;
    int halted;           /* halt_error() calls */
    int watchdog;         /* watchdog_start() calls */
    int verbose;
    char last_log[160];
} device_t;

static fota_signer *fx_key, *fx_other;
static uint8_t fx_pub[CRYPTO_P256_PUBKEY_SIZE];

static inline void fx_log(void *ctx, const char *line)
{
    device_t *d = ctx;
    snprintf(d->last_log, sizeof(d->last_log), "%s", line);
    if (d->verbose) {
        printf("      | %s\n", line);
    }
}
static inline void fx_led(void *ctx, boot_led_t led, int on)
{
    (void)ctx, (void)led, (void)on;
}
static inline void fx_wdg(void *ctx)
{
    ((device_t *)ctx)->watchdog++;
}
static inline boot_reset_t fx_reset(void *ctx)
{
    (void)ctx;
    return BOOT_RESET_POWER_ON;
}
static inline void fx_jump(void *ctx, uint32_t addr)
{
    device_t *d = ctx;
    d->jumped++;
    d->jump_addr = addr;
}
static inline void fx_halt(void *ctx)
{
    ((device_t *)ctx)->halted++;
}

static inline void fx_device_init(device_t *d)
{
    memset(d, 0, sizeof(*d));
    d->mem = malloc(LAYOUT_FLASH_SIZE);
    if (d->mem == NULL) {
        abort();
    }
    memset(d->mem, 0xFF, LAYOUT_FLASH_SIZE);
    flash_sim_init(&d->sim, d->mem);
    memset(d->otp, 0xFF, sizeof(d->otp));
    d->sim.otp = d->otp;
    d->otp_port = flash_sim_otp_port(&d->sim);
    d->port.otp = &d->otp_port;
    d->port.flash = flash_sim_port(&d->sim);
    d->port.log = fx_log;
    d->port.led = fx_led;
    d->port.watchdog_start = fx_wdg;
    d->port.reset_cause = fx_reset;
    d->port.jump = fx_jump;
    d->port.halt_error = fx_halt;
    d->port.ctx = d;
}

static inline void fx_device_free(device_t *d)
{
    free(d->mem);
}

static inline int fx_setup_keys(void)
{
    char dir[] = "/tmp/fota-test-boot-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    char p1[64], q1[64], p2[64], q2[64];
    snprintf(p1, sizeof(p1), "%s/k1.pem", dir);
    snprintf(q1, sizeof(q1), "%s/k1.pub.pem", dir);
    snprintf(p2, sizeof(p2), "%s/k2.pem", dir);
    snprintf(q2, sizeof(q2), "%s/k2.pub.pem", dir);
    int rc = fota_keygen_files(p1, q1) || fota_keygen_files(p2, q2);
    if (rc == 0) {
        fx_key = fota_signer_load(p1);
        fx_other = fota_signer_load(p2);
        rc = fx_key == NULL || fx_other == NULL || fota_load_pubkey(q1, fx_pub) != 0;
    }
    unlink(p1), unlink(q1), unlink(p2), unlink(q2), rmdir(dir);
    return rc ? -1 : 0;
}

static inline void fx_teardown_keys(void)
{
    fota_signer_free(fx_key);
    fota_signer_free(fx_other);
}

/* A signed image for bank with a recognisable payload. Caller frees. */
static inline uint8_t *fx_image(fota_signer *k, layout_bank_t bank, uint8_t major, uint32_t sec, size_t payload_len,
                         size_t *len)
{
    uint8_t *p = malloc(payload_len);
    if (p == NULL) {
        abort();
    }
    for (size_t i = 0; i < payload_len; i++) {
        p[i] = (uint8_t)(i * 13 + major);
    }
    le_put32(p, LAYOUT_SRAM_BASE + LAYOUT_SRAM_SIZE);
    le_put32(p + 4, layout_bank_base(bank) + IMG_HEADER_SIZE + 0x41);
    img_version_t v = {major, 0, 0, 0};
    uint8_t *img;
    if (fota_image_build(k, p, payload_len, bank, &v, sec, NULL, 0, &img, len) != 0) {
        abort();
    }
    free(p);
    return img;
}

/* Writes an image into a bank through the flash port, as the agent will: erase, then program. */
static inline flash_err_t fx_write_bank(device_t *d, layout_bank_t bank, const uint8_t *img, size_t len)
{
    uint32_t base = layout_bank_base(bank);
    for (uint32_t a = base; a < base + LAYOUT_BANK_SIZE;) {
        int s = layout_sector_of(a);
        flash_err_t e = flash_erase_sector(&d->port.flash, s);
        if (e != FLASH_OK) {
            return e;
        }
        a += layout_sectors[s].size;
    }
    uint8_t word[4];
    for (size_t off = 0; off < len; off += 4) {
        memset(word, 0xFF, 4);
        memcpy(word, img + off, len - off < 4 ? len - off : 4);
        flash_err_t e = flash_program(&d->port.flash, base + (uint32_t)off, word, 4);
        if (e != FLASH_OK) {
            return e;
        }
    }
    return FLASH_OK;
}

/* Puts an image straight into memory (test set-up, not counted as flash operations). */
static inline void fx_place(device_t *d, layout_bank_t bank, const uint8_t *img, size_t len)
{
    memcpy(d->mem + (layout_bank_base(bank) - LAYOUT_FLASH_BASE), img, len);
}

static inline void fx_meta(device_t *d, const meta_state_t *st)
{
    meta_log_t log;
    (void)meta_log_open(&log, &d->port.flash);
    if (meta_log_write(&log, st) != META_OK) {
        abort();
    }
}

#endif
