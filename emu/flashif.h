/* The embedded flash and its interface (RM0090 §3): the 1 MiB array, FLASH_ACR/KEYR/SR/CR, program
 * and erase with DS8626 timings, NOR rules, power cuts that tear the operation under way. */
#ifndef FOTA_EMU_FLASHIF_H
#define FOTA_EMU_FLASHIF_H

#include "emu_internal.h"

typedef struct flashif flashif_t;

/* cells: the flash (the file); view: what the core reads, the same but for stale cache lines;
 * sys: system memory from 0x1FFF0000, where the OTP area (0x1FFF7800, programmed through the
 * controller like the array, never erased) and the option bytes (0x1FFFC000, programmed by
 * OPTCR.OPTSTRT and loaded into OPTCR at reset) live. */
flashif_t *flashif_new(emu_t *emu, uint8_t *cells, uint8_t *view, uint8_t *sys);
void flashif_free(flashif_t *f);
emu_periph_t flashif_periph(flashif_t *f);
/* The CPU stored value (size bytes) at addr in the array: programmed if the controller allows. */
void flashif_store(flashif_t *f, uint32_t addr, unsigned size, uint32_t value);
uint64_t flashif_busy_until(const flashif_t *f);
/* Extra 1/16 cycles per instruction fetched from flash at hclk (ART, wait states). */
uint32_t flashif_penalty16(flashif_t *f, uint32_t hclk);
uint64_t flashif_ops(const flashif_t *f);
/* The ART data cache: 1 while DCEN; a CPU data read at addr (fills or refreshes a line). */
int flashif_dcache_on(const flashif_t *f);
void flashif_dread(flashif_t *f, uint32_t addr, unsigned size);
void flashif_times(const flashif_t *f, uint64_t *erase_ns, uint64_t *program_ns);

#endif
