/* STM32F407 board support: see board.h. Runs on the reset clock (HSI, 16 MHz). Every wait on a
 * hardware flag is bounded: under QEMU the RCC and FLASH registers read as zero. */
#include "board.h"

#include <string.h>

#include "fota/config.h"
#include "fota/layout.h"
#include "regs.h"

#define CPU_HZ 16000000u

/* Upper bounds on busy-waits, in loop iterations (at least 4 cycles each): the datasheet's
 * maximum times at x32 with margin: sector erase 2 s (128 KiB), word program 100 us. */
#define SPINS_ERASE (CPU_HZ / 4u * 4u)
#define SPINS_PROGRAM (CPU_HZ / 4u / 1000u)
#define SPINS_UART_CHAR (CPU_HZ / 4u / 1000u)

void board_init(void)
{
    RCC_AHB1ENR |= (1u << 0) | (1u << 3); /* GPIOA, GPIOD */
    RCC_APB2ENR |= (1u << 4);             /* USART1 */
    (void)RCC_APB2ENR;
    /* PD12-PD15 outputs. */
    GPIO_MODER(GPIOD_BASE) = (GPIO_MODER(GPIOD_BASE) & ~(0xFFu << 24)) | (0x55u << 24);
    /* PA9 alternate function 7 (USART1_TX). */
    GPIO_MODER(GPIOA_BASE) = (GPIO_MODER(GPIOA_BASE) & ~(3u << 18)) | (2u << 18);
    GPIO_AFRH(GPIOA_BASE) = (GPIO_AFRH(GPIOA_BASE) & ~(0xFu << 4)) | (7u << 4);
    USART_BRR = (8u << 4) | 11u; /* 16 MHz / (16 * 8.6875) = 115108 baud */
    USART_CR1 = USART_CR1_UE | USART_CR1_TE;
}

void board_puts(const char *s)
{
    for (; *s != '\0'; s++) {
        for (uint32_t i = 0; i < SPINS_UART_CHAR && (USART_SR & USART_SR_TXE) == 0; i++) {
        }
        USART_DR = (uint8_t)*s;
    }
}

void board_log_line(const char *line)
{
    board_puts(line);
    board_puts("\r\n");
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

void board_delay_ms(uint32_t ms)
{
    for (uint32_t i = 0; i < ms; i++) {
        for (volatile uint32_t k = 0; k < CPU_HZ / 4000u; k++) {
        }
    }
}

void board_watchdog_start(void)
{
    IWDG_KR = 0xCCCCu; /* start */
    IWDG_KR = 0x5555u; /* unlock PR and RLR */
    IWDG_PR = 4u;      /* LSI / 64: 2 ms per tick at 32 kHz */
    IWDG_RLR = 4095u;  /* about 8 s */
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
    __asm__ volatile("dsb" ::: "memory");
    SCB_AIRCR = 0x05FA0004u; /* VECTKEY | SYSRESETREQ */
    __asm__ volatile("dsb" ::: "memory");
    for (;;) {
    }
}

void board_jump(uint32_t vector_table)
{
    const volatile uint32_t *vt = (const volatile uint32_t *)vector_table;
    uint32_t sp = vt[0], entry = vt[1];
    __asm__ volatile("cpsid i" ::: "memory");
    SYST_CSR = 0;
    SYST_RVR = 0;
    SYST_CVR = 0;
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
            if (sr & (FLASH_SR_PGPERR | FLASH_SR_PGSERR)) {
                return FLASH_ERR_NOT_ERASED;
            }
            if (sr & FLASH_SR_OPERR) {
                return FLASH_ERR_HARDWARE;
            }
            return FLASH_OK;
        }
    }
    return FLASH_ERR_TIMEOUT;
}

static void flash_unlock(void)
{
    if (FLASH_CR & FLASH_CR_LOCK) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
    FLASH_SR = FLASH_SR_ERRORS | FLASH_SR_EOP; /* clear stale flags (write 1 to clear) */
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

static flash_err_t f4_erase(void *ctx, int sector)
{
    (void)ctx;
    if (sector < 0 || sector >= LAYOUT_SECTOR_COUNT) {
        return FLASH_ERR_RANGE;
    }
    flash_unlock();
    flash_err_t e = flash_wait(SPINS_PROGRAM);
    if (e == FLASH_OK) {
        FLASH_CR = FLASH_CR_SER | FLASH_CR_SNB(sector) | FLASH_CR_PSIZE_X32;
        FLASH_CR |= FLASH_CR_STRT;
        e = flash_wait(SPINS_ERASE);
    }
    flash_lock();
    return e;
}

static flash_err_t f4_program(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    (void)ctx;
    if ((addr & 3u) != 0 || (len & 3u) != 0) {
        return FLASH_ERR_ALIGN;
    }
    if (addr < LAYOUT_FLASH_BASE || addr - LAYOUT_FLASH_BASE > LAYOUT_FLASH_SIZE ||
        len > LAYOUT_FLASH_SIZE - (addr - LAYOUT_FLASH_BASE)) {
        return FLASH_ERR_RANGE;
    }
    const uint8_t *d = data;
    flash_unlock();
    flash_err_t e = flash_wait(SPINS_PROGRAM);
    FLASH_CR = FLASH_CR_PG | FLASH_CR_PSIZE_X32;
    for (uint32_t off = 0; off < len && e == FLASH_OK; off += 4) {
        uint32_t w;
        memcpy(&w, d + off, 4);
        REG(addr + off) = w;
        e = flash_wait(SPINS_PROGRAM);
        if (e == FLASH_OK && REG(addr + off) != w) {
            e = FLASH_ERR_HARDWARE; /* did not read back */
        }
    }
    flash_lock();
    return e;
}

flash_port_t board_flash_port(void)
{
    flash_port_t p = {f4_read, f4_erase, f4_program, NULL};
    return p;
}
