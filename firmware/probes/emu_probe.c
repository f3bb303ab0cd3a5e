/* A probe of the Cortex-M4 core behaviour fota-emu must reproduce (tests/emu/test_emu_core.sh):
 * SysTick interrupts, preemption by priority and BASEPRI masking, the FP context saved across an
 * exception, SVC, WFI, a bus fault and an FP instruction with the FPU disabled both ending in
 * HardFault (with the right CFSR bits), the DWT cycle counter, and SYSRESETREQ with its reset flag.
 * Linked at the bootloader's address; every result is a line on USART1, "probe: ... ok" or
 * "probe: FAIL ...". */
#include <stdint.h>

#include "board.h"
#include "regs.h"

#define SCB_SHPR3 REG(0xE000ED20u)
#define SCB_CFSR REG(0xE000ED28u)
#define SCB_HFSR REG(0xE000ED2Cu)
#define SCB_BFAR REG(0xE000ED38u)
#define SCB_CPACR REG(0xE000ED88u)
#define DEMCR REG(0xE000EDFCu)
#define DWT_CTRL REG(0xE0001000u)
#define DWT_CYCCNT REG(0xE0001004u)
#define SCRATCH 0x080E0000u /* sector 11: nothing lives there */

static volatile uint32_t ticks, svcs, pendsv_saw_tick, faults, fault_cfsr, fault_bfar, fault_hfsr;
static uint32_t failures;


static void check(int ok, const char *what)
{
    if (ok) {
        board_logf("probe: %s ok", what);
    } else {
        board_logf("probe: FAIL %s", what);
        failures++;
    }
}

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    ticks++;
}

void SVC_Handler(void);
void SVC_Handler(void)
{
    svcs++;
}

/* PendSV at the lowest priority: a SysTick (higher) must preempt it; the FP registers it clobbers
 * must come back intact to the thread that was interrupted. */
void PendSV_Handler(void);
void PendSV_Handler(void)
{
    uint32_t t0 = ticks;
    for (uint32_t i = 0; i < 2000000u && ticks == t0; i++) {
    }
    pendsv_saw_tick = ticks != t0;
    __asm__ volatile("vmov s0, %0\n\tvmov s15, %0" ::"r"(0xDEADBEEFu) : "s0", "s15");
}

void hardfault_c(uint32_t *frame); /* called by startup.c's HardFault_Handler */
void hardfault_c(uint32_t *frame)
{
    faults++;
    fault_cfsr = SCB_CFSR;
    fault_bfar = SCB_BFAR;
    fault_hfsr = SCB_HFSR;
    SCB_CFSR = fault_cfsr; /* write 1 to clear */
    SCB_HFSR = fault_hfsr;
    if (fault_cfsr & (1u << 19)) {
        SCB_CPACR |= 0xFu << 20; /* NOCP: give the FPU back, then retry the instruction */
        return;
    }
    if (fault_cfsr & (1u << 10)) {
        return; /* IMPRECISERR: a buffered write failed earlier; the stacked PC is not its instruction */
    }
    uint16_t insn = *(const uint16_t *)(uintptr_t)frame[6];
    frame[6] += (insn >> 11) >= 0x1Du ? 4u : 2u; /* skip the faulting instruction */
}

static void busy(uint32_t n)
{
    for (volatile uint32_t i = 0; i < n; i++) {
    }
}

int main(void)
{
    board_init();
    if (RCC_CSR & RCC_CSR_SFTRSTF) {
        RCC_CSR |= RCC_CSR_RMVF;
        check((RCC_CSR & RCC_CSR_SFTRSTF) == 0, "reset flags cleared by RMVF");
        board_logf("probe: done after software reset");
        for (;;) {
            __asm__ volatile("wfi");
        }
    }
    board_logf("probe: start, reset flags 0x%08x", (unsigned)RCC_CSR);
    check((RCC_CSR & (RCC_CSR_PORRSTF | RCC_CSR_PINRSTF)) == (RCC_CSR_PORRSTF | RCC_CSR_PINRSTF),
          "power-on reset flags");

    /* SysTick: 1 ms at the clock board_init chose, processor clock source. */
    SYST_RVR = board_hclk() / 1000u - 1u;
    SYST_CVR = 0;
    SCB_SHPR3 = (0x00u << 24) | (0xF0u << 16); /* SysTick highest, PendSV lowest */
    SYST_CSR = 7u;
    const uint32_t ms6 = board_hclk() / 1150u; /* busy() iterations in about 6 ms (7 cycles each) */
    busy(ms6);
    check(ticks >= 5 && ticks <= 8, "systick (about 6 ticks in 6 ms)");

    /* BASEPRI masks SysTick (priority 0x20 with BASEPRI 0x10), and lets it through at 0. */
    SCB_SHPR3 = (0x20u << 24) | (0xF0u << 16);
    __asm__ volatile("msr basepri, %0" ::"r"(0x10u));
    uint32_t t0 = ticks;
    busy(ms6);
    uint32_t masked = ticks - t0;
    __asm__ volatile("msr basepri, %0" ::"r"(0u));
    busy(ms6 / 10u);
    check(masked == 0 && ticks > t0, "basepri masks a lower-priority exception");

    /* Preemption: SysTick interrupts PendSV; PendSV's FP work does not leak into the thread. */
    const uint32_t one_and_a_half = 0x3FC00000u; /* 1.5f */
    __asm__ volatile("vmov s0, %0" ::"r"(one_and_a_half) : "s0");
    SCB_ICSR = 1u << 28; /* PENDSVSET */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    uint32_t s0;
    __asm__ volatile("vmov %0, s0" : "=r"(s0));
    check(pendsv_saw_tick, "systick preempts pendsv");
    check(s0 == one_and_a_half, "fp context restored after the exception");

    /* SVC */
    __asm__ volatile("svc #0" ::: "memory");
    check(svcs == 1, "svc");

    /* WFI: the core sleeps until SysTick; the emulator skips the idle time. */
    t0 = ticks;
    for (int i = 0; i < 3; i++) {
        __asm__ volatile("wfi");
    }
    check(ticks >= t0 + 3, "wfi wakes on systick");
    SYST_CSR = 0;

    /* DWT cycle counter over a known loop. */
    DEMCR |= 1u << 24;
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
    busy(1000);
    uint32_t cyc = DWT_CYCCNT;
    board_logf("probe: busy(1000) took %u cycles", (unsigned)cyc);
    check(cyc > 1000 && cyc < 100000, "dwt cycle counter");

    /* A read from an address nothing answers: precise bus fault escalated to HardFault. */
    (void)REG(0x60000000u);
    check(faults == 1 && (fault_cfsr & (1u << 9)) && fault_bfar == 0x60000000u && (fault_hfsr & (1u << 30)),
          "bus fault on a bad read (PRECISERR, BFAR, FORCED)");

    /* LDRD from an address that is not word aligned: UNALIGNED UsageFault (escalated). */
    static uint32_t words[4] = {1, 2, 3, 4};
    uint32_t lo, hi;
    __asm__ volatile("ldrd %0, %1, [%2]" : "=r"(lo), "=r"(hi) : "r"((uintptr_t)words + 2u) : "memory");
    check(faults == 2 && (fault_cfsr & (1u << 24)), "unaligned ldrd faults (UNALIGNED)");

    /* The FPU disabled in CPACR: an FP instruction is a NOCP UsageFault (escalated). */
    SCB_CPACR &= ~(0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    __asm__ volatile("vmov s1, %0" ::"r"(1u) : "s1");
    check(faults == 3 && (fault_cfsr & (1u << 19)), "fp instruction with the fpu disabled faults (NOCP)");

    /* The ART data cache is not kept coherent with erase (RM0090 §3.5.2): a line read before an
     * erase still reads old until DCRST. */
    flash_port_t fl = board_flash_port();
    const uint32_t pattern = 0x5AA5C33Cu;
    check(flash_erase_sector(&fl, 11) == FLASH_OK && flash_program(&fl, SCRATCH, &pattern, 4) == FLASH_OK,
          "erase and program through the flash driver");
    /* The erase is driven from registers inside one asm block, so that no literal-pool read
     * between the two loads of SCRATCH evicts its line from the 8-line cache. */
    if (FLASH_CR & FLASH_CR_LOCK) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
    FLASH_ACR |= FLASH_ACR_DCEN;
    uint32_t before, stale;
    __asm__ volatile("ldr %0, [%2]\n\t"        /* fills a cache line */
                     "str %3, [%4, #0x10]\n\t" /* FLASH_CR: SER, sector 11, x32 */
                     "str %5, [%4, #0x10]\n\t" /* ... and STRT */
                     "1: ldr r3, [%4, #0x0C]\n\t"
                     "tst r3, #0x10000\n\t" /* BSY */
                     "bne 1b\n\t"
                     "ldr %1, [%2]\n\t"
                     : "=&r"(before), "=&r"(stale)
                     : "r"(SCRATCH), "r"(FLASH_CR_SER | FLASH_CR_SNB(11) | FLASH_CR_PSIZE_X32), "r"(0x40023C00u),
                       "r"(FLASH_CR_SER | FLASH_CR_SNB(11) | FLASH_CR_PSIZE_X32 | FLASH_CR_STRT)
                     : "r3", "cc", "memory");
    FLASH_CR = FLASH_CR_LOCK;
    FLASH_ACR &= ~FLASH_ACR_DCEN;
    FLASH_ACR |= FLASH_ACR_DCRST;
    FLASH_ACR &= ~FLASH_ACR_DCRST;
    FLASH_ACR |= FLASH_ACR_DCEN;
    uint32_t fresh = REG(SCRATCH);
    FLASH_ACR &= ~FLASH_ACR_DCEN;
    board_logf("probe: data cache: 0x%08x before the erase, 0x%08x after, 0x%08x after DCRST", (unsigned)before,
        (unsigned)stale, (unsigned)fresh);
    check(before == pattern && stale == pattern && fresh == 0xFFFFFFFFu,
          "data cache reads stale after an erase until DCRST");

    /* The driver's contract (issue 9, findings 8-10). */
    const uint32_t other = 0x12345678u;
    check(flash_program(&fl, SCRATCH, &pattern, 4) == FLASH_OK &&
              flash_program(&fl, SCRATCH, &other, 4) == FLASH_ERR_NOT_ERASED && REG(SCRATCH) == pattern,
          "program over a word that is not erased: NOT_ERASED, flash unchanged");
    flash_port_t app = board_flash_port_app(LAYOUT_BANK_A);
    const uint32_t boot_word = 0x08004000u + 0x3FF0u; /* sector 1, the bootloader's, unused by this probe */
    check(flash_program(&app, boot_word, &other, 4) == FLASH_ERR_PROTECTED && REG(boot_word) == 0xFFFFFFFFu,
          "the application's port refuses the bootloader's sectors");
    check(flash_program(&app, LAYOUT_BANK_A_BASE + LAYOUT_BANK_SIZE - 4u, &other, 4) == FLASH_ERR_PROTECTED &&
              flash_erase_sector(&app, layout_sector_of(LAYOUT_BANK_A_BASE)) == FLASH_ERR_PROTECTED,
          "the application's port refuses its running bank");
    /* A wrong key locks FLASH_CR until the next reset and is a bus error (RM0090 §3.5.1): the
     * driver must then say the erase was refused, not done. */
    uint32_t f0 = faults;
    FLASH_KEYR = 0x11111111u;
    check(faults > f0 && flash_erase_sector(&fl, 11) == FLASH_ERR_PROTECTED && REG(SCRATCH) == pattern,
          "a flash locked by a wrong key: the driver reports protected");

    board_logf("probe: %s, %u failures; software reset", failures ? "FAILED" : "all passed", (unsigned)failures);
    board_delay_ms(2); /* let USART1 finish the line: a reset cuts the frame on the wire */
    board_reset();
}
