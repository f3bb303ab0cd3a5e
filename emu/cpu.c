/* fota-emu CPU glue: a Cortex-M4 on Unicorn (UC_MODE_THUMB with UC_CPU_ARM_CORTEX_M4: Unicorn's
 * UC_MODE_MCLASS gives a Cortex-M33 whatever the model), and what Unicorn leaves out of an M-class
 * core: exception entry and return (PM0214 §2.3.7-2.3.8: the 8-word frame, the 26-word FP frame
 * stacked eagerly, 8-byte frame alignment with xPSR bit 9, EXC_RETURN), preemption by priority,
 * WFI, faults on bad accesses, CPACR.
 * Rules, in order, between two slices of execution:
 *   1. models catch up with device time; a requested reset happens; a pending exception return or
 *      fault is completed;
 *   2. the highest-priority pending exception that may preempt is taken (after a seeded jitter);
 *   3. a core in WFI with nothing pending sleeps until the next event;
 *   4. a slice runs, at most until the next model event, the caller's deadline or a power cut.
 * Device time: instructions counted one by one (a code hook), at HCLK, plus flash wait
 * states when fetching from flash with the ART off, plus stalls while the single-bank flash is busy.
 * Unicorn facts this file depends on (each has a test in tests/emu): interrupts can be taken only
 * between uc_emu_start calls; exception return shows as intno 8, or as a prefetch abort (intno 3)
 * at 0xFFFFFFxx when the core's handler-mode flag is stale after IPSR is written; no FP frame is
 * pushed by Unicorn; CPACR is not enforced; memory must not be written nor translation caches
 * removed from inside a hook; a stop is clean only from a code hook; WFI returns from
 * uc_emu_start early; uc_ctl_flush_tlb writes the whole 1 GiB code buffer. docs/emulator.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "emu_internal.h"
#include "scs.h"
#include "fota/layout.h"

#define FLASH_BASE 0x08000000u
#define FLASH_SIZE 0x00100000u
#define SRAM_BASE 0x20000000u
#define SRAM_SIZE 0x00020000u /* SRAM1 112 KiB + SRAM2 16 KiB */
#define CCM_BASE 0x10000000u
#define CCM_SIZE 0x00010000u
#define SYSMEM_BASE 0x1FFF0000u /* system memory, OTP, option bytes (RM0090 table 5) */
#define SYSMEM_SIZE 0x00010000u
#define SLICE_MAX_CYCLES                                                                                               \
    65536u /* slices end early at every model event and every kick; this only bounds a quiet one                       \
            */
#define EXC_RETURN_MIN 0xFFFFFFE0u

typedef struct {
    uint32_t base, size;
} region_t;

/* Peripheral windows mapped as MMIO (RM0090 table 1); inside them, an address no model claims
 * reads as zero and ignores writes (reported once); outside them, an access is a bus error. */
static const region_t mmio_regions[] = {
    {0x40000000u, 0x00008000u}, /* APB1 */
    {0x40010000u, 0x00008000u}, /* APB2 */
    {0x40020000u, 0x00060000u}, /* AHB1 */
    {0x50000000u, 0x00061000u}, /* AHB2 */
    {0xE0000000u, 0x00100000u}, /* Cortex-M4 private peripheral bus */
};
#define N_MMIO (sizeof(mmio_regions) / sizeof(mmio_regions[0]))

typedef struct {
    struct emu *e;
    uint32_t base;
} mmio_ctx_t;

struct emu {
    uc_engine *uc;
    mmio_ctx_t mmio[N_MMIO];
    emu_options_t o;
    uint8_t *flash, *view, *sram, *ccm, *sysmem;
    emu_periph_t per[EMU_MAX_PERIPH];
    int nper;
    const emu_board_t *board;
    void *b;
    scs_t *scs;
    uc_hook h_code, h_intr, h_flash_w, h_otp_w, h_unmapped, h_dread[2];
    int dread_on;
    int fp_off;
    uint32_t penalty16;
    /* Time. Between slices t0 is now; inside one, now is t0 + cycles + stalls so far. */
    uint64_t t0, cyc16, cyc16_limit, stall, slice_end;
    uint32_t hz;
    int in_slice, stopped, kick;
    /* Things hooks noticed, done between slices. */
    uint32_t exc_return;
    int fault_exc;
    uint32_t fault_cfsr, fault_addr;
    int reset_pending;
    emu_reset_kind_t reset_kind;
    int sleeping, cut, error, lockup;
    uint32_t code_lo, code_hi;
    uint32_t watch_lo, watch_hi;
    int watch_hit;
    uint32_t rng, jitter_left;
    int jitter_armed;
    uint32_t unclaimed_logged;
    emu_stats_t st;
};

/* ---- services for models ---- */

EMU_HOT static uint64_t cyc_ns(const emu_t *e, uint64_t cyc16)
{
    return cyc16 * 1000000000ull / ((uint64_t)e->hz * 16u);
}

EMU_HOT uint64_t emu_time(emu_t *e)
{
    return e->in_slice ? e->t0 + cyc_ns(e, e->cyc16) + e->stall : e->t0;
}

uint64_t emu_now(const emu_t *e)
{
    return emu_time((emu_t *)e);
}

/* Ends the slice before the next instruction (the code hook stops it). Never uc_emu_stop from a
 * memory callback: Unicorn then abandons the instruction doing the access and runs it (and the
 * access) again. */
void emu_kick(emu_t *e)
{
    e->kick = 1;
}

void emu_irq_level(emu_t *e, int irq, int level)
{
    scs_irq_level(e->scs, irq, level);
}

void emu_request_reset(emu_t *e, emu_reset_kind_t kind)
{
    if (!e->reset_pending) {
        e->reset_pending = 1;
        e->reset_kind = kind;
    }
    emu_kick(e);
}

void emu_log(emu_t *e, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (e->o.on_log != NULL) {
        e->o.on_log(e->o.ctx, line);
    }
}

void emu_fatal(emu_t *e, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    emu_log(e, "%s", line);
    e->error = 1;
    emu_kick(e);
}

void emu_stall(emu_t *e, uint64_t t)
{
    uint64_t now = emu_time(e);
    if (t > now) {
        if (e->in_slice) {
            e->stall += t - now;
            e->cyc16_limit = 0;
        } else {
            e->t0 = t;
        }
        e->st.stall_ns += t - now;
    }
}

void emu_power_cut(emu_t *e)
{
    e->cut = 1;
    emu_kick(e);
}

uint32_t emu_rand(emu_t *e)
{
    uint32_t x = e->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return e->rng = x;
}

const emu_options_t *emu_opts(emu_t *e)
{
    return &e->o;
}

uint8_t *emu_system_memory(emu_t *e)
{
    return e->sysmem;
}

uint8_t *emu_flash(emu_t *e)
{
    return e->flash;
}

uint8_t *emu_flash_view(emu_t *e)
{
    return e->view;
}

EMU_HOT uint8_t *emu_mem(emu_t *e, uint32_t addr, uint32_t len, int write)
{
    if (addr >= SRAM_BASE && addr - SRAM_BASE < SRAM_SIZE && len <= SRAM_SIZE - (addr - SRAM_BASE)) {
        return e->sram + (addr - SRAM_BASE);
    }
    if (addr >= CCM_BASE && addr - CCM_BASE < CCM_SIZE && len <= CCM_SIZE - (addr - CCM_BASE)) {
        return e->ccm + (addr - CCM_BASE);
    }
    if (!write && addr >= FLASH_BASE && addr - FLASH_BASE < FLASH_SIZE && len <= FLASH_SIZE - (addr - FLASH_BASE)) {
        return e->flash + (addr - FLASH_BASE);
    }
    return NULL;
}

static emu_periph_t *find_periph(emu_t *e, uint32_t addr)
{
    for (int i = 0; i < e->nper; i++) {
        if (addr - e->per[i].base < e->per[i].size) {
            return &e->per[i];
        }
    }
    return NULL;
}

int emu_bus_read(emu_t *e, uint32_t addr, unsigned size, uint32_t *value)
{
    emu_periph_t *p = find_periph(e, addr);
    if (p == NULL) {
        return -1;
    }
    *value = (p->clk_reg == NULL || (*p->clk_reg & p->clk_mask)) ? p->read(p->self, addr - p->base, size) : 0;
    return 0;
}

int emu_bus_write(emu_t *e, uint32_t addr, unsigned size, uint32_t value)
{
    emu_periph_t *p = find_periph(e, addr);
    if (p == NULL) {
        return -1;
    }
    if (p->clk_reg == NULL || (*p->clk_reg & p->clk_mask)) {
        p->write(p->self, addr - p->base, value, size);
    }
    return 0;
}

void emu_code_changed(emu_t *e, uint32_t addr, uint32_t len)
{
    if (e->code_hi == 0) {
        e->code_lo = addr;
        e->code_hi = addr + len;
    } else {
        e->code_lo = addr < e->code_lo ? addr : e->code_lo;
        e->code_hi = addr + len > e->code_hi ? addr + len : e->code_hi;
    }
}

void emu_bus_error(emu_t *e, uint32_t addr, int write)
{
    if (e->fault_exc == 0) {
        e->fault_exc = SCS_EXC_BUSFAULT;
        e->fault_cfsr = write ? SCS_CFSR_IMPRECISERR : (SCS_CFSR_PRECISERR | SCS_CFSR_BFARVALID);
        e->fault_addr = addr;
    }
    emu_kick(e);
}

void emu_sync(emu_t *e)
{
    uint64_t now = emu_time(e);
    for (int i = 0; i < e->nper; i++) {
        if (e->per[i].advance != NULL) {
            e->per[i].advance(e->per[i].self, now);
        }
    }
}

int emu_add_periph(emu_t *e, const emu_periph_t *p)
{
    if (e->nper == EMU_MAX_PERIPH) {
        return -1;
    }
    e->per[e->nper++] = *p;
    return 0;
}

void emu_set_board(emu_t *e, const emu_board_t *ops, void *b)
{
    e->board = ops;
    e->b = b;
}

/* ---- hooks ---- */

EMU_HOT static uint8_t *code_ptr(emu_t *e, uint32_t addr, uint32_t len)
{
    if (addr < FLASH_SIZE && len <= FLASH_SIZE - addr) {
        return e->view + addr; /* the boot alias of the flash at 0 */
    }
    if (addr >= FLASH_BASE && addr - FLASH_BASE < FLASH_SIZE && len <= FLASH_SIZE - (addr - FLASH_BASE)) {
        return e->view + (addr - FLASH_BASE);
    }
    if (addr >= SYSMEM_BASE && addr - SYSMEM_BASE < SYSMEM_SIZE && len <= SYSMEM_SIZE - (addr - SYSMEM_BASE)) {
        return e->sysmem + (addr - SYSMEM_BASE);
    }
    return emu_mem(e, addr, len, 0);
}

/* Before each instruction: end the slice here when asked (Unicorn honours a stop requested from
 * a code hook before the instruction runs; from a block hook it lets the block run on, with
 * peripheral reads answered without the callback, so accounting and stopping are done here);
 * count the instruction and its cycles; wait out a busy flash; refuse FP without CPACR. */
EMU_HOT static void hook_code(uc_engine *uc, uint64_t address, uint32_t size, void *user)
{
    emu_t *e = user;
    uint32_t addr = (uint32_t)address;
    if (e->stopped) {
        return;
    }
    if (e->kick || e->cyc16 >= e->cyc16_limit ||
        (e->watch_hi != e->watch_lo && addr - e->watch_lo < e->watch_hi - e->watch_lo)) {
        if (e->watch_hi != e->watch_lo && addr - e->watch_lo < e->watch_hi - e->watch_lo) {
            e->watch_hit = 1;
        }
        e->stopped = 1;
        uc_emu_stop(uc);
        return;
    }
    int flash = addr - FLASH_BASE < FLASH_SIZE;
    if (size == 4) {
        const uint8_t *p = flash ? e->view + (addr - FLASH_BASE) : code_ptr(e, addr, 4);
        uint16_t hw1 = p != NULL ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
        uint16_t hw2 = p != NULL ? (uint16_t)(p[2] | (p[3] << 8)) : 0;
        uint32_t cfsr = 0;
        if ((hw1 & 0xE800u) != 0xE800u) {
            /* not a 32-bit load/store or coprocessor encoding: nothing to check */
        } else if (e->fp_off && (hw1 & 0xEC00u) == 0xEC00u && ((hw2 >> 8) & 0xEu) == 0xAu) {
            /* CPACR denies CP10/CP11: a coprocessor 10/11 encoding (hw1 = 111x11xx..., coproc
             * field 101x) is a NOCP UsageFault instead (PM0214 §4.6.1). */
            cfsr = SCS_CFSR_NOCP;
        } else if ((hw1 & 0xFE40u) == 0xE840u && (hw1 & 0x0120u) != 0 && (hw1 & 0xFu) != 15u) {
            /* LDRD/STRD (immediate) at an address that is not word aligned: UNALIGNED UsageFault
             * whatever CCR.UNALIGN_TRP says (PM0214 §3.3.5); Unicorn would just do it. */
            uint32_t base = 0, imm = (uint32_t)(hw2 & 0xFFu) << 2;
            uint32_t rn = hw1 & 0xFu;
            uc_reg_read(uc, rn <= 12u ? UC_ARM_REG_R0 + (int)rn : rn == 13u ? UC_ARM_REG_SP : UC_ARM_REG_LR, &base);
            uint32_t ea = (hw1 & 0x0100u) ? ((hw1 & 0x0080u) ? base + imm : base - imm) : base;
            if (ea & 3u) {
                cfsr = SCS_CFSR_UNALIGNED;
            }
        }
        if (cfsr != 0) {
            e->fault_exc = SCS_EXC_USAGEFAULT;
            e->fault_cfsr = cfsr;
            e->fault_addr = addr;
            e->stopped = 1;
            uc_emu_stop(uc);
            return;
        }
    }
    uint32_t cost = 16u;
    if (flash || addr < FLASH_SIZE) {
        /* RM0090 §3.5: the flash is one bank; while it erases or programs, no fetch completes.
         * The core may end up past the slice's end: models keep their own event times. */
        uint64_t busy = e->board->flash_busy_until(e->b);
        if (busy != 0) {
            uint64_t now = emu_time(e);
            if (busy > now) {
                e->stall += busy - now;
                e->st.stall_ns += busy - now;
                e->cyc16_limit = 0; /* the slice is over once the flash lets the core go on */
            }
        }
        cost += e->penalty16;
    }
    e->cyc16 += cost;
    e->st.instructions++;
    e->st.cycles16 += cost;
    for (uint32_t i = 0; i < e->o.nprofile; i++) {
        const emu_profile_range_t *r = &e->o.profile[i];
        if (addr - r->lo < r->hi - r->lo) {
            e->st.profile16[r->bucket] += cost;
            break;
        }
    }
}

static void hook_intr(uc_engine *uc, uint32_t intno, void *user)
{
    emu_t *e = user;
    uint32_t pc;
    uc_reg_read(uc, UC_ARM_REG_PC, &pc);
    if ((intno == 8 || intno == 3) && pc >= EXC_RETURN_MIN && scs_active_count(e->scs) > 0) {
        e->exc_return = pc; /* EXCP_EXCEPTION_EXIT, or the stale-flag prefetch abort: same meaning */
    } else if (intno == 1 || intno == 3 || intno == 4) {
        e->fault_exc = SCS_EXC_USAGEFAULT; /* UNDEF, or a fetch Unicorn refused */
        e->fault_cfsr = intno == 1 ? SCS_CFSR_UNDEFINSTR : SCS_CFSR_INVSTATE;
        e->fault_addr = pc;
    } else if (intno == 2) {
        e->fault_exc = SCS_EXC_SVCALL;
    } else {
        emu_fatal(e, "emu: CPU exception %u at pc=0x%08x that the emulator does not model", intno, pc);
    }
    e->stopped = 1;
    uc_emu_stop(uc); /* the instruction is over: stopping here is safe */
}

static bool hook_flash_write(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value, void *user)
{
    emu_t *e = user;
    (void)uc;
    (void)type;
    uint32_t a = (uint32_t)address;
    if (a < FLASH_SIZE) {
        a += FLASH_BASE;
    }
    e->board->flash_store(e->b, a, (unsigned)size, (uint32_t)value);
    return true;
}

/* A data read of the flash while the ART data cache is on (the hook exists only then). */
static void hook_flash_read(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value, void *user)
{
    emu_t *e = user;
    (void)uc;
    (void)type;
    (void)value;
    uint32_t a = (uint32_t)address;
    e->board->flash_dread(e->b, a < FLASH_SIZE ? a + FLASH_BASE : a, (unsigned)size);
}

static bool hook_unmapped(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value, void *user)
{
    emu_t *e = user;
    (void)uc;
    (void)size;
    (void)value;
    if (type == UC_MEM_FETCH_UNMAPPED || type == UC_MEM_FETCH_PROT) {
        uint32_t a = (uint32_t)address;
        if (a >= EXC_RETURN_MIN && scs_active_count(e->scs) > 0) {
            e->exc_return = a;
        } else if (e->fault_exc == 0) {
            e->fault_exc = SCS_EXC_BUSFAULT;
            e->fault_cfsr = SCS_CFSR_IBUSERR;
            e->fault_addr = a;
        }
    } else if (e->fault_exc == 0) {
        e->fault_exc = SCS_EXC_BUSFAULT;
        e->fault_cfsr = (type == UC_MEM_WRITE_UNMAPPED || type == UC_MEM_WRITE_PROT)
                            ? SCS_CFSR_IMPRECISERR
                            : (SCS_CFSR_PRECISERR | SCS_CFSR_BFARVALID);
        e->fault_addr = (uint32_t)address;
    }
    e->stopped = 1;
    return false;
}

static uint64_t mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *user);
static void mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *user);

static void unclaimed(emu_t *e, uint32_t addr, int write)
{
    if (e->unclaimed_logged < 8) {
        e->unclaimed_logged++;
        emu_log(e, "emu: %s of 0x%08x: no model there (reads as zero, writes ignored)", write ? "write" : "read", addr);
    }
}

static uint64_t mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *user)
{
    mmio_ctx_t *c = user;
    emu_t *e = c->e;
    (void)uc;
    uint32_t addr = c->base + (uint32_t)offset, v = 0;
    emu_sync(e);
    if (emu_bus_read(e, addr, size, &v) != 0) {
        unclaimed(e, addr, 0);
    }
    return v;
}

static void mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *user)
{
    mmio_ctx_t *c = user;
    emu_t *e = c->e;
    (void)uc;
    uint32_t addr = c->base + (uint32_t)offset;
    emu_sync(e);
    if (emu_bus_write(e, addr, size, (uint32_t)value) != 0) {
        unclaimed(e, addr, 1);
    }
}

/* ---- registers and memory outside hooks ---- */

static uint32_t rreg(emu_t *e, int reg)
{
    uint32_t v = 0;
    uc_reg_read(e->uc, reg, &v);
    return v;
}

static void wreg(emu_t *e, int reg, uint32_t v)
{
    uc_reg_write(e->uc, reg, &v);
}

static int mem_rd32(emu_t *e, uint32_t addr, uint32_t *v)
{
    const uint8_t *p = code_ptr(e, addr, 4);
    if (p == NULL) {
        return -1;
    }
    memcpy(v, p, 4);
    return 0;
}

static int mem_wr32(emu_t *e, uint32_t addr, uint32_t v)
{
    uint8_t *p = emu_mem(e, addr, 4, 1);
    if (p == NULL) {
        return -1;
    }
    memcpy(p, &v, 4);
    return 0;
}

static void write_ipsr(emu_t *e, uint32_t xpsr)
{
    wreg(e, UC_ARM_REG_XPSR, xpsr);
    /* Rewriting the flags makes Unicorn recompute its cached mode flags. */
    wreg(e, UC_ARM_REG_APSR_NZCV, rreg(e, UC_ARM_REG_APSR_NZCV));
}

static void lockup(emu_t *e, const char *why)
{
    emu_log(e, "emu: core lockup at pc=0x%08x: %s", rreg(e, UC_ARM_REG_PC), why);
    e->lockup = 1;
}

/* Exception entry (PM0214 §2.3.7). ret_pc: where the exception returns to. */
static void exc_entry(emu_t *e, int exc, uint32_t ret_pc)
{
    uint32_t control = rreg(e, UC_ARM_REG_CONTROL);
    if (control & 2u) {
        emu_fatal(e, "emu: thread mode on the process stack (CONTROL.SPSEL) is not modelled");
        return;
    }
    int fp = (control & 4u) && scs_fp_autosave(e->scs);
    uint32_t size = fp ? 0x68u : 0x20u;
    uint32_t sp = rreg(e, UC_ARM_REG_SP);
    uint32_t align = (sp >> 2) & 1u;
    uint32_t frame = (sp - size) & ~4u;
    uint32_t xpsr = rreg(e, UC_ARM_REG_XPSR);
    uint32_t w[26] = {rreg(e, UC_ARM_REG_R0),
                      rreg(e, UC_ARM_REG_R1),
                      rreg(e, UC_ARM_REG_R2),
                      rreg(e, UC_ARM_REG_R3),
                      rreg(e, UC_ARM_REG_R12),
                      rreg(e, UC_ARM_REG_LR),
                      ret_pc & ~1u,
                      (xpsr & ~(1u << 9)) | (align << 9) | (1u << 24)};
    if (fp) {
        for (int i = 0; i < 16; i++) {
            w[8 + i] = rreg(e, UC_ARM_REG_S0 + i);
        }
        w[24] = rreg(e, UC_ARM_REG_FPSCR);
        w[25] = 0;
    }
    for (uint32_t i = 0; i < size / 4u; i++) {
        if (mem_wr32(e, frame + 4u * i, w[i]) != 0) {
            lockup(e, "the exception frame does not fit in RAM (stacking error)");
            return;
        }
    }
    int handler = scs_active_count(e->scs) > 0;
    uint32_t excret = 0xFFFFFFE1u | (fp ? 0u : 0x10u) | (handler ? 0u : 0x8u);
    uint32_t vec;
    if (mem_rd32(e, scs_vtor(e->scs) + 4u * (uint32_t)exc, &vec) != 0) {
        lockup(e, "vector table unreadable");
        return;
    }
    scs_enter(e->scs, exc);
    wreg(e, UC_ARM_REG_SP, frame);
    wreg(e, UC_ARM_REG_LR, excret);
    wreg(e, UC_ARM_REG_CONTROL, control & ~4u);
    write_ipsr(e, (xpsr & 0xF8000000u) | (1u << 24) | (uint32_t)exc);
    wreg(e, UC_ARM_REG_PC, vec | 1u);
    e->st.exceptions++;
    e->sleeping = 0;
}

/* Exception return (PM0214 §2.3.8). */
static void exc_return(emu_t *e, uint32_t excret)
{
    int exc = (int)(rreg(e, UC_ARM_REG_XPSR) & 0x1FFu);
    if (!scs_leave(e->scs, exc)) {
        lockup(e, "exception return from an exception that is not active");
        return;
    }
    if (excret & 4u) {
        emu_fatal(e, "emu: return to the process stack is not modelled");
        return;
    }
    int fp = (excret & 0x10u) == 0;
    uint32_t frame = rreg(e, UC_ARM_REG_SP), w[26];
    uint32_t size = fp ? 0x68u : 0x20u;
    for (uint32_t i = 0; i < size / 4u; i++) {
        if (mem_rd32(e, frame + 4u * i, &w[i]) != 0) {
            lockup(e, "exception frame unreadable (unstacking error)");
            return;
        }
    }
    static const int regs[6] = {UC_ARM_REG_R0, UC_ARM_REG_R1,  UC_ARM_REG_R2,
                                UC_ARM_REG_R3, UC_ARM_REG_R12, UC_ARM_REG_LR};
    for (int i = 0; i < 6; i++) {
        wreg(e, regs[i], w[i]);
    }
    uint32_t control = rreg(e, UC_ARM_REG_CONTROL);
    if (fp) {
        for (int i = 0; i < 16; i++) {
            wreg(e, UC_ARM_REG_S0 + i, w[8 + i]);
        }
        wreg(e, UC_ARM_REG_FPSCR, w[24]);
        control |= 4u;
    } else {
        control &= ~4u;
    }
    wreg(e, UC_ARM_REG_SP, frame + size + (((w[7] >> 9) & 1u) ? 4u : 0u));
    wreg(e, UC_ARM_REG_CONTROL, control);
    uint32_t xpsr = w[7] & ~(1u << 9);
    if (excret & 8u) {
        xpsr &= ~0x1FFu; /* back to thread mode */
    }
    write_ipsr(e, xpsr | (1u << 24));
    wreg(e, UC_ARM_REG_PC, w[6] | 1u);
}

static void take_fault(emu_t *e)
{
    int exc = e->fault_exc;
    uint32_t pc = rreg(e, UC_ARM_REG_PC);
    e->fault_exc = 0;
    if (exc == SCS_EXC_SVCALL) {
        exc_entry(e, SCS_EXC_SVCALL, pc); /* SVC: returns after the instruction */
        return;
    }
    int prio = scs_exec_priority(e->scs, rreg(e, UC_ARM_REG_PRIMASK), rreg(e, UC_ARM_REG_BASEPRI),
                                 rreg(e, UC_ARM_REG_FAULTMASK));
    int take = scs_fault(e->scs, exc, e->fault_cfsr, e->fault_addr, prio);
    if (take < 0) {
        lockup(e, "fault at priority -1 or higher");
        return;
    }
    emu_log(e, "emu: %s (CFSR bits 0x%08x, address 0x%08x) at pc=0x%08x",
            take == SCS_EXC_HARDFAULT ? "HardFault"
            : exc == SCS_EXC_BUSFAULT ? "BusFault"
                                      : "UsageFault",
            e->fault_cfsr, e->fault_addr, pc);
    exc_entry(e, take, pc);
}

static void do_reset(emu_t *e, emu_reset_kind_t kind)
{
    e->reset_pending = 0;
    if (kind == EMU_RESET_SOFTWARE || kind == EMU_RESET_IWDG) {
        uint64_t ops, er, pr;
        e->board->flash_stats(e->b, &ops, &er, &pr);
        emu_log(e, "emu: %s reset at %.6f s, after %llu flash operations",
                kind == EMU_RESET_SOFTWARE ? "software" : "watchdog", (double)e->t0 / 1e9, (unsigned long long)ops);
    }
    if (kind == EMU_RESET_POWER) {
        memset(e->sram, 0, SRAM_SIZE);
        memset(e->ccm, 0, CCM_SIZE);
    }
    for (int i = 0; i < e->nper; i++) {
        e->per[i].reset(e->per[i].self, kind);
    }
    static const int zero_regs[] = {UC_ARM_REG_R0,      UC_ARM_REG_R1,      UC_ARM_REG_R2,      UC_ARM_REG_R3,
                                    UC_ARM_REG_R4,      UC_ARM_REG_R5,      UC_ARM_REG_R6,      UC_ARM_REG_R7,
                                    UC_ARM_REG_R8,      UC_ARM_REG_R9,      UC_ARM_REG_R10,     UC_ARM_REG_R11,
                                    UC_ARM_REG_R12,     UC_ARM_REG_PRIMASK, UC_ARM_REG_BASEPRI, UC_ARM_REG_FAULTMASK,
                                    UC_ARM_REG_CONTROL, UC_ARM_REG_FPSCR};
    for (size_t i = 0; i < sizeof(zero_regs) / sizeof(zero_regs[0]); i++) {
        wreg(e, zero_regs[i], 0);
    }
    for (int i = 0; i < 32; i++) {
        wreg(e, UC_ARM_REG_S0 + i, 0);
    }
    wreg(e, UC_ARM_REG_LR, 0xFFFFFFFFu);
    write_ipsr(e, 1u << 24);
    uint32_t sp = 0, pc = 0;
    (void)mem_rd32(e, 0, &sp); /* boot from main flash: BOOT0 low, aliased at 0 (RM0090 §2.4) */
    (void)mem_rd32(e, 4, &pc);
    wreg(e, UC_ARM_REG_SP, sp & ~3u);
    wreg(e, UC_ARM_REG_PC, pc | 1u);
    e->hz = e->board->hclk_hz(e->b);
    scs_set_clock(e->scs, e->hz);
    e->sleeping = e->lockup = 0;
    e->exc_return = 0;
    e->fault_exc = 0;
    e->jitter_armed = 0;
    e->fp_off = !scs_fpu_enabled(e->scs);
    /* No uc_ctl_flush_tlb here: in Unicorn 2.0.1 it writes the whole 1 GiB code buffer (seconds).
     * Flash changes drop their translations as they happen (settle). */
    e->st.resets++;
}

void emu_power_on(emu_t *e)
{
    e->cut = 0;
    e->error = 0;
    memcpy(e->view, e->flash, FLASH_SIZE); /* the caches start empty: the core sees the cells */
    do_reset(e, EMU_RESET_POWER);
}

void emu_pin_reset(emu_t *e)
{
    do_reset(e, EMU_RESET_PIN);
}

void emu_watch_pc(emu_t *e, uint32_t lo, uint32_t hi)
{
    e->watch_lo = lo;
    e->watch_hi = hi;
    e->watch_hit = 0;
}

uint32_t emu_pc(const emu_t *e)
{
    return rreg((emu_t *)e, UC_ARM_REG_PC);
}

const char *emu_run_name(emu_run_t r)
{
    switch (r) {
    case EMU_RUN_TIME:
        return "time reached";
    case EMU_RUN_WATCH:
        return "watched address reached";
    case EMU_RUN_CUT:
        return "power cut";
    case EMU_RUN_LOCKUP:
        return "core lockup";
    case EMU_RUN_ERROR:
        return "emulator error";
    }
    return "?";
}

static uint64_t next_event(emu_t *e)
{
    uint64_t t = EMU_NEVER;
    for (int i = 0; i < e->nper; i++) {
        if (e->per[i].next_event != NULL) {
            uint64_t n = e->per[i].next_event(e->per[i].self);
            t = n < t ? n : t;
        }
    }
    if (e->o.cut_at_ns != 0 && e->o.cut_at_ns < t) {
        t = e->o.cut_at_ns;
    }
    return t;
}

/* Between slices: everything hooks noticed. */
static void settle(emu_t *e)
{
    e->hz = e->board->hclk_hz(e->b);
    emu_sync(e);
    if (e->code_hi != 0) {
        uint32_t lo = e->code_lo, hi = e->code_hi;
        e->code_lo = e->code_hi = 0;
        uc_ctl_remove_cache(e->uc, lo, hi);
        if (lo >= FLASH_BASE) {
            uc_ctl_remove_cache(e->uc, lo - FLASH_BASE, hi - FLASH_BASE);
        }
    }
    e->fp_off = !scs_fpu_enabled(e->scs);
    e->penalty16 = e->board->flash_penalty16(e->b);
    scs_set_clock(e->scs, e->hz);
    if (!e->dread_on && e->board->dcache_on(e->b)) {
        /* Unicorn decides when it translates whether a load calls the read hooks: code translated
         * before the hook existed is translated again. The hook stays from then on (it does
         * nothing while DCEN is clear): a driver that turns DCEN off and on around every flash
         * write (to reset the cache) would otherwise have the whole flash translated again each
         * time, and adding and removing hooks that often crashed Unicorn 2.0.1 (a chained
         * translation block jumped into one already freed). */
        uc_hook_add(e->uc, &e->h_dread[0], UC_HOOK_MEM_READ, (void *)hook_flash_read, e, FLASH_BASE,
                    FLASH_BASE + FLASH_SIZE - 1);
        uc_hook_add(e->uc, &e->h_dread[1], UC_HOOK_MEM_READ, (void *)hook_flash_read, e, 0, FLASH_SIZE - 1);
        e->dread_on = 1;
        uc_ctl_remove_cache(e->uc, FLASH_BASE, FLASH_BASE + FLASH_SIZE);
        uc_ctl_remove_cache(e->uc, 0, FLASH_SIZE);
        uc_ctl_remove_cache(e->uc, SRAM_BASE, SRAM_BASE + SRAM_SIZE);
    }
}

emu_run_t emu_run(emu_t *e, uint64_t until)
{
    for (;;) {
        settle(e);
        if (e->cut) {
            return EMU_RUN_CUT;
        }
        if (e->error) {
            return EMU_RUN_ERROR;
        }
        if (e->reset_pending) {
            do_reset(e, e->reset_kind);
            continue;
        }
        if (e->lockup) {
            return EMU_RUN_LOCKUP;
        }
        if (e->exc_return != 0) {
            uint32_t r = e->exc_return;
            e->exc_return = 0;
            exc_return(e, r);
            continue;
        }
        if (e->fault_exc != 0) {
            take_fault(e);
            continue;
        }
        if (e->watch_hit) {
            e->watch_hit = 0;
            return EMU_RUN_WATCH;
        }
        if (e->o.cut_at_ns != 0 && e->t0 >= e->o.cut_at_ns) {
            e->cut = 1;
            continue;
        }
        if (e->t0 >= until) {
            return EMU_RUN_TIME;
        }
        int exc =
            scs_pick(e->scs, rreg(e, UC_ARM_REG_PRIMASK), rreg(e, UC_ARM_REG_BASEPRI), rreg(e, UC_ARM_REG_FAULTMASK));
        uint64_t limit = until;
        if (exc != 0) {
            if (e->o.irq_jitter && !e->jitter_armed && !scs_pended_by_software(e->scs, exc)) {
                e->jitter_armed = 1;
                e->jitter_left = emu_rand(e) % (e->o.irq_jitter + 1u);
            }
            if (!e->jitter_armed || e->jitter_left == 0) {
                e->jitter_armed = 0;
                exc_entry(e, exc, rreg(e, UC_ARM_REG_PC));
                continue;
            }
            /* Seeded jitter: the interrupt is taken a few instructions later. */
            uint64_t t = e->t0 + (uint64_t)e->jitter_left * 1000000000ull / e->hz;
            e->jitter_left = 0;
            limit = t < limit ? t : limit;
        }
        uint64_t ev = next_event(e);
        if (e->sleeping) {
            if (scs_any_pending(e->scs)) {
                e->sleeping = 0;
                continue;
            }
            uint64_t t = ev < until ? ev : until;
            e->st.idle_ns += t - e->t0;
            e->t0 = t;
            continue;
        }
        limit = ev < limit ? ev : limit;
        uint64_t max = e->t0 + (uint64_t)SLICE_MAX_CYCLES * 1000000000ull / e->hz;
        e->slice_end = limit < max ? limit : max;
        if (e->slice_end <= e->t0) {
            e->slice_end = e->t0 + 1;
        }
        uint32_t pc = rreg(e, UC_ARM_REG_PC);
        e->cyc16 = 0;
        e->cyc16_limit = (e->slice_end - e->t0) * e->hz / 1000000000ull * 16u;
        if (e->cyc16_limit == 0) {
            e->cyc16_limit = 16;
        }
        e->stall = 0;
        e->stopped = 0;
        e->kick = 0;
        e->in_slice = 1;
        uc_err err = uc_emu_start(e->uc, pc | 1u, 0xFFFFFFFFull, 0, 0);
        e->t0 = emu_time(e);
        e->in_slice = 0;
        e->st.slices++;
        if (err != UC_ERR_OK && e->fault_exc == 0 && e->exc_return == 0) {
            emu_fatal(e, "emu: %s at pc=0x%08x", uc_strerror(err), rreg(e, UC_ARM_REG_PC));
        } else if (err == UC_ERR_OK && !e->stopped) {
            /* Unicorn returns early on WFI (and WFE): the core sleeps until an event. */
            uint32_t now_pc = rreg(e, UC_ARM_REG_PC) & ~1u;
            const uint8_t *p = code_ptr(e, now_pc - 2u, 2);
            if (p != NULL && ((p[0] | (p[1] << 8)) == 0xBF30 || (p[0] | (p[1] << 8)) == 0xBF20)) {
                e->sleeping = 1;
            }
        }
    }
}

void emu_spi_transfer(emu_t *e, uint32_t gap_ns, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso, uint32_t len)
{
    (void)emu_spi_transfer_at(e, e->t0 + gap_ns, sck_hz, mosi, miso, len);
}

/* The master keeps its own clock: a transaction that starts while the core is stalled (a flash
 * erase holds every fetch) is clocked at its own time; the SPI and DMA models need no core, so
 * its bytes land then, and the interrupt it raises waits for the stall to end, as on silicon. */
uint64_t emu_spi_transfer_at(emu_t *e, uint64_t start, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso,
                             uint32_t len)
{
    if (start > e->t0) {
        (void)emu_run(e, start);
    }
    uint64_t end = e->board->spi_schedule(e->b, start, sck_hz, mosi, miso, len);
    emu_run_t r;
    while ((r = emu_run(e, end)) == EMU_RUN_WATCH) {
    }
    if (r != EMU_RUN_TIME && e->t0 < end) {
        /* The core stopped (cut, lockup): the master still clocks its bytes out. */
        e->t0 = end;
        emu_sync(e);
    }
    return end;
}

void emu_cpu_store(emu_t *e, uint32_t addr, unsigned size, uint32_t value)
{
    e->board->flash_store(e->b, addr, size, value);
}

uint64_t emu_spi_schedule(emu_t *e, uint64_t start, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso, uint32_t len)
{
    return e->board->spi_schedule(e->b, start, sck_hz, mosi, miso, len);
}

int emu_spi_ready(const emu_t *e)
{
    return e->board->spi_ready(e->b);
}

void emu_stats(const emu_t *e, emu_stats_t *out)
{
    *out = e->st;
    out->now_ns = e->t0;
    out->hclk_hz = e->hz;
    e->board->flash_stats(e->b, &out->flash_ops, &out->erase_ns, &out->program_ns);
}

/* ---- construction ---- */

emu_t *emu_new(uint8_t *flash, const emu_options_t *opts)
{
    emu_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return NULL;
    }
    e->o = *opts;
    e->rng = opts->seed ? opts->seed : 1u;
    e->flash = flash;
    e->view = malloc(FLASH_SIZE);
    e->sram = calloc(1, SRAM_SIZE);
    e->ccm = calloc(1, CCM_SIZE);
    e->sysmem = malloc(SYSMEM_SIZE);
    e->scs = scs_new(e);
    if (e->view != NULL) {
        memcpy(e->view, flash, FLASH_SIZE);
    }
    if (e->view == NULL || e->sram == NULL || e->ccm == NULL || e->sysmem == NULL || e->scs == NULL ||
        uc_open(UC_ARCH_ARM, UC_MODE_THUMB, &e->uc) != UC_ERR_OK) {
        emu_free(e);
        return NULL;
    }
    /* System memory and OTP read as erased (no ST bootloader code is modelled); the option bytes
     * as shipped: no write protection (nWRP all 1), RDP 0xAA (level 0), USER 0xEC
     * (RM0090 table 9), each beside its complement. */
    memset(e->sysmem, 0xFF, SYSMEM_SIZE);
    static const uint8_t opt_shipped[16] = {0xEC, 0xAA, 0x13, 0x55, 0xFF, 0xFF, 0xFF, 0xFF,
                                            0xFF, 0x0F, 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF};
    memcpy(e->sysmem + 0xC000u, opt_shipped, sizeof(opt_shipped));
    uc_ctl_set_cpu_model(e->uc, UC_CPU_ARM_CORTEX_M4);
    /* The flash is read-only to the CPU: a store goes through the controller (hook_flash_write). */
    /* The core reads the view: the cells, but for data cache lines gone stale (flashif.c). */
    int bad = uc_mem_map_ptr(e->uc, FLASH_BASE, FLASH_SIZE, UC_PROT_READ | UC_PROT_EXEC, e->view) != UC_ERR_OK ||
              uc_mem_map_ptr(e->uc, 0, FLASH_SIZE, UC_PROT_READ | UC_PROT_EXEC, e->view) != UC_ERR_OK ||
              uc_mem_map_ptr(e->uc, SRAM_BASE, SRAM_SIZE, UC_PROT_ALL, e->sram) != UC_ERR_OK ||
              /* CCM RAM is on the D-bus only: no fetch from it (RM0090 §2.3.1). */
              uc_mem_map_ptr(e->uc, CCM_BASE, CCM_SIZE, UC_PROT_READ | UC_PROT_WRITE, e->ccm) != UC_ERR_OK ||
              uc_mem_map_ptr(e->uc, SYSMEM_BASE, SYSMEM_SIZE, UC_PROT_READ | UC_PROT_EXEC, e->sysmem) != UC_ERR_OK;
    for (size_t i = 0; i < N_MMIO && !bad; i++) {
        e->mmio[i] = (mmio_ctx_t){e, mmio_regions[i].base};
        bad = uc_mmio_map(e->uc, mmio_regions[i].base, mmio_regions[i].size, mmio_read, &e->mmio[i], mmio_write,
                          &e->mmio[i]) != UC_ERR_OK;
    }
    bad = bad || uc_hook_add(e->uc, &e->h_code, UC_HOOK_CODE, (void *)hook_code, e, 1, 0) != UC_ERR_OK ||
          uc_hook_add(e->uc, &e->h_intr, UC_HOOK_INTR, (void *)hook_intr, e, 1, 0) != UC_ERR_OK ||
          uc_hook_add(e->uc, &e->h_flash_w, UC_HOOK_MEM_WRITE_PROT, (void *)hook_flash_write, e, 0,
                      FLASH_BASE + FLASH_SIZE - 1) != UC_ERR_OK ||
          /* Stores to the OTP area go through the controller too (programmed, never erased). */
          uc_hook_add(e->uc, &e->h_otp_w, UC_HOOK_MEM_WRITE_PROT, (void *)hook_flash_write, e, LAYOUT_OTP_BASE,
                      LAYOUT_OTP_LOCK_BASE + LAYOUT_OTP_LOCK_SIZE - 1) != UC_ERR_OK ||
          uc_hook_add(e->uc, &e->h_unmapped, UC_HOOK_MEM_UNMAPPED | UC_HOOK_MEM_FETCH_PROT, (void *)hook_unmapped, e, 1,
                      0) != UC_ERR_OK;
    e->per[e->nper++] = scs_periph(e->scs);
    e->per[e->nper++] = scs_dwt_periph(e->scs);
    if (bad || f407_attach(e) != 0) {
        emu_free(e);
        return NULL;
    }
    e->hz = e->board->hclk_hz(e->b);
    return e;
}

void emu_free(emu_t *e)
{
    if (e == NULL) {
        return;
    }
    if (e->uc != NULL) {
        uc_close(e->uc);
    }
    if (e->board != NULL && e->board->free != NULL) {
        e->board->free(e->b);
    }
    scs_free(e->scs);
    free(e->view);
    free(e->sram);
    free(e->ccm);
    free(e->sysmem);
    free(e);
}
