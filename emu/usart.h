/* USART1 transmitter (RM0090 §30). */
#ifndef FOTA_EMU_USART_H
#define FOTA_EMU_USART_H

#include "emu_internal.h"
#include "gpio.h"
#include "rcc.h"

typedef struct usart usart_t;
/* pa, pb: the ports whose pins can carry USART1_TX (PA9, PB6; AF7). */
usart_t *usart_new(emu_t *emu, rcc_t *rcc, gpio_t *pa, gpio_t *pb);
void usart_free(usart_t *u);
emu_periph_t usart_periph(usart_t *u);

#endif
