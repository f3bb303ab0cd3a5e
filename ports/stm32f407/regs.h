/* STM32F407 register addresses used by this port (RM0090, PM0214). Private to the port. */
#ifndef FOTA_REGS_F407_H
#define FOTA_REGS_F407_H

#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

#define RCC_BASE 0x40023800u
#define RCC_AHB1ENR REG(RCC_BASE + 0x30u)
#define RCC_CR REG(RCC_BASE + 0x00u)
#define RCC_PLLCFGR REG(RCC_BASE + 0x04u)
#define RCC_CFGR REG(RCC_BASE + 0x08u)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS(v) (((v) >> 2) & 3u)
#define RCC_APB1ENR REG(RCC_BASE + 0x40u)
#define RCC_APB1ENR_PWREN (1u << 28)
#define PWR_CR REG(0x40007000u)
#define PWR_CR_VOS (1u << 14)
#define RCC_APB2RSTR REG(RCC_BASE + 0x24u)
#define RCC_APB2RSTR_SPI1RST (1u << 12)
#define RCC_APB2ENR REG(RCC_BASE + 0x44u)
#define RCC_CSR REG(RCC_BASE + 0x74u)
#define RCC_CSR_RMVF (1u << 24)
#define RCC_CSR_BORRSTF (1u << 25)
#define RCC_CSR_PINRSTF (1u << 26)
#define RCC_CSR_PORRSTF (1u << 27)
#define RCC_CSR_SFTRSTF (1u << 28)
#define RCC_CSR_IWDGRSTF (1u << 29)

#define GPIOA_BASE 0x40020000u
#define GPIOB_BASE 0x40020400u
#define GPIOD_BASE 0x40020C00u
#define GPIOE_BASE 0x40021000u
#define GPIO_MODER(b) REG((b) + 0x00u)
#define GPIO_OSPEEDR(b) REG((b) + 0x08u)
#define GPIO_PUPDR(b) REG((b) + 0x0Cu)
#define GPIO_IDR(b) REG((b) + 0x10u)
#define GPIO_ODR(b) REG((b) + 0x14u)
#define GPIO_BSRR(b) REG((b) + 0x18u)
#define GPIO_AFRH(b) REG((b) + 0x24u)

#define USART1_BASE 0x40011000u
#define USART_SR REG(USART1_BASE + 0x00u)
#define USART_DR REG(USART1_BASE + 0x04u)
#define USART_BRR REG(USART1_BASE + 0x08u)
#define USART_CR1 REG(USART1_BASE + 0x0Cu)
#define USART_SR_TXE (1u << 7)
#define USART_SR_TC (1u << 6)
#define USART_CR1_TXEIE (1u << 7)
#define USART_CR1_UE (1u << 13)
#define USART_CR1_TE (1u << 3)

#define IWDG_KR REG(0x40003000u)
#define IWDG_PR REG(0x40003004u)
#define IWDG_RLR REG(0x40003008u)
#define IWDG_SR REG(0x4000300Cu)

#define FLASH_R_BASE 0x40023C00u
#define FLASH_ACR REG(FLASH_R_BASE + 0x00u)
#define FLASH_ACR_LATENCY(n) ((uint32_t)(n))
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define FLASH_ACR_ICRST (1u << 11)
#define FLASH_ACR_DCRST (1u << 12)
#define FLASH_KEYR REG(FLASH_R_BASE + 0x04u)
#define FLASH_OPTKEYR REG(FLASH_R_BASE + 0x08u)
#define FLASH_OPTCR REG(FLASH_R_BASE + 0x14u)
#define FLASH_OPTKEY1 0x08192A3Bu
#define FLASH_OPTKEY2 0x4C5D6E7Fu
#define FLASH_OPTCR_OPTLOCK (1u << 0)
#define FLASH_OPTCR_OPTSTRT (1u << 1)
#define FLASH_OPTCR_NWRP(sector) (1u << (16u + (sector)))
#define FLASH_SR REG(FLASH_R_BASE + 0x0Cu)
#define FLASH_CR REG(FLASH_R_BASE + 0x10u)
#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_SR_EOP (1u << 0)
#define FLASH_SR_OPERR (1u << 1)
#define FLASH_SR_WRPERR (1u << 4)
#define FLASH_SR_PGAERR (1u << 5)
#define FLASH_SR_PGPERR (1u << 6)
#define FLASH_SR_PGSERR (1u << 7)
#define FLASH_SR_BSY (1u << 16)
#define FLASH_SR_ERRORS (FLASH_SR_OPERR | FLASH_SR_WRPERR | FLASH_SR_PGAERR | FLASH_SR_PGPERR | FLASH_SR_PGSERR)
#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_SER (1u << 1)
#define FLASH_CR_SNB(n) ((uint32_t)(n) << 3)
#define FLASH_CR_PSIZE_X32 (2u << 8)
#define FLASH_CR_STRT (1u << 16)
#define FLASH_CR_LOCK (1u << 31)

#define RCC_AHB1ENR_DMA2EN (1u << 22)
#define RCC_APB2ENR_SPI1EN (1u << 12)
#define RCC_APB2ENR_SYSCFGEN (1u << 14)
#define GPIO_AFRL(b) REG((b) + 0x20u)

#define SPI1_BASE 0x40013000u
#define SPI1_CR1 REG(SPI1_BASE + 0x00u)
#define SPI1_CR2 REG(SPI1_BASE + 0x04u)
#define SPI1_SR REG(SPI1_BASE + 0x08u)
#define SPI1_DR_ADDR (SPI1_BASE + 0x0Cu)
#define SPI_CR1_SPE (1u << 6)
#define SPI_CR2_RXDMAEN (1u << 0)
#define SPI_CR2_TXDMAEN (1u << 1)

/* DMA2: SPI1_RX on stream 0, SPI1_TX on stream 3, both channel 3 (RM0090 table 43). */
#define DMA2_BASE 0x40026400u
#define DMA2_LIFCR REG(DMA2_BASE + 0x08u)
#define DMA_LIFCR_S0 0x0000003Du /* FEIF0, DMEIF0, TEIF0, HTIF0, TCIF0 */
#define DMA_LIFCR_S3 0x0F400000u /* FEIF3, DMEIF3, TEIF3, HTIF3, TCIF3 */
#define DMA_S_CR(n) REG(DMA2_BASE + 0x10u + 0x18u * (n))
#define DMA_S_NDTR(n) REG(DMA2_BASE + 0x14u + 0x18u * (n))
#define DMA_S_PAR(n) REG(DMA2_BASE + 0x18u + 0x18u * (n))
#define DMA_S_M0AR(n) REG(DMA2_BASE + 0x1Cu + 0x18u * (n))
#define DMA_CR_EN (1u << 0)
#define DMA_CR_DIR_M2P (1u << 6)
#define DMA_CR_MINC (1u << 10)
#define DMA_CR_CHSEL(n) ((uint32_t)(n) << 25)

#define SYSCFG_EXTICR2 REG(0x40013800u + 0x0Cu)
#define EXTI_IMR REG(0x40013C00u + 0x00u)
#define EXTI_RTSR REG(0x40013C00u + 0x08u)
#define EXTI_PR REG(0x40013C00u + 0x14u)
#define NVIC_ISER(n) REG(0xE000E100u + 4u * (n))
#define SCB_AIRCR REG(0xE000ED0Cu)

#define SCB_VTOR REG(0xE000ED08u)
#define SCB_CFSR REG(0xE000ED28u)
#define SCB_HFSR REG(0xE000ED2Cu)
#define SCB_BFAR REG(0xE000ED38u)
#define SCB_CFSR_PRECISERR (1u << 9)
#define SCB_CFSR_BFARVALID (1u << 15)
#define SCB_ICSR REG(0xE000ED04u)
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define NVIC_ICER(n) REG(0xE000E180u + 4u * (n))
#define NVIC_ICPR(n) REG(0xE000E280u + 4u * (n))

#endif
