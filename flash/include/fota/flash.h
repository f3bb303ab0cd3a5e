/* The flash port: how the bootloader, the metadata log and the agent reach flash. The STM32F407
 * driver (ports/stm32f407/flash_f4.c) and the simulated flash (sim/flash_sim.c) implement it.
 * Addresses are absolute (0x08000000-based). */
#ifndef FOTA_FLASH_H
#define FOTA_FLASH_H

#include <stdint.h>

typedef enum {
    FLASH_OK = 0,
    FLASH_ERR_RANGE,    /* outside the flash, or a sector number that does not exist */
    FLASH_ERR_ALIGN,    /* program not on a 32-bit word boundary or not whole words (PGAERR) */
    FLASH_ERR_NOT_ERASED, /* program over a word that is not erased (PGSERR/PGPERR on NOR rules) */
    FLASH_ERR_PROTECTED, /* write protection (WRPERR) */
    FLASH_ERR_HARDWARE, /* operation error reported by the controller (OPERR, readback mismatch) */
    FLASH_ERR_TIMEOUT,  /* the controller stayed busy longer than the datasheet maximum */
} flash_err_t;

typedef struct {
    flash_err_t (*read)(void *ctx, uint32_t addr, void *buf, uint32_t len);
    /* Erases one sector (layout_sectors[] index) to 0xFF. */
    flash_err_t (*erase_sector)(void *ctx, int sector);
    /* Programs whole 32-bit words at a word-aligned address; only clears bits. */
    flash_err_t (*program)(void *ctx, uint32_t addr, const void *data, uint32_t len);
    void *ctx;
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

const char *flash_strerror(flash_err_t err);

#endif
