/* The peripheral models of fota-emu against the rules of RM0090, DS8626 and PM0214, one behaviour per
 * test, through the bus as the firmware sees it. The core runs a two-instruction program (WFI, branch
 * back) from a tiny flash image, so device time passes at the emulator's pace with nothing else on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu_internal.h"
#include "fota/layout.h"

#define MS 1000000ull
#define US 1000ull
#define RCC 0x40023800u
#define FLASHR 0x40023C00u
#define IWDG 0x40003000u
#define GPIOA 0x40020000u
#define GPIOB 0x40020400u
#define GPIOD 0x40020C00u
#define GPIOE 0x40021000u
#define USART1 0x40011000u
#define SPI1 0x40013000u
#define DMA2 0x40026400u
#define SYSCFG 0x40013800u
#define EXTI 0x40013C00u
#define SCS 0xE000E000u
#define SRAM 0x20000000u

typedef struct {
    emu_t *emu;
    uint8_t *flash;
    char uart[64];
    size_t nuart;
    int led_calls, last_pin, last_level;
} fx_t;

static void on_uart(void *ctx, uint8_t b)
{
    fx_t *f = ctx;
    if (f->nuart < sizeof(f->uart) - 1) {
        f->uart[f->nuart++] = (char)b;
    }
}

static void on_gpio(void *ctx, char port, int pin, int level)
{
    fx_t *f = ctx;
    if (port == 'D') {
        f->led_calls++;
        f->last_pin = pin;
        f->last_level = level;
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static fx_t *make(const emu_options_t *extra)
{
    fx_t *f = calloc(1, sizeof(*f));
    f->flash = malloc(LAYOUT_FLASH_SIZE);
    assert_non_null(f->flash);
    memset(f->flash, 0xFF, LAYOUT_FLASH_SIZE);
    /* Vector table: stack at 0x20002000, reset and every handler at 0x20000100 in SRAM (WFI; B back):
     * a core running from flash would stall during flash operations and hide their timing. */
    put32(f->flash, 0x20002000u);
    for (int v = 1; v < 16 + 82; v++) {
        put32(f->flash + 4 * v, 0x20000101u);
    }
    emu_options_t o = {0};
    if (extra != NULL) {
        o = *extra;
    }
    o.seed = o.seed ? o.seed : 7;
    o.on_uart = on_uart;
    o.on_gpio = on_gpio;
    o.ctx = f;
    f->emu = emu_new(f->flash, &o);
    assert_non_null(f->emu);
    emu_power_on(f->emu);
    static const uint8_t idle[4] = {0x30, 0xBF, 0xFD, 0xE7}; /* wfi; b.n back to it */
    memcpy(emu_mem(f->emu, SRAM + 0x100, 4, 1), idle, 4);
    return f;
}

static void drop(fx_t *f)
{
    emu_free(f->emu);
    free(f->flash);
    free(f);
}

static uint32_t rd(fx_t *f, uint32_t addr)
{
    uint32_t v = 0;
    emu_sync(f->emu);
    assert_int_equal(emu_bus_read(f->emu, addr, 4, &v), 0);
    return v;
}

static void wr(fx_t *f, uint32_t addr, uint32_t v)
{
    emu_sync(f->emu);
    assert_int_equal(emu_bus_write(f->emu, addr, 4, v), 0);
}

static void run_for(fx_t *f, uint64_t ns)
{
    emu_run_t r = emu_run(f->emu, emu_now(f->emu) + ns);
    assert_int_equal(r, EMU_RUN_TIME);
}

/* ---- RCC (RM0090 §7.3) ---- */

static void test_rcc_power_on_sets_por_pin_bor_flags_until_rmvf(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    assert_int_equal(rd(f, RCC + 0x74) & 0xFF000000u, 0x0E000000u);
    wr(f, RCC + 0x74, 1u << 24);
    assert_int_equal(rd(f, RCC + 0x74) & 0xFF000000u, 0);
    emu_pin_reset(f->emu);
    assert_int_equal(rd(f, RCC + 0x74) & 0xFF000000u, 1u << 26); /* PINRSTF alone */
    drop(f);
}

static void test_rcc_sysresetreq_needs_vectkey_and_sets_sftrstf_and_pinrstf(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    wr(f, RCC + 0x74, 1u << 24);
    wr(f, SCS + 0xD0C, 0x00000004u); /* no VECTKEY: ignored */
    run_for(f, 10 * US);
    emu_stats_t st;
    emu_stats(f->emu, &st);
    assert_int_equal(st.resets, 1);
    wr(f, SCS + 0xD0C, 0x05FA0004u);
    run_for(f, 10 * US);
    emu_stats(f->emu, &st);
    assert_int_equal(st.resets, 2);
    assert_int_equal(rd(f, RCC + 0x74) & 0xFF000000u, (1u << 28) | (1u << 26));
    drop(f);
}

static void test_rcc_hse_ready_after_startup_and_pll_gives_168mhz(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    wr(f, RCC + 0x00, rd(f, RCC + 0x00) | (1u << 16)); /* HSEON */
    run_for(f, 1 * MS);
    assert_int_equal(rd(f, RCC + 0x00) & (1u << 17), 0); /* DS8626 tsu(HSE) 2 ms */
    run_for(f, 2 * MS);
    assert_int_not_equal(rd(f, RCC + 0x00) & (1u << 17), 0);
    /* HSE 8 MHz / M 8 * N 336 / P 2 = 168 MHz (RM0090 §7.3.2). */
    wr(f, RCC + 0x04, 8u | (336u << 6) | (0u << 16) | (1u << 22) | (7u << 24));
    wr(f, RCC + 0x00, rd(f, RCC + 0x00) | (1u << 24));
    wr(f, RCC + 0x08, 2u); /* SW = PLL before it locked: ignored */
    assert_int_equal((rd(f, RCC + 0x08) >> 2) & 3u, 0);
    run_for(f, 200 * US);
    assert_int_not_equal(rd(f, RCC + 0x00) & (1u << 25), 0);
    wr(f, FLASHR + 0x00, 5u); /* 5 wait states for 168 MHz (RM0090 table 10) */
    wr(f, RCC + 0x08, 2u | (5u << 10) | (4u << 13));
    assert_int_equal((rd(f, RCC + 0x08) >> 2) & 3u, 2u);
    run_for(f, 10 * US);
    emu_stats_t st;
    emu_stats(f->emu, &st);
    assert_int_equal(st.hclk_hz, 168000000u);
    drop(f);
}

static void test_rcc_hse_that_fails_never_becomes_ready(void **state)
{
    (void)state;
    emu_options_t o = {.hse_fails = 1};
    fx_t *f = make(&o);
    wr(f, RCC + 0x00, rd(f, RCC + 0x00) | (1u << 16));
    run_for(f, 50 * MS);
    assert_int_equal(rd(f, RCC + 0x00) & (1u << 17), 0);
    drop(f);
}

static void test_rcc_clock_gate_off_reads_zero_and_drops_writes(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    wr(f, USART1 + 0x08, 0x8B); /* USART1 not clocked yet */
    assert_int_equal(rd(f, USART1 + 0x00), 0);
    wr(f, RCC + 0x44, 1u << 4);
    assert_int_equal(rd(f, USART1 + 0x08), 0);
    assert_int_equal(rd(f, USART1 + 0x00), 0xC0u); /* TXE, TC at reset */
    drop(f);
}

/* ---- FLASH (RM0090 §3.5-3.9, DS8626 table 42) ---- */

static void unlock(fx_t *f)
{
    wr(f, FLASHR + 0x04, 0x45670123u);
    wr(f, FLASHR + 0x04, 0xCDEF89ABu);
    assert_int_equal(rd(f, FLASHR + 0x10) & (1u << 31), 0);
}

static void test_flash_wrong_key_locks_cr_until_reset_with_a_bus_error(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    wr(f, FLASHR + 0x04, 0x12345678u);
    run_for(f, 10 * US); /* the bus error is taken: BusFault disabled -> HardFault, FORCED */
    assert_int_not_equal(rd(f, SCS + 0xD28) & (1u << 10), 0); /* IMPRECISERR */
    assert_int_not_equal(rd(f, SCS + 0xD2C) & (1u << 30), 0);
    wr(f, FLASHR + 0x04, 0x45670123u);
    wr(f, FLASHR + 0x04, 0xCDEF89ABu);
    assert_int_not_equal(rd(f, FLASHR + 0x10) & (1u << 31), 0); /* still locked */
    wr(f, FLASHR + 0x10, 1u);
    assert_int_equal(rd(f, FLASHR + 0x10), 1u << 31); /* CR not writable while locked */
    emu_pin_reset(f->emu);
    unlock(f);
    drop(f);
}

static void test_flash_program_clears_bits_only_after_its_busy_time(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    uint32_t addr = 0x080E0000u, off = addr - LAYOUT_FLASH_BASE;
    put32(f->flash + off, 0xFFFF00FFu);
    unlock(f);
    wr(f, FLASHR + 0x10, (2u << 8) | 1u); /* PSIZE x32, PG */
    emu_cpu_store(f->emu, addr, 4, 0x12345678u);
    run_for(f, 5 * US);
    assert_int_not_equal(rd(f, FLASHR + 0x0C) & (1u << 16), 0); /* BSY (16 us typical) */
    run_for(f, 20 * US);
    assert_int_equal(rd(f, FLASHR + 0x0C), 0); /* no EOP without EOPIE, no error */
    uint32_t got;
    memcpy(&got, f->flash + off, 4);
    assert_int_equal(got, 0x12345678u & 0xFFFF00FFu); /* NOR: old AND new, no flag on the F407 */
    drop(f);
}

static void test_flash_program_errors_and_a_pending_error_blocks_the_next(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    uint32_t addr = 0x080E0010u, off = addr - LAYOUT_FLASH_BASE;
    unlock(f);
    wr(f, FLASHR + 0x10, (2u << 8) | 1u);
    emu_cpu_store(f->emu, addr, 1, 0x00u); /* byte store at PSIZE x32 */
    run_for(f, 30 * US);
    assert_int_equal(rd(f, FLASHR + 0x0C), 1u << 6); /* PGPERR */
    emu_cpu_store(f->emu, addr, 4, 0u);              /* right size, but an error flag is pending */
    run_for(f, 30 * US);
    assert_int_equal(rd(f, FLASHR + 0x0C), (1u << 6) | (1u << 7)); /* + PGSERR */
    assert_int_equal(f->flash[off], 0xFF);
    wr(f, FLASHR + 0x0C, 0xF2u);   /* clear by writing 1 */
    wr(f, FLASHR + 0x10, 2u << 8); /* PG off */
    emu_cpu_store(f->emu, addr, 4, 0u);
    run_for(f, 30 * US);
    assert_int_equal(rd(f, FLASHR + 0x0C), 1u << 7); /* PGSERR: a write with PG unset */
    wr(f, FLASHR + 0x0C, 0xF2u);
    wr(f, FLASHR + 0x10, (2u << 8) | 1u);
    emu_cpu_store(f->emu, addr + 2, 4, 0u); /* unaligned word */
    run_for(f, 30 * US);
    assert_int_equal(rd(f, FLASHR + 0x0C), 1u << 5); /* PGAERR */
    drop(f);
}

/* RM0090 §3.7: OTP words are programmed through the controller like the array, never erased, and a
 * block whose lock byte is 0x00 refuses programming (WRPERR in this model). */
static void test_flash_otp_programs_like_the_array_and_honours_lock_bytes(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    uint8_t *sys = emu_system_memory(f->emu);
    uint32_t otp = LAYOUT_OTP_BASE - 0x1FFF0000u;
    unlock(f);
    wr(f, FLASHR + 0x10, (2u << 8) | 1u); /* PSIZE x32, PG */
    emu_cpu_store(f->emu, LAYOUT_OTP_BASE + 8, 4, 0x00000000u);
    run_for(f, 30 * US);
    assert_int_equal(rd(f, FLASHR + 0x0C), 0);
    assert_int_equal(sys[otp + 8], 0x00);
    assert_int_equal(sys[otp + 12], 0xFF);
    sys[LAYOUT_OTP_LOCK_BASE - 0x1FFF0000u + 1] = 0x00; /* block 1 locked */
    emu_cpu_store(f->emu, LAYOUT_OTP_BASE + 32, 4, 0x00000000u);
    run_for(f, 30 * US);
    assert_int_equal(rd(f, FLASHR + 0x0C), 1u << 4); /* WRPERR */
    assert_int_equal(sys[otp + 32], 0xFF);
    drop(f);
}

/* RM0090 §3.6.2-3.6.4: OPTCR reads the option bytes, locked, at reset; OPTKEYR unlocks it;
 * OPTSTRT programs them (busy meanwhile); the new nWRP refuses an erase of the sector (WRPERR)
 * and the option bytes stay so across a power cycle. */
static void test_flash_option_bytes_write_protect_a_sector_and_persist(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    assert_int_equal(rd(f, FLASHR + 0x14), 0x0FFFAAEDu); /* as shipped */
    wr(f, FLASHR + 0x14, 0x0FFCAAECu);
    assert_int_equal(rd(f, FLASHR + 0x14), 0x0FFFAAEDu); /* locked: ignored */
    wr(f, FLASHR + 0x08, 0x08192A3Bu);
    wr(f, FLASHR + 0x08, 0x4C5D6E7Fu);
    assert_int_equal(rd(f, FLASHR + 0x14), 0x0FFFAAECu);
    wr(f, FLASHR + 0x14, 0x0FFCAAECu);
    wr(f, FLASHR + 0x14, 0x0FFCAAEEu); /* OPTSTRT */
    run_for(f, 1000 * US);
    assert_int_not_equal(rd(f, FLASHR + 0x0C) & (1u << 16), 0); /* BSY */
    run_for(f, 300000 * US);
    assert_int_equal(rd(f, FLASHR + 0x0C) & (1u << 16), 0);
    assert_int_equal(rd(f, FLASHR + 0x14), 0x0FFCAAECu);
    unlock(f);
    wr(f, FLASHR + 0x10, (2u << 8) | (1u << 1) | (1u << 3) | (1u << 16)); /* SER sector 1, STRT */
    run_for(f, 10 * US);
    assert_int_equal(rd(f, FLASHR + 0x0C), 1u << 4); /* WRPERR, nothing erased */
    emu_power_on(f->emu);
    assert_int_equal(rd(f, FLASHR + 0x14), 0x0FFCAAEDu); /* reloaded from the option bytes, locked */
    drop(f);
}

static void test_flash_erase_takes_datasheet_time_and_stalls_fetches(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    uint32_t off = 0x080E0000u - LAYOUT_FLASH_BASE;
    memset(f->flash + off, 0x00, 0x20000);
    unlock(f);
    wr(f, FLASHR + 0x10, (2u << 8) | (11u << 3) | 2u); /* SER, sector 11 */
    wr(f, FLASHR + 0x10, (2u << 8) | (11u << 3) | 2u | (1u << 16));
    run_for(f, 900 * MS);
    assert_int_not_equal(rd(f, FLASHR + 0x0C) & (1u << 16), 0); /* 128 KiB at x32: 1 s typical */
    assert_int_equal(f->flash[off], 0x00);
    run_for(f, 200 * MS);
    assert_int_equal(rd(f, FLASHR + 0x0C) & (1u << 16), 0);
    for (uint32_t i = 0; i < 0x20000; i += 0x1000) {
        assert_int_equal(f->flash[off + i], 0xFF);
    }
    drop(f);
}

static void test_flash_busy_stalls_a_core_fetching_from_flash(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    put32(f->flash + 4, 0x08000101u);
    f->flash[0x100] = 0xFE;
    f->flash[0x101] = 0xE7; /* b.n . at 0x08000100: a core spinning in flash */
    emu_power_on(f->emu);   /* the flash was changed with the device off */
    run_for(f, 10 * US);
    unlock(f);
    uint64_t t0 = emu_now(f->emu);
    wr(f, FLASHR + 0x10, (2u << 8) | (3u << 3) | 2u | (1u << 16)); /* sector 3: 16 KiB, 250 ms */
    emu_run(f->emu, t0 + 1 * MS);
    emu_stats_t st;
    emu_stats(f->emu, &st);
    /* RM0090 §3.5: one bank, no fetch while it erases: the core only went on after 250 ms. */
    assert_true(emu_now(f->emu) >= t0 + 250 * MS);
    assert_true(st.stall_ns >= 249 * MS && st.stall_ns <= 251 * MS);
    drop(f);
}

static void test_flash_maximum_timing_doubles_the_erase(void **state)
{
    (void)state;
    emu_options_t o = {.flash_timing = EMU_FLASH_MAXIMUM};
    fx_t *f = make(&o);
    unlock(f);
    wr(f, FLASHR + 0x10, (2u << 8) | (2u << 3) | 2u | (1u << 16)); /* sector 2, 16 KiB */
    run_for(f, 450 * MS);
    assert_int_not_equal(rd(f, FLASHR + 0x0C) & (1u << 16), 0); /* 500 ms maximum */
    run_for(f, 100 * MS);
    assert_int_equal(rd(f, FLASHR + 0x0C) & (1u << 16), 0);
    drop(f);
}

static void test_flash_cut_at_an_operation_tears_it_and_stops_the_machine(void **state)
{
    (void)state;
    for (int tear = 0; tear <= 1; tear++) {
        emu_options_t o = {.cut_at_op = 2, .tear = tear, .seed = 3};
        fx_t *f = make(&o);
        uint32_t addr = 0x080E0000u, off = addr - LAYOUT_FLASH_BASE;
        unlock(f);
        wr(f, FLASHR + 0x10, (2u << 8) | 1u);
        emu_cpu_store(f->emu, addr, 4, 0x00000000u); /* operation 1 */
        run_for(f, 30 * US);
        emu_cpu_store(f->emu, addr + 4, 4, 0x00000000u); /* operation 2: cut */
        assert_int_equal(emu_run(f->emu, emu_now(f->emu) + 30 * US), EMU_RUN_CUT);
        uint32_t w0, w1;
        memcpy(&w0, f->flash + off, 4);
        memcpy(&w1, f->flash + off + 4, 4);
        assert_int_equal(w0, 0);
        if (tear) {
            assert_int_not_equal(w1, 0xFFFFFFFFu); /* some bits cleared, seeded */
        } else {
            assert_int_equal(w1, 0xFFFFFFFFu); /* cut before it changed anything */
        }
        drop(f);
    }
}

static void test_flash_nothing_lands_after_the_power_cut(void **state)
{
    (void)state;
    emu_options_t o = {.cut_at_op = 1};
    fx_t *f = make(&o);
    uint32_t addr = 0x080E0000u, off = addr - LAYOUT_FLASH_BASE;
    unlock(f);
    wr(f, FLASHR + 0x10, (2u << 8) | 1u);
    emu_cpu_store(f->emu, addr, 4, 0u);     /* operation 1: the cut */
    emu_cpu_store(f->emu, addr + 4, 4, 0u); /* issued with it (an STRD, say): the supply is gone */
    emu_cpu_store(f->emu, addr + 8, 4, 0u);
    assert_int_equal(emu_run(f->emu, emu_now(f->emu) + 100 * US), EMU_RUN_CUT);
    emu_sync(f->emu);
    for (uint32_t i = 0; i < 12; i++) {
        assert_int_equal(f->flash[off + i], 0xFF);
    }
    drop(f);
}

/* ---- IWDG (RM0090 §19) ---- */

static void test_iwdg_resets_at_rlr_over_lsi_and_sets_iwdgrstf(void **state)
{
    (void)state;
    emu_options_t o = {.lsi_hz = 32000};
    fx_t *f = make(&o);
    wr(f, RCC + 0x74, 1u << 24);
    wr(f, IWDG + 0x00, 0xCCCCu); /* RLR 0xFFF, PR /4: 4095 * 4 / 32 kHz = 512 ms */
    run_for(f, 500 * MS);
    emu_stats_t st;
    emu_stats(f->emu, &st);
    assert_int_equal(st.resets, 1);
    wr(f, IWDG + 0x00, 0xAAAAu); /* reload: another 512 ms from now */
    run_for(f, 500 * MS);
    emu_stats(f->emu, &st);
    assert_int_equal(st.resets, 1);
    run_for(f, 20 * MS);
    emu_stats(f->emu, &st);
    assert_int_equal(st.resets, 2);
    assert_int_equal(rd(f, RCC + 0x74) & 0xFF000000u, (1u << 29) | (1u << 26)); /* IWDGRSTF, PINRSTF */
    drop(f);
}

static void test_iwdg_pr_update_shows_pvu_for_five_lsi_periods(void **state)
{
    (void)state;
    emu_options_t o = {.lsi_hz = 40000};
    fx_t *f = make(&o);
    wr(f, IWDG + 0x04, 4u); /* locked: ignored */
    assert_int_equal(rd(f, IWDG + 0x0C), 0);
    wr(f, IWDG + 0x00, 0x5555u);
    wr(f, IWDG + 0x04, 4u);
    assert_int_equal(rd(f, IWDG + 0x0C), 1u); /* PVU */
    run_for(f, 130 * US);                     /* 5 / 40 kHz = 125 us */
    assert_int_equal(rd(f, IWDG + 0x0C), 0);
    drop(f);
}

/* ---- GPIO, EXTI, SYSCFG (RM0090 §8, §9, §12) ---- */

static void test_gpio_bsrr_set_wins_and_led_changes_are_reported(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    wr(f, RCC + 0x30, rd(f, RCC + 0x30) | (1u << 3));
    wr(f, GPIOD + 0x00, 0x55u << 24);
    wr(f, GPIOD + 0x18, (1u << 12) | (1u << (12 + 16)));
    assert_int_equal(rd(f, GPIOD + 0x14), 1u << 12);
    assert_int_equal(f->led_calls, 1);
    assert_int_equal(f->last_pin, 12);
    assert_int_equal(f->last_level, 1);
    wr(f, GPIOD + 0x18, 1u << (12 + 16));
    assert_int_equal(f->last_level, 0);
    drop(f);
}

/* PE3, the Discovery accelerometer's chip select: output high, or back to a floating input. */
static void accel_deselect(fx_t *f, int high)
{
    wr(f, RCC + 0x30, rd(f, RCC + 0x30) | (1u << 4));
    wr(f, GPIOE + 0x18, 1u << 3);
    wr(f, GPIOE + 0x00, (rd(f, GPIOE + 0x00) & ~(3u << 6)) | ((high ? 1u : 0u) << 6));
}

/* SPI1 on PA4-PA7, AF5, MISO at high speed, PE3 high; DMA2 stream 0 (RX) and 3 (TX), channel 3. */
static void spi_setup(fx_t *f, int dma)
{
    wr(f, RCC + 0x30, rd(f, RCC + 0x30) | 1u | (1u << 22));
    wr(f, RCC + 0x44, (1u << 12) | (1u << 14));
    wr(f, GPIOA + 0x08, rd(f, GPIOA + 0x08) | (3u << 12));
    accel_deselect(f, 1);
    wr(f, GPIOA + 0x00, (rd(f, GPIOA + 0x00) & ~(0xFFu << 8)) | (0xAAu << 8));
    wr(f, GPIOA + 0x20, 0x5555u << 16);
    if (dma) {
        wr(f, DMA2 + 0x10 + 0x18 * 0 + 0x08, SPI1 + 0x0C);
        wr(f, DMA2 + 0x10 + 0x18 * 0 + 0x0C, SRAM + 0x1000);
        wr(f, DMA2 + 0x10 + 0x18 * 0 + 0x04, 16);
        wr(f, DMA2 + 0x10 + 0x18 * 0 + 0x00, (3u << 25) | (1u << 10) | 1u);
        wr(f, DMA2 + 0x10 + 0x18 * 3 + 0x08, SPI1 + 0x0C);
        wr(f, DMA2 + 0x10 + 0x18 * 3 + 0x0C, SRAM + 0x1100);
        wr(f, DMA2 + 0x10 + 0x18 * 3 + 0x04, 16);
        wr(f, SPI1 + 0x04, 3u); /* RXDMAEN, TXDMAEN */
        wr(f, DMA2 + 0x10 + 0x18 * 3 + 0x00, (3u << 25) | (1u << 10) | (1u << 6) | 1u);
    }
    wr(f, SPI1 + 0x00, 1u << 6); /* slave, mode 0, SPE */
}

static void test_spi_slave_with_dma_receives_and_answers_from_memory(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    uint8_t *tx = emu_mem(f->emu, SRAM + 0x1100, 16, 1);
    memcpy(tx, "ABCDEFGHIJKLMNOP", 16);
    spi_setup(f, 1);
    uint8_t mosi[8] = {1, 2, 3, 4, 5, 6, 7, 8}, miso[8];
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 8);
    assert_memory_equal(emu_mem(f->emu, SRAM + 0x1000, 8, 0), mosi, 8);
    assert_memory_equal(miso, "ABCDEFGH", 8);
    assert_int_equal(rd(f, DMA2 + 0x10 + 0x04), 8); /* NDTR: 8 items left */
    drop(f);
}

static void test_spi_m2p_direct_mode_preloads_one_item_at_enable(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    uint8_t *tx = emu_mem(f->emu, SRAM + 0x1100, 16, 1);
    memcpy(tx, "ABCDEFGHIJKLMNOP", 16);
    spi_setup(f, 1);
    memcpy(tx, "abcdefghijklmnop", 16); /* too late for the item already taken */
    uint8_t mosi[4] = {0}, miso[4];
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 4);
    assert_int_equal(miso[0], 'A'); /* in DR since enable */
    assert_int_equal(miso[1], 'B'); /* preloaded at the first transfer */
    assert_int_equal(miso[2], 'c');
    drop(f);
}

static void test_dma_fifo_mode_holds_items_until_its_threshold(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    spi_setup(f, 0);
    uint8_t *rx = emu_mem(f->emu, SRAM + 0x1000, 8, 1);
    memset(rx, 0xEE, 8);
    wr(f, DMA2 + 0x10 + 0x14, 4u | 0u); /* stream 0 FCR: DMDIS (FIFO mode), FTH 1/4 = 4 bytes */
    wr(f, DMA2 + 0x10 + 0x08, SPI1 + 0x0C);
    wr(f, DMA2 + 0x10 + 0x0C, SRAM + 0x1000);
    wr(f, DMA2 + 0x10 + 0x04, 6);
    wr(f, DMA2 + 0x10 + 0x00, (3u << 25) | (1u << 10) | 1u);
    wr(f, SPI1 + 0x04, 1u); /* RXDMAEN */
    uint8_t mosi[6] = {1, 2, 3, 4, 5, 6}, miso[6];
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 3);
    assert_int_equal(rx[0], 0xEE); /* three bytes wait in the FIFO (RM0090 §10.3.12) */
    emu_spi_transfer(f->emu, 20000, 8000000, mosi + 3, miso, 1);
    assert_memory_equal(rx, mosi, 4); /* the threshold: four bytes to memory */
    assert_int_equal(rx[4], 0xEE);
    emu_spi_transfer(f->emu, 20000, 8000000, mosi + 4, miso, 2);
    assert_memory_equal(rx, mosi, 6); /* NDTR reached 0: the rest goes too, TCIF */
    assert_int_not_equal(rd(f, DMA2 + 0x00) & (1u << 5), 0);
    drop(f);
}

static void test_spi_overrun_loses_bytes_until_dr_then_sr_read(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    spi_setup(f, 0);
    uint8_t mosi[3] = {0x11, 0x22, 0x33}, miso[3];
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 3);
    assert_int_equal(rd(f, SPI1 + 0x08) & 0x41u, 0x41u); /* RXNE, OVR */
    wr(f, SPI1 + 0x00, 0);                               /* clearing SPE does not clear OVR */
    wr(f, SPI1 + 0x00, 1u << 6);
    assert_int_not_equal(rd(f, SPI1 + 0x08) & 0x40u, 0);
    assert_int_equal(rd(f, SPI1 + 0x0C), 0x11); /* the first byte stayed */
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 1);
    assert_int_equal(rd(f, SPI1 + 0x08) & 0x01u, 0); /* OVR set: nothing received */
    (void)rd(f, SPI1 + 0x0C);
    (void)rd(f, SPI1 + 0x08); /* DR then SR: OVR clears */
    assert_int_equal(rd(f, SPI1 + 0x08) & 0x40u, 0);
    drop(f);
}

static void test_spi_rcc_reset_clears_ovr_and_registers(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    spi_setup(f, 0);
    uint8_t mosi[3] = {1, 2, 3}, miso[3];
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 3);
    assert_int_not_equal(rd(f, SPI1 + 0x08) & 0x40u, 0);
    wr(f, RCC + 0x24, 1u << 12);
    wr(f, RCC + 0x24, 0);
    assert_int_equal(rd(f, SPI1 + 0x08), 0x02u); /* TXE only */
    assert_int_equal(rd(f, SPI1 + 0x00), 0);
    drop(f);
}

static void test_spi_spe_set_mid_byte_puts_the_stream_out_of_step(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    spi_setup(f, 0);
    wr(f, SPI1 + 0x00, 0); /* SPE off while the master starts */
    uint8_t mosi[3] = {0xF0, 0x0F, 0xAA}, miso[3];
    uint64_t start = emu_now(f->emu) + 10 * US;
    uint64_t end = emu_spi_schedule(f->emu, start, 1000000, mosi, miso, 3);
    /* Bits at 1 MHz after 1 us of NSS lead: SPE set 4.5 bits into the first byte. */
    run_for(f, start + 1 * US + 4500 - emu_now(f->emu));
    wr(f, SPI1 + 0x00, 1u << 6);
    run_for(f, end + 10 * US - emu_now(f->emu));
    /* Bits 0-4 went by before SPE: the slave's first frame is stream bits 5..12, the tail 000 of
     * 0xF0 and the head 00001 of 0x0F; its second frame (bits 13..20) found RXNE set: OVR. */
    assert_int_equal(rd(f, SPI1 + 0x08) & 0x41u, 0x41u);
    assert_int_equal(rd(f, SPI1 + 0x0C), 0x01u);
    drop(f);
}

/* DS8626 I/O AC characteristics: at OSPEEDR low speed the pin switches at 2 MHz at most (50 pF);
 * at 8 MHz each edge arrives a bit late: 0x0F reads as 0x07 after a 0 bit, 0xA5 alternates every
 * bit so the master sees the line one bit behind. At high speed both come through. */
static void test_spi_miso_at_low_speed_lags_at_8_mhz(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    spi_setup(f, 0);
    wr(f, GPIOA + 0x08, rd(f, GPIOA + 0x08) & ~(3u << 12)); /* back to the reset value: low speed */
    wr(f, SPI1 + 0x0C, 0x0F);
    uint8_t mosi[1] = {0}, miso[1];
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 1);
    assert_int_equal(miso[0], 0x87); /* the floating 1 before, then 0000111 */
    emu_spi_transfer(f->emu, 20000, 1000000, mosi, miso, 1);
    assert_int_equal(miso[0], 0x0F); /* 1 MHz is within 2 MHz */
    wr(f, GPIOA + 0x08, rd(f, GPIOA + 0x08) | (3u << 12));
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 1);
    assert_int_equal(miso[0], 0x0F);
    drop(f);
}

/* UM1472: the accelerometer shares SPI1; with PE3 floating it answers what looks like a read
 * command (bit 7 set) on MISO in the next byte. */
static void test_spi_floating_pe3_lets_the_accelerometer_drive_miso(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    spi_setup(f, 0);
    accel_deselect(f, 0);
    wr(f, SPI1 + 0x0C, 0x42);
    uint8_t mosi[3] = {0x8F, 0x00, 0x00}, miso[3];
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 3);
    assert_int_equal(miso[0], 0x42);
    assert_int_equal(miso[1], 0x00); /* after 0x8F: the accelerometer's byte */
    assert_int_equal(miso[2], 0x42);
    accel_deselect(f, 1);
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 3);
    assert_int_equal(miso[1], 0x42);
    drop(f);
}

static void test_spi_nothing_loaded_resends_and_deselected_floats(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    spi_setup(f, 0);
    wr(f, SPI1 + 0x0C, 0x42);
    uint8_t mosi[3] = {0}, miso[3];
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 3);
    assert_int_equal(miso[0], 0x42);
    assert_int_equal(miso[1], 0x42);
    assert_int_equal(miso[2], 0x42);
    wr(f, SPI1 + 0x00, 0);
    emu_spi_transfer(f->emu, 20000, 8000000, mosi, miso, 2);
    assert_int_equal(miso[0], 0xFF); /* disabled slave: MISO floats high */
    drop(f);
}

static void test_exti_nss_rising_edge_pends_irq10_through_syscfg(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    spi_setup(f, 0);
    wr(f, SYSCFG + 0x0C, 0); /* EXTICR2: line 4 from port A */
    wr(f, EXTI + 0x08, 1u << 4);
    wr(f, EXTI + 0x00, 1u << 4);
    uint8_t mosi[2] = {0}, miso[2];
    emu_spi_schedule(f->emu, emu_now(f->emu) + 1 * US, 8000000, mosi, miso, 2);
    run_for(f, 2 * US); /* NSS fell: a falling edge, not selected */
    assert_int_equal(rd(f, EXTI + 0x14), 0);
    run_for(f, 10 * US); /* NSS rose */
    assert_int_equal(rd(f, EXTI + 0x14), 1u << 4);
    assert_int_not_equal(rd(f, SCS + 0x200) & (1u << 10), 0); /* NVIC ISPR: EXTI4 */
    wr(f, EXTI + 0x14, 1u << 4);
    assert_int_equal(rd(f, EXTI + 0x14), 0);
    drop(f);
}

/* ---- USART1 (RM0090 §30) ---- */

static void usart_on_pb6(fx_t *f)
{
    wr(f, RCC + 0x30, rd(f, RCC + 0x30) | 3u); /* GPIOA, GPIOB */
    wr(f, GPIOB + 0x00, (rd(f, GPIOB + 0x00) & ~(3u << 12)) | (2u << 12));
    wr(f, GPIOB + 0x20, 7u << 24);
}

/* UM1472: PA9 carries VBUS_FS and 4.7 uF on the Discovery; only PB6 gives a readable console. A
 * BRR left for another PCLK2 (here the same HSI divided by 2 on APB2: 57.5 kbaud) gives garbage. */
static void test_usart_needs_pb6_and_the_right_rate(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    wr(f, RCC + 0x30, rd(f, RCC + 0x30) | 3u);
    wr(f, RCC + 0x44, 1u << 4);
    wr(f, GPIOA + 0x00, (rd(f, GPIOA + 0x00) & ~(3u << 18)) | (2u << 18));
    wr(f, GPIOA + 0x24, 7u << 4);
    wr(f, USART1 + 0x08, 0x8Bu);
    wr(f, USART1 + 0x0C, (1u << 13) | (1u << 3));
    wr(f, USART1 + 0x04, 'x');
    run_for(f, 100 * US);
    assert_int_equal(f->nuart, 0); /* on PA9: nothing */
    usart_on_pb6(f);
    wr(f, USART1 + 0x04, 'y');
    run_for(f, 100 * US);
    assert_int_equal(f->nuart, 1);
    assert_int_equal(f->uart[0], 'y');
    /* APB2 /2: 8 MHz, BRR 0x8B now makes 57.5 kbaud. */
    wr(f, RCC + 0x08, 4u << 13);
    wr(f, USART1 + 0x04, 'z');
    run_for(f, 200 * US); /* 10 bits at 57.5 kbaud: 174 us */
    assert_int_equal(f->nuart, 2);
    assert_int_equal(f->uart[1], '?');
    drop(f);
}

static void test_usart_byte_leaves_after_one_frame_time(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    wr(f, RCC + 0x44, 1u << 4);
    usart_on_pb6(f);
    wr(f, USART1 + 0x08, 0x8Bu); /* 16 MHz / 139 = 115108 baud: 86.9 us a frame */
    wr(f, USART1 + 0x0C, (1u << 13) | (1u << 3));
    wr(f, USART1 + 0x04, 'x');
    assert_int_equal(rd(f, USART1 + 0x00) & 0xC0u, 0x80u); /* moved to the shift register: TXE, not TC */
    wr(f, USART1 + 0x04, 'y');
    assert_int_equal(rd(f, USART1 + 0x00) & 0xC0u, 0);
    run_for(f, 80 * US);
    assert_int_equal(f->nuart, 0);
    run_for(f, 10 * US);
    assert_int_equal(f->nuart, 1);
    assert_int_equal(f->uart[0], 'x');
    run_for(f, 90 * US);
    assert_int_equal(f->nuart, 2);
    assert_int_equal(rd(f, USART1 + 0x00) & 0xC0u, 0xC0u);
    drop(f);
}

/* ---- SCS (PM0214 §4) ---- */

static void test_systick_wraps_take_the_exception(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    wr(f, SCS + 0x014, 1599u); /* 100 us at 16 MHz */
    wr(f, SCS + 0x010, 7u);
    run_for(f, 1 * MS);
    emu_stats_t st;
    emu_stats(f->emu, &st);
    assert_true(st.exceptions >= 1);                      /* the handler (WFI loop) never returns: one entry */
    assert_int_not_equal(rd(f, SCS + 0xD04) & 0x1FFu, 0); /* VECTACTIVE = 15 */
    assert_int_equal(rd(f, SCS + 0xD04) & 0x1FFu, 15u);
    drop(f);
}

static void test_nvic_takes_the_higher_priority_pending_irq_first(void **state)
{
    (void)state;
    fx_t *f = make(NULL);
    wr(f, SCS + 0x404, (0x40u << 8) | (0x20u << 16)); /* IRQ 5: priority 0x40, IRQ 6: 0x20 */
    wr(f, SCS + 0x100, (1u << 5) | (1u << 6));
    wr(f, SCS + 0x200, (1u << 5) | (1u << 6));
    run_for(f, 10 * US);
    assert_int_equal(rd(f, SCS + 0xD04) & 0x1FFu, 16u + 6u);
    drop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rcc_power_on_sets_por_pin_bor_flags_until_rmvf),
        cmocka_unit_test(test_rcc_sysresetreq_needs_vectkey_and_sets_sftrstf_and_pinrstf),
        cmocka_unit_test(test_rcc_hse_ready_after_startup_and_pll_gives_168mhz),
        cmocka_unit_test(test_rcc_hse_that_fails_never_becomes_ready),
        cmocka_unit_test(test_rcc_clock_gate_off_reads_zero_and_drops_writes),
        cmocka_unit_test(test_flash_wrong_key_locks_cr_until_reset_with_a_bus_error),
        cmocka_unit_test(test_flash_program_clears_bits_only_after_its_busy_time),
        cmocka_unit_test(test_flash_program_errors_and_a_pending_error_blocks_the_next),
        cmocka_unit_test(test_flash_otp_programs_like_the_array_and_honours_lock_bytes),
        cmocka_unit_test(test_flash_option_bytes_write_protect_a_sector_and_persist),
        cmocka_unit_test(test_flash_erase_takes_datasheet_time_and_stalls_fetches),
        cmocka_unit_test(test_flash_busy_stalls_a_core_fetching_from_flash),
        cmocka_unit_test(test_flash_maximum_timing_doubles_the_erase),
        cmocka_unit_test(test_flash_cut_at_an_operation_tears_it_and_stops_the_machine),
        cmocka_unit_test(test_flash_nothing_lands_after_the_power_cut),
        cmocka_unit_test(test_iwdg_resets_at_rlr_over_lsi_and_sets_iwdgrstf),
        cmocka_unit_test(test_iwdg_pr_update_shows_pvu_for_five_lsi_periods),
        cmocka_unit_test(test_gpio_bsrr_set_wins_and_led_changes_are_reported),
        cmocka_unit_test(test_spi_slave_with_dma_receives_and_answers_from_memory),
        cmocka_unit_test(test_spi_m2p_direct_mode_preloads_one_item_at_enable),
        cmocka_unit_test(test_dma_fifo_mode_holds_items_until_its_threshold),
        cmocka_unit_test(test_spi_overrun_loses_bytes_until_dr_then_sr_read),
        cmocka_unit_test(test_spi_rcc_reset_clears_ovr_and_registers),
        cmocka_unit_test(test_spi_spe_set_mid_byte_puts_the_stream_out_of_step),
        cmocka_unit_test(test_spi_nothing_loaded_resends_and_deselected_floats),
        cmocka_unit_test(test_spi_miso_at_low_speed_lags_at_8_mhz),
        cmocka_unit_test(test_spi_floating_pe3_lets_the_accelerometer_drive_miso),
        cmocka_unit_test(test_exti_nss_rising_edge_pends_irq10_through_syscfg),
        cmocka_unit_test(test_usart_byte_leaves_after_one_frame_time),
        cmocka_unit_test(test_usart_needs_pb6_and_the_right_rate),
        cmocka_unit_test(test_systick_wraps_take_the_exception),
        cmocka_unit_test(test_nvic_takes_the_higher_priority_pending_irq_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
