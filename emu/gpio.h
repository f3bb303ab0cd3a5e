/* GPIO ports (RM0090 §8), EXTI and SYSCFG's EXTI routing (RM0090 §9, §12). */
#ifndef FOTA_EMU_GPIO_H
#define FOTA_EMU_GPIO_H

#include "emu_internal.h"
#include "rcc.h"

#define GPIO_PORTS 9 /* A to I */

typedef struct exti exti_t;
typedef struct gpio gpio_t;

exti_t *exti_new(emu_t *emu);
void exti_free(exti_t *x);
emu_periph_t exti_periph(exti_t *x);
emu_periph_t syscfg_periph(exti_t *x, rcc_t *rcc);
/* A pin's input changed level. */
void exti_pin(exti_t *x, int port, int pin, int level);

gpio_t *gpio_new(emu_t *emu, int port, exti_t *exti);
void gpio_free(gpio_t *g);
emu_periph_t gpio_periph(gpio_t *g, rcc_t *rcc);
/* What the outside world drives onto a pin (the bridge's NSS, say); -1 releases it. */
void gpio_drive(gpio_t *g, int pin, int level);
/* The pin's mode (MODER: 0 input, 1 output, 2 alternate, 3 analog) and alternate function. */
int gpio_mode(const gpio_t *g, int pin);
int gpio_af(const gpio_t *g, int pin);
int gpio_speed(const gpio_t *g, int pin);
int gpio_pin_level(const gpio_t *g, int pin); /* the level on the pin: driven, output, or pull (floating reads 0) */ /* OSPEEDR: 0 low (2 MHz), 1 medium (25), 2 fast (50), 3 high (100) */

#endif
