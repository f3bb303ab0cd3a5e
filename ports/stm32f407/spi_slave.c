/* SPI1 slave for the OTA agent, on the seed's pins: PA4 NSS, PA5 SCK, PA6 MISO, PA7 MOSI (AF5),
 * mode 0. DMA2 stream 0 receives each transaction into rx_dma; stream 3 sends the agent's STATUS
 * from tx_dma. NSS rising (EXTI4) ends a transaction: the interrupt hands the bytes to
 * agent_on_transaction (which copies a DATA chunk into one of the agent's two buffers, so the next
 * transaction can arrive while agent_poll programs the previous one) and re-arms both streams with
 * the answer for the next transaction. */
#include "spi_slave.h"

#include <string.h>

#include "regs.h"

#define RX_STREAM 0
#define TX_STREAM 3

static agent_t *spi_agent;
static uint8_t rx_dma[LINK_FRAME_MAX];
static uint8_t tx_dma[LINK_STATUS_TXN];

static void arm(void)
{
    DMA_S_CR(RX_STREAM) &= ~DMA_CR_EN;
    DMA_S_CR(TX_STREAM) &= ~DMA_CR_EN;
    for (uint32_t i = 0; i < 1000u && (DMA_S_CR(RX_STREAM) & DMA_CR_EN); i++) {
    }
    for (uint32_t i = 0; i < 1000u && (DMA_S_CR(TX_STREAM) & DMA_CR_EN); i++) {
    }
    DMA2_LIFCR = 0x0F7D0F7Du; /* clear every flag of streams 0-3 */
    memcpy(tx_dma, agent_tx(spi_agent), sizeof(tx_dma));
    DMA_S_PAR(RX_STREAM) = SPI1_DR_ADDR;
    DMA_S_M0AR(RX_STREAM) = (uint32_t)(uintptr_t)rx_dma;
    DMA_S_NDTR(RX_STREAM) = sizeof(rx_dma);
    DMA_S_CR(RX_STREAM) = DMA_CR_CHSEL(3) | DMA_CR_MINC;
    DMA_S_PAR(TX_STREAM) = SPI1_DR_ADDR;
    DMA_S_M0AR(TX_STREAM) = (uint32_t)(uintptr_t)tx_dma;
    DMA_S_NDTR(TX_STREAM) = sizeof(tx_dma);
    DMA_S_CR(TX_STREAM) = DMA_CR_CHSEL(3) | DMA_CR_MINC | DMA_CR_DIR_M2P;
    DMA_S_CR(RX_STREAM) |= DMA_CR_EN;
    DMA_S_CR(TX_STREAM) |= DMA_CR_EN;
}

void spi_slave_init(agent_t *agent)
{
    spi_agent = agent;
    RCC_AHB1ENR |= (1u << 0) | RCC_AHB1ENR_DMA2EN;
    RCC_APB2ENR |= RCC_APB2ENR_SPI1EN | RCC_APB2ENR_SYSCFGEN;
    (void)RCC_APB2ENR;
    /* PA4-PA7 alternate function 5. */
    GPIO_MODER(GPIOA_BASE) = (GPIO_MODER(GPIOA_BASE) & ~(0xFFu << 8)) | (0xAAu << 8);
    GPIO_AFRL(GPIOA_BASE) = (GPIO_AFRL(GPIOA_BASE) & ~(0xFFFFu << 16)) | (0x5555u << 16);
    /* Slave, mode 0, 8-bit, hardware NSS; DMA both ways. */
    SPI1_CR1 = 0;
    SPI1_CR2 = SPI_CR2_RXDMAEN | SPI_CR2_TXDMAEN;
    arm();
    SPI1_CR1 = SPI_CR1_SPE;
    /* NSS rising edge on PA4 -> EXTI line 4 (port A is the reset selection in SYSCFG_EXTICR2). */
    SYSCFG_EXTICR2 &= ~0xFu;
    EXTI_RTSR |= 1u << 4;
    EXTI_IMR |= 1u << 4;
    NVIC_ISER(0) = 1u << 10; /* EXTI4 is IRQ 10 */
}

void EXTI4_IRQHandler(void); /* the vector table names it */
void EXTI4_IRQHandler(void)
{
    EXTI_PR = 1u << 4;
    uint32_t got = sizeof(rx_dma) - DMA_S_NDTR(RX_STREAM);
    agent_on_transaction(spi_agent, rx_dma, got);
    /* Restart SPI so a partly shifted byte of the next transaction is not carried over. */
    SPI1_CR1 = 0;
    arm();
    SPI1_CR1 = SPI_CR1_SPE;
}
