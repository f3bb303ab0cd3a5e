/* RCC, from RM0090 §7.3 (register map §7.3.24) and DS8626 §6.3 (oscillator timings):
 * - CR: HSI on and ready at reset; HSERDY 2 ms after HSEON (DS8626 tsu(HSE), 8 MHz crystal) unless
 *   the crystal is set to fail; PLLRDY 100 us after PLLON (DS8626 PLL lock time, 75-200 us).
 * - PLLCFGR: SYSCLK = src / M * N / P (§7.3.2); VCO input outside 0.95-2.1 MHz, VCO output outside
 *   100-432 MHz or SYSCLK above 168 MHz is reported.
 * - CFGR: SW selects HSI, HSE or PLL only when that clock is ready, SWS follows; HPRE, PPRE1/2.
 * - xxxRSTR: a peripheral is held in reset while its bit is set (SPI1RST clears SPI1's OVR and
 *   shift register: the model's reset runs). xxxENR: the models read these for clock gating.
 * - CSR: LSION/LSIRDY (tsu(LSI) 40 us); reset flags: power-on sets PORRSTF, BORRSTF and PINRSTF;
 *   every reset sets PINRSTF (the reset circuit drives NRST, §6.1.2); software SFTRSTF; watchdog
 *   IWDGRSTF. Flags stay until RMVF; system resets leave them (only power-on clears them). */
#include "rcc.h"

#include <stdlib.h>
#include <string.h>

#define CR_HSION (1u << 0)
#define CR_HSIRDY (1u << 1)
#define CR_HSEON (1u << 16)
#define CR_HSERDY (1u << 17)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define CSR_LSION (1u << 0)
#define CSR_LSIRDY (1u << 1)
#define CSR_RMVF (1u << 24)
#define CSR_BORRSTF (1u << 25)
#define CSR_PINRSTF (1u << 26)
#define CSR_PORRSTF (1u << 27)
#define CSR_SFTRSTF (1u << 28)
#define CSR_IWDGRSTF (1u << 29)
#define CSR_FLAGS 0xFF000000u

#define HSI_HZ 16000000u
#define HSE_STARTUP_NS 2000000u
#define PLL_LOCK_NS 100000u
#define LSI_STARTUP_NS 40000u

typedef struct {
    uint32_t off, bit;
    emu_periph_t p;
} reset_line_t;

struct rcc {
    emu_t *emu;
    uint32_t reg[0x90 / 4];
    uint64_t hse_ready_at, pll_ready_at, lsi_ready_at; /* EMU_NEVER when not starting */
    uint32_t lsi_hz, hse_hz;
    uint32_t pwr_cr, pwr_csr;
    reset_line_t lines[16];
    int nlines;
};

#define R(off) r->reg[(off) / 4u]

static uint32_t pll_hz(const rcc_t *r)
{
    uint32_t cfg = R(0x04);
    uint32_t m = cfg & 0x3Fu, n = (cfg >> 6) & 0x1FFu, p = 2u * (((cfg >> 16) & 3u) + 1u);
    uint32_t src = (cfg & (1u << 22)) ? r->hse_hz : HSI_HZ;
    if (m < 2 || n < 50) {
        return 0;
    }
    return (uint32_t)((uint64_t)src / m * n / p);
}

static uint32_t sysclk(const rcc_t *r)
{
    switch ((R(0x08) >> 2) & 3u) {
    case 1:
        return r->hse_hz;
    case 2:
        return pll_hz(r);
    default:
        return HSI_HZ;
    }
}

uint32_t rcc_hclk(const rcc_t *r)
{
    uint32_t hpre = (R(0x08) >> 4) & 0xFu;
    static const uint16_t div[8] = {2, 4, 8, 16, 64, 128, 256, 512};
    uint32_t hz = sysclk(r);
    return hpre & 8u ? hz / div[hpre & 7u] : hz;
}

static uint32_t apb(uint32_t hclk, uint32_t ppre)
{
    return ppre & 4u ? hclk >> ((ppre & 3u) + 1u) : hclk;
}

uint32_t rcc_pclk1(const rcc_t *r)
{
    return apb(rcc_hclk(r), (R(0x08) >> 10) & 7u);
}

uint32_t rcc_pclk2(const rcc_t *r)
{
    return apb(rcc_hclk(r), (R(0x08) >> 13) & 7u);
}

uint32_t rcc_lsi_hz(const rcc_t *r)
{
    return r->lsi_hz;
}

void rcc_lsi_force_on(rcc_t *r)
{
    if (!(R(0x74) & CSR_LSION)) {
        R(0x74) |= CSR_LSION;
        r->lsi_ready_at = emu_time(r->emu) + LSI_STARTUP_NS;
    }
}

const uint32_t *rcc_reg(const rcc_t *r, uint32_t off)
{
    return &r->reg[off / 4u];
}

int rcc_on_reset_bit(rcc_t *r, uint32_t off, uint32_t bit, const emu_periph_t *p)
{
    if (r->nlines == (int)(sizeof(r->lines) / sizeof(r->lines[0]))) {
        return -1;
    }
    r->lines[r->nlines++] = (reset_line_t){off, bit, *p};
    return 0;
}

static void rcc_advance(void *self, uint64_t now)
{
    rcc_t *r = self;
    if (now >= r->hse_ready_at) {
        R(0x00) |= CR_HSERDY;
        r->hse_ready_at = EMU_NEVER;
    }
    if (now >= r->pll_ready_at) {
        R(0x00) |= CR_PLLRDY;
        r->pll_ready_at = EMU_NEVER;
        uint32_t cfg = R(0x04), m = cfg & 0x3Fu, n = (cfg >> 6) & 0x1FFu;
        uint32_t src = (cfg & (1u << 22)) ? r->hse_hz : HSI_HZ;
        uint64_t vin = m ? src / m : 0, vco = vin * n;
        if (vin < 950000u || vin > 2100000u || vco < 100000000u || vco > 432000000u || pll_hz(r) > 168000000u) {
            emu_log(r->emu, "rcc: PLL out of RM0090 §7.3.2 ranges: VCO in %llu Hz, VCO out %llu Hz, SYSCLK %u Hz",
                    (unsigned long long)vin, (unsigned long long)vco, pll_hz(r));
        }
    }
    if (now >= r->lsi_ready_at) {
        R(0x74) |= CSR_LSIRDY;
        r->lsi_ready_at = EMU_NEVER;
    }
}

static uint64_t rcc_next_event(void *self)
{
    (void)self;
    return EMU_NEVER; /* ready bits are polled, never interrupt here (CIR is not modelled) */
}

static void rcc_reset(void *self, emu_reset_kind_t kind)
{
    rcc_t *r = self;
    if (kind == EMU_RESET_BUS) {
        return;
    }
    uint32_t csr = kind == EMU_RESET_POWER ? 0 : R(0x74) & CSR_FLAGS;
    memset(r->reg, 0, sizeof(r->reg));
    R(0x00) = 0x00000083u | CR_HSIRDY; /* HSION, HSIRDY, HSITRIM 16 */
    R(0x04) = 0x24003010u;
    R(0x30) = 0x00100000u; /* AHB1ENR: CCMDATARAMEN */
    R(0x50) = 0x7E6791FFu;
    R(0x54) = 0x000000F1u;
    R(0x58) = 0x00000001u;
    R(0x60) = 0x36FEC9FFu;
    R(0x64) = 0x00075F33u;
    R(0x84) = 0x20003000u;
    switch (kind) {
    case EMU_RESET_POWER:
        csr = CSR_PORRSTF | CSR_BORRSTF | CSR_PINRSTF;
        break;
    case EMU_RESET_PIN:
        csr |= CSR_PINRSTF;
        break;
    case EMU_RESET_SOFTWARE:
        csr |= CSR_SFTRSTF | CSR_PINRSTF;
        break;
    case EMU_RESET_IWDG:
        csr |= CSR_IWDGRSTF | CSR_PINRSTF;
        break;
    case EMU_RESET_BUS:
        break;
    }
    R(0x74) = csr;
    r->hse_ready_at = r->pll_ready_at = r->lsi_ready_at = EMU_NEVER;
}

static uint32_t rcc_read(void *self, uint32_t off, unsigned size)
{
    rcc_t *r = self;
    uint32_t v = off / 4u < sizeof(r->reg) / 4u ? r->reg[off / 4u] : 0;
    return emu_reg_part(v, off, size);
}

static void rcc_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    rcc_t *r = self;
    uint64_t now = emu_time(r->emu);
    if (size != 4 || (off & 3u) != 0 || off / 4u >= sizeof(r->reg) / 4u) {
        return; /* RCC registers are word-accessed here */
    }
    uint32_t old = r->reg[off / 4u];
    switch (off) {
    case 0x00: {
        uint32_t keep = old & (CR_HSIRDY | CR_HSERDY | CR_PLLRDY);
        uint32_t nv = (v & 0x0D0D00F9u) | keep | CR_HSION;
        if ((nv & CR_HSEON) && !(old & CR_HSEON)) {
            r->hse_ready_at = emu_opts(r->emu)->hse_fails ? EMU_NEVER : now + HSE_STARTUP_NS;
        }
        if (!(nv & CR_HSEON)) {
            nv &= ~CR_HSERDY;
            r->hse_ready_at = EMU_NEVER;
        }
        if ((nv & CR_PLLON) && !(old & CR_PLLON)) {
            r->pll_ready_at = now + PLL_LOCK_NS;
        }
        if (!(nv & CR_PLLON)) {
            nv &= ~CR_PLLRDY;
            r->pll_ready_at = EMU_NEVER;
        }
        R(0x00) = nv;
        break;
    }
    case 0x04:
        if (!(R(0x00) & CR_PLLON)) { /* written only with the PLL off (§7.3.2) */
            R(0x04) = v & 0x0F437FFFu;
        }
        break;
    case 0x08: {
        uint32_t sw = v & 3u, sws = (old >> 2) & 3u;
        int ready = sw == 0 ? 1 : sw == 1 ? (R(0x00) & CR_HSERDY) != 0 : sw == 2 ? (R(0x00) & CR_PLLRDY) != 0 : 0;
        if (ready) {
            sws = sw;
        }
        R(0x08) = (v & ~0xCu) | (sws << 2);
        emu_kick(r->emu); /* the core's clock may have changed */
        break;
    }
    case 0x74:
        if (v & CSR_RMVF) {
            R(0x74) &= ~CSR_FLAGS;
        }
        if ((v & CSR_LSION) && !(old & CSR_LSION)) {
            r->lsi_ready_at = now + LSI_STARTUP_NS;
        }
        R(0x74) = (R(0x74) & ~CSR_LSION) | (v & CSR_LSION);
        if (!(v & CSR_LSION)) {
            R(0x74) &= ~CSR_LSIRDY;
        }
        break;
    default:
        r->reg[off / 4u] = v;
        for (int i = 0; i < r->nlines; i++) {
            reset_line_t *l = &r->lines[i];
            if (l->off == off && (v & l->bit)) {
                l->p.reset(l->p.self, EMU_RESET_BUS);
            }
        }
        break;
    }
}

rcc_t *rcc_new(emu_t *emu)
{
    rcc_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->emu = emu;
    const emu_options_t *o = emu_opts(emu);
    r->hse_hz = o->hse_hz ? o->hse_hz : 8000000u;
    /* DS8626 table 'LSI oscillator characteristics': 17 to 47 kHz. */
    r->lsi_hz = o->lsi_hz ? o->lsi_hz : 17000u + emu_rand(emu) % 30001u;
    rcc_reset(r, EMU_RESET_POWER);
    return r;
}

void rcc_free(rcc_t *r)
{
    free(r);
}

emu_periph_t rcc_periph(rcc_t *r)
{
    emu_periph_t p = {"RCC",          0x40023800u, 0x400u, rcc_read, rcc_write, rcc_advance,
                      rcc_next_event, rcc_reset,   r,      NULL,     0};
    return p;
}

/* ---- PWR (RM0090 §5.4): CR with VOS (scale 1 at reset on the F405/407), CSR with VOSRDY. The
 * regulator is always ready in this model; PVD, backup domain and standby are not modelled. ---- */

static uint32_t pwr_read(void *self, uint32_t off, unsigned size)
{
    rcc_t *r = self;
    uint32_t v = (off & ~3u) == 0 ? r->pwr_cr : (off & ~3u) == 4 ? r->pwr_csr : 0;
    return emu_reg_part(v, off, size);
}

static void pwr_write(void *self, uint32_t off, uint32_t value, unsigned size)
{
    rcc_t *r = self;
    (void)size;
    if ((off & ~3u) == 0) {
        r->pwr_cr = value & 0x0000C3FFu;
    } else if ((off & ~3u) == 4) {
        r->pwr_csr = (r->pwr_csr & ~(1u << 9)) | (value & (1u << 9)); /* BRE; VOSRDY is read-only */
    }
}

static void pwr_reset(void *self, emu_reset_kind_t kind)
{
    rcc_t *r = self;
    (void)kind;
    r->pwr_cr = 1u << 14;  /* VOS: scale 1 */
    r->pwr_csr = 1u << 14; /* VOSRDY */
}

emu_periph_t pwr_periph(rcc_t *r)
{
    emu_periph_t p = {"PWR", 0x40007000u, 0x400u, pwr_read, pwr_write, NULL, NULL, pwr_reset, r,
                      rcc_reg(r, RCC_APB1ENR), 1u << 28};
    return p;
}
