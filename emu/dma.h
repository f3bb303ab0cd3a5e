/* DMA controller (RM0090 §10): eight streams, channel selection, direct and FIFO modes. */
#ifndef FOTA_EMU_DMA_H
#define FOTA_EMU_DMA_H

#include "emu_internal.h"
#include "rcc.h"

typedef struct dma dma_t;

/* which: 1 or 2 (DMA1 0x40026000, DMA2 0x40026400); first_irq[8]: the streams' IRQ numbers. */
dma_t *dma_new(emu_t *emu, rcc_t *rcc, int which, const int first_irq[8]);
void dma_free(dma_t *d);
emu_periph_t dma_periph(dma_t *d);
/* A peripheral's request line (stream, channel) is asserted now: the stream moves one item if
 * it is enabled on that channel. */
void dma_request(dma_t *d, int stream, int channel);
/* How the DMA asks whether a line is asserted (when a stream is enabled). */
void dma_set_line(dma_t *d, int stream, int channel, int (*active)(void *ctx), void *ctx);
/* 1 when an enabled stream has an interrupt enabled (the requesting peripheral then wants its
 * transfers timed one by one). */
int dma_irq_wanted(const dma_t *d);

#endif
