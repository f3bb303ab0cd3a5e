/* RCC model (RM0090 §7): clocks, enables, peripheral resets, reset flags. */
#ifndef FOTA_EMU_RCC_H
#define FOTA_EMU_RCC_H

#include "emu_internal.h"

#define RCC_AHB1ENR 0x30u
#define RCC_APB1ENR 0x40u
#define RCC_APB2ENR 0x44u
#define RCC_APB2RSTR 0x24u
#define RCC_AHB1RSTR 0x10u
#define RCC_APB1RSTR 0x20u

typedef struct rcc rcc_t;

rcc_t *rcc_new(emu_t *emu);
void rcc_free(rcc_t *r);
emu_periph_t rcc_periph(rcc_t *r);
uint32_t rcc_hclk(const rcc_t *r);
uint32_t rcc_pclk1(const rcc_t *r);
uint32_t rcc_pclk2(const rcc_t *r);
uint32_t rcc_lsi_hz(const rcc_t *r);
void rcc_lsi_force_on(rcc_t *r); /* the IWDG starts the LSI (RM0090 §19.3.2) */
/* The register at off (for clock gating of the other models). */
const uint32_t *rcc_reg(const rcc_t *r, uint32_t off);
/* Setting bit in the reset register at off holds p in reset (RM0090 §7.3.5-7.3.9). */
int rcc_on_reset_bit(rcc_t *r, uint32_t off, uint32_t bit, const emu_periph_t *p);
/* The power controller (its state lives with the RCC's). */
emu_periph_t pwr_periph(rcc_t *r);

#endif
