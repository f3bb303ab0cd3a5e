/* USART1 transmitter (RM0090 §30). */
#ifndef FOTA_EMU_USART_H
#define FOTA_EMU_USART_H

#include "emu_internal.h"
#include "rcc.h"

typedef struct usart usart_t;
usart_t *usart_new(emu_t *emu, rcc_t *rcc);
void usart_free(usart_t *u);
emu_periph_t usart_periph(usart_t *u);

#endif
