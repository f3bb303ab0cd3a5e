/* Cortex-M4 System Control Space, as PM0214 describes it:
 * - NVIC (§4.2): ISER/ICER/ISPR/ICPR/IABR/IPR/STIR over the F407's 82 lines; 4 priority bits
 *   (RM0090 §10.1: the upper nibble of each IPR byte), grouping from AIRCR.PRIGROUP (§4.4.5).
 * - SCB (§4.4): CPUID, ICSR (PendSV, SysTick, NMI set/clear), VTOR (bits 29:9 kept), AIRCR
 *   (VECTKEY 0x05FA, SYSRESETREQ -> system reset with SFTRSTF), SCR, CCR, SHPR1-3, SHCSR
 *   (MemManage/BusFault/UsageFault enables; disabled faults escalate to HardFault, HFSR.FORCED),
 *   CFSR/HFSR/MMFAR/BFAR (write 1 to clear), CPACR (§4.6.1; without CP10/CP11 access an FP
 *   instruction is a NOCP UsageFault), FPCCR/FPCAR/FPDSCR (§4.6.2-4).
 * - SysTick (§4.5): CSR/RVR/CVR/CALIB, clocked by HCLK (CLKSOURCE=1) or HCLK/8 (RM0090 §6.2),
 *   COUNTFLAG cleared on read, the exception pended at each wrap to 0 when TICKINT.
 * - DWT CYCCNT (ARMv7-M ARM §C1.8): counts HCLK cycles while DWT_CTRL.CYCCNTENA.
 * Lazy: counters are computed from device time when read. */
#include "scs.h"

#include <stdlib.h>
#include <string.h>

struct scs {
    emu_t *emu;
    uint32_t hclk;
    uint8_t enabled[SCS_EXCS], pending[SCS_EXCS], active[SCS_EXCS], level[SCS_EXCS];
    uint8_t prio[SCS_EXCS]; /* as written: only bits 7:4 are kept */
    uint8_t nest[SCS_EXCS]; /* order of activation, for VECTACTIVE */
    uint8_t soft[SCS_EXCS]; /* pended by a register write */
    int active_n;
    uint32_t vtor, aircr_prigroup, scr, ccr, shcsr, cfsr, hfsr, mmfar, bfar, cpacr, fpccr, fpcar, fpdscr;
    /* SysTick */
    uint32_t st_csr, st_rvr, st_cvr; /* cvr as of st_at */
    uint64_t st_at;                  /* device time st_cvr was valid at, ns */
    uint64_t st_next;                /* time of the next wrap (EMU_NEVER when stopped) */
    uint8_t st_countflag;
    /* DWT */
    uint32_t dwt_ctrl, cyccnt, demcr;
    uint64_t cyc_at;
};

static uint64_t st_tick_ns(const scs_t *s)
{
    uint32_t hz = (s->st_csr & 4u) ? s->hclk : s->hclk / 8u;
    return hz ? 1000000000ull / hz : 1000;
}

/* Brings the SysTick counter to now. */
static void st_advance(scs_t *s, uint64_t now)
{
    if (!(s->st_csr & 1u) || now <= s->st_at) {
        s->st_at = now > s->st_at ? now : s->st_at;
        return;
    }
    uint64_t tick = st_tick_ns(s);
    uint64_t ticks = (now - s->st_at) / tick;
    if (ticks == 0) {
        return;
    }
    s->st_at += ticks * tick;
    uint64_t period = (uint64_t)s->st_rvr + 1u;
    /* Counting down from cvr: reaching 0 takes cvr ticks, then reload to RVR on the next. */
    while (ticks > 0) {
        if (s->st_cvr == 0) {
            s->st_cvr = s->st_rvr;
            ticks--;
            continue;
        }
        if (ticks < s->st_cvr) {
            s->st_cvr -= (uint32_t)ticks;
            break;
        }
        ticks -= s->st_cvr;
        s->st_cvr = 0; /* a wrap: COUNTFLAG, and the exception when TICKINT (PM0214 §4.5.1) */
        s->st_countflag = 1;
        if (s->st_csr & 2u) {
            scs_pend(s, SCS_EXC_SYSTICK);
        }
        if (s->st_rvr == 0) {
            break; /* RVR 0: the counter stops at 0 */
        }
        if (ticks > period * 2) {
            ticks %= period; /* skip whole periods (each would only set the same flags) */
        }
    }
    s->st_next = EMU_NEVER;
    if ((s->st_csr & 3u) == 3u && s->st_rvr != 0) {
        uint64_t to = s->st_cvr == 0 ? 1 + (uint64_t)s->st_rvr : s->st_cvr;
        s->st_next = s->st_at + to * tick;
    }
}

static void cyc_advance(scs_t *s, uint64_t now)
{
    if ((s->dwt_ctrl & 1u) && now > s->cyc_at && s->hclk) {
        uint64_t cycles = (now - s->cyc_at) * s->hclk / 1000000000ull;
        if (cycles) {
            s->cyccnt += (uint32_t)cycles;
            s->cyc_at += cycles * 1000000000ull / s->hclk;
        }
    } else {
        s->cyc_at = now;
    }
}

static void scs_advance(void *self, uint64_t now)
{
    scs_t *s = self;
    st_advance(s, now);
    cyc_advance(s, now);
}

static uint64_t scs_next_event(void *self)
{
    const scs_t *s = self;
    return ((s->st_csr & 3u) == 3u) ? s->st_next : EMU_NEVER;
}

void scs_set_clock(scs_t *s, uint32_t hclk_hz)
{
    if (hclk_hz == s->hclk) {
        return; /* called between every two slices: only a change needs the counters settled */
    }
    uint64_t now = emu_time(s->emu);
    scs_advance(s, now);
    s->hclk = hclk_hz;
    st_advance(s, now);
}

static void scs_reset(void *self, emu_reset_kind_t kind)
{
    scs_t *s = self;
    (void)kind;
    emu_t *emu = s->emu;
    uint32_t hclk = s->hclk ? s->hclk : 16000000u;
    memset(s, 0, sizeof(*s));
    s->emu = emu;
    s->hclk = hclk;
    s->ccr = 0x200u;        /* STKALIGN (PM0214 §4.4.7) */
    s->fpccr = 0xC0000000u; /* ASPEN | LSPEN */
    s->st_next = EMU_NEVER;
    s->st_at = emu_time(emu);
    s->cyc_at = s->st_at;
    for (int i = 0; i < SCS_EXC_MEMMANAGE; i++) {
        s->enabled[i] = 1; /* reset, NMI, HardFault are always enabled */
    }
    s->enabled[SCS_EXC_SVCALL] = s->enabled[SCS_EXC_PENDSV] = s->enabled[SCS_EXC_SYSTICK] = 1;
    s->enabled[12] = 1;
}

int scs_priority(const scs_t *s, int exc)
{
    if (exc == SCS_EXC_RESET) {
        return -3;
    }
    if (exc == SCS_EXC_NMI) {
        return -2;
    }
    if (exc == SCS_EXC_HARDFAULT) {
        return -1;
    }
    return s->prio[exc] & 0xF0u;
}

/* Group priority: PRIGROUP n leaves bits 7:n+1 to preemption (PM0214 table 40). */
static int group(const scs_t *s, int prio)
{
    if (prio < 0) {
        return prio;
    }
    uint32_t mask = 0xFFu << (s->aircr_prigroup + 1u);
    return (int)((uint32_t)prio & mask & 0xFFu);
}

int scs_exec_priority(const scs_t *s, uint32_t primask, uint32_t basepri, uint32_t faultmask)
{
    int p = 256;
    for (int e = 1; e < SCS_EXCS; e++) {
        if (s->active[e]) {
            int g = group(s, scs_priority(s, e));
            if (g < p) {
                p = g;
            }
        }
    }
    if ((basepri & 0xF0u) != 0 && group(s, (int)(basepri & 0xF0u)) < p) {
        p = group(s, (int)(basepri & 0xF0u));
    }
    if ((primask & 1u) && p > 0) {
        p = 0;
    }
    if ((faultmask & 1u) && p > -1) {
        p = -1;
    }
    return p;
}

int scs_pick(const scs_t *s, uint32_t primask, uint32_t basepri, uint32_t faultmask)
{
    int best = 0, best_p = 1000;
    for (int e = 2; e < SCS_EXCS; e++) {
        if (s->pending[e] && s->enabled[e] && !s->active[e]) {
            int p = scs_priority(s, e);
            if (p < best_p) { /* ties: the lower exception number wins (PM0214 §2.3.4) */
                best_p = p;
                best = e;
            }
        }
    }
    if (best == 0) {
        return 0;
    }
    return group(s, best_p) < scs_exec_priority(s, primask, basepri, faultmask) ? best : 0;
}

int scs_any_pending(const scs_t *s)
{
    for (int e = 2; e < SCS_EXCS; e++) {
        if (s->pending[e] && s->enabled[e]) {
            return 1;
        }
    }
    return 0;
}

void scs_pend(scs_t *s, int exc)
{
    if (exc > 0 && exc < SCS_EXCS) {
        s->pending[exc] = 1;
        emu_kick(s->emu);
    }
}

void scs_irq_level(scs_t *s, int irq, int level)
{
    int e = SCS_IRQ0 + irq;
    if (irq < 0 || irq >= SCS_IRQS) {
        return;
    }
    if (level && !s->level[e]) {
        scs_pend(s, e); /* a rising level pends the line (PM0214 §4.2.9, "level-sensitive") */
    }
    s->level[e] = (uint8_t)(level != 0);
}

int scs_pended_by_software(const scs_t *s, int exc)
{
    return exc > 0 && exc < SCS_EXCS && s->soft[exc];
}

static void pend_soft(scs_t *s, int exc)
{
    scs_pend(s, exc);
    s->soft[exc] = 1;
}

void scs_enter(scs_t *s, int exc)
{
    s->soft[exc] = 0;
    s->pending[exc] = 0;
    s->active[exc] = 1;
    s->nest[exc] = (uint8_t)++s->active_n;
}

int scs_leave(scs_t *s, int exc)
{
    if (exc <= 0 || exc >= SCS_EXCS || !s->active[exc]) {
        return 0;
    }
    s->active[exc] = 0;
    s->nest[exc] = 0;
    s->active_n--;
    /* A level interrupt still asserted pends again on return (PM0214 §4.2.9). */
    if (exc >= SCS_IRQ0 && s->level[exc]) {
        s->pending[exc] = 1;
    }
    return 1;
}

int scs_active_count(const scs_t *s)
{
    return s->active_n;
}

int scs_fault(scs_t *s, int exc, uint32_t cfsr_bits, uint32_t addr, int cur_exec_prio)
{
    s->cfsr |= cfsr_bits;
    if (cfsr_bits & SCS_CFSR_BFARVALID) {
        s->bfar = addr;
    }
    int enabled = exc == SCS_EXC_MEMMANAGE    ? (s->shcsr >> 16) & 1u
                  : exc == SCS_EXC_BUSFAULT   ? (s->shcsr >> 17) & 1u
                  : exc == SCS_EXC_USAGEFAULT ? (s->shcsr >> 18) & 1u
                                              : 1;
    if (exc != SCS_EXC_HARDFAULT && enabled && group(s, scs_priority(s, exc)) < cur_exec_prio) {
        s->pending[exc] = 1;
        return exc;
    }
    /* Escalation (PM0214 §2.4): HardFault, FORCED; a fault at priority -1 or above locks up. */
    if (cur_exec_prio <= -1) {
        return -1;
    }
    s->hfsr |= 1u << 30;
    s->pending[SCS_EXC_HARDFAULT] = 1;
    return SCS_EXC_HARDFAULT;
}

uint32_t scs_vtor(const scs_t *s)
{
    return s->vtor;
}

int scs_fpu_enabled(const scs_t *s)
{
    /* CP10 and CP11 (bits 23:20): 01 privileged or 11 full; the firmware runs privileged. */
    uint32_t cp10 = (s->cpacr >> 20) & 3u, cp11 = (s->cpacr >> 22) & 3u;
    return (cp10 == 1u || cp10 == 3u) && cp10 == cp11;
}

int scs_fp_autosave(const scs_t *s)
{
    return (s->fpccr >> 31) & 1u;
}

static int vect_active(const scs_t *s)
{
    int best = 0, n = 0;
    for (int e = 1; e < SCS_EXCS; e++) {
        if (s->active[e] && s->nest[e] > n) {
            n = s->nest[e];
            best = e;
        }
    }
    return best;
}

static uint32_t scs_read(void *self, uint32_t off, unsigned size)
{
    scs_t *s = self;
    uint32_t a = off & ~3u, v = 0;
    if (a >= 0x400 && a < 0x400 + SCS_IRQS) { /* NVIC_IPR: byte accessible */
        for (unsigned i = 0; i < 4; i++) {
            uint32_t irq = a - 0x400 + i;
            if (irq < SCS_IRQS) {
                v |= (uint32_t)(s->prio[SCS_IRQ0 + irq] & 0xF0u) << (8 * i);
            }
        }
    } else if (a >= 0x100 && a < 0x380) {
        int bank = (int)((a & 0x7Fu) / 4u), kind = (int)((a - 0x100) / 0x80u);
        for (int b = 0; b < 32; b++) {
            int irq = bank * 32 + b, e = SCS_IRQ0 + irq;
            if (irq >= SCS_IRQS) {
                break;
            }
            int bit = kind <= 1 ? s->enabled[e] : kind <= 3 ? s->pending[e] : kind == 4 ? s->active[e] : 0;
            v |= (uint32_t)bit << b;
        }
    } else {
        switch (a) {
        case 0x004:
            v = 2;
            break; /* ICTR: 96 lines implemented */
        case 0x010:
            v = s->st_csr | ((uint32_t)s->st_countflag << 16);
            s->st_countflag = 0;
            break;
        case 0x014:
            v = s->st_rvr;
            break;
        case 0x018:
            v = s->st_cvr;
            break;
        case 0x01C:
            v = 0x40000000u | (s->hclk / 8u / 1000u - 1u);
            break; /* CALIB: NOREF, 1 ms at HCLK/8 */
        case 0xD00:
            v = 0x410FC241u;
            break; /* CPUID: Cortex-M4 r0p1 */
        case 0xD04: {
            int va = vect_active(s), vp = 0;
            for (int e = 2; e < SCS_EXCS; e++) {
                if (s->pending[e] && s->enabled[e]) {
                    vp = e;
                    break;
                }
            }
            v = (uint32_t)va | ((uint32_t)vp << 12) | (s->pending[SCS_EXC_PENDSV] ? 1u << 28 : 0) |
                (s->pending[SCS_EXC_SYSTICK] ? 1u << 26 : 0) | (s->active_n <= 1 ? 1u << 11 : 0);
            for (int e = SCS_IRQ0; e < SCS_EXCS; e++) {
                if (s->pending[e]) {
                    v |= 1u << 22; /* ISRPENDING */
                    break;
                }
            }
            break;
        }
        case 0xD08:
            v = s->vtor;
            break;
        case 0xD0C:
            v = 0xFA050000u | (s->aircr_prigroup << 8);
            break;
        case 0xD10:
            v = s->scr;
            break;
        case 0xD14:
            v = s->ccr;
            break;
        case 0xD18:
        case 0xD1C:
        case 0xD20:
            for (unsigned i = 0; i < 4; i++) {
                v |= (uint32_t)(s->prio[4 + (a - 0xD18) + i] & 0xF0u) << (8 * i);
            }
            break;
        case 0xD24:
            v = s->shcsr | (s->active[SCS_EXC_MEMMANAGE] ? 1u : 0) | (s->active[SCS_EXC_BUSFAULT] ? 2u : 0) |
                (s->active[SCS_EXC_USAGEFAULT] ? 8u : 0) | (s->active[SCS_EXC_SVCALL] ? 0x80u : 0) |
                (s->active[SCS_EXC_PENDSV] ? 0x400u : 0) | (s->active[SCS_EXC_SYSTICK] ? 0x800u : 0);
            break;
        case 0xD28:
            v = s->cfsr;
            break;
        case 0xD2C:
            v = s->hfsr;
            break;
        case 0xD34:
            v = s->mmfar;
            break;
        case 0xD38:
            v = s->bfar;
            break;
        case 0xD88:
            v = s->cpacr;
            break;
        case 0xDFC:
            v = s->demcr;
            break;
        case 0xF34:
            v = s->fpccr;
            break;
        case 0xF38:
            v = s->fpcar;
            break;
        case 0xF3C:
            v = s->fpdscr;
            break;
        default:
            v = 0;
            break;
        }
    }
    return emu_reg_part(v, off, size);
}

static void set_prio_bytes(scs_t *s, int first_exc, uint32_t value, uint32_t off, unsigned size, int limit)
{
    for (unsigned i = 0; i < size; i++) {
        int e = first_exc + (int)((off & 3u) + i);
        if (e < limit) {
            s->prio[e] = (uint8_t)((value >> (8 * i)) & 0xF0u);
        }
    }
}

static void scs_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    scs_t *s = self;
    uint32_t a = off & ~3u;
    uint64_t now = emu_time(s->emu);
    if (a >= 0x400 && a < 0x400 + SCS_IRQS) {
        set_prio_bytes(s, SCS_IRQ0 + (int)(a - 0x400), v, off, size, SCS_EXCS);
        emu_kick(s->emu);
        return;
    }
    if (a >= 0x100 && a < 0x300) {
        int bank = (int)((a & 0x7Fu) / 4u), kind = (int)((a - 0x100) / 0x80u);
        for (int b = 0; b < 32; b++) {
            int irq = bank * 32 + b, e = SCS_IRQ0 + irq;
            if (irq >= SCS_IRQS || !(v & (1u << b))) {
                continue;
            }
            switch (kind) {
            case 0:
                s->enabled[e] = 1;
                break;
            case 1:
                s->enabled[e] = 0;
                break;
            case 2:
                pend_soft(s, e);
                break;
            case 3:
                s->pending[e] = s->level[e] && !s->active[e] ? 1 : 0;
                break;
            }
        }
        emu_kick(s->emu);
        return;
    }
    switch (a) {
    case 0x010:
        st_advance(s, now);
        s->st_csr = v & 7u;
        s->st_at = now;
        st_advance(s, now);
        if ((s->st_csr & 3u) == 3u) {
            uint64_t to = s->st_cvr == 0 ? 1 + (uint64_t)s->st_rvr : s->st_cvr;
            s->st_next = now + to * st_tick_ns(s);
        }
        emu_kick(s->emu);
        break;
    case 0x014:
        st_advance(s, now);
        s->st_rvr = v & 0xFFFFFFu;
        break;
    case 0x018: /* any write clears the counter and COUNTFLAG (PM0214 §4.5.3) */
        st_advance(s, now);
        s->st_cvr = 0;
        s->st_countflag = 0;
        s->st_at = now;
        if ((s->st_csr & 3u) == 3u) {
            s->st_next = now + (1 + (uint64_t)s->st_rvr) * st_tick_ns(s);
        }
        break;
    case 0xD04:
        if (v & (1u << 31))
            pend_soft(s, SCS_EXC_NMI);
        if (v & (1u << 28))
            pend_soft(s, SCS_EXC_PENDSV);
        if (v & (1u << 27))
            s->pending[SCS_EXC_PENDSV] = 0;
        if (v & (1u << 26))
            pend_soft(s, SCS_EXC_SYSTICK);
        if (v & (1u << 25))
            s->pending[SCS_EXC_SYSTICK] = 0;
        break;
    case 0xD08:
        s->vtor = v & 0x3FFFFE00u;
        break; /* TBLOFF bits 29:9 (PM0214 §4.4.4) */
    case 0xD0C:
        if ((v >> 16) != 0x05FAu) {
            break; /* without VECTKEY the write is ignored */
        }
        s->aircr_prigroup = (v >> 8) & 7u;
        if (v & 4u) {
            emu_request_reset(s->emu, EMU_RESET_SOFTWARE);
        }
        break;
    case 0xD10:
        s->scr = v & 0x16u;
        break;
    case 0xD14:
        s->ccr = (v & 0x31Bu) | 0x200u;
        break;
    case 0xD18:
    case 0xD1C:
    case 0xD20:
        set_prio_bytes(s, 4 + (int)(a - 0xD18), v, off, size, 16);
        emu_kick(s->emu);
        break;
    case 0xD24:
        s->shcsr = v & 0x70000u;
        s->enabled[SCS_EXC_MEMMANAGE] = (v >> 16) & 1u;
        s->enabled[SCS_EXC_BUSFAULT] = (v >> 17) & 1u;
        s->enabled[SCS_EXC_USAGEFAULT] = (v >> 18) & 1u;
        break;
    case 0xD28:
        s->cfsr &= ~v;
        break;
    case 0xD2C:
        s->hfsr &= ~v;
        break;
    case 0xD34:
        s->mmfar = v;
        break;
    case 0xD38:
        s->bfar = v;
        break;
    case 0xD88:
        s->cpacr = v & 0x00F00000u;
        emu_kick(s->emu);
        break;
    case 0xDFC:
        s->demcr = v;
        break;
    case 0xF00: /* STIR */
        if ((v & 0x1FFu) < SCS_IRQS)
            pend_soft(s, SCS_IRQ0 + (int)(v & 0x1FFu));
        break;
    case 0xF34:
        s->fpccr = v & 0xC0000000u;
        break;
    case 0xF38:
        s->fpcar = v & ~7u;
        break;
    case 0xF3C:
        s->fpdscr = v & 0x07C00000u;
        break;
    default:
        break;
    }
}

static uint32_t dwt_read(void *self, uint32_t off, unsigned size)
{
    scs_t *s = self;
    (void)size;
    cyc_advance(s, emu_time(s->emu));
    return off == 0 ? s->dwt_ctrl | 0x40000000u : off == 4 ? s->cyccnt : 0;
}

static void dwt_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    scs_t *s = self;
    (void)size;
    cyc_advance(s, emu_time(s->emu));
    if (off == 0) {
        s->dwt_ctrl = v & 1u;
        s->cyc_at = emu_time(s->emu);
    } else if (off == 4) {
        s->cyccnt = v;
    }
}

static void nop_reset(void *self, emu_reset_kind_t kind)
{
    (void)self;
    (void)kind;
}

scs_t *scs_new(emu_t *emu)
{
    scs_t *s = calloc(1, sizeof(*s));
    if (s != NULL) {
        s->emu = emu;
        s->hclk = 16000000u;
        scs_reset(s, EMU_RESET_POWER);
    }
    return s;
}

void scs_free(scs_t *s)
{
    free(s);
}

emu_periph_t scs_periph(scs_t *s)
{
    emu_periph_t p = {"SCS",          0xE000E000u, 0x1000u, scs_read, scs_write, scs_advance,
                      scs_next_event, scs_reset,   s,       NULL,     0};
    return p;
}

emu_periph_t scs_dwt_periph(scs_t *s)
{
    emu_periph_t p = {"DWT", 0xE0001000u, 0x1000u, dwt_read, dwt_write, NULL, NULL, nop_reset, s, NULL, 0};
    return p;
}
