/* SPI1 slave transport for the OTA agent on the STM32F407 (see spi_slave.c). */
#ifndef FOTA_SPI_SLAVE_F407_H
#define FOTA_SPI_SLAVE_F407_H

#include "fota/agent.h"

/* Starts receiving transactions for agent; agent_poll() stays the caller's, in its main loop. */
void spi_slave_init(agent_t *agent);

#endif
