/* Bootloader core. Rules, in order (docs/boot.md):
 *   - blank metadata: boot A if valid, else B, and record it;
 *   - a trial pending with attempts left and a valid image: count the attempt, then boot it;
 *   - a trial out of attempts, or whose image is invalid: record the revert, boot the boot bank;
 *   - boot bank valid: boot it; else the other bank if valid, recording the fallback;
 *   - nothing valid: error.
 * "Valid" is img_verify_read with the built-in key and the device's security counter: the higher of
 * the OTP counter and the metadata's copy. Every metadata write, and the OTP raise for an image
 * that is not on trial, comes before the jump it justifies, so a reset at any point is counted. */
#include "fota/boot.h"

#include <string.h>

#include "fota/fmt.h"
#include "fota/seccnt.h"

typedef struct {
    const boot_port_t *port;
    uint32_t base;
} bank_reader_t;

static int read_bank(void *rctx, uint32_t offset, uint8_t *buf, uint32_t len)
{
    bank_reader_t *r = rctx;
    return flash_read(&r->port->flash, r->base + offset, buf, len) == FLASH_OK ? 0 : -1;
}

static img_err_t check_bank(const boot_port_t *port, const uint8_t *pubkey, layout_bank_t bank, uint32_t min_sec,
                            img_header_t *hdr)
{
    bank_reader_t r = {port, layout_bank_base(bank)};
    /* decrypts: an image that travelled encrypted (IMG_FLAG_ENCRYPTED) was decrypted by the agent
     * before it was programmed; its hash and signature are over the plaintext flash holds, so
     * ciphertext in a bank fails the hash like any corruption. */
    img_policy_t pol = {.pubkey = pubkey, .min_security_counter = min_sec, .bank = bank, .decrypts = 1};
    return img_verify_read(read_bank, &r, LAYOUT_BANK_SIZE, &pol, hdr);
}

static void logf_(const boot_port_t *port, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const boot_port_t *port, const char *fmt, ...)
{
    char line[120];
    va_list ap;
    va_start(ap, fmt);
    fmt_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    port->log(port->ctx, line);
}

/* Records a new state; on failure the decision still stands, and the reason is logged. */
static void record(const boot_port_t *port, meta_log_t *log, const meta_state_t *st, boot_decision_t *d)
{
    meta_err_t e = meta_log_write(log, st);
    d->state = *st;
    if (e != META_OK) {
        d->meta_err = e;
        logf_(port, "boot: metadata not recorded: %s", meta_strerror(e));
    }
}

static void verdict(const boot_port_t *port, const uint8_t *pubkey, uint32_t min_sec, boot_decision_t *d,
                    layout_bank_t bank, img_header_t *hdr)
{
    d->verdict[bank] = check_bank(port, pubkey, bank, min_sec, hdr);
    if (d->verdict[bank] != IMG_OK) {
        logf_(port, "boot: bank %c invalid: %s", layout_bank_letter(bank), img_strerror(d->verdict[bank]));
    }
}

static void decide(const boot_port_t *port, const uint8_t *pubkey, uint32_t otp, boot_decision_t *d)
{
    meta_log_t log;
    meta_err_t me = meta_log_open(&log, &port->flash);
    img_header_t hdr;
    if (me != META_OK) {
        /* Blank (or unreadable) metadata: the first valid bank becomes the boot bank. */
        logf_(port, "boot: %s: initialising metadata", meta_strerror(me));
        meta_state_t st = {.boot_bank = LAYOUT_BANK_A, .trial_bank = LAYOUT_BANK_NONE, .security_counter = otp};
        for (int b = LAYOUT_BANK_A; b <= LAYOUT_BANK_B; b++) {
            verdict(port, pubkey, otp, d, (layout_bank_t)b, &hdr);
            if (d->verdict[b] == IMG_OK) {
                st.boot_bank = (uint8_t)b;
                d->err = BOOT_OK;
                d->bank = (layout_bank_t)b;
                d->hdr = hdr;
                d->path = BOOT_PATH_INIT;
                record(port, &log, &st, d);
                return;
            }
        }
        return;
    }

    meta_state_t st = log.state;
    d->state = st;
    if (st.security_counter < otp) {
        /* The metadata is a cache of the OTP counter that only goes up (erased or forged records
         * come back with a lower one). */
        logf_(port, "boot: security counter %u in the metadata, %u in OTP: raised", (unsigned)st.security_counter,
              (unsigned)otp);
        st.security_counter = otp;
        record(port, &log, &st, d);
    }
    if (st.trial_bank != LAYOUT_BANK_NONE) {
        layout_bank_t trial = (layout_bank_t)st.trial_bank;
        int revert = 0;
        if (st.trial_attempts >= FOTA_TRIAL_ATTEMPTS) {
            logf_(port, "boot: bank %c not confirmed after %u boots: reverting to bank %c", layout_bank_letter(trial),
                  (unsigned)st.trial_attempts, layout_bank_letter((layout_bank_t)st.boot_bank));
            revert = 1;
        } else {
            verdict(port, pubkey, st.security_counter, d, trial, &hdr);
            if (d->verdict[trial] == IMG_OK) {
                meta_state_t next = st;
                next.trial_attempts++;
                meta_err_t e = meta_log_write(&log, &next);
                if (e == META_OK) {
                    d->state = next;
                    d->err = BOOT_OK;
                    d->bank = trial;
                    d->hdr = hdr;
                    d->path = BOOT_PATH_TRIAL;
                    return;
                }
                /* An attempt that cannot be counted must not run: it could reset forever. */
                d->meta_err = e;
                logf_(port, "boot: cannot count the trial boot (%s): staying on bank %c", meta_strerror(e),
                      layout_bank_letter((layout_bank_t)st.boot_bank));
            } else {
                logf_(port, "boot: trial image in bank %c rejected: reverting", layout_bank_letter(trial));
                revert = 1;
            }
        }
        if (revert) {
            meta_state_t next = st;
            next.trial_bank = LAYOUT_BANK_NONE;
            next.trial_attempts = 0;
            next.flags = META_F_REVERTED;
            record(port, &log, &next, d);
            st = next;
            d->path = BOOT_PATH_REVERTED;
        }
    }

    layout_bank_t boot = (layout_bank_t)st.boot_bank;
    verdict(port, pubkey, st.security_counter, d, boot, &hdr);
    if (d->verdict[boot] == IMG_OK) {
        d->err = BOOT_OK;
        d->bank = boot;
        d->hdr = hdr;
        return;
    }
    layout_bank_t other = layout_other_bank(boot);
    verdict(port, pubkey, st.security_counter, d, other, &hdr);
    if (d->verdict[other] == IMG_OK) {
        logf_(port, "boot: falling back to bank %c", layout_bank_letter(other));
        meta_state_t next = st;
        next.boot_bank = (uint8_t)other;
        next.trial_bank = LAYOUT_BANK_NONE;
        next.trial_attempts = 0;
        next.flags = META_F_FELL_BACK;
        next.xfer_bank = 0; /* a transfer into what is now the running bank is void */
        memset(next.xfer_id, 0, sizeof(next.xfer_id));
        record(port, &log, &next, d);
        d->err = BOOT_OK;
        d->bank = other;
        d->hdr = hdr;
        d->path = BOOT_PATH_FALLBACK;
    }
}

void boot_decide(const boot_port_t *port, const uint8_t pubkey[CRYPTO_P256_PUBKEY_SIZE], boot_decision_t *d)
{
    memset(d, 0, sizeof(*d));
    d->err = BOOT_ERR_NO_IMAGE;
    d->bank = LAYOUT_BANK_NONE;
    d->verdict[0] = d->verdict[1] = IMG_ERR_READ;
    d->meta_err = META_OK;

    uint32_t otp = 0;
    flash_err_t fe = FLASH_OK;
    if (port->otp != NULL && seccnt_read(port->otp, &otp, &fe) != SECCNT_OK) {
        logf_(port, "boot: OTP security counter unreadable (%s): the metadata's alone", flash_strerror(fe));
    }
    decide(port, pubkey, otp, d);
    d->otp_counter = otp;
    if (d->err != BOOT_OK || d->path == BOOT_PATH_TRIAL || port->otp == NULL || d->hdr.security_counter <= otp ||
        otp >= LAYOUT_SECCNT_WORDS) {
        return;
    }
    /* An image booted as the boot bank (confirmed, or the only valid one) sets the floor for good. */
    seccnt_err_t se = seccnt_raise(port->otp, d->hdr.security_counter, &fe);
    if (se == SECCNT_ERR_FLASH) {
        logf_(port, "boot: OTP security counter not raised to %u: %s", (unsigned)d->hdr.security_counter,
              flash_strerror(fe));
    } else {
        d->otp_counter = se == SECCNT_OK ? d->hdr.security_counter : LAYOUT_SECCNT_WORDS;
        logf_(port, "boot: OTP security counter %u -> %u", (unsigned)otp, (unsigned)d->otp_counter);
        if (se == SECCNT_ERR_FULL) {
            logf_(port, "boot: security counter %u is past the OTP's %u steps: above it, only the metadata holds it",
                  (unsigned)d->hdr.security_counter, (unsigned)LAYOUT_SECCNT_WORDS);
        }
    }
}

static const char *reset_name(boot_reset_t r)
{
    switch (r) {
    case BOOT_RESET_POWER_ON:
        return "power-on";
    case BOOT_RESET_PIN:
        return "reset pin";
    case BOOT_RESET_SOFTWARE:
        return "software";
    case BOOT_RESET_WATCHDOG:
        return "watchdog";
    case BOOT_RESET_BROWNOUT:
        return "brown-out";
    case BOOT_RESET_OTHER:
        break;
    }
    return "other";
}

const char *boot_path_name(boot_path_t path)
{
    switch (path) {
    case BOOT_PATH_NORMAL:
        return "normal";
    case BOOT_PATH_TRIAL:
        return "trial";
    case BOOT_PATH_FALLBACK:
        return "fallback";
    case BOOT_PATH_REVERTED:
        return "reverted";
    case BOOT_PATH_INIT:
        return "initialised";
    }
    return "?";
}

boot_err_t boot_run(const boot_port_t *port, const uint8_t pubkey[CRYPTO_P256_PUBKEY_SIZE], boot_decision_t *d)
{
    port->led(port->ctx, BOOT_LED_RED, 1);
    logf_(port, "boot: fota bootloader, reset cause: %s", reset_name(port->reset_cause(port->ctx)));
    boot_decide(port, pubkey, d);
    if (d->err != BOOT_OK) {
        logf_(port, "boot: no valid image (bank A: %s; bank B: %s)", img_strerror(d->verdict[0]),
              img_strerror(d->verdict[1]));
        port->halt_error(port->ctx);
        return d->err;
    }
    const img_version_t *v = &d->hdr.version;
    if (d->path == BOOT_PATH_TRIAL) {
        logf_(port, "boot: bank %c v%u.%u.%u on trial, boot %u of %u", layout_bank_letter(d->bank), v->major,
              v->minor, v->patch, (unsigned)d->state.trial_attempts, (unsigned)FOTA_TRIAL_ATTEMPTS);
        port->watchdog_start(port->ctx);
    } else {
        logf_(port, "boot: bank %c v%u.%u.%u (%s)", layout_bank_letter(d->bank), v->major, v->minor, v->patch,
              boot_path_name(d->path));
    }
    port->led(port->ctx, BOOT_LED_RED, 0);
    port->led(port->ctx, d->bank == LAYOUT_BANK_A ? BOOT_LED_GREEN : BOOT_LED_BLUE, 1);
    port->jump(port->ctx, d->hdr.load_addr);
    return BOOT_OK;
}
