/* GPIO, from RM0090 §8.4: MODER/OTYPER/OSPEEDR/PUPDR with the reset values of ports A and B (the
 * debug pins), IDR, ODR, BSRR (set wins over reset, §8.4.7), LCKR (key sequence, then frozen until
 * reset), AFRL/AFRH. A pin's input level is what the outside drives, else the pull-up/down, else
 * 0; an output pin reads back its ODR. A level change goes to EXTI; an output change on port D is
 * reported (the Discovery LEDs PD12-PD15). EXTI and SYSCFG, from RM0090 §9.2.3-9.2.6 and §12.3:
 * EXTICR1-4 pick the port of lines 0-15; RTSR/FTSR edges set PR when IMR allows; PR is cleared by
 * writing 1; SWIER sets PR; lines 0-4 are IRQs 6-10, 5-9 IRQ 23, 10-15 IRQ 40 (table 61). */
#include "gpio.h"

#include <stdlib.h>

struct exti {
    emu_t *emu;
    uint32_t imr, emr, rtsr, ftsr, pr;
    uint32_t exticr[4], memrmp, pmc, cmpcr;
};

struct gpio {
    emu_t *emu;
    exti_t *exti;
    int port;
    uint32_t moder, otyper, ospeedr, pupdr, odr, lckr, afr[2];
    int locked, lck_stage;
    int8_t drive[16]; /* -1: not driven */
    uint16_t idr;     /* last input levels seen */
};

static int line_irq(int line)
{
    return line <= 4 ? 6 + line : line <= 9 ? 23 : 40;
}

static void exti_irqs(exti_t *x)
{
    uint32_t act = x->pr & x->imr;
    for (int l = 0; l <= 4; l++) {
        emu_irq_level(x->emu, line_irq(l), (act >> l) & 1u);
    }
    emu_irq_level(x->emu, 23, (act & 0x3E0u) != 0);
    emu_irq_level(x->emu, 40, (act & 0xFC00u) != 0);
}

void exti_pin(exti_t *x, int port, int pin, int level)
{
    if (pin > 15 || (int)((x->exticr[pin / 4] >> (4 * (pin % 4))) & 0xFu) != port) {
        return;
    }
    uint32_t bit = 1u << pin;
    if (((level && (x->rtsr & bit)) || (!level && (x->ftsr & bit))) && (x->imr & bit)) {
        x->pr |= bit;
        exti_irqs(x);
    }
}

static uint32_t exti_read(void *self, uint32_t off, unsigned size)
{
    exti_t *x = self;
    (void)size;
    switch (off) {
    case 0x00:
        return x->imr;
    case 0x04:
        return x->emr;
    case 0x08:
        return x->rtsr;
    case 0x0C:
        return x->ftsr;
    case 0x10:
        return 0;
    case 0x14:
        return x->pr;
    default:
        return 0;
    }
}

static void exti_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    exti_t *x = self;
    (void)size;
    v &= 0x7FFFFFu;
    switch (off) {
    case 0x00:
        x->imr = v;
        break;
    case 0x04:
        x->emr = v;
        break;
    case 0x08:
        x->rtsr = v;
        break;
    case 0x0C:
        x->ftsr = v;
        break;
    case 0x10:
        x->pr |= v & x->imr;
        break;
    case 0x14:
        x->pr &= ~v;
        break;
    default:
        break;
    }
    exti_irqs(x);
}

static void exti_reset(void *self, emu_reset_kind_t kind)
{
    exti_t *x = self;
    if (kind == EMU_RESET_BUS) {
        return;
    }
    x->imr = x->emr = x->rtsr = x->ftsr = x->pr = 0;
    exti_irqs(x);
}

static uint32_t syscfg_read(void *self, uint32_t off, unsigned size)
{
    exti_t *x = self;
    (void)size;
    if (off >= 0x08 && off <= 0x14) {
        return x->exticr[(off - 0x08) / 4];
    }
    return off == 0x00 ? x->memrmp : off == 0x04 ? x->pmc : off == 0x20 ? x->cmpcr : 0;
}

static void syscfg_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    exti_t *x = self;
    (void)size;
    if (off >= 0x08 && off <= 0x14) {
        x->exticr[(off - 0x08) / 4] = v & 0xFFFFu;
    } else if (off == 0x00) {
        x->memrmp = v & 3u;
        if (x->memrmp != 0) {
            emu_log(x->emu, "syscfg: MEMRMP remapping of address 0 is not modelled");
        }
    } else if (off == 0x04) {
        x->pmc = v;
    } else if (off == 0x20) {
        x->cmpcr = v & 1u;
    }
}

static void syscfg_reset(void *self, emu_reset_kind_t kind)
{
    exti_t *x = self;
    (void)kind;
    x->exticr[0] = x->exticr[1] = x->exticr[2] = x->exticr[3] = 0;
    x->memrmp = x->pmc = x->cmpcr = 0;
}

exti_t *exti_new(emu_t *emu)
{
    exti_t *x = calloc(1, sizeof(*x));
    if (x != NULL) {
        x->emu = emu;
    }
    return x;
}

void exti_free(exti_t *x)
{
    free(x);
}

emu_periph_t exti_periph(exti_t *x)
{
    emu_periph_t p = {"EXTI", 0x40013C00u, 0x400u, exti_read, exti_write, NULL, NULL, exti_reset, x, NULL, 0};
    return p;
}

emu_periph_t syscfg_periph(exti_t *x, rcc_t *rcc)
{
    emu_periph_t p = {"SYSCFG", 0x40013800u, 0x400u,       syscfg_read, syscfg_write,
                      NULL,     NULL,        syscfg_reset, x,           rcc_reg(rcc, RCC_APB2ENR),
                      1u << 14};
    return p;
}

/* ---- GPIO ---- */

static int input_level(const gpio_t *g, int pin)
{
    int mode = (int)((g->moder >> (2 * pin)) & 3u);
    if (mode == 1) {
        return (g->odr >> pin) & 1u;
    }
    if (g->drive[pin] >= 0) {
        return g->drive[pin];
    }
    uint32_t pupd = (g->pupdr >> (2 * pin)) & 3u;
    return pupd == 1u;
}

/* Re-evaluates every input; tells EXTI of changes. */
static void refresh(gpio_t *g)
{
    uint16_t idr = 0;
    for (int p = 0; p < 16; p++) {
        idr |= (uint16_t)(input_level(g, p) << p);
    }
    uint16_t changed = idr ^ g->idr;
    g->idr = idr;
    for (int p = 0; p < 16; p++) {
        if (changed & (1u << p)) {
            exti_pin(g->exti, g->port, p, (idr >> p) & 1u);
        }
    }
}

static void set_odr(gpio_t *g, uint32_t odr)
{
    uint32_t changed = (g->odr ^ odr) & 0xFFFFu;
    g->odr = odr & 0xFFFFu;
    const emu_options_t *o = emu_opts(g->emu);
    for (int p = 0; p < 16; p++) {
        if ((changed & (1u << p)) && ((g->moder >> (2 * p)) & 3u) == 1u && o->on_gpio != NULL) {
            o->on_gpio(o->ctx, (char)('A' + g->port), p, (g->odr >> p) & 1u);
        }
    }
    refresh(g);
}

void gpio_drive(gpio_t *g, int pin, int level)
{
    g->drive[pin] = (int8_t)(level < 0 ? -1 : level != 0);
    refresh(g);
}

int gpio_mode(const gpio_t *g, int pin)
{
    return (int)((g->moder >> (2 * pin)) & 3u);
}

int gpio_pin_level(const gpio_t *g, int pin)
{
    return input_level(g, pin);
}

int gpio_speed(const gpio_t *g, int pin)
{
    return (int)((g->ospeedr >> (2 * pin)) & 3u);
}

int gpio_af(const gpio_t *g, int pin)
{
    return (int)((g->afr[pin / 8] >> (4 * (pin % 8))) & 0xFu);
}

static uint32_t gpio_read(void *self, uint32_t off, unsigned size)
{
    gpio_t *g = self;
    uint32_t v;
    switch (off & ~3u) {
    case 0x00:
        v = g->moder;
        break;
    case 0x04:
        v = g->otyper;
        break;
    case 0x08:
        v = g->ospeedr;
        break;
    case 0x0C:
        v = g->pupdr;
        break;
    case 0x10:
        v = g->idr;
        break;
    case 0x14:
        v = g->odr;
        break;
    case 0x1C:
        v = g->lckr | (g->locked ? 1u << 16 : 0);
        break;
    case 0x20:
        v = g->afr[0];
        break;
    case 0x24:
        v = g->afr[1];
        break;
    default:
        v = 0;
        break;
    }
    return emu_reg_part(v, off, size);
}

/* A locked pin's configuration bits stay as they are (LCKR, §8.4.8). */
static uint32_t keep_locked(const gpio_t *g, uint32_t old, uint32_t v, int bits_per_pin, int first_pin)
{
    if (!g->locked) {
        return v;
    }
    for (int p = 0; p < 32 / bits_per_pin; p++) {
        if (g->lckr & (1u << (first_pin + p))) {
            uint32_t m = ((1u << bits_per_pin) - 1u) << (p * bits_per_pin);
            v = (v & ~m) | (old & m);
        }
    }
    return v;
}

static void gpio_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    gpio_t *g = self;
    if (size < 4) { /* byte and halfword writes: merge into the word (BSRR halves are common) */
        uint32_t shift = (off & 3u) * 8u, mask = ((1u << (size * 8u)) - 1u) << shift;
        uint32_t cur = (off & ~3u) == 0x18 ? 0 : gpio_read(g, off & ~3u, 4);
        v = (cur & ~mask) | ((v << shift) & mask);
        off &= ~3u;
    }
    switch (off) {
    case 0x00:
        g->moder = keep_locked(g, g->moder, v, 2, 0);
        refresh(g);
        break;
    case 0x04:
        g->otyper = keep_locked(g, g->otyper, v & 0xFFFFu, 1, 0);
        break;
    case 0x08:
        g->ospeedr = keep_locked(g, g->ospeedr, v, 2, 0);
        break;
    case 0x0C:
        g->pupdr = keep_locked(g, g->pupdr, v, 2, 0);
        refresh(g);
        break;
    case 0x14:
        set_odr(g, v);
        break;
    case 0x18:
        set_odr(g, (g->odr & ~(v >> 16)) | (v & 0xFFFFu));
        break;
    case 0x1C: /* LCKK sequence: 1+keys, 0+keys, 1+keys (§8.4.8) */
        if (g->locked) {
            break;
        }
        if (g->lck_stage == 0 && (v & 0x10000u)) {
            g->lck_stage = 1;
            g->lckr = v & 0xFFFFu;
        } else if (g->lck_stage == 1 && !(v & 0x10000u) && (v & 0xFFFFu) == g->lckr) {
            g->lck_stage = 2;
        } else if (g->lck_stage == 2 && (v & 0x10000u) && (v & 0xFFFFu) == g->lckr) {
            g->locked = 1;
        } else {
            g->lck_stage = 0;
        }
        break;
    case 0x20:
        g->afr[0] = keep_locked(g, g->afr[0], v, 4, 0);
        break;
    case 0x24:
        g->afr[1] = keep_locked(g, g->afr[1], v, 4, 8);
        break;
    default:
        break;
    }
}

static void gpio_reset(void *self, emu_reset_kind_t kind)
{
    gpio_t *g = self;
    (void)kind;
    g->moder = g->port == 0 ? 0xA8000000u : g->port == 1 ? 0x00000280u : 0;
    g->ospeedr = g->port == 0 ? 0x0C000000u : g->port == 1 ? 0x000000C0u : 0;
    g->pupdr = g->port == 0 ? 0x64000000u : g->port == 1 ? 0x00000100u : 0;
    g->otyper = g->lckr = g->afr[0] = g->afr[1] = 0;
    g->locked = g->lck_stage = 0;
    uint32_t old = g->odr;
    g->odr = 0;
    const emu_options_t *o = emu_opts(g->emu);
    for (int p = 0; p < 16 && g->port == 3; p++) {
        if ((old & (1u << p)) && o->on_gpio != NULL) {
            o->on_gpio(o->ctx, 'D', p, 0); /* the LEDs go dark at reset */
        }
    }
    refresh(g);
}

gpio_t *gpio_new(emu_t *emu, int port, exti_t *exti)
{
    gpio_t *g = calloc(1, sizeof(*g));
    if (g != NULL) {
        g->emu = emu;
        g->port = port;
        g->exti = exti;
        for (int p = 0; p < 16; p++) {
            g->drive[p] = -1;
        }
        gpio_reset(g, EMU_RESET_POWER);
    }
    return g;
}

void gpio_free(gpio_t *g)
{
    free(g);
}

emu_periph_t gpio_periph(gpio_t *g, rcc_t *rcc)
{
    static const char *names[GPIO_PORTS] = {"GPIOA", "GPIOB", "GPIOC", "GPIOD", "GPIOE",
                                            "GPIOF", "GPIOG", "GPIOH", "GPIOI"};
    emu_periph_t p = {names[g->port],
                      0x40020000u + 0x400u * (uint32_t)g->port,
                      0x400u,
                      gpio_read,
                      gpio_write,
                      NULL,
                      NULL,
                      gpio_reset,
                      g,
                      rcc_reg(rcc, RCC_AHB1ENR),
                      1u << g->port};
    return p;
}
