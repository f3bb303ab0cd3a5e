/* The OTP anti-rollback counter (fota/seccnt.h). */
#include "fota/seccnt.h"

#include "fota/layout.h"

seccnt_err_t seccnt_read(const flash_port_t *otp, uint32_t *value, flash_err_t *ferr)
{
    uint32_t words[LAYOUT_SECCNT_WORDS];
    *value = 0;
    *ferr = flash_read(otp, LAYOUT_SECCNT_BASE, words, sizeof(words));
    if (*ferr != FLASH_OK) {
        return SECCNT_ERR_FLASH;
    }
    /* The last word not erased, wherever it is: a word past a gap (which only a writer other than
     * this code makes) raises the value, it can never lower it. */
    for (uint32_t i = LAYOUT_SECCNT_WORDS; i > 0; i--) {
        if (words[i - 1] != 0xFFFFFFFFu) {
            *value = i;
            break;
        }
    }
    return SECCNT_OK;
}

seccnt_err_t seccnt_raise(const flash_port_t *otp, uint32_t value, flash_err_t *ferr)
{
    uint32_t now;
    seccnt_err_t e = seccnt_read(otp, &now, ferr);
    if (e != SECCNT_OK) {
        return e;
    }
    uint32_t target = value > LAYOUT_SECCNT_WORDS ? LAYOUT_SECCNT_WORDS : value;
    static const uint32_t zero = 0;
    for (uint32_t i = now; i < target; i++) {
        *ferr = flash_program(otp, LAYOUT_SECCNT_BASE + 4u * i, &zero, 4);
        if (*ferr != FLASH_OK) {
            return SECCNT_ERR_FLASH;
        }
    }
    *ferr = FLASH_OK;
    return value > LAYOUT_SECCNT_WORDS ? SECCNT_ERR_FULL : SECCNT_OK;
}
