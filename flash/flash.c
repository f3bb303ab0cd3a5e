/* Messages for the flash port's errors. */
#include "fota/flash.h"

const char *flash_strerror(flash_err_t err)
{
    switch (err) {
    case FLASH_OK:
        return "ok";
    case FLASH_ERR_RANGE:
        return "address or sector outside the flash";
    case FLASH_ERR_ALIGN:
        return "program not word-aligned (PGAERR)";
    case FLASH_ERR_NOT_ERASED:
        return "program over a word that is not erased";
    case FLASH_ERR_PROTECTED:
        return "sector is write-protected (WRPERR)";
    case FLASH_ERR_HARDWARE:
        return "flash controller reported an error";
    case FLASH_ERR_TIMEOUT:
        return "flash controller timed out";
    }
    return "unknown flash error";
}
