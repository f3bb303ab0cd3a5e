/* Flash interface, from RM0090 §3.5-3.9 and DS8626 §6.3.12:
 * - KEYR: KEY1 0x45670123 then KEY2 0xCDEF89AB clears CR.LOCK; any other sequence answers a bus
 *   error and locks CR until the next reset (§3.5.1). CR.LOCK written 1 locks again.
 * - CR is not writable while locked; a write while BSY stalls the bus until the operation ends
 *   (§3.6), then lands. PG, SER (SNB 0-11 on this 1 MiB part), MER, PSIZE, STRT.
 * - A CPU store into the array programs it when CR.PG is set and no error flag is pending:
 *   size other than PSIZE -> PGPERR; crossing a 128-bit row -> PGAERR; PG unset or SER also set ->
 *   PGSERR; a write-protected sector (OPTCR nWRP) -> WRPERR. Programming clears bits only: the
 *   cell becomes old AND new. The F407 has no flag for programming over non-erased data (RM0090
 *   §3.9.4 lists none; later families add PROGERR): the AND is what silicon does.
 * - With an error flag (PGSERR/PGPERR/PGAERR/WRPERR) still set, a new program or erase does not
 *   start and PGSERR is set (flags are cleared by writing 1, §3.9.4).
 * - BSY for the operation's time: word program 16 us typical, 100 us maximum; sector erase at
 *   x32: 16 KiB 250/500 ms, 64 KiB 550/1100 ms, 128 KiB 1/2 s; x16 and x8 longer (DS8626 table 42).
 *   The flash is a single bank: no fetch completes while BSY (the CPU glue stalls).
 * - EOP only when EOPIE; the FLASH interrupt (IRQ 4) while EOP&EOPIE or OPERR&ERRIE.
 * - ACR: LATENCY, PRFTEN, ICEN, DCEN, ICRST, DCRST. The data cache (8 lines of 128 bits, LRU,
 *   §3.5.2) fills on data reads while DCEN; erase and program do not update it, so a line read
 *   before an erase reads stale until DCRST (written with DCEN clear) or its eviction. The cells
 *   (the file) always hold the truth; the core reads a view of them that differs only there.
 * - HCLK above (LATENCY+1) x 30 MHz at 2.7-3.6 V
 *   (RM0090 table 10) reads garbage on silicon; the emulator stops with an error instead.
 * - Power cuts (emu_options_t): at the start of flash operation N, or at a device time, with the
 *   operation under way torn: part of an erase done, some of a program's bits cleared. */
#include "flashif.h"

#include <stdlib.h>
#include <string.h>

#include "fota/layout.h"

#define KEY1 0x45670123u
#define KEY2 0xCDEF89ABu
#define SR_EOP (1u << 0)
#define SR_OPERR (1u << 1)
#define SR_WRPERR (1u << 4)
#define SR_PGAERR (1u << 5)
#define SR_PGPERR (1u << 6)
#define SR_PGSERR (1u << 7)
#define SR_BSY (1u << 16)
#define SR_PGERRS (SR_WRPERR | SR_PGAERR | SR_PGPERR | SR_PGSERR)
#define CR_PG (1u << 0)
#define CR_SER (1u << 1)
#define CR_MER (1u << 2)
#define CR_STRT (1u << 16)
#define CR_EOPIE (1u << 24)
#define CR_ERRIE (1u << 25)
#define CR_LOCK (1u << 31)
#define FLASH_IRQ 4
#define OPTKEY1 0x08192A3Bu
#define OPTKEY2 0x4C5D6E7Fu
#define OPTCR_OPTLOCK (1u << 0)
#define OPTCR_OPTSTRT (1u << 1)
#define OPTCR_BITS 0x0FFFFFECu /* nWRP, RDP, USER, BOR_LEV: the option bytes themselves */
#define SYS_BASE 0x1FFF0000u
#define OPT_BYTES 0x1FFFC000u /* USER (7:0) and RDP (15:8); nWRP (11:0) at +8 (RM0090 table 9) */
#define OPT_ERASE_US 250000u  /* no figure in RM0090/DS8626: modelled as a 16 KiB sector erase */
#define PENDING_MAX 8
#define DLINES 8 /* ART data cache: 8 lines of 128 bits (RM0090 §3.5.2) */
#define ACR_DCEN (1u << 10)
#define ACR_DCRST (1u << 12)

typedef enum { OP_NONE, OP_PROGRAM, OP_ERASE, OP_OPTION } op_kind_t;

typedef struct {
    uint32_t addr, value;
    unsigned size;
    uint8_t old[4]; /* the view's bytes before the store (Unicorn may let it land there) */
} store_t;

struct flashif {
    emu_t *emu;
    uint8_t *mem;  /* the cells */
    uint8_t *view; /* what the core reads */
    uint32_t acr, sr, cr, optcr;
    int key_stage, key_dead;
    int optkey_stage, optkey_dead;
    uint8_t *sys; /* system memory at 0x1FFF0000: the OTP area, its lock bytes, the option bytes */
    store_t pending[PENDING_MAX];
    int npending;
    /* The operation under way: it lands at end. */
    op_kind_t op;
    uint64_t start, end;
    uint32_t addr, value, len; /* program: bytes at addr; erase: the sector's span */
    unsigned size;
    uint64_t ops, erase_ns, program_ns;
    int ws_reported;
    int unpowered; /* power was cut: nothing more changes the cells until the next power-on */
    struct {
        uint32_t addr;
        uint32_t used; /* LRU stamp; 0: invalid */
        uint8_t data[16];
    } dline[DLINES];
    uint32_t dstamp;
};

static int cached(const flashif_t *f, uint32_t line)
{
    for (int i = 0; i < DLINES; i++) {
        if (f->dline[i].used && f->dline[i].addr == line) {
            return i;
        }
    }
    return -1;
}

/* The core's view of [addr, addr+len) after the cells changed or the cache did: the cells, except
 * lines the data cache holds while it is on. */
static void view_update(flashif_t *f, uint32_t addr, uint32_t len)
{
    uint32_t off = addr - LAYOUT_FLASH_BASE;
    int changed = memcmp(f->view + off, f->mem + off, len) != 0;
    memcpy(f->view + off, f->mem + off, len);
    if (f->acr & ACR_DCEN) {
        for (int i = 0; i < DLINES; i++) {
            uint32_t l = f->dline[i].addr;
            if (f->dline[i].used && l + 16u > addr && l < addr + len) {
                uint8_t *v = f->view + (l - LAYOUT_FLASH_BASE);
                changed |= memcmp(v, f->dline[i].data, 16) != 0;
                memcpy(v, f->dline[i].data, 16);
            }
        }
    }
    /* Only a real change drops translations: a driver resets the cache around every write, and
     * dropping ranges that span most of the flash that often crashed Unicorn 2.0.1
     * (page_collection_lock in tb_invalidate_phys_range, unicorn issue #1946). */
    if (changed) {
        emu_code_changed(f->emu, addr, len);
    }
}

static void view_lines(flashif_t *f)
{
    for (int i = 0; i < DLINES; i++) {
        if (f->dline[i].used) {
            view_update(f, f->dline[i].addr, 16);
        }
    }
}

int flashif_dcache_on(const flashif_t *f)
{
    return (f->acr & ACR_DCEN) != 0;
}

void flashif_dread(flashif_t *f, uint32_t addr, unsigned size)
{
    (void)size;
    uint32_t line = addr & ~15u;
    if (line - LAYOUT_FLASH_BASE >= LAYOUT_FLASH_SIZE || !(f->acr & ACR_DCEN)) {
        return;
    }
    int i = cached(f, line);
    if (i >= 0) {
        f->dline[i].used = ++f->dstamp;
        return;
    }
    int victim = 0;
    for (i = 1; i < DLINES; i++) {
        if (f->dline[i].used < f->dline[victim].used) {
            victim = i;
        }
    }
    uint32_t old = f->dline[victim].addr;
    int was = f->dline[victim].used != 0;
    f->dline[victim].addr = line;
    f->dline[victim].used = ++f->dstamp;
    memcpy(f->dline[victim].data, f->mem + (line - LAYOUT_FLASH_BASE), 16);
    if (was) {
        view_update(f, old, 16); /* evicted: the core reads the cells there again */
    }
}

static uint64_t erase_ns(const flashif_t *f, uint32_t sector_size)
{
    int max = emu_opts(f->emu)->flash_timing == EMU_FLASH_MAXIMUM;
    uint32_t psize = (f->cr >> 8) & 3u;
    /* ms: [size class][psize x8, x16, x32/x64] */
    static const uint16_t typ[3][3] = {{400, 300, 250}, {1200, 700, 550}, {2000, 1100, 1000}};
    int cls = sector_size <= 0x4000u ? 0 : sector_size <= 0x10000u ? 1 : 2;
    uint64_t ms = typ[cls][psize >= 2 ? 2 : psize];
    return (max ? ms * 2u : ms) * 1000000ull;
}

static uint64_t program_ns(const flashif_t *f)
{
    return emu_opts(f->emu)->flash_timing == EMU_FLASH_MAXIMUM ? 100000u : 16000u;
}

static void irq_update(flashif_t *f)
{
    int level = ((f->sr & SR_EOP) && (f->cr & CR_EOPIE)) || ((f->sr & SR_OPERR) && (f->cr & CR_ERRIE));
    emu_irq_level(f->emu, FLASH_IRQ, level);
}

static int in_otp(uint32_t addr)
{
    return addr >= LAYOUT_OTP_BASE && addr - LAYOUT_OTP_BASE < LAYOUT_OTP_SIZE + LAYOUT_OTP_LOCK_SIZE;
}

/* The cells at addr: the array, or the OTP area in system memory (read by the core directly: the
 * ART caches are not modelled for it). */
static uint8_t *cells(flashif_t *f, uint32_t addr)
{
    return in_otp(addr) ? f->sys + (addr - SYS_BASE) : f->mem + (addr - LAYOUT_FLASH_BASE);
}

/* The option bytes as stored, in OPTCR's layout. */
static uint32_t opt_stored(const flashif_t *f)
{
    const uint8_t *o = f->sys + (OPT_BYTES - SYS_BASE);
    uint32_t nwrp = ((uint32_t)o[8] | (uint32_t)o[9] << 8) & 0xFFFu;
    return (nwrp << 16) | ((uint32_t)o[1] << 8) | (o[0] & 0xECu);
}

static void opt_store(flashif_t *f, uint32_t optcr)
{
    uint8_t *o = f->sys + (OPT_BYTES - SYS_BASE);
    o[0] = (uint8_t)(optcr & 0xECu);
    o[1] = (uint8_t)(optcr >> 8);
    o[2] = (uint8_t)~o[0]; /* the complements the part keeps beside them */
    o[3] = (uint8_t)~o[1];
    o[8] = (uint8_t)(optcr >> 16);
    o[9] = (uint8_t)((optcr >> 24) & 0x0Fu);
    o[10] = (uint8_t)~o[8];
    o[11] = (uint8_t)~o[9];
}

static void tear(flashif_t *f, uint64_t at)
{
    if (f->op == OP_OPTION) {
        return; /* option bytes: a cut leaves them as they were (not modelled further: emulator.md) */
    }
    uint8_t *p = cells(f, f->addr);
    if (f->op == OP_ERASE) {
        /* A part of the sector erased, a few bytes in between half erased (erasing sets bits). */
        uint64_t span = f->end - f->start;
        uint32_t done = span ? (uint32_t)((uint64_t)f->len * (at - f->start) / span) : 0;
        uint32_t from = emu_rand(f->emu) % f->len;
        uint32_t n = done < f->len - from ? done : f->len - from;
        memset(p + from, 0xFF, n);
        for (int i = 0; i < 8; i++) {
            p[emu_rand(f->emu) % f->len] |= (uint8_t)emu_rand(f->emu);
        }
    } else if (f->op == OP_PROGRAM) {
        for (unsigned b = 0; b < f->size; b++) {
            p[b] = (uint8_t)(p[b] & (((f->value >> (8 * b)) & 0xFFu) | (uint8_t)emu_rand(f->emu)));
        }
    }
    if (!in_otp(f->addr)) {
        view_update(f, f->addr, f->len);
    }
}

/* Called as an operation starts: counts it, and cuts power there when asked. 1: cut. */
static int op_begins(flashif_t *f)
{
    f->ops++;
    const emu_options_t *o = emu_opts(f->emu);
    if (o->cut_at_op != 0 && f->ops == o->cut_at_op) {
        if (o->tear) {
            tear(f, f->start + (f->end - f->start) * (emu_rand(f->emu) % 1000u) / 1000u);
        }
        f->op = OP_NONE;
        f->sr &= ~SR_BSY;
        f->unpowered = 1;
        emu_power_cut(f->emu);
        return 1;
    }
    return 0;
}

static void finish(flashif_t *f)
{
    if (f->op == OP_OPTION) {
        opt_store(f, f->optcr);
        f->op = OP_NONE;
        f->sr &= ~SR_BSY;
        f->optcr &= ~OPTCR_OPTSTRT;
        irq_update(f);
        return;
    }
    uint8_t *p = cells(f, f->addr);
    if (f->op == OP_ERASE) {
        memset(p, 0xFF, f->len);
        f->erase_ns += f->end - f->start;
    } else if (f->op == OP_PROGRAM) {
        for (unsigned b = 0; b < f->size; b++) {
            p[b] &= (uint8_t)(f->value >> (8 * b));
        }
        f->program_ns += f->end - f->start;
    }
    if (!in_otp(f->addr)) {
        view_update(f, f->addr, f->len);
    }
    f->op = OP_NONE;
    f->sr &= ~SR_BSY;
    if (f->cr & CR_EOPIE) {
        f->sr |= SR_EOP;
    }
    irq_update(f);
}

static int sector_protected(const flashif_t *f, int sector)
{
    return ((f->optcr >> 16) & (1u << sector)) == 0;
}

static void start_program(flashif_t *f, const store_t *s, uint64_t now)
{
    uint32_t psize_bytes = 1u << ((f->cr >> 8) & 3u);
    uint32_t err = 0;
    int sector = layout_sector_of(s->addr);
    if ((f->cr & CR_LOCK) || !(f->cr & CR_PG) || (f->cr & (CR_SER | CR_MER)) || (f->sr & SR_PGERRS)) {
        err = SR_PGSERR;
    } else if (s->size != psize_bytes) {
        err = SR_PGPERR;
    } else if ((s->addr & 15u) + s->size > 16u || (s->addr & (s->size - 1u)) != 0) {
        err = SR_PGAERR;
    } else if (in_otp(s->addr)) {
        /* OTP: programmable until its block's lock byte reads 0x00 (RM0090 §3.7). */
        uint32_t off = s->addr - LAYOUT_OTP_BASE;
        if (off < LAYOUT_OTP_SIZE && f->sys[LAYOUT_OTP_LOCK_BASE - SYS_BASE + off / 32u] == 0x00) {
            err = SR_WRPERR;
        }
    } else if (sector < 0 || sector_protected(f, sector)) {
        err = SR_WRPERR;
    }
    if (err) {
        f->sr |= err;
        irq_update(f);
        return;
    }
    f->op = OP_PROGRAM;
    f->addr = s->addr;
    f->value = s->value;
    f->size = s->size;
    f->len = s->size;
    f->start = now;
    f->end = now + program_ns(f);
    f->sr |= SR_BSY;
    (void)op_begins(f);
}

static void start_erase(flashif_t *f, uint64_t now)
{
    int sector = (int)((f->cr >> 3) & 0xFu);
    if ((f->cr & CR_PG) || (f->sr & SR_PGERRS) || (!(f->cr & CR_MER) && sector >= LAYOUT_SECTOR_COUNT)) {
        f->sr |= SR_PGSERR;
        irq_update(f);
        return;
    }
    if (f->cr & CR_MER) {
        emu_fatal(f->emu, "flash: mass erase is not modelled");
        return;
    }
    if (sector_protected(f, sector)) {
        f->sr |= SR_WRPERR;
        irq_update(f);
        return;
    }
    f->op = OP_ERASE;
    f->addr = layout_sectors[sector].base;
    f->len = layout_sectors[sector].size;
    f->size = 0;
    f->start = now;
    f->end = now + erase_ns(f, f->len);
    f->sr |= SR_BSY;
    (void)op_begins(f);
}

static void fl_advance(void *self, uint64_t now)
{
    flashif_t *f = self;
    const emu_options_t *o = emu_opts(f->emu);
    if (f->unpowered) {
        return;
    }
    /* Stores the CPU made since the last look: undo whatever Unicorn let land, then program. */
    for (int i = 0; i < f->npending; i++) {
        store_t *s = &f->pending[i];
        memcpy(in_otp(s->addr) ? cells(f, s->addr) : f->view + (s->addr - LAYOUT_FLASH_BASE), s->old, s->size);
        emu_code_changed(f->emu, s->addr, s->size);
    }
    int n = f->npending;
    f->npending = 0;
    for (int i = 0; i < n; i++) {
        if (f->op != OP_NONE) {
            if (o->cut_at_ns != 0 && o->cut_at_ns <= f->end) {
                break;
            }
            finish(f); /* the bus held the store until the previous operation ended */
        }
        start_program(f, &f->pending[i], f->end > now ? f->end : now);
        if (f->unpowered) {
            return; /* this one was cut: the stores after it never happen */
        }
    }
    if (f->op != OP_NONE && o->cut_at_ns != 0 && now >= o->cut_at_ns && o->cut_at_ns < f->end) {
        tear(f, o->cut_at_ns);
        f->op = OP_NONE;
        f->unpowered = 1;
        emu_power_cut(f->emu);
        return;
    }
    if (f->op != OP_NONE && now >= f->end) {
        finish(f);
    }
}

static uint64_t fl_next_event(void *self)
{
    const flashif_t *f = self;
    return f->op != OP_NONE ? f->end : EMU_NEVER;
}

void flashif_store(flashif_t *f, uint32_t addr, unsigned size, uint32_t value)
{
    if (f->unpowered) {
        return;
    }
    int otp = in_otp(addr) && in_otp(addr + size - 1u);
    if (f->npending == PENDING_MAX || size > 4 ||
        (!otp && (addr < LAYOUT_FLASH_BASE || addr - LAYOUT_FLASH_BASE + size > LAYOUT_FLASH_SIZE))) {
        emu_fatal(f->emu, "flash: more than %d stores to the flash without a pause", PENDING_MAX);
        return;
    }
    store_t *s = &f->pending[f->npending++];
    s->addr = addr;
    s->size = size;
    s->value = value;
    memcpy(s->old, otp ? cells(f, addr) : f->view + (addr - LAYOUT_FLASH_BASE), size);
    emu_kick(f->emu);
}

EMU_HOT uint64_t flashif_busy_until(const flashif_t *f)
{
    if (f->op != OP_NONE) {
        return f->end;
    }
    return f->npending ? emu_time(f->emu) + 1 : 0; /* a store not yet looked at: busy from now */
}

uint32_t flashif_penalty16(flashif_t *f, uint32_t hclk)
{
    uint32_t latency = f->acr & 7u;
    uint32_t need = hclk <= 30000000u ? 0 : (hclk - 1u) / 30000000u;
    if (need > latency && !f->ws_reported) {
        f->ws_reported = 1;
        emu_fatal(f->emu,
                  "flash: fetch at HCLK %u Hz with FLASH_ACR.LATENCY %u: RM0090 table 10 needs %u wait states "
                  "at 2.7-3.6 V (silicon would read garbage)",
                  hclk, latency, need);
    }
    if (f->acr & ((1u << 8) | (1u << 9))) {
        return 0; /* prefetch or instruction cache: about one instruction per cycle (RM0090 §3.5.2) */
    }
    return latency * 16u / 6u; /* a 128-bit line (about six instructions) costs LATENCY cycles */
}

uint64_t flashif_ops(const flashif_t *f)
{
    return f->ops;
}

void flashif_times(const flashif_t *f, uint64_t *e, uint64_t *p)
{
    *e = f->erase_ns;
    *p = f->program_ns;
}

static void fl_reset(void *self, emu_reset_kind_t kind)
{
    flashif_t *f = self;
    if (kind == EMU_RESET_POWER) {
        f->unpowered = 0;
    }
    if (f->op != OP_NONE) {
        /* A reset during an operation: the operation is torn (the flash loses its supply control). */
        tear(f, emu_time(f->emu));
        f->op = OP_NONE;
    }
    for (int i = 0; i < f->npending; i++) {
        if (!in_otp(f->pending[i].addr)) {
            memcpy(f->view + (f->pending[i].addr - LAYOUT_FLASH_BASE), f->pending[i].old, f->pending[i].size);
        }
    }
    f->npending = 0;
    f->acr = 0;
    view_lines(f); /* the caches are reset: the core reads the cells */
    for (int i = 0; i < DLINES; i++) {
        f->dline[i].used = 0;
    }
    f->sr = 0;
    f->cr = CR_LOCK;
    /* OPTCR loads the option bytes at reset, locked (as shipped: 0x0FFFAAED, no write
     * protection, RDP level 0). */
    f->optcr = opt_stored(f) | OPTCR_OPTLOCK;
    f->optkey_stage = 0;
    f->optkey_dead = 0;
    f->key_stage = 0;
    f->key_dead = 0;
    f->ws_reported = 0;
}

static uint32_t fl_read(void *self, uint32_t off, unsigned size)
{
    flashif_t *f = self;
    uint32_t v = 0;
    switch (off & ~3u) {
    case 0x00:
        v = f->acr;
        break;
    case 0x0C:
        v = f->sr;
        break;
    case 0x10:
        v = f->cr;
        break;
    case 0x14:
        v = f->optcr;
        break;
    case 0x08:
        v = 0;
        break;
    default:
        v = 0;
        break;
    }
    return emu_reg_part(v, off, size);
}

/* One write to a key register: 1 when it completes the unlock sequence. A wrong key, or a key
 * while already unlocked, answers a bus error and leaves the lock shut until reset (§3.5.1). */
static int key_write(flashif_t *f, int *stage, int *dead, int locked, uint32_t v, uint32_t k1, uint32_t k2,
                     uint32_t reg)
{
    if (!*dead && locked && *stage == 0 && v == k1) {
        *stage = 1;
        return 0;
    }
    if (!*dead && locked && *stage == 1 && v == k2) {
        *stage = 0;
        return 1;
    }
    *dead = 1;
    *stage = 0;
    emu_bus_error(f->emu, reg, 1);
    return 0;
}

static void fl_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    flashif_t *f = self;
    uint64_t now = emu_time(f->emu);
    if (size != 4 && off != 0x00 && off != 0x0C && off != 0x10) {
        return;
    }
    switch (off) {
    case 0x00:
        if ((v & (1u << 11)) && (f->acr & (1u << 9))) {
            v &= ~(1u << 11); /* ICRST only with the I-cache off */
        }
        if ((v & ACR_DCRST) && (f->acr & ACR_DCEN)) {
            v &= ~ACR_DCRST; /* DCRST only with the D-cache off */
        }
        if (v & ACR_DCRST) {
            for (int i = 0; i < DLINES; i++) {
                f->dline[i].used = 0;
            }
        }
        f->acr = v & 0x1F07u;
        view_lines(f);    /* DCEN on: stale lines show again; off: the cells */
        emu_kick(f->emu); /* the read hook follows DCEN */
        break;
    case 0x04: /* KEYR */
        if (key_write(f, &f->key_stage, &f->key_dead, (f->cr & CR_LOCK) != 0, v, KEY1, KEY2, 0x40023C04u)) {
            f->cr &= ~CR_LOCK;
        }
        break;
    case 0x08: /* OPTKEYR: the same rules (§3.6.2) */
        if (key_write(f, &f->optkey_stage, &f->optkey_dead, (f->optcr & OPTCR_OPTLOCK) != 0, v, OPTKEY1, OPTKEY2,
                      0x40023C08u)) {
            f->optcr &= ~OPTCR_OPTLOCK;
        }
        break;
    case 0x0C:
        f->sr &= ~(v & (SR_EOP | SR_OPERR | SR_PGERRS));
        irq_update(f);
        break;
    case 0x14: /* OPTCR (§3.6.4): writable once OPTKEYR unlocked it; OPTSTRT programs the option
                * bytes with its value; they protect from then on (the model's reading) */
        if (f->optcr & OPTCR_OPTLOCK) {
            break;
        }
        if (v & OPTCR_OPTLOCK) {
            f->optcr |= OPTCR_OPTLOCK;
            break;
        }
        if (f->op != OP_NONE) {
            emu_stall(f->emu, f->end);
            now = f->end;
            finish(f);
        }
        f->optcr = (v & OPTCR_BITS) | (f->optcr & OPTCR_OPTLOCK);
        if (v & OPTCR_OPTSTRT) {
            if (f->sr & SR_PGERRS) {
                f->sr |= SR_PGSERR;
                irq_update(f);
                break;
            }
            f->optcr |= OPTCR_OPTSTRT;
            f->op = OP_OPTION;
            f->addr = OPT_BYTES;
            f->len = 16;
            f->size = 0;
            f->start = now;
            f->end = now + (uint64_t)OPT_ERASE_US * 1000u;
            f->sr |= SR_BSY;
            (void)op_begins(f);
        }
        break;
    case 0x10:
        if (v & CR_LOCK) {
            f->cr |= CR_LOCK;
            break;
        }
        if (f->cr & CR_LOCK) {
            break; /* not writable while locked */
        }
        if (f->op != OP_NONE) {
            /* "Any attempt to write to it with BSY set will cause the AHB bus to stall until BSY is
             * cleared" (§3.6): the core waits, then the write lands. */
            emu_stall(f->emu, f->end);
            now = f->end;
            finish(f);
        }
        f->cr = v & ~CR_STRT & 0x0301037Fu;
        if (v & CR_STRT) {
            start_erase(f, now);
        }
        irq_update(f);
        break;
    default:
        break;
    }
}

flashif_t *flashif_new(emu_t *emu, uint8_t *cells_, uint8_t *view, uint8_t *sys)
{
    flashif_t *f = calloc(1, sizeof(*f));
    if (f != NULL) {
        f->emu = emu;
        f->mem = cells_;
        f->view = view;
        f->sys = sys;
        fl_reset(f, EMU_RESET_POWER);
    }
    return f;
}

void flashif_free(flashif_t *f)
{
    free(f);
}

emu_periph_t flashif_periph(flashif_t *f)
{
    emu_periph_t p = {"FLASH", 0x40023C00u, 0x400u, fl_read, fl_write, fl_advance, fl_next_event, fl_reset, f, NULL, 0};
    return p;
}
