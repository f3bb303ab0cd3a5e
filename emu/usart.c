/* USART1, transmit side, from RM0090 §30.3.2 and §30.6: with UE and TE set, a byte written to DR
 * moves to the shift register when it is free (TXE set again) and is on the wire for one frame:
 * start + 8 or 9 data bits + stop bits, at PCLK2 / (8 x (2 - OVER8) x USARTDIV) baud (§30.3.4);
 * TC when the last frame ends. A byte written with UE or TE clear is lost. The byte leaves the
 * model (on_uart) when its frame ends. The receiver, flow control, LIN, IrDA and smartcard modes
 * are not modelled; the interrupt is raised for TXE/TC when enabled.
 * Where the byte goes (the STM32F4DISCOVERY, UM1472): USART1_TX is AF7 on PA9 or PB6. PA9 is
 * VBUS_FS on that board, with a 4.7 uF capacitor to ground: the line cannot toggle at 115200 baud,
 * so nothing readable leaves through it. A console reads 115200 8N1: a rate more than 3% off
 * (BRR set for another PCLK2) arrives as garbage ('?'). Each is reported once. */
#include "usart.h"

#include <stdlib.h>

#define SR_TC (1u << 6)
#define SR_TXE (1u << 7)
#define CR1_UE (1u << 13)
#define CR1_TE (1u << 3)
#define CR1_TCIE (1u << 6)
#define CR1_TXEIE (1u << 7)
#define USART1_IRQ 37

struct usart {
    emu_t *emu;
    rcc_t *rcc;
    gpio_t *pa, *pb;
    int pin_reported, baud_reported;
    uint32_t sr, brr, cr1, cr2, cr3, gtpr;
    int holding, shifting; /* a byte in DR waiting; a byte on the wire */
    uint8_t hold, shift;
    uint64_t shift_end;
};

static uint64_t frame_ns(const usart_t *u)
{
    uint32_t bits = 1u + ((u->cr1 & (1u << 12)) ? 9u : 8u) + (((u->cr2 >> 12) & 3u) == 2u ? 2u : 1u);
    uint32_t over8 = (u->cr1 >> 15) & 1u;
    uint32_t brr = u->brr ? u->brr : 16u;
    /* baud = PCLK2 / BRR for OVER8 = 0 (mantissa.fraction x 16 is BRR itself) */
    uint64_t pclk = rcc_pclk2(u->rcc);
    (void)over8;
    return (uint64_t)bits * brr * 1000000000ull / (pclk ? pclk : 16000000u);
}

static void irq(usart_t *u)
{
    int level = ((u->sr & SR_TXE) && (u->cr1 & CR1_TXEIE)) || ((u->sr & SR_TC) && (u->cr1 & CR1_TCIE));
    emu_irq_level(u->emu, USART1_IRQ, level);
}

static void start_next(usart_t *u, uint64_t at)
{
    if (!u->shifting && u->holding) {
        u->holding = 0;
        u->shifting = 1;
        u->shift = u->hold;
        u->shift_end = at + frame_ns(u);
        u->sr |= SR_TXE;
        u->sr &= ~SR_TC;
    }
}

/* The byte a console on the Discovery's pins reads, or -1 for none. */
static int on_the_wire(usart_t *u, uint8_t byte)
{
    int pb6 = gpio_mode(u->pb, 6) == 2 && gpio_af(u->pb, 6) == 7;
    int pa9 = gpio_mode(u->pa, 9) == 2 && gpio_af(u->pa, 9) == 7;
    if (!pb6) {
        if (!u->pin_reported) {
            u->pin_reported = 1;
            emu_log(u->emu, pa9 ? "usart: USART1_TX on PA9, which the Discovery ties to VBUS_FS with 4.7 uF: "
                                  "the line cannot toggle, nothing is readable"
                                : "usart: USART1_TX is on no pin (PB6 or PA9, AF7)");
        }
        return -1;
    }
    uint64_t pclk = rcc_pclk2(u->rcc);
    uint32_t brr = u->brr ? u->brr : 16u;
    uint64_t baud = (pclk ? pclk : 16000000u) / brr;
    if (baud * 100u < 115200u * 97u || baud * 100u > 115200u * 103u) {
        if (!u->baud_reported) {
            u->baud_reported = 1;
            emu_log(u->emu, "usart: %llu baud (PCLK2 %llu Hz, BRR 0x%x) where the console reads 115200",
                    (unsigned long long)baud, (unsigned long long)pclk, (unsigned)u->brr);
        }
        return '?';
    }
    return byte;
}

static void us_advance(void *self, uint64_t now)
{
    usart_t *u = self;
    while (u->shifting && now >= u->shift_end) {
        const emu_options_t *o = emu_opts(u->emu);
        int c = on_the_wire(u, u->shift);
        if (o->on_uart != NULL && c >= 0) {
            o->on_uart(o->ctx, (uint8_t)c);
        }
        u->shifting = 0;
        uint64_t end = u->shift_end;
        start_next(u, end);
        if (!u->shifting) {
            u->sr |= SR_TC;
        }
    }
    irq(u);
}

static uint64_t us_next_event(void *self)
{
    const usart_t *u = self;
    return u->shifting && (u->cr1 & (CR1_TCIE | CR1_TXEIE)) ? u->shift_end : EMU_NEVER;
}

static void us_reset(void *self, emu_reset_kind_t kind)
{
    usart_t *u = self;
    (void)kind;
    u->sr = SR_TXE | SR_TC;
    u->brr = u->cr1 = u->cr2 = u->cr3 = u->gtpr = 0;
    u->holding = u->shifting = 0;
    irq(u);
}

static uint32_t us_read(void *self, uint32_t off, unsigned size)
{
    usart_t *u = self;
    (void)size;
    switch (off) {
    case 0x00:
        return u->sr;
    case 0x04:
        return 0; /* no receiver */
    case 0x08:
        return u->brr;
    case 0x0C:
        return u->cr1;
    case 0x10:
        return u->cr2;
    case 0x14:
        return u->cr3;
    case 0x18:
        return u->gtpr;
    default:
        return 0;
    }
}

static void us_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    usart_t *u = self;
    (void)size;
    uint64_t now = emu_time(u->emu);
    switch (off) {
    case 0x00:
        u->sr &= v | ~SR_TC;
        break; /* TC cleared by writing 0 */
    case 0x04:
        if ((u->cr1 & (CR1_UE | CR1_TE)) == (CR1_UE | CR1_TE)) {
            u->hold = (uint8_t)v;
            u->holding = 1;
            u->sr &= ~SR_TXE;
            start_next(u, now);
        }
        break;
    case 0x08:
        u->brr = v & 0xFFFFu;
        break;
    case 0x0C:
        u->cr1 = v & 0xBFFFu;
        break;
    case 0x10:
        u->cr2 = v & 0x7F7Fu;
        break;
    case 0x14:
        u->cr3 = v & 0xFFFu;
        break;
    case 0x18:
        u->gtpr = v & 0xFFFFu;
        break;
    default:
        break;
    }
    irq(u);
}

usart_t *usart_new(emu_t *emu, rcc_t *rcc, gpio_t *pa, gpio_t *pb)
{
    usart_t *u = calloc(1, sizeof(*u));
    if (u != NULL) {
        u->emu = emu;
        u->rcc = rcc;
        u->pa = pa;
        u->pb = pb;
        us_reset(u, EMU_RESET_POWER);
    }
    return u;
}

void usart_free(usart_t *u)
{
    free(u);
}

emu_periph_t usart_periph(usart_t *u)
{
    emu_periph_t p = {"USART1",   0x40011000u,   0x400u,   us_read, us_write,
                      us_advance, us_next_event, us_reset, u,       rcc_reg(u->rcc, RCC_APB2ENR),
                      1u << 4};
    return p;
}
