/* STM32F407 board support: see board.h. board_init() runs the core at 168 MHz from the 8 MHz HSE
 * crystal, or stays on HSI 16 MHz when the crystal does not start. Every wait on a hardware flag
 * is bounded: under QEMU the RCC and FLASH registers read as zero. */
#include "board.h"

#include <stdarg.h>
#include <string.h>

#include "fota/config.h"
#include "fota/fmt.h"
#include "fota/layout.h"
#include "regs.h"

#define HSI_HZ 16000000u
#define PLL_HZ 168000000u

static uint32_t hclk_hz = HSI_HZ;
static board_clock_t clock_state = BOARD_CLOCK_HSI;

/* Upper bounds on busy-waits, in loop iterations (at least 4 cycles each), from the clock: the
 * datasheet's maximum times at x32 with margin: sector erase 2 s (128 KiB), word program 100 us. */
static uint32_t spins_us(uint32_t us)
{
    return hclk_hz / 4000000u * us;
}
#define SPINS_ERASE spins_us(4000000u)
#define SPINS_PROGRAM spins_us(1000u)
#define SPINS_UART_CHAR spins_us(1000u)

/* 168 MHz: HSE 8 MHz / M 8 * N 336 / P 2; Q 7 gives 48 MHz for USB. AHB /1, APB1 /4 (42 MHz),
 * APB2 /2 (84 MHz). Five wait states at 2.7-3.6 V (RM0090 table 10), prefetch and both caches.
 * An application started by our bootloader finds the PLL running and keeps it. */
static board_clock_t clock_init(void)
{
    if (RCC_CFGR_SWS(RCC_CFGR) == RCC_CFGR_SW_PLL) {
        hclk_hz = PLL_HZ;
        return BOARD_CLOCK_PLL_KEPT;
    }
    RCC_CR |= RCC_CR_HSEON;
    uint32_t i;
    for (i = 0; i < spins_us(10000u) && (RCC_CR & RCC_CR_HSERDY) == 0; i++) { /* 2 ms typical */
    }
    if ((RCC_CR & RCC_CR_HSERDY) == 0) {
        RCC_CR &= ~RCC_CR_HSEON;
        return BOARD_CLOCK_HSI_NO_HSE;
    }
    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC_APB1ENR;
    PWR_CR |= PWR_CR_VOS; /* scale 1: needed above 144 MHz (its reset value on the F407) */
    RCC_PLLCFGR = 8u | (336u << 6) | (0u << 16) | (1u << 22) | (7u << 24);
    RCC_CFGR = (RCC_CFGR & ~0xFCF0u) | (5u << 10) | (4u << 13); /* HPRE /1, PPRE1 /4, PPRE2 /2 */
    RCC_CR |= RCC_CR_PLLON;
    for (i = 0; i < spins_us(1000u) && (RCC_CR & RCC_CR_PLLRDY) == 0; i++) { /* 100 us typical */
    }
    if ((RCC_CR & RCC_CR_PLLRDY) == 0) {
        RCC_CR &= ~(RCC_CR_PLLON | RCC_CR_HSEON);
        return BOARD_CLOCK_HSI_NO_PLL;
    }
    /* Wait states before the clock rises; caches reset while off, then on. */
    FLASH_ACR = FLASH_ACR_LATENCY(5);
    FLASH_ACR = FLASH_ACR_LATENCY(5) | FLASH_ACR_ICRST | FLASH_ACR_DCRST;
    FLASH_ACR = FLASH_ACR_LATENCY(5) | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    RCC_CFGR = (RCC_CFGR & ~3u) | RCC_CFGR_SW_PLL;
    for (i = 0; i < spins_us(1000u) && RCC_CFGR_SWS(RCC_CFGR) != RCC_CFGR_SW_PLL; i++) {
    }
    if (RCC_CFGR_SWS(RCC_CFGR) != RCC_CFGR_SW_PLL) {
        RCC_CFGR &= ~3u;
        return BOARD_CLOCK_HSI_NO_PLL;
    }
    hclk_hz = PLL_HZ;
    return BOARD_CLOCK_PLL;
}

void board_init(void)
{
    clock_state = clock_init();
    RCC_AHB1ENR |= (1u << 0) | (1u << 1) | (1u << 3) | (1u << 4); /* GPIOA, B, D, E */
    RCC_APB2ENR |= (1u << 4);                                     /* USART1 */
    (void)RCC_APB2ENR;
    /* PE3 high: the Discovery's accelerometer shares SPI1's pins (UM1472) and its chip select
     * must not float, or it drives MISO. */
    GPIO_BSRR(GPIOE_BASE) = 1u << 3;
    GPIO_MODER(GPIOE_BASE) = (GPIO_MODER(GPIOE_BASE) & ~(3u << 6)) | (1u << 6);
    /* PD12-PD15 outputs. */
    GPIO_MODER(GPIOD_BASE) = (GPIO_MODER(GPIOD_BASE) & ~(0xFFu << 24)) | (0x55u << 24);
    /* USART1_TX on PB6 (AF7): PA9, the other choice, is VBUS_FS on the Discovery with 4.7 uF. */
    GPIO_MODER(GPIOB_BASE) = (GPIO_MODER(GPIOB_BASE) & ~(3u << 12)) | (2u << 12);
    GPIO_AFRL(GPIOB_BASE) = (GPIO_AFRL(GPIOB_BASE) & ~(0xFu << 24)) | (7u << 24);
    /* 115200 baud from PCLK2: 84 MHz / (16 * 45.5625) = 115226; 16 MHz / (16 * 8.6875) = 115108. */
    USART_BRR = hclk_hz == PLL_HZ ? (45u << 4) | 9u : (8u << 4) | 11u;
    USART_CR1 = USART_CR1_UE | USART_CR1_TE;
    NVIC_ISER(1) = 1u << (37 - 32); /* USART1 is IRQ 37 */
}

board_clock_t board_clock(void)
{
    return clock_state;
}

uint32_t board_hclk(void)
{
    return hclk_hz;
}

const char *board_clock_text(board_clock_t c)
{
    switch (c) {
    case BOARD_CLOCK_PLL:
        return "168 MHz (PLL from HSE 8 MHz)";
    case BOARD_CLOCK_PLL_KEPT:
        return "168 MHz (PLL kept from the bootloader)";
    case BOARD_CLOCK_HSI_NO_HSE:
        return "16 MHz HSI: the HSE crystal did not start";
    case BOARD_CLOCK_HSI_NO_PLL:
        return "16 MHz HSI: the PLL did not lock";
    case BOARD_CLOCK_HSI:
        break;
    }
    return "16 MHz HSI";
}

/* With board_log_async (the bootloader), the log goes out from a ring by the TXE interrupt, so the
 * CPU verifies images while USART1 sends (115200 baud: 87 us a character; the boot's lines took
 * 17 ms of a 260 ms boot). When the ring is full, or at board_log_flush (before a jump or a
 * reset), characters are sent by polling, so nothing is lost where the interrupt never comes
 * (QEMU's model does not raise it). Otherwise (the application) each character is sent at once. */
#define TX_RING 256u
static char tx_ring[TX_RING];
static volatile uint32_t tx_head, tx_tail; /* head: written by board_puts; tail: by whoever sends */

/* Sends one character from the ring if the transmitter is free; 0 when the ring is empty. From
 * thread code it runs with interrupts masked (PRIMASK restored after), so it never races the
 * interrupt for the tail. */
static int tx_pump(void)
{
    if (tx_tail == tx_head) {
        return 0;
    }
    if (USART_SR & USART_SR_TXE) {
        USART_DR = (uint8_t)tx_ring[tx_tail % TX_RING];
        tx_tail = tx_tail + 1u;
    }
    return 1;
}

static int tx_pump_masked(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    int more = tx_pump();
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
    return more;
}

void USART1_IRQHandler(void); /* the vector table names it */
void USART1_IRQHandler(void)
{
    if (tx_pump() == 0 || tx_tail == tx_head) {
        USART_CR1 &= ~USART_CR1_TXEIE; /* nothing more to send */
    }
}

static int log_async;

void board_log_async(void)
{
    log_async = 1;
}

void board_puts(const char *s)
{
    if (!log_async) { /* each character waits for the transmitter: nothing is left behind */
        for (; *s != '\0'; s++) {
            for (uint32_t i = 0; i < SPINS_UART_CHAR && (USART_SR & USART_SR_TXE) == 0; i++) {
            }
            USART_DR = (uint8_t)*s;
        }
        return;
    }
    for (; *s != '\0'; s++) {
        for (uint32_t i = 0; i < SPINS_UART_CHAR && tx_head - tx_tail >= TX_RING; i++) {
            (void)tx_pump_masked(); /* full: make room by polling */
        }
        if (tx_head - tx_tail >= TX_RING) {
            return; /* a dead USART never hangs us */
        }
        tx_ring[tx_head % TX_RING] = *s;
        tx_head = tx_head + 1u;
    }
    USART_CR1 |= USART_CR1_TXEIE;
}

void board_log_flush(void)
{
    for (uint32_t n = 0; n < TX_RING + 1u; n++) {
        if (!tx_pump_masked()) {
            break;
        }
        for (uint32_t i = 0; i < SPINS_UART_CHAR && (USART_SR & USART_SR_TXE) == 0; i++) {
        }
    }
    for (uint32_t i = 0; i < SPINS_UART_CHAR && (USART_SR & USART_SR_TC) == 0; i++) {
    }
}

void board_log_line(const char *line)
{
    board_puts(line);
    board_puts("\r\n");
}

void board_logf(const char *fmt, ...)
{
    char line[120];
    va_list ap;
    va_start(ap, fmt);
    fmt_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    board_log_line(line);
}

static uint32_t led_pin(boot_led_t led)
{
    switch (led) {
    case BOOT_LED_GREEN:
        return 12;
    case BOOT_LED_ORANGE:
        return 13;
    case BOOT_LED_RED:
        return 14;
    case BOOT_LED_BLUE:
        return 15;
    }
    return 14;
}

void board_led(boot_led_t led, int on)
{
    uint32_t pin = led_pin(led);
    GPIO_BSRR(GPIOD_BASE) = on ? (1u << pin) : (1u << (pin + 16));
}

void board_led_toggle(boot_led_t led)
{
    board_led(led, (GPIO_ODR(GPIOD_BASE) & (1u << led_pin(led))) == 0);
}

/* SysTick counts HCLK cycles. When nobody set it up, a 1 ms tick with its interrupt, so the core
 * sleeps (WFI) between ticks instead of spinning, and an interrupt (EXTI4 for SPI) ends a sleep at
 * once; the wait counts wraps by COUNTFLAG (a wake-up lands at the same phase of the period every
 * time, so counter differences would read 0). With a reload and no interrupt set by the caller,
 * the wait counts cycles. If SysTick does not move (an emulator without it), a loop of at least 4
 * cycles per iteration bounds the wait instead. */
void board_delay_ms(uint32_t ms)
{
    if ((SYST_CSR & 1u) == 0) {
        SYST_RVR = hclk_hz / 1000u - 1u;
        SYST_CVR = 0;
        SYST_CSR = 7u; /* ENABLE, TICKINT, CLKSOURCE = processor clock */
    }
    uint32_t period = (SYST_RVR & 0xFFFFFFu) + 1u;
    const uint32_t per_ms = hclk_hz / 1000u;
    if (SYST_CSR & 2u) {
        /* Each COUNTFLAG is `period` cycles; they are added up a millisecond at a time (32-bit
         * arithmetic only: no 64-bit division, 700 bytes of libgcc in the bootloader). The first
         * flag ends a partial period and is not counted, so the delay is never short. */
        (void)SYST_CSR; /* clears COUNTFLAG */
        uint32_t acc = 0;
        int first = 1;
        while (ms > 0) {
            __asm__ volatile("wfi" ::: "memory");
            if (SYST_CSR & (1u << 16)) {
                if (first) {
                    first = 0;
                    continue;
                }
                for (acc += period; acc >= per_ms && ms > 0; acc -= per_ms) {
                    ms--;
                }
            }
        }
        return;
    }
    uint64_t need = (uint64_t)ms * per_ms;
    uint32_t last = SYST_CVR & 0xFFFFFFu, still = 0;
    while (need > 0) {
        uint32_t now = SYST_CVR & 0xFFFFFFu;
        uint32_t d = now <= last ? last - now : last + period - now; /* it counts down */
        if (d == 0 && ++still > 1000u) {
            for (volatile uint64_t k = 0; k < (need >> 3); k++) {
            }
            return;
        }
        still = d == 0 ? still : 0;
        need = d >= need ? 0 : need - d;
        last = now;
    }
}

/* The timeout comes from the longest stretch without a kick at the fastest LSI (47 kHz, DS8626):
 * a 128 KiB sector erase (2 s at most) in one agent step, or an ECDSA verification on the 16 MHz
 * fallback clock (about 2.5 s); the self-test kicks between hash chunks. LSI / 128 with reload
 * 4095: 11.2 s at 47 kHz, 16.4 s at 32 kHz, 30.8 s at 17 kHz: four times the longest step. */
void board_watchdog_start(void)
{
    IWDG_KR = 0xCCCCu; /* start */
    IWDG_KR = 0x5555u; /* unlock PR and RLR */
    IWDG_PR = 5u;      /* LSI / 128 */
    IWDG_RLR = 4095u;
    /* The new values land in the LSI domain after up to 5 LSI periods (PVU, RVU); a reload
     * before then would use the old ones (RM0090 §19.4.4). */
    for (uint32_t i = 0; i < spins_us(1000u) && (IWDG_SR & 3u) != 0; i++) {
    }
    IWDG_KR = 0xAAAAu;
}

void board_watchdog_kick(void)
{
    IWDG_KR = 0xAAAAu;
}

boot_reset_t board_reset_cause(void)
{
    uint32_t csr = RCC_CSR;
    RCC_CSR |= RCC_CSR_RMVF;
    if (csr & RCC_CSR_IWDGRSTF) {
        return BOOT_RESET_WATCHDOG;
    }
    if (csr & RCC_CSR_SFTRSTF) {
        return BOOT_RESET_SOFTWARE;
    }
    if (csr & RCC_CSR_PORRSTF) {
        return BOOT_RESET_POWER_ON;
    }
    if (csr & RCC_CSR_BORRSTF) {
        return BOOT_RESET_BROWNOUT;
    }
    if (csr & RCC_CSR_PINRSTF) {
        return BOOT_RESET_PIN;
    }
    return BOOT_RESET_OTHER;
}

void board_set_vtor(uint32_t vector_table)
{
    SCB_VTOR = vector_table;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

uint32_t board_pc(void)
{
    uint32_t pc;
    __asm__ volatile("mov %0, pc" : "=r"(pc));
    return pc;
}

void board_reset(void)
{
    board_log_flush();
    __asm__ volatile("dsb" ::: "memory");
    SCB_AIRCR = 0x05FA0004u; /* VECTKEY | SYSRESETREQ */
    __asm__ volatile("dsb" ::: "memory");
    for (;;) {
    }
}

void board_jump(uint32_t vector_table)
{
    board_log_flush();
    USART_CR1 &= ~USART_CR1_TXEIE;
    const volatile uint32_t *vt = (const volatile uint32_t *)vector_table;
    uint32_t sp = vt[0], entry = vt[1];
    __asm__ volatile("cpsid i" ::: "memory");
    SYST_CSR = 0;
    SYST_RVR = 0;
    SYST_CVR = 0;
    SCB_ICSR = 1u << 25; /* PENDSTCLR: no tick of ours reaches the application */
    for (uint32_t i = 0; i < 8; i++) {
        NVIC_ICER(i) = 0xFFFFFFFFu;
        NVIC_ICPR(i) = 0xFFFFFFFFu;
    }
    board_set_vtor(vector_table);
    /* The application starts as after a reset: its stack, interrupts enabled (all are disabled
     * in the NVIC), its reset handler. */
    __asm__ volatile("msr msp, %0\n\t"
                     "cpsie i\n\t"
                     "bx %1\n\t" ::"r"(sp),
                     "r"(entry)
                     : "memory");
    __builtin_unreachable();
}

/* Flash controller. */

static flash_err_t flash_wait(uint32_t spins)
{
    for (uint32_t i = 0; i < spins; i++) {
        if ((FLASH_SR & FLASH_SR_BSY) == 0) {
            uint32_t sr = FLASH_SR;
            if (sr & FLASH_SR_WRPERR) {
                return FLASH_ERR_PROTECTED;
            }
            if (sr & FLASH_SR_PGAERR) {
                return FLASH_ERR_ALIGN;
            }
            /* PGPERR (parallelism: access size against PSIZE) and PGSERR (sequence: a write
             * without PG, or PG with an error pending) are this driver's own mistakes on the F4,
             * not a word that was not erased: the F4 has no such check (RM0090 §3.9.4). */
            if (sr & (FLASH_SR_PGPERR | FLASH_SR_PGSERR | FLASH_SR_OPERR)) {
                return FLASH_ERR_HARDWARE;
            }
            return FLASH_OK;
        }
    }
    return FLASH_ERR_TIMEOUT;
}

/* After a wrong key sequence FLASH_CR stays locked until the next reset (RM0090 §3.5.1): then
 * nothing can be erased or programmed, and the caller must hear so. */
static flash_err_t flash_unlock(void)
{
    if (FLASH_CR & FLASH_CR_LOCK) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
    if (FLASH_CR & FLASH_CR_LOCK) {
        return FLASH_ERR_PROTECTED;
    }
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP; /* clear stale flags (write 1 to clear) */
    return FLASH_OK;
}

static void flash_lock(void)
{
    FLASH_CR = FLASH_CR_LOCK;
}

static flash_err_t f4_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    (void)ctx;
    if (addr < LAYOUT_FLASH_BASE || addr - LAYOUT_FLASH_BASE > LAYOUT_FLASH_SIZE ||
        len > LAYOUT_FLASH_SIZE - (addr - LAYOUT_FLASH_BASE)) {
        return FLASH_ERR_RANGE;
    }
    memcpy(buf, (const void *)(uintptr_t)addr, len);
    return FLASH_OK;
}

/* The ART accelerator's caches may hold lines of flash that was just erased or programmed
 * (RM0090 §3.5.2): reset them (only while disabled). */
static void art_reset(void)
{
    uint32_t acr = FLASH_ACR;
    if ((acr & (FLASH_ACR_ICEN | FLASH_ACR_DCEN)) == 0) {
        return;
    }
    FLASH_ACR = acr & ~(FLASH_ACR_ICEN | FLASH_ACR_DCEN);
    FLASH_ACR = (acr & ~(FLASH_ACR_ICEN | FLASH_ACR_DCEN)) | FLASH_ACR_ICRST | FLASH_ACR_DCRST;
    FLASH_ACR = acr;
}

static flash_err_t f4_erase(void *ctx, int sector)
{
    (void)ctx;
    if (sector < 0 || sector >= LAYOUT_SECTOR_COUNT) {
        return FLASH_ERR_RANGE;
    }
    flash_err_t e = flash_unlock();
    if (e == FLASH_OK) {
        e = flash_wait(SPINS_PROGRAM);
    }
    if (e == FLASH_OK) {
        FLASH_CR = FLASH_CR_SER | FLASH_CR_SNB(sector) | FLASH_CR_PSIZE_X32;
        FLASH_CR |= FLASH_CR_STRT;
        e = flash_wait(SPINS_ERASE);
    }
    flash_lock();
    art_reset();
    return e;
}

static flash_err_t f4_check(uint32_t addr, uint32_t len)
{
    if ((addr & 3u) != 0 || (len & 3u) != 0) {
        return FLASH_ERR_ALIGN;
    }
    if (addr < LAYOUT_FLASH_BASE || addr - LAYOUT_FLASH_BASE > LAYOUT_FLASH_SIZE ||
        len > LAYOUT_FLASH_SIZE - (addr - LAYOUT_FLASH_BASE)) {
        return FLASH_ERR_RANGE;
    }
    return FLASH_OK;
}

/* Programs len bytes, word by word, each read back. */
static flash_err_t program_words(uint32_t addr, const uint8_t *d, uint32_t len)
{
    flash_err_t e = flash_unlock();
    if (e == FLASH_OK) {
        e = flash_wait(SPINS_PROGRAM);
    }
    if (e == FLASH_OK) {
        FLASH_CR = FLASH_CR_PG | FLASH_CR_PSIZE_X32;
    }
    for (uint32_t off = 0; off < len && e == FLASH_OK; off += 4) {
        uint32_t w;
        memcpy(&w, d + off, 4);
        REG(addr + off) = w;
        e = flash_wait(SPINS_PROGRAM);
        art_reset(); /* before reading back: the data cache may hold the line as it was */
        if (e == FLASH_OK && REG(addr + off) != w) {
            e = FLASH_ERR_HARDWARE; /* did not read back */
        }
    }
    flash_lock();
    return e;
}

/* Blank check first: programming over a word that is not erased would AND the bits into it
 * without a word from the controller; refuse the whole range and change nothing. */
static flash_err_t program_blank(uint32_t addr, const void *data, uint32_t len)
{
    for (uint32_t off = 0; off < len; off += 4) {
        if (REG(addr + off) != 0xFFFFFFFFu) {
            return FLASH_ERR_NOT_ERASED;
        }
    }
    return program_words(addr, data, len);
}

static flash_err_t f4_program(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    (void)ctx;
    flash_err_t e = f4_check(addr, len);
    if (e != FLASH_OK) {
        return e;
    }
    return program_blank(addr, data, len);
}

/* A word a cut tore: programming it again only clears the bits left set (RM0090 §3.6.2: the F4
 * checks no prior state; no ECC on the F407's flash). */
static flash_err_t f4_finish_word(void *ctx, uint32_t addr, uint32_t word)
{
    (void)ctx;
    flash_err_t e = f4_check(addr, 4);
    if (e != FLASH_OK) {
        return e;
    }
    uint32_t cur = REG(addr);
    if (cur == word) {
        return FLASH_OK;
    }
    if ((~cur & word) != 0) {
        return FLASH_ERR_NOT_ERASED; /* a 0 where word has a 1: not a torn copy of it */
    }
    return program_words(addr, (const uint8_t *)&word, 4);
}

flash_port_t board_flash_port(void)
{
    flash_port_t p = {f4_read, f4_erase, f4_program, NULL, f4_finish_word};
    return p;
}

/* The application's port: the bootloader's sectors and the running bank are refused before the
 * controller is touched. The bank is kept in the context pointer's value. */
static int app_may_write(void *ctx, uint32_t lo, uint64_t hi)
{
    layout_bank_t running = (layout_bank_t)(uintptr_t)ctx;
    uint32_t bank = layout_bank_base(running);
    return lo >= LAYOUT_BOOT_BASE + LAYOUT_BOOT_SIZE && (hi <= bank || lo >= bank + LAYOUT_BANK_SIZE);
}

static flash_err_t app_erase(void *ctx, int sector)
{
    if (sector < 0 || sector >= LAYOUT_SECTOR_COUNT) {
        return FLASH_ERR_RANGE;
    }
    if (!app_may_write(ctx, layout_sectors[sector].base, layout_sectors[sector].base + layout_sectors[sector].size)) {
        return FLASH_ERR_PROTECTED;
    }
    return f4_erase(NULL, sector);
}

static flash_err_t app_program(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    if (len > 0 && !app_may_write(ctx, addr, (uint64_t)addr + len)) {
        return FLASH_ERR_PROTECTED;
    }
    return f4_program(NULL, addr, data, len);
}

static flash_err_t app_finish_word(void *ctx, uint32_t addr, uint32_t word)
{
    if (!app_may_write(ctx, addr, (uint64_t)addr + 4u)) {
        return FLASH_ERR_PROTECTED;
    }
    return f4_finish_word(NULL, addr, word);
}

flash_port_t board_flash_port_app(layout_bank_t running)
{
    flash_port_t p = {f4_read, app_erase, app_program, (void *)(uintptr_t)running, app_finish_word};
    return p;
}

int board_boot_sectors_protected(void)
{
    return (FLASH_OPTCR & (FLASH_OPTCR_NWRP(0) | FLASH_OPTCR_NWRP(1))) == 0; /* 0 = protected */
}

flash_err_t board_protect_boot_sectors(void)
{
    if (board_boot_sectors_protected()) {
        return FLASH_OK;
    }
    flash_err_t e = flash_wait(SPINS_ERASE); /* no operation under way (§3.6.4 step 1) */
    if (e != FLASH_OK) {
        return e;
    }
    if (FLASH_OPTCR & FLASH_OPTCR_OPTLOCK) {
        FLASH_OPTKEYR = FLASH_OPTKEY1;
        FLASH_OPTKEYR = FLASH_OPTKEY2;
    }
    if (FLASH_OPTCR & FLASH_OPTCR_OPTLOCK) {
        return FLASH_ERR_PROTECTED;
    }
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP;
    /* Every other option byte written back as it reads, RDP first among them: a changed RDP byte
     * would raise the read protection. */
    uint32_t v = FLASH_OPTCR & ~(FLASH_OPTCR_NWRP(0) | FLASH_OPTCR_NWRP(1) | FLASH_OPTCR_OPTSTRT);
    FLASH_OPTCR = v;
    FLASH_OPTCR = v | FLASH_OPTCR_OPTSTRT;
    e = flash_wait(SPINS_ERASE);
    FLASH_OPTCR |= FLASH_OPTCR_OPTLOCK;
    if (e == FLASH_OK && !board_boot_sectors_protected()) {
        e = FLASH_ERR_HARDWARE;
    }
    return e;
}

/* The OTP area. */
static int otp_span(uint32_t addr, uint32_t len)
{
    return addr >= LAYOUT_OTP_BASE && addr - LAYOUT_OTP_BASE <= LAYOUT_OTP_SIZE + LAYOUT_OTP_LOCK_SIZE &&
           len <= LAYOUT_OTP_SIZE + LAYOUT_OTP_LOCK_SIZE - (addr - LAYOUT_OTP_BASE);
}

static flash_err_t otp_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    (void)ctx;
    if (!otp_span(addr, len)) {
        return FLASH_ERR_RANGE;
    }
    memcpy(buf, (const void *)(uintptr_t)addr, len);
    return FLASH_OK;
}

static flash_err_t otp_erase(void *ctx, int sector)
{
    (void)ctx;
    (void)sector;
    return FLASH_ERR_PROTECTED; /* OTP cannot be erased */
}

static flash_err_t otp_program(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    (void)ctx;
    if ((addr & 3u) != 0 || (len & 3u) != 0) {
        return FLASH_ERR_ALIGN;
    }
    if (!otp_span(addr, len)) {
        return FLASH_ERR_RANGE;
    }
    for (uint32_t off = 0; off < len; off += 4) {
        uint32_t o = addr + off - LAYOUT_OTP_BASE;
        if (o < LAYOUT_OTP_SIZE && *(const volatile uint8_t *)(uintptr_t)(LAYOUT_OTP_LOCK_BASE + o / 32u) == 0x00) {
            return FLASH_ERR_PROTECTED; /* its block is locked */
        }
    }
    return program_blank(addr, data, len);
}

flash_port_t board_otp_port(void)
{
    flash_port_t p = {otp_read, otp_erase, otp_program, NULL, NULL};
    return p;
}
