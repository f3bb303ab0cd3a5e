/* The flash port: how the bootloader, the metadata log and the agent reach flash. The STM32F407
 * driver (ports/stm32f407/board.c: board_flash_port, and board_flash_port_app for the application)
 * and the simulated flash (sim/flash_sim.c) implement it, with one contract: a program checks the
 * whole range blank first and, if a word is not erased, returns FLASH_ERR_NOT_ERASED having changed
 * nothing. Addresses are absolute (0x08000000-based). */
#ifndef FOTA_FLASH_H
#define FOTA_FLASH_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    FLASH_OK = 0,
    FLASH_ERR_RANGE,    /* outside the flash, or a sector number that does not exist */
    FLASH_ERR_ALIGN,    /* program not on a 32-bit word boundary or not whole words (PGAERR) */
    FLASH_ERR_NOT_ERASED, /* program over a word that is not erased (a blank check; the F4 has no flag) */
    FLASH_ERR_PROTECTED, /* write protection (WRPERR), a port that refuses the range, or still locked */
    FLASH_ERR_HARDWARE, /* the controller reported OPERR, PGPERR or PGSERR, or a read-back mismatch */
    FLASH_ERR_TIMEOUT,  /* the controller stayed busy longer than the datasheet maximum */
} flash_err_t;

typedef struct {
    flash_err_t (*read)(void *ctx, uint32_t addr, void *buf, uint32_t len);
    /* Erases one sector (layout_sectors[] index) to 0xFF. */
    flash_err_t (*erase_sector)(void *ctx, int sector);
    /* Programs whole 32-bit words at a word-aligned address; only clears bits. */
    flash_err_t (*program)(void *ctx, uint32_t addr, const void *data, uint32_t len);
    void *ctx;
    /* Optional (NULL: not offered). Finishes one word a power cut tore while programming it with
     * word: the flash word has no 0 bit where word has a 1, so programming word again only clears
     * the bits the cut left set (NOR flash, no ECC on the F407). FLASH_OK when it reads word
     * afterwards (or already did); FLASH_ERR_NOT_ERASED, nothing changed, when it holds a 0 where
     * word has a 1 (other data: not a torn copy of word). */
    flash_err_t (*finish_word)(void *ctx, uint32_t addr, uint32_t word);
} flash_port_t;

static inline flash_err_t flash_read(const flash_port_t *f, uint32_t addr, void *buf, uint32_t len)
{
    return f->read(f->ctx, addr, buf, len);
}

static inline flash_err_t flash_erase_sector(const flash_port_t *f, int sector)
{
    return f->erase_sector(f->ctx, sector);
}

static inline flash_err_t flash_program(const flash_port_t *f, uint32_t addr, const void *data, uint32_t len)
{
    return f->program(f->ctx, addr, data, len);
}

static inline flash_err_t flash_finish_word(const flash_port_t *f, uint32_t addr, uint32_t word)
{
    return f->finish_word != NULL ? f->finish_word(f->ctx, addr, word) : FLASH_ERR_NOT_ERASED;
}

const char *flash_strerror(flash_err_t err);

#endif
