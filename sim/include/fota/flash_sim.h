/* A simulated STM32F407 flash for host tests and fota-sim: the real sector map, erased reads 0xFF,
 * programming only clears bits and refuses non-erased words, PGAERR-style alignment errors, an
 * operation counter, power cuts that tear the operation they hit, and device time from the
 * datasheet's x32 timings. */
#ifndef FOTA_FLASH_SIM_H
#define FOTA_FLASH_SIM_H

#include <setjmp.h>
#include <stdint.h>

#include "fota/flash.h"
#include "fota/layout.h"

/* Datasheet typical times at x32 parallelism (2.7-3.6 V), in microseconds. */
#define SIM_ERASE_16K_US 250000u
#define SIM_ERASE_64K_US 550000u
#define SIM_ERASE_128K_US 1000000u
#define SIM_PROGRAM_WORD_US 16u

typedef struct {
    uint8_t *mem;             /* LAYOUT_FLASH_SIZE bytes; owned by the caller (RAM or an mmap'd file) */
    uint64_t ops;             /* erase and program operations so far (a program of n words counts n) */
    uint64_t cut_at;          /* cut power when ops reaches this (UINT64_MAX: never) */
    int tear;                 /* when cutting, leave the operation half done */
    uint32_t rng;             /* seeds the tearing */
    jmp_buf *on_cut;          /* where a power cut jumps to (longjmp(*on_cut, 1)) */
    uint64_t time_us;         /* simulated device time spent in flash operations */
    uint64_t erase_us, program_us;
    uint32_t erases[LAYOUT_SECTOR_COUNT]; /* erase cycles per sector (wear) */
    /* The OTP area and its lock bytes (LAYOUT_OTP_BASE, FLASH_SIM_OTP_BYTES), owned by the caller;
     * NULL: the part has none. Programs only clear bits, never erased; power cuts as above. */
    uint8_t *otp;
} flash_sim_t;

#define FLASH_SIM_OTP_BYTES (LAYOUT_OTP_SIZE + LAYOUT_OTP_LOCK_SIZE)

/* Starts a simulated flash over mem (not cleared: a file keeps its contents). */
void flash_sim_init(flash_sim_t *sim, uint8_t *mem);
/* Arms a power cut at operation number k (counting from the current ops value on). */
void flash_sim_cut_after(flash_sim_t *sim, uint64_t k, int tear, uint32_t seed, jmp_buf *on_cut);
void flash_sim_disarm(flash_sim_t *sim);
/* The flash port over this simulation. */
flash_port_t flash_sim_port(flash_sim_t *sim);
/* The port over its OTP area (absolute addresses from LAYOUT_OTP_BASE): read and program, with
 * the same blank-check contract; a block whose lock byte is 0x00, and any erase, are refused
 * (FLASH_ERR_PROTECTED). */
flash_port_t flash_sim_otp_port(flash_sim_t *sim);

#endif
