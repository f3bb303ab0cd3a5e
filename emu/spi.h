/* SPI1 in slave mode (RM0090 §28), clocked bit by bit by the master's transactions. */
#ifndef FOTA_EMU_SPI_H
#define FOTA_EMU_SPI_H

#include "dma.h"
#include "emu_internal.h"
#include "gpio.h"
#include "rcc.h"

typedef struct spi spi_t;

/* porte: for PE3, the Discovery accelerometer's chip select (it shares SPI1's pins). */
spi_t *spi_new(emu_t *emu, rcc_t *rcc, gpio_t *porta, gpio_t *porte, dma_t *dma2);
void spi_free(spi_t *s);
emu_periph_t spi_periph(spi_t *s);
/* Schedules one master transaction starting (NSS falling) at start; miso is filled as the bits
 * are clocked, and is complete once the model has advanced to the returned end time (NSS high). */
uint64_t spi_schedule(spi_t *s, uint64_t start, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso, uint32_t len);
int spi_enabled(const spi_t *s);

#endif
