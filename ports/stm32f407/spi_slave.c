/* SPI1 slave for the OTA agent, on the seed's pins: PA4 NSS, PA5 SCK, PA6 MISO, PA7 MOSI (AF5),
 * mode 0. DMA2 stream 0 receives each transaction into a buffer of the agent's ring; stream 3
 * sends the agent's STATUS from tx_dma. NSS rising (EXTI4) ends a transaction, and the interrupt
 * only re-arms: it resets SPI1 through RCC_APB2RSTR (which clears OVR and the shift register: a
 * byte half-shifted or an overrun while the CPU was stalled by a flash erase is gone, RM0090 §28.3
 * "Error flags"), swaps to the agent's next receive buffer, loads the STATUS the main loop
 * published, and sets SPE only while NSS is high (§28.3 "Disabling the SPI": SPE never changes
 * while NSS is low). Decoding happens later, in agent_poll() from the main loop. About 200 cycles
 * from the NSS edge to SPE. */
#include "spi_slave.h"

#include <string.h>

#include "regs.h"

#define RX_STREAM 0
#define TX_STREAM 3
#define NSS_PIN 4

static agent_t *spi_agent;
static uint8_t *rx_cur;
static uint8_t tx_dma[LINK_STATUS_TXN];

static void streams_off(void)
{
    DMA_S_CR(RX_STREAM) &= ~DMA_CR_EN;
    DMA_S_CR(TX_STREAM) &= ~DMA_CR_EN;
    for (uint32_t i = 0; i < 1000u && (DMA_S_CR(RX_STREAM) & DMA_CR_EN); i++) {
    }
    for (uint32_t i = 0; i < 1000u && (DMA_S_CR(TX_STREAM) & DMA_CR_EN); i++) {
    }
}

/* SPI1 back to its reset state, then slave, mode 0, 8-bit, hardware NSS, with both DMA streams
 * armed: rx for the received bytes of the transaction that just ended (got). */
static void rearm(uint32_t got)
{
    RCC_APB2RSTR |= RCC_APB2RSTR_SPI1RST;
    RCC_APB2RSTR &= ~RCC_APB2RSTR_SPI1RST;
    streams_off();
    rx_cur = agent_rx_swap(spi_agent, got, tx_dma);
    DMA2_LIFCR = DMA_LIFCR_S0 | DMA_LIFCR_S3; /* only our streams' flags */
    DMA_S_PAR(RX_STREAM) = SPI1_DR_ADDR;
    DMA_S_M0AR(RX_STREAM) = (uint32_t)(uintptr_t)rx_cur;
    DMA_S_NDTR(RX_STREAM) = LINK_FRAME_MAX;
    DMA_S_CR(RX_STREAM) = DMA_CR_CHSEL(3) | DMA_CR_MINC | DMA_CR_EN;
    DMA_S_PAR(TX_STREAM) = SPI1_DR_ADDR;
    DMA_S_M0AR(TX_STREAM) = (uint32_t)(uintptr_t)tx_dma;
    DMA_S_NDTR(TX_STREAM) = sizeof(tx_dma);
    DMA_S_CR(TX_STREAM) = DMA_CR_CHSEL(3) | DMA_CR_MINC | DMA_CR_DIR_M2P | DMA_CR_EN;
    /* RM0090 §28.3.9: streams first, then the requests, then SPE. */
    SPI1_CR2 = SPI_CR2_RXDMAEN | SPI_CR2_TXDMAEN;
    /* With NSS low again the master is already clocking: that transaction is lost, and its
     * rising edge re-arms. */
    if (GPIO_IDR(GPIOA_BASE) & (1u << NSS_PIN)) {
        SPI1_CR1 = SPI_CR1_SPE;
    }
}

void spi_slave_init(agent_t *agent)
{
    spi_agent = agent;
    RCC_AHB1ENR |= (1u << 0) | RCC_AHB1ENR_DMA2EN;
    RCC_APB2ENR |= RCC_APB2ENR_SPI1EN | RCC_APB2ENR_SYSCFGEN;
    (void)RCC_APB2ENR;
    /* PA4-PA7 alternate function 5. MISO (PA6) at high speed: at the reset's low speed an edge
     * takes about 100 ns at 50 pF (DS8626: 2 MHz at most), longer than half an 8 MHz SCK period.
     * NSS (PA4) pulled up and SCK (PA5) pulled down, so that with no master (or one not yet
     * booted) the slave sees "deselected, idle" instead of a floating line. */
    GPIO_OSPEEDR(GPIOA_BASE) = (GPIO_OSPEEDR(GPIOA_BASE) & ~(3u << 12)) | (3u << 12);
    GPIO_PUPDR(GPIOA_BASE) = (GPIO_PUPDR(GPIOA_BASE) & ~(0xFu << 8)) | (1u << 8) | (2u << 10);
    GPIO_MODER(GPIOA_BASE) = (GPIO_MODER(GPIOA_BASE) & ~(0xFFu << 8)) | (0xAAu << 8);
    GPIO_AFRL(GPIOA_BASE) = (GPIO_AFRL(GPIOA_BASE) & ~(0xFFFFu << 16)) | (0x5555u << 16);
    rearm(0);
    /* NSS rising edge on PA4 -> EXTI line 4 (port A is the reset selection in SYSCFG_EXTICR2). */
    SYSCFG_EXTICR2 &= ~0xFu;
    EXTI_RTSR |= 1u << NSS_PIN;
    EXTI_IMR |= 1u << NSS_PIN;
    NVIC_ISER(0) = 1u << 10; /* EXTI4 is IRQ 10 */
}

void EXTI4_IRQHandler(void); /* the vector table names it */
void EXTI4_IRQHandler(void)
{
    EXTI_PR = 1u << NSS_PIN;
    rearm(LINK_FRAME_MAX - DMA_S_NDTR(RX_STREAM));
}
