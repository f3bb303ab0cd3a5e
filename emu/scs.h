/* The Cortex-M4 System Control Space (PM0214 §4): NVIC, SCB, SysTick, the FPU's CPACR/FPCCR, the
 * DWT cycle counter. The CPU glue asks it which exception to take and tells it what it took. */
#ifndef FOTA_EMU_SCS_H
#define FOTA_EMU_SCS_H

#include "emu_internal.h"

#define SCS_EXC_RESET 1
#define SCS_EXC_NMI 2
#define SCS_EXC_HARDFAULT 3
#define SCS_EXC_MEMMANAGE 4
#define SCS_EXC_BUSFAULT 5
#define SCS_EXC_USAGEFAULT 6
#define SCS_EXC_SVCALL 11
#define SCS_EXC_PENDSV 14
#define SCS_EXC_SYSTICK 15
#define SCS_IRQ0 16
#define SCS_IRQS 82 /* the F407's interrupt lines (RM0090 table 61) */
#define SCS_EXCS (SCS_IRQ0 + SCS_IRQS)

/* CFSR bits (PM0214 §4.4.11). */
#define SCS_CFSR_IBUSERR (1u << 8)
#define SCS_CFSR_PRECISERR (1u << 9)
#define SCS_CFSR_IMPRECISERR (1u << 10)
#define SCS_CFSR_BFARVALID (1u << 15)
#define SCS_CFSR_UNDEFINSTR (1u << 16)
#define SCS_CFSR_INVSTATE (1u << 17)
#define SCS_CFSR_NOCP (1u << 19)
#define SCS_CFSR_UNALIGNED (1u << 24)

typedef struct scs scs_t;

scs_t *scs_new(emu_t *emu);
void scs_free(scs_t *s);
emu_periph_t scs_periph(scs_t *s);     /* 0xE000E000-0xE000EFFF */
emu_periph_t scs_dwt_periph(scs_t *s); /* 0xE0001000: DWT_CTRL, CYCCNT */

/* The core's clock, for SysTick and CYCCNT. */
void scs_set_clock(scs_t *s, uint32_t hclk_hz);

void scs_pend(scs_t *s, int exc);
void scs_irq_level(scs_t *s, int irq, int level);
/* The exception to take now, given the core's masks; 0 when none may preempt. */
int scs_pick(const scs_t *s, uint32_t primask, uint32_t basepri, uint32_t faultmask);
/* 1 when an enabled interrupt is pending at all (WFI wakes even under PRIMASK). */
int scs_any_pending(const scs_t *s);
/* 1 when exc was pended by a register write (ICSR, ISPR, STIR): after DSB and ISB the core takes
 * it at once, so injected jitter does not apply. */
int scs_pended_by_software(const scs_t *s, int exc);
void scs_enter(scs_t *s, int exc);
/* Returns from exc; 0 when exc was not active (an illegal return). */
int scs_leave(scs_t *s, int exc);
int scs_active_count(const scs_t *s);
/* A synchronous fault: records the syndrome and returns the exception to take (escalated to
 * HardFault when the fault's handler is disabled or cannot preempt); -1 means lockup. */
int scs_fault(scs_t *s, int exc, uint32_t cfsr_bits, uint32_t addr, int cur_prio_exc);
uint32_t scs_vtor(const scs_t *s);
/* CPACR gives CP10 and CP11 access (the FPU may run). */
int scs_fpu_enabled(const scs_t *s);
/* FPCCR.ASPEN: the core saves FP context on exception entry. */
int scs_fp_autosave(const scs_t *s);
/* Execution priority from active exceptions only (for fault escalation). */
int scs_exec_priority(const scs_t *s, uint32_t primask, uint32_t basepri, uint32_t faultmask);
int scs_priority(const scs_t *s, int exc);

#endif
