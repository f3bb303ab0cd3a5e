/* DMA, from RM0090 §10.3-10.5:
 * - SxCR: EN, interrupt enables (DME/TE/HT/TC), DIR (P2M, M2P, M2M), CIRC, PINC, MINC,
 *   PSIZE/MSIZE, CHSEL; CR (but EN), NDTR, PAR, M0AR and FCR ignore writes while EN is set.
 * - A stream serves requests of the channel CHSEL selects (table 43, e.g. DMA2 stream 0 and 3,
 *   channel 3: SPI1_RX and SPI1_TX), one item per request (single transfers).
 * - Direct mode (FCR.DMDIS = 0): P2M writes each item to memory at once; M2P preloads one item
 *   from memory when the stream is enabled and after each transfer (§10.3.11), so memory written
 *   after that preload is not what goes out. FIFO mode: P2M items wait in the 16-byte FIFO until
 *   the FTH threshold (1/4..full) or the end of the transfer; M2P fills the FIFO on enable.
 * - NDTR counts down; HTIF at half, TCIF at 0, then EN clears (CIRC reloads instead). Clearing EN
 *   by software ends the transfer with TCIF set (§10.3.17). A memory address outside SRAM/CCM
 *   (or a write to flash) sets TEIF and disables the stream.
 * - LIFCR/HIFCR clear flags; the stream's interrupt while a flag and its enable are set. */
#include "dma.h"

#include <stdlib.h>
#include <string.h>

#define CR_EN (1u << 0)
#define CR_DMEIE (1u << 1)
#define CR_TEIE (1u << 2)
#define CR_HTIE (1u << 3)
#define CR_TCIE (1u << 4)
#define CR_CIRC (1u << 8)
#define CR_PINC (1u << 9)
#define CR_MINC (1u << 10)
#define F_FE 0x01u
#define F_DME 0x04u
#define F_TE 0x08u
#define F_HT 0x10u
#define F_TC 0x20u

typedef struct {
    uint32_t cr, ndtr, par, m0ar, m1ar, fcr;
    uint32_t ndtr0; /* NDTR at enable (CIRC reload, HT) */
    uint32_t idx;   /* items done since enable */
    uint8_t flags;  /* F_* */
    uint8_t fifo[16];
    uint32_t fifo_n;
    uint32_t pre; /* M2P direct: the preloaded item */
    int pre_ok;
    int (*line[8])(void *);
    void *line_ctx[8];
} stream_t;

struct dma {
    emu_t *emu;
    rcc_t *rcc;
    int which;
    int irq[8];
    stream_t s[8];
};

static unsigned psize(const stream_t *s)
{
    return 1u << ((s->cr >> 11) & 3u);
}

static unsigned msize(const stream_t *s)
{
    return 1u << ((s->cr >> 13) & 3u);
}

static void irq_update(dma_t *d, int n)
{
    stream_t *s = &d->s[n];
    int level = ((s->flags & F_TC) && (s->cr & CR_TCIE)) || ((s->flags & F_HT) && (s->cr & CR_HTIE)) ||
                ((s->flags & F_TE) && (s->cr & CR_TEIE)) || ((s->flags & F_DME) && (s->cr & CR_DMEIE)) ||
                ((s->flags & F_FE) && (s->fcr & 0x80u));
    emu_irq_level(d->emu, d->irq[n], level);
}

static uint32_t mem_addr(const stream_t *s, uint32_t item_bytes)
{
    return s->m0ar + ((s->cr & CR_MINC) ? s->idx * item_bytes : 0);
}

static void fail(dma_t *d, int n)
{
    stream_t *s = &d->s[n];
    s->flags |= F_TE;
    s->cr &= ~CR_EN;
    irq_update(d, n);
}

static int mem_write(dma_t *d, uint32_t addr, const void *p, unsigned len)
{
    uint8_t *m = emu_mem(d->emu, addr, len, 1);
    if (m == NULL) {
        return -1;
    }
    memcpy(m, p, len);
    return 0;
}

static int mem_read(dma_t *d, uint32_t addr, uint32_t *v, unsigned len)
{
    const uint8_t *m = emu_mem(d->emu, addr, len, 0);
    if (m == NULL) {
        return -1;
    }
    *v = 0;
    memcpy(v, m, len);
    return 0;
}

static void flush_fifo(dma_t *d, int n)
{
    stream_t *s = &d->s[n];
    uint32_t at = s->m0ar + ((s->cr & CR_MINC) ? (s->idx * psize(s)) - s->fifo_n : 0);
    if (s->fifo_n && mem_write(d, at, s->fifo, s->fifo_n) != 0) {
        fail(d, n);
    }
    s->fifo_n = 0;
}

static void preload(dma_t *d, int n)
{
    stream_t *s = &d->s[n];
    s->pre_ok = mem_read(d, mem_addr(s, msize(s)), &s->pre, psize(s)) == 0;
}

static void item_done(dma_t *d, int n)
{
    stream_t *s = &d->s[n];
    s->idx++;
    s->ndtr--;
    /* FIFO mode: what waits goes to memory at the FTH threshold (1/4 .. full) or at the end. */
    if ((s->fcr & 4u) && (s->ndtr == 0 || s->fifo_n >= ((s->fcr & 3u) + 1u) * 4u)) {
        flush_fifo(d, n);
    }
    if (s->ndtr == s->ndtr0 / 2u) {
        s->flags |= F_HT;
    }
    if (s->ndtr == 0) {
        s->flags |= F_TC;
        if (s->cr & CR_CIRC) {
            s->ndtr = s->ndtr0;
            s->idx = 0;
        } else {
            s->cr &= ~CR_EN;
        }
    }
    irq_update(d, n);
}

static void transfer(dma_t *d, int n)
{
    stream_t *s = &d->s[n];
    uint32_t dir = (s->cr >> 6) & 3u;
    unsigned ps = psize(s);
    uint32_t paddr = s->par + ((s->cr & CR_PINC) ? s->idx * ps : 0);
    if (dir == 0) { /* peripheral to memory */
        uint32_t v = 0;
        if (emu_bus_read(d->emu, paddr, ps, &v) != 0) {
            fail(d, n);
            return;
        }
        if (s->fcr & 4u) {
            memcpy(s->fifo + s->fifo_n, &v, ps);
            s->fifo_n += ps;
        } else if (mem_write(d, mem_addr(s, ps), &v, ps) != 0) {
            fail(d, n);
            return;
        }
        item_done(d, n);
    } else if (dir == 1) { /* memory to peripheral */
        if (!s->pre_ok) {
            fail(d, n);
            return;
        }
        uint32_t v = s->pre;
        item_done(d, n);
        if (s->cr & CR_EN) {
            preload(d, n);
        }
        (void)emu_bus_write(d->emu, paddr, ps, v);
    }
}

void dma_request(dma_t *d, int n, int channel)
{
    stream_t *s = &d->s[n];
    if ((s->cr & CR_EN) && (int)((s->cr >> 25) & 7u) == channel && ((s->cr >> 6) & 3u) != 2u) {
        transfer(d, n);
    }
}

void dma_set_line(dma_t *d, int stream, int channel, int (*active)(void *), void *ctx)
{
    d->s[stream].line[channel] = active;
    d->s[stream].line_ctx[channel] = ctx;
}

int dma_irq_wanted(const dma_t *d)
{
    for (int n = 0; n < 8; n++) {
        if ((d->s[n].cr & CR_EN) && (d->s[n].cr & (CR_TCIE | CR_HTIE | CR_TEIE | CR_DMEIE))) {
            return 1;
        }
    }
    return 0;
}

static void enable(dma_t *d, int n)
{
    stream_t *s = &d->s[n];
    s->ndtr0 = s->ndtr;
    s->idx = 0;
    s->fifo_n = 0;
    if (s->ndtr == 0) {
        s->cr &= ~CR_EN; /* nothing to do: the stream does not start */
        return;
    }
    uint32_t dir = (s->cr >> 6) & 3u;
    if (dir == 2u) {
        /* Memory to memory: runs at once. */
        while ((s->cr & CR_EN) && s->ndtr) {
            uint32_t v;
            unsigned ps = psize(s);
            if (mem_read(d, s->par + ((s->cr & CR_PINC) ? s->idx * ps : 0), &v, ps) != 0) {
                fail(d, n);
                return;
            }
            if (mem_write(d, mem_addr(s, ps), &v, ps) != 0) {
                fail(d, n);
                return;
            }
            item_done(d, n);
        }
        return;
    }
    if (dir == 1u) {
        preload(d, n);
    }
    int ch = (int)((s->cr >> 25) & 7u);
    /* A request already asserted is served now (TXE is set in an idle SPI, for one). */
    while ((s->cr & CR_EN) && s->line[ch] != NULL && s->line[ch](s->line_ctx[ch])) {
        uint32_t before = s->ndtr;
        transfer(d, n);
        if (s->ndtr == before) {
            break;
        }
    }
}

static void dma_reset(void *self, emu_reset_kind_t kind)
{
    dma_t *d = self;
    (void)kind;
    for (int n = 0; n < 8; n++) {
        stream_t *s = &d->s[n];
        s->cr = s->ndtr = s->par = s->m0ar = s->m1ar = 0;
        s->fcr = 0x21u;
        s->flags = 0;
        s->fifo_n = 0;
        s->pre_ok = 0;
        irq_update(d, n);
    }
}

static int flag_shift(int n)
{
    static const int sh[4] = {0, 6, 16, 22};
    return sh[n & 3];
}

static uint32_t dma_read(void *self, uint32_t off, unsigned size)
{
    dma_t *d = self;
    (void)size;
    if (off == 0x00 || off == 0x04) {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            v |= (uint32_t)d->s[(off == 0x04 ? 4 : 0) + k].flags << flag_shift(k);
        }
        return v;
    }
    if (off < 0x10 || off >= 0x10 + 8 * 0x18) {
        return 0;
    }
    stream_t *s = &d->s[(off - 0x10) / 0x18];
    switch ((off - 0x10) % 0x18) {
    case 0x00:
        return s->cr;
    case 0x04:
        return s->ndtr;
    case 0x08:
        return s->par;
    case 0x0C:
        return s->m0ar;
    case 0x10:
        return s->m1ar;
    case 0x14:
        return s->fcr | (s->fifo_n == 0 ? 4u << 3 : (s->fifo_n < 16 ? ((s->fifo_n - 1) / 4u) << 3 : 5u << 3));
    default:
        return 0;
    }
}

static void dma_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    dma_t *d = self;
    (void)size;
    if (off == 0x08 || off == 0x0C) {
        for (int k = 0; k < 4; k++) {
            int n = (off == 0x0C ? 4 : 0) + k;
            d->s[n].flags &= (uint8_t) ~((v >> flag_shift(k)) & 0x3Du);
            irq_update(d, n);
        }
        return;
    }
    if (off < 0x10 || off >= 0x10 + 8 * 0x18) {
        return;
    }
    int n = (int)((off - 0x10) / 0x18);
    stream_t *s = &d->s[n];
    int on = (s->cr & CR_EN) != 0;
    switch ((off - 0x10) % 0x18) {
    case 0x00:
        if (on) {
            if (!(v & CR_EN)) {
                s->cr &= ~CR_EN; /* disabled by software: ends with TCIF (§10.3.17) */
                if (s->fcr & 4u) {
                    flush_fifo(d, n);
                }
                s->flags |= F_TC;
                irq_update(d, n);
            }
            break;
        }
        s->cr = v & 0x0FEFFFFFu;
        if (v & CR_EN) {
            enable(d, n);
        }
        irq_update(d, n);
        break;
    case 0x04:
        if (!on)
            s->ndtr = v & 0xFFFFu;
        break;
    case 0x08:
        if (!on)
            s->par = v;
        break;
    case 0x0C:
        if (!on)
            s->m0ar = v;
        break;
    case 0x10:
        if (!on)
            s->m1ar = v;
        break;
    case 0x14:
        if (!on)
            s->fcr = v & 0x87u;
        break;
    default:
        break;
    }
}

dma_t *dma_new(emu_t *emu, rcc_t *rcc, int which, const int irq[8])
{
    dma_t *d = calloc(1, sizeof(*d));
    if (d != NULL) {
        d->emu = emu;
        d->rcc = rcc;
        d->which = which;
        memcpy(d->irq, irq, sizeof(d->irq));
        dma_reset(d, EMU_RESET_POWER);
    }
    return d;
}

void dma_free(dma_t *d)
{
    free(d);
}

emu_periph_t dma_periph(dma_t *d)
{
    emu_periph_t p = {d->which == 2 ? "DMA2" : "DMA1",
                      d->which == 2 ? 0x40026400u : 0x40026000u,
                      0x400u,
                      dma_read,
                      dma_write,
                      NULL,
                      NULL,
                      dma_reset,
                      d,
                      rcc_reg(d->rcc, RCC_AHB1ENR),
                      d->which == 2 ? 1u << 22 : 1u << 21};
    return p;
}
