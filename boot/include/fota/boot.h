/* The portable bootloader core: picks the bank to boot from the metadata log and the image
 * verifier, trial-boots staged images and reverts them, falls back to the other valid bank, and
 * hands over to the port to jump. It never touches hardware itself. States and transitions:
 * docs/boot.md. */
#ifndef FOTA_BOOT_H
#define FOTA_BOOT_H

#include <stdint.h>

#include "fota/flash.h"
#include "fota/image.h"
#include "fota/meta.h"

typedef enum {
    BOOT_LED_RED,    /* on while the bootloader runs; fast blink: no valid image */
    BOOT_LED_GREEN,  /* jumping to bank A */
    BOOT_LED_ORANGE,
    BOOT_LED_BLUE,   /* jumping to bank B */
} boot_led_t;

typedef enum {
    BOOT_RESET_POWER_ON,
    BOOT_RESET_PIN,
    BOOT_RESET_SOFTWARE,
    BOOT_RESET_WATCHDOG,
    BOOT_RESET_BROWNOUT,
    BOOT_RESET_OTHER,
} boot_reset_t;

/* What a platform provides. A port starts from ports/template/boot_port_template.c. */
typedef struct {
    flash_port_t flash;
    void (*log)(void *ctx, const char *line);          /* one line, no newline (USART1 on the F407) */
    void (*led)(void *ctx, boot_led_t led, int on);
    void (*watchdog_start)(void *ctx);                 /* independent watchdog, before a trial boot */
    boot_reset_t (*reset_cause)(void *ctx);
    void (*jump)(void *ctx, uint32_t vector_table);    /* does not return on the device */
    void (*halt_error)(void *ctx);                     /* no valid image: fast red blink, forever on the device */
    void *ctx;
    /* The OTP area holding the anti-rollback counter (fota/seccnt.h); NULL on a part without
     * one, where the counter lives in the metadata alone (and goes with it if it is erased). */
    const flash_port_t *otp;
} boot_port_t;

typedef enum {
    BOOT_OK = 0,
    BOOT_ERR_NO_IMAGE, /* neither bank holds an image the bootloader may run */
} boot_err_t;

typedef enum {
    BOOT_PATH_NORMAL,    /* the confirmed boot bank */
    BOOT_PATH_TRIAL,     /* a staged image, on trial */
    BOOT_PATH_FALLBACK,  /* the boot bank was invalid: the other one */
    BOOT_PATH_REVERTED,  /* a trial failed or ran out of attempts: back to the boot bank */
    BOOT_PATH_INIT,      /* blank metadata, initialised now */
} boot_path_t;

typedef struct {
    boot_err_t err;
    layout_bank_t bank;  /* the bank to boot when err == BOOT_OK */
    boot_path_t path;
    img_header_t hdr;    /* header of the image to boot */
    img_err_t verdict[2]; /* per bank, IMG_OK or why not (IMG_ERR_READ when not examined) */
    meta_err_t meta_err; /* META_OK, or why the metadata could not be recorded */
    meta_state_t state;  /* the metadata state after this decision */
    uint32_t otp_counter; /* the OTP anti-rollback counter after this decision (0 without OTP) */
} boot_decision_t;

/* Decides, writing the metadata transitions it implies (trial attempt, revert, fallback,
 * initialisation). pubkey: the key built into the bootloader. The lowest security counter
 * accepted is the higher of the OTP counter and the metadata's copy, which is raised to the OTP's
 * when below; a decision to boot an image that is not on trial raises the OTP counter to that
 * image's counter. */
void boot_decide(const boot_port_t *port, const uint8_t pubkey[CRYPTO_P256_PUBKEY_SIZE], boot_decision_t *d);

/* The bootloader's main: LEDs, log lines, decide, watchdog for a trial, jump. Returns only where
 * the port's jump or halt_error returns (the simulator and tests). */
boot_err_t boot_run(const boot_port_t *port, const uint8_t pubkey[CRYPTO_P256_PUBKEY_SIZE], boot_decision_t *d);

const char *boot_path_name(boot_path_t path);

#endif
