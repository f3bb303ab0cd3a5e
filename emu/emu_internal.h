/* fota-emu internals: the machine every peripheral model sees. A model is a file with a small
 * interface (emu_periph_t): read and write a register, catch up with device time, say when its next
 * event is due, reset. The CPU glue (cpu.c) dispatches bus accesses by address through the table
 * of models and knows none of them by name; the board (stm32f407.c) creates and wires them.
 * Time is device time in nanoseconds. Private to emu/. */
#ifndef FOTA_EMU_INTERNAL_H
#define FOTA_EMU_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "fota/emu.h"

#define EMU_NEVER UINT64_MAX

/* The per-instruction path (the code hook and what it calls) runs without sanitizer checks, so the
 * sanitized test build keeps most of its speed; it only reads fields and does arithmetic. */
#define EMU_HOT __attribute__((no_sanitize("address", "undefined")))

/* What caused a reset, as RCC_CSR records it (RM0090 §7.3.21). */
typedef enum {
    EMU_RESET_POWER,    /* power-on: PORRSTF and PINRSTF, backup domain kept out of scope */
    EMU_RESET_PIN,      /* NRST pulled low: PINRSTF */
    EMU_RESET_SOFTWARE, /* AIRCR.SYSRESETREQ: SFTRSTF and PINRSTF */
    EMU_RESET_IWDG,     /* independent watchdog: IWDGRSTF and PINRSTF */
    EMU_RESET_BUS,      /* one peripheral held in reset through RCC_xxxRSTR */
} emu_reset_kind_t;

typedef struct emu_periph {
    const char *name;
    uint32_t base, size; /* bus window, bytes */
    uint32_t (*read)(void *self, uint32_t off, unsigned size);
    void (*write)(void *self, uint32_t off, uint32_t value, unsigned size);
    /* Brings the model to device time now (processing its events up to now, in order). */
    void (*advance)(void *self, uint64_t now);
    /* Device time of the next event that needs the CPU to stop (an interrupt, a reset), or EMU_NEVER. */
    uint64_t (*next_event)(void *self);
    void (*reset)(void *self, emu_reset_kind_t kind);
    void *self;
    /* The RCC enable bit that clocks it (RM0090 §7.3.10-14): with the clock off, reads give 0 and
     * writes are lost. NULL: always clocked. */
    const uint32_t *clk_reg;
    uint32_t clk_mask;
} emu_periph_t;

#define EMU_MAX_PERIPH 24

/* The bytes a read of size bytes at offset off gets from the 32-bit register holding them. */
static inline uint32_t emu_reg_part(uint32_t word, uint32_t off, unsigned size)
{
    word >>= (off & 3u) * 8u;
    return size >= 4 ? word : word & ((1u << (size * 8u)) - 1u);
}

/* What the board (stm32f407.c) tells the CPU glue. */
typedef struct {
    uint32_t (*hclk_hz)(void *b);          /* the core's clock now */
    uint32_t (*flash_penalty16)(void *b);  /* extra 1/16 cycles per instruction fetched from flash */
    uint64_t (*flash_busy_until)(void *b); /* device time the flash stops being busy (0: idle) */
    /* The CPU stored to the flash array (before the store lands): the controller decides. */
    void (*flash_store)(void *b, uint32_t addr, unsigned size, uint32_t value);
    uint64_t (*spi_schedule)(void *b, uint64_t start_ns, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso,
                             uint32_t len);
    int (*spi_ready)(void *b);
    /* The ART data cache (RM0090 §3.5.2): on or off, and a CPU data read of the flash. */
    int (*dcache_on)(void *b);
    void (*flash_dread)(void *b, uint32_t addr, unsigned size);
    void (*flash_stats)(void *b, uint64_t *ops, uint64_t *erase_ns, uint64_t *program_ns);
    void (*free)(void *b);
} emu_board_t;

/* Board set-up (stm32f407.c), called by emu_new. 0 on success. */
int f407_attach(emu_t *emu);
void emu_set_board(emu_t *emu, const emu_board_t *ops, void *b);
int emu_add_periph(emu_t *emu, const emu_periph_t *p);
uint8_t *emu_flash(emu_t *emu);      /* the flash cells (the caller's array: the file) */
uint8_t *emu_flash_view(emu_t *emu); /* what the core reads and fetches: the cells, but for stale cache lines */

/* Services the machine offers its models (implemented in cpu.c). */
uint64_t emu_time(emu_t *emu);                             /* device time now, ns */
void emu_irq_level(emu_t *emu, int irq, int level);        /* NVIC: a level-held interrupt line */
void emu_request_reset(emu_t *emu, emu_reset_kind_t kind); /* system reset at the end of this slice */
void emu_kick(emu_t *emu);                                 /* end the current slice soon: something changed */
void emu_log(emu_t *emu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint32_t emu_rand(emu_t *emu); /* the machine's seeded generator */
const emu_options_t *emu_opts(emu_t *emu);
/* Host pointer to [addr, addr+len) of SRAM or CCM (and flash when !write), or NULL. */
uint8_t *emu_mem(emu_t *emu, uint32_t addr, uint32_t len, int write);
/* A bus master (DMA) reading or writing a peripheral register; -1 when nothing answers there. */
int emu_bus_read(emu_t *emu, uint32_t addr, unsigned size, uint32_t *value);
int emu_bus_write(emu_t *emu, uint32_t addr, unsigned size, uint32_t value);
/* Flash contents changed under [addr, addr+len): translated code there is dropped. */
void emu_code_changed(emu_t *emu, uint32_t addr, uint32_t len);
/* The CPU's bus access went wrong (a bus error answer): BusFault, imprecise for writes. */
void emu_bus_error(emu_t *emu, uint32_t addr, int write);
/* The emulator cannot go on (a rule it refuses to guess about): EMU_RUN_ERROR. */
void emu_fatal(emu_t *emu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The bus holds the core until device time t (an access the peripheral makes wait). */
void emu_stall(emu_t *emu, uint64_t t);
/* Power fails now: EMU_RUN_CUT at the end of this slice, with no further flash change. */
void emu_power_cut(emu_t *emu);
/* Brings every model to now (before a model looks at another). */
void emu_sync(emu_t *emu);

/* For the models' tests: a CPU store into the flash array (what the write hook reports), and a
 * master transaction scheduled without running the core across it (returns when NSS rises). */
void emu_cpu_store(emu_t *emu, uint32_t addr, unsigned size, uint32_t value);
uint64_t emu_spi_schedule(emu_t *emu, uint64_t start_ns, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso,
                          uint32_t len);

#endif
