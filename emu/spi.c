/* SPI1 as a slave, from RM0090 §28.3 and DS8626 table 'SPI characteristics', on the seed's pins
 * PA4 NSS, PA5 SCK, PA6 MISO, PA7 MOSI (alternate function 5; other pin set-ups are not wired).
 * Rules, in order:
 * - The master's transaction: NSS falls on PA4 (EXTI sees it), after a lead of SPI_LEAD_NS the
 *   bits come at the SCK rate (mode 0, MSB first, 8-bit frames), NSS rises SPI_LEAD_NS after the
 *   last bit. NSS set-up shorter than 4 PCLK2 periods (DS8626 tsu(NSS)) loses the first bit.
 * - The slave counts bits only while SPE is set, NSS (hardware, SSM = 0) is low and the pins are
 *   in AF5. Its bit counter starts at 0 when SPE goes from 0 to 1 or the peripheral is reset; NSS
 *   going high does not reset it (on this SPI only SPE or a reset re-aligns the frames). So SPE set
 *   in the middle of a byte, or a transaction that ends mid-frame, leaves the following bytes out of
 *   step.
 * - At a frame's first bit the TX buffer moves to the shift register and TXE is set (DMA request
 *   when TXDMAEN); with nothing loaded since (TXE already set) the buffer's old value goes out
 *   again. While the slave is deselected or disabled, MISO floats: the master reads 1s.
 * - At a frame's last bit: with RXNE still set the byte is lost and OVR is set; while OVR is set no
 *   further byte is received (§28.4.8). OVR clears only by a read of DR followed by a read of SR,
 *   or by the RCC reset (APB2RSTR.SPI1RST); clearing SPE does not clear it. Otherwise the byte goes
 *   to DR, RXNE is set (DMA request when RXDMAEN).
 * - MISO's edge rate (PA6 OSPEEDR): above the pin's maximum frequency at 50 pF (DS8626, I/O AC
 *   characteristics: low speed 2 MHz, medium 25, fast 50, high 100) an edge does not settle within
 *   the half period before the master samples, so a bit that differs from the one before is read
 *   as the one before. Reported once.
 * - The Discovery's accelerometer (UM1472: LIS3DSH or LIS302DL on PA5-PA7, chip select PE3): while
 *   PE3 is not held high its chip select floats, so its frames start anywhere and it answers what
 *   it takes for a read command (a byte with bit 7 set) by driving its SDO on MISO in the next byte.
 *   The model forces that byte's bits to 0 (both drivers on one line: the master reads low
 *   wherever either drives low). Reported once.
 * - BSY while the slave is clocking a frame. The IRQ (35) for RXNE/TXE/OVR with their enables.
 * - CRC, TI mode, I2S and master mode are not modelled (reported when enabled). */
#include "spi.h"

#include <stdlib.h>
#include <string.h>

#define CR1_CPHA (1u << 0)
#define CR1_CPOL (1u << 1)
#define CR1_MSTR (1u << 2)
#define CR1_SPE (1u << 6)
#define CR1_LSBFIRST (1u << 7)
#define CR1_SSM (1u << 9)
#define CR1_DFF (1u << 11)
#define CR1_CRCEN (1u << 13)
#define CR2_RXDMAEN (1u << 0)
#define CR2_TXDMAEN (1u << 1)
#define CR2_FRF (1u << 4)
#define CR2_ERRIE (1u << 5)
#define CR2_RXNEIE (1u << 6)
#define CR2_TXEIE (1u << 7)
#define SR_RXNE (1u << 0)
#define SR_TXE (1u << 1)
#define SR_OVR (1u << 6)
#define SR_BSY (1u << 7)
#define SPI1_IRQ 35
#define SPI_LEAD_NS 1000u /* NSS to first SCK edge and last edge to NSS: a Linux or ESP32 master */
#define NSS_PIN 4

struct spi {
    emu_t *emu;
    rcc_t *rcc;
    gpio_t *pa, *pe;
    dma_t *dma;
    uint32_t cr1, cr2, sr, crcpr, i2scfgr, i2spr;
    uint8_t rx_dr, tx_buf, tx_shift, rx_shift;
    int bitpos;      /* bits of the current frame clocked so far */
    int ovr_dr_read; /* DR was read while OVR: an SR read now clears it */
    int miso_line;   /* the level MISO had settled at, for slow edges */
    int slow_reported, accel_reported;
    /* The transaction being clocked. */
    int active;
    const uint8_t *mosi;
    uint8_t *miso;
    uint32_t len, bits_done;
    uint64_t t_nss_low, t_first, bit_ns, t_nss_high;
    int nss_low_seen, nss_high_seen;
    int reported;
};

static int pins_ok(const spi_t *s)
{
    for (int p = 4; p <= 7; p++) {
        if (gpio_mode(s->pa, p) != 2 || gpio_af(s->pa, p) != 5) {
            return 0;
        }
    }
    return 1;
}

static void irq(spi_t *s)
{
    int level = ((s->sr & SR_RXNE) && (s->cr2 & CR2_RXNEIE)) || ((s->sr & SR_TXE) && (s->cr2 & CR2_TXEIE)) ||
                ((s->sr & SR_OVR) && (s->cr2 & CR2_ERRIE));
    emu_irq_level(s->emu, SPI1_IRQ, level);
}

static int rx_line(void *ctx)
{
    spi_t *s = ctx;
    return (s->sr & SR_RXNE) && (s->cr2 & CR2_RXDMAEN);
}

static int tx_line(void *ctx)
{
    spi_t *s = ctx;
    return (s->sr & SR_TXE) && (s->cr2 & CR2_TXDMAEN);
}

/* DMA2: SPI1_RX is stream 0 or 2, SPI1_TX stream 3 or 5, channel 3 (RM0090 table 43). */
static void dma_rx(spi_t *s)
{
    if (rx_line(s)) {
        dma_request(s->dma, 0, 3);
        if (rx_line(s)) {
            dma_request(s->dma, 2, 3);
        }
    }
}

static void dma_tx(spi_t *s)
{
    if (tx_line(s)) {
        dma_request(s->dma, 3, 3);
        if (tx_line(s)) {
            dma_request(s->dma, 5, 3);
        }
    }
}

static int miso_too_slow(spi_t *s)
{
    static const uint32_t fmax_hz[4] = {2000000u, 25000000u, 50000000u, 100000000u};
    uint64_t sck_hz = 1000000000ull / (s->bit_ns ? s->bit_ns : 1u);
    if (sck_hz <= fmax_hz[gpio_speed(s->pa, 6)]) {
        return 0;
    }
    if (!s->slow_reported) {
        s->slow_reported = 1;
        emu_log(s->emu, "spi: MISO (PA6) at OSPEEDR %d switches at most %u Hz, SCK is %llu Hz: edges do not settle",
                gpio_speed(s->pa, 6), fmax_hz[gpio_speed(s->pa, 6)], (unsigned long long)sck_hz);
    }
    return 1;
}

static int accel_selected(spi_t *s)
{
    if (gpio_pin_level(s->pe, 3)) {
        return 0;
    }
    if (!s->accel_reported) {
        s->accel_reported = 1;
        emu_log(s->emu, "spi: PE3 (the accelerometer's chip select) is not held high: it drives MISO too");
    }
    return 1;
}

static void clock_bit(spi_t *s, uint32_t b)
{
    int in = (s->mosi[b / 8] >> (7 - b % 8)) & 1;
    int out = 1;
    int on = (s->cr1 & CR1_SPE) && !(s->cr1 & CR1_MSTR) && pins_ok(s);
    if (on) {
        if (s->bitpos == 0) {
            if (!(s->sr & SR_TXE)) {
                s->tx_shift = s->tx_buf;
            } else {
                s->tx_shift = s->tx_buf; /* nothing new: the buffer's last value again */
            }
            s->sr |= SR_TXE | SR_BSY;
            dma_tx(s);
        }
        out = (s->tx_shift >> (7 - s->bitpos)) & 1;
        s->rx_shift = (uint8_t)((s->rx_shift << 1) | (uint8_t)in);
        if (++s->bitpos == 8) {
            s->bitpos = 0;
            s->sr &= ~SR_BSY;
            if (s->sr & SR_OVR) {
                /* lost: nothing is received while OVR is set */
            } else if (s->sr & SR_RXNE) {
                s->sr |= SR_OVR;
            } else {
                s->rx_dr = s->rx_shift;
                s->sr |= SR_RXNE;
                dma_rx(s);
            }
        }
        irq(s);
    }
    if (b >= 8 && (s->mosi[b / 8 - 1] & 0x80u) && accel_selected(s)) {
        out = 0;
    }
    if (on && miso_too_slow(s)) {
        int sampled = s->miso_line; /* the edge has not crossed the threshold yet */
        s->miso_line = out;
        out = sampled;
    }
    if (!out) {
        s->miso[b / 8] &= (uint8_t) ~(1u << (7 - b % 8));
    }
}

static void sp_advance(void *self, uint64_t now)
{
    spi_t *s = self;
    if (!s->active) {
        return;
    }
    if (!s->nss_low_seen && now >= s->t_nss_low) {
        s->nss_low_seen = 1;
        gpio_drive(s->pa, NSS_PIN, 0);
    }
    while (s->bits_done < s->len * 8u && now >= s->t_first + (uint64_t)s->bits_done * s->bit_ns) {
        clock_bit(s, s->bits_done++);
    }
    if (!s->nss_high_seen && s->bits_done == s->len * 8u && now >= s->t_nss_high) {
        s->nss_high_seen = 1;
        s->sr &= ~SR_BSY;
        gpio_drive(s->pa, NSS_PIN, 1);
        s->active = 0;
    }
}

static uint64_t sp_next_event(void *self)
{
    const spi_t *s = self;
    if (!s->active) {
        return EMU_NEVER;
    }
    if (!s->nss_low_seen) {
        return s->t_nss_low;
    }
    if ((s->cr2 & (CR2_RXNEIE | CR2_TXEIE | CR2_ERRIE)) || dma_irq_wanted(s->dma)) {
        if (s->bits_done < s->len * 8u) {
            /* the end of the next frame: interrupts may follow each byte */
            uint32_t next = (s->bits_done / 8u + 1u) * 8u - 1u;
            return s->t_first + (uint64_t)next * s->bit_ns;
        }
    }
    return s->t_nss_high;
}

uint64_t spi_schedule(spi_t *s, uint64_t start, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso, uint32_t len)
{
    memset(miso, 0xFF, len);
    s->miso_line = 1;
    s->active = 1;
    s->mosi = mosi;
    s->miso = miso;
    s->len = len;
    s->bits_done = 0;
    s->bit_ns = 1000000000ull / (sck_hz ? sck_hz : 1u);
    s->t_nss_low = start;
    s->t_first = start + SPI_LEAD_NS;
    s->t_nss_high = s->t_first + (uint64_t)len * 8u * s->bit_ns + SPI_LEAD_NS;
    s->nss_low_seen = s->nss_high_seen = 0;
    uint32_t pclk2 = rcc_pclk2(s->rcc);
    if (pclk2 && (uint64_t)SPI_LEAD_NS * pclk2 < 4ull * 1000000000ull && !s->reported) {
        s->reported = 1;
        emu_log(s->emu, "spi: NSS set-up %u ns is under 4 PCLK2 periods (DS8626 tsu(NSS))", SPI_LEAD_NS);
    }
    emu_kick(s->emu);
    return s->t_nss_high;
}

int spi_enabled(const spi_t *s)
{
    return (s->cr1 & CR1_SPE) != 0;
}

static void sp_reset(void *self, emu_reset_kind_t kind)
{
    spi_t *s = self;
    (void)kind;
    s->cr1 = s->cr2 = 0;
    s->sr = SR_TXE;
    s->crcpr = 7;
    s->i2scfgr = s->i2spr = 0;
    s->rx_dr = s->tx_buf = s->tx_shift = s->rx_shift = 0;
    s->bitpos = 0;
    s->ovr_dr_read = 0;
    irq(s);
}

static uint32_t sp_read(void *self, uint32_t off, unsigned size)
{
    spi_t *s = self;
    (void)size;
    switch (off) {
    case 0x00:
        return s->cr1;
    case 0x04:
        return s->cr2;
    case 0x08: {
        uint32_t v = s->sr;
        if (s->ovr_dr_read) { /* DR then SR: OVR clears (§28.4.8) */
            s->sr &= ~SR_OVR;
            s->ovr_dr_read = 0;
            irq(s);
        }
        return v;
    }
    case 0x0C: {
        uint32_t v = s->rx_dr;
        s->sr &= ~SR_RXNE;
        if (s->sr & SR_OVR) {
            s->ovr_dr_read = 1;
        }
        irq(s);
        return v;
    }
    case 0x10:
        return s->crcpr;
    case 0x1C:
        return s->i2scfgr;
    case 0x20:
        return s->i2spr;
    default:
        return 0;
    }
}

static void sp_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    spi_t *s = self;
    (void)size;
    switch (off) {
    case 0x00: {
        uint32_t old = s->cr1;
        s->cr1 = v & 0xFFFFu;
        if ((s->cr1 & (CR1_MSTR | CR1_CRCEN | CR1_DFF | CR1_LSBFIRST | CR1_CPHA | CR1_CPOL | CR1_SSM)) &&
            !s->reported) {
            s->reported = 1;
            emu_log(s->emu, "spi: only slave mode 0, 8-bit, MSB first, hardware NSS is modelled (CR1=0x%04x)",
                    (unsigned)s->cr1);
        }
        if ((old & CR1_SPE) != (s->cr1 & CR1_SPE)) {
            s->bitpos = 0; /* the frame counter starts again from the next bit */
        }
        break;
    }
    case 0x04:
        s->cr2 = v & 0xF7u;
        dma_rx(s);
        dma_tx(s);
        break;
    case 0x08:
        break; /* CRCERR only, not modelled */
    case 0x0C:
        s->tx_buf = (uint8_t)v;
        s->sr &= ~SR_TXE;
        break;
    case 0x10:
        s->crcpr = v & 0xFFFFu;
        break;
    case 0x1C:
        s->i2scfgr = v & 0xFBFu;
        break;
    case 0x20:
        s->i2spr = v & 0x3FFu;
        break;
    default:
        break;
    }
    irq(s);
}

spi_t *spi_new(emu_t *emu, rcc_t *rcc, gpio_t *porta, gpio_t *porte, dma_t *dma2)
{
    spi_t *s = calloc(1, sizeof(*s));
    if (s != NULL) {
        s->emu = emu;
        s->rcc = rcc;
        s->pa = porta;
        s->pe = porte;
        s->dma = dma2;
        sp_reset(s, EMU_RESET_POWER);
        dma_set_line(dma2, 0, 3, rx_line, s);
        dma_set_line(dma2, 2, 3, rx_line, s);
        dma_set_line(dma2, 3, 3, tx_line, s);
        dma_set_line(dma2, 5, 3, tx_line, s);
    }
    return s;
}

void spi_free(spi_t *s)
{
    free(s);
}

emu_periph_t spi_periph(spi_t *s)
{
    emu_periph_t p = {"SPI1",     0x40013000u,   0x400u,   sp_read, sp_write,
                      sp_advance, sp_next_event, sp_reset, s,       rcc_reg(s->rcc, RCC_APB2ENR),
                      1u << 12};
    return p;
}
