/* The anti-rollback counter in one-time-programmable memory: a thermometer code of 32-bit words,
 * the value being the number of words from the start up to the last one not erased. Programming
 * only clears bits and OTP is never erased, so nothing that can write flash can lower it; the
 * metadata's copy (meta_state_t.security_counter) is a cache the bootloader raises to it.
 * Words are programmed in order, each once: a power cut leaves a prefix, or a torn last word,
 * which already counts. Capacity LAYOUT_SECCNT_WORDS (docs/flash-layout.md). */
#ifndef FOTA_SECCNT_H
#define FOTA_SECCNT_H

#include <stdint.h>

#include "fota/flash.h"

typedef enum {
    SECCNT_OK = 0,
    SECCNT_ERR_FLASH, /* the OTP could not be read or programmed (see the flash error) */
    SECCNT_ERR_FULL,  /* the value is above the capacity: the counter now holds the capacity */
} seccnt_err_t;

/* The counter's value. On error *value is 0 and *ferr says why. */
seccnt_err_t seccnt_read(const flash_port_t *otp, uint32_t *value, flash_err_t *ferr);
/* Raises the counter to value (never lowers it; a value at or below it changes nothing). */
seccnt_err_t seccnt_raise(const flash_port_t *otp, uint32_t value, flash_err_t *ferr);

#endif
