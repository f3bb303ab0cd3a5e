/* fota-emu: the real ARM firmware on an emulated STM32F407 (Unicorn CPU, peripheral models written
 * from RM0090, DS8626 and PM0214). The machine runs from a 1 MiB flash array the caller
 * owns (a mmap'd file keeps it across runs), with device time kept from executed instructions at
 * the clock the firmware configures. docs/emulator.md says what is modelled and what is not. */
#ifndef FOTA_EMU_H
#define FOTA_EMU_H

#include <stdint.h>

typedef struct emu emu_t;

typedef enum {
    EMU_FLASH_TYPICAL = 0, /* DS8626 typical program and erase times */
    EMU_FLASH_MAXIMUM = 1, /* DS8626 maximum times */
} emu_flash_timing_t;

#define EMU_PROFILE_BUCKETS 4 /* cycles attributed by code address (--profile) */

typedef struct {
    uint32_t lo, hi;     /* code addresses [lo, hi) */
    uint8_t bucket;      /* < EMU_PROFILE_BUCKETS */
} emu_profile_range_t;

typedef struct {
    uint32_t seed;       /* the machine's random source (LSI, jitter, tearing); 0 means 1 */
    uint32_t lsi_hz;     /* 0: drawn from the seed in DS8626's 17-47 kHz range */
    uint32_t hse_hz;     /* the crystal: 8 MHz on the STM32F4DISCOVERY (0 means that) */
    int hse_fails;       /* the HSE never becomes ready */
    uint32_t irq_jitter; /* a hardware interrupt waits up to this many instructions more (seeded) */
    uint64_t cut_at_op;  /* power cut when flash operation number N (1-based) starts; 0: never */
    uint64_t cut_at_ns;  /* power cut at this device time; 0: never */
    int tear;            /* the operation a cut hits is left half done */
    emu_flash_timing_t flash_timing;
    /* Profile: the cycles of instructions in these ranges go to their bucket (the array stays the
     * caller's); the rest to none. */
    const emu_profile_range_t *profile;
    uint32_t nprofile;
    /* Output: a byte USART1 sent, a GPIOD output pin that changed (the Discovery LEDs are 12-15). */
    void (*on_uart)(void *ctx, uint8_t byte);
    void (*on_gpio)(void *ctx, char port, int pin, int level);
    void (*on_log)(void *ctx, const char *line); /* the emulator's own remarks */
    void *ctx;
} emu_options_t;

typedef enum {
    EMU_RUN_TIME = 0, /* reached the requested device time */
    EMU_RUN_WATCH,    /* the program counter entered the watched range */
    EMU_RUN_CUT,      /* power was cut (emu_options_t): the flash holds what was done */
    EMU_RUN_LOCKUP,   /* the core locked up (a fault in a fault handler) */
    EMU_RUN_ERROR,    /* something the emulator cannot go on from (said through on_log) */
} emu_run_t;

typedef struct {
    uint64_t now_ns;
    uint64_t instructions, cycles16; /* cycles in sixteenths (flash wait states are fractional) */
    uint64_t stall_ns;               /* CPU waiting on the flash (single bank: no fetch during erase/program) */
    uint64_t idle_ns;                /* WFI */
    uint64_t flash_ops, erase_ns, program_ns;
    uint64_t exceptions, resets, slices;
    uint32_t hclk_hz;
    uint64_t profile16[EMU_PROFILE_BUCKETS]; /* cycles in sixteenths per profile bucket */
} emu_stats_t;

/* A machine over flash (1 MiB, owned by the caller), powered off; NULL when out of memory. */
emu_t *emu_new(uint8_t *flash, const emu_options_t *opts);
/* System memory from 0x1FFF0000 (64 KiB): the OTP area at 0x1FFF7800 and the option bytes at
 * 0x1FFFC000 live there. Fill it before emu_power_on, read it after a run. */
uint8_t *emu_system_memory(emu_t *emu);
void emu_free(emu_t *emu);

/* Power-on reset (SRAM cleared, PORRSTF) or a pulse on NRST (PINRSTF only). */
void emu_power_on(emu_t *emu);
void emu_pin_reset(emu_t *emu);

/* Runs until device time until_ns, or something in emu_run_t happens first. */
emu_run_t emu_run(emu_t *emu, uint64_t until_ns);
uint64_t emu_now(const emu_t *emu);
const char *emu_run_name(emu_run_t r);

/* Stops emu_run with EMU_RUN_WATCH when the program counter enters [lo, hi) (lo == hi: off). */
void emu_watch_pc(emu_t *emu, uint32_t lo, uint32_t hi);

/* One SPI transaction by the master (the bridge): gap_ns after the previous one ended, NSS falls,
 * len bytes at sck_hz (mode 0, MSB first), NSS rises. The device runs across it; miso gets what
 * the slave shifted out (0xFF where it drove nothing). */
void emu_spi_transfer(emu_t *emu, uint32_t gap_ns, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso, uint32_t len);
/* The same starting at device time start_ns, which may be earlier than the core's time when the
 * core is stalled (the master's clock runs on); returns when the transaction ends. */
uint64_t emu_spi_transfer_at(emu_t *emu, uint64_t start_ns, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso,
                             uint32_t len);
/* 1 once the application has enabled its SPI slave (SPI1 CR1.SPE): ready for the master. */
int emu_spi_ready(const emu_t *emu);

void emu_stats(const emu_t *emu, emu_stats_t *out);
/* The program counter now (for tests and messages). */
uint32_t emu_pc(const emu_t *emu);

#endif
