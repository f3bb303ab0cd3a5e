/* The STM32F407VG board of fota-emu: which models exist, where they sit on the bus (RM0090 table 1),
 * which RCC bits clock and reset them, and how they are wired to one another (EXTI to the GPIO
 * ports, SPI1 to DMA2 and PA4-PA7). Adding a peripheral: write its model (emu_periph_t), create it
 * here, add it with emu_add_periph, and wire its clock, reset, IRQ and DMA lines; docs/emulator.md. */
#include <stdlib.h>

#include "dma.h"
#include "emu_internal.h"
#include "flashif.h"
#include "gpio.h"
#include "iwdg.h"
#include "rcc.h"
#include "spi.h"
#include "usart.h"

typedef struct {
    emu_t *emu;
    rcc_t *rcc;
    flashif_t *flash;
    iwdg_t *iwdg;
    exti_t *exti;
    gpio_t *gpio[GPIO_PORTS];
    usart_t *usart1;
    dma_t *dma1, *dma2;
    spi_t *spi1;
} board_t;

static uint32_t b_hclk(void *b)
{
    return rcc_hclk(((board_t *)b)->rcc);
}

static uint32_t b_penalty(void *b)
{
    board_t *bd = b;
    return flashif_penalty16(bd->flash, rcc_hclk(bd->rcc));
}

EMU_HOT static uint64_t b_busy(void *b)
{
    return flashif_busy_until(((board_t *)b)->flash);
}

static void b_store(void *b, uint32_t addr, unsigned size, uint32_t value)
{
    flashif_store(((board_t *)b)->flash, addr, size, value);
}

static uint64_t b_spi_schedule(void *b, uint64_t start, uint32_t sck_hz, const uint8_t *mosi, uint8_t *miso,
                               uint32_t len)
{
    return spi_schedule(((board_t *)b)->spi1, start, sck_hz, mosi, miso, len);
}

static int b_dcache_on(void *b)
{
    return flashif_dcache_on(((board_t *)b)->flash);
}

static void b_dread(void *b, uint32_t addr, unsigned size)
{
    flashif_dread(((board_t *)b)->flash, addr, size);
}

static int b_spi_ready(void *b)
{
    return spi_enabled(((board_t *)b)->spi1);
}

static void b_flash_stats(void *b, uint64_t *ops, uint64_t *erase_ns, uint64_t *program_ns)
{
    board_t *bd = b;
    *ops = flashif_ops(bd->flash);
    flashif_times(bd->flash, erase_ns, program_ns);
}

static void b_free(void *b)
{
    board_t *bd = b;
    rcc_free(bd->rcc);
    flashif_free(bd->flash);
    iwdg_free(bd->iwdg);
    exti_free(bd->exti);
    for (int i = 0; i < GPIO_PORTS; i++) {
        gpio_free(bd->gpio[i]);
    }
    usart_free(bd->usart1);
    dma_free(bd->dma1);
    dma_free(bd->dma2);
    spi_free(bd->spi1);
    free(bd);
}

static const emu_board_t ops = {b_hclk,      b_penalty,   b_busy,  b_store,       b_spi_schedule,
                                b_spi_ready, b_dcache_on, b_dread, b_flash_stats, b_free};

int f407_attach(emu_t *emu)
{
    board_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return -1;
    }
    b->emu = emu;
    emu_set_board(emu, &ops, b);
    /* DMA1 streams: IRQs 11-17, 47; DMA2: 56-60, 68-70 (RM0090 table 61). */
    static const int dma1_irq[8] = {11, 12, 13, 14, 15, 16, 17, 47};
    static const int dma2_irq[8] = {56, 57, 58, 59, 60, 68, 69, 70};
    b->rcc = rcc_new(emu);
    b->flash = b->rcc ? flashif_new(emu, emu_flash(emu), emu_flash_view(emu), emu_system_memory(emu)) : NULL;
    b->iwdg = b->rcc ? iwdg_new(emu, b->rcc) : NULL;
    b->exti = exti_new(emu);
    int ok = b->rcc && b->flash && b->iwdg && b->exti;
    for (int i = 0; i < GPIO_PORTS && ok; i++) {
        b->gpio[i] = gpio_new(emu, i, b->exti);
        ok = b->gpio[i] != NULL;
    }
    b->usart1 = ok ? usart_new(emu, b->rcc, b->gpio[0], b->gpio[1]) : NULL;
    b->dma1 = ok ? dma_new(emu, b->rcc, 1, dma1_irq) : NULL;
    b->dma2 = ok ? dma_new(emu, b->rcc, 2, dma2_irq) : NULL;
    b->spi1 = ok && b->dma2 ? spi_new(emu, b->rcc, b->gpio[0], b->gpio[4], b->dma2) : NULL;
    if (!ok || !b->usart1 || !b->dma1 || !b->dma2 || !b->spi1) {
        return -1; /* emu_free frees the board */
    }
    emu_periph_t list[] = {rcc_periph(b->rcc),
                           flashif_periph(b->flash),
                           iwdg_periph(b->iwdg),
                           exti_periph(b->exti),
                           syscfg_periph(b->exti, b->rcc),
                           usart_periph(b->usart1),
                           dma_periph(b->dma1),
                           dma_periph(b->dma2),
                           spi_periph(b->spi1),
                           pwr_periph(b->rcc)};
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
        if (emu_add_periph(emu, &list[i]) != 0) {
            return -1;
        }
    }
    for (int i = 0; i < GPIO_PORTS; i++) {
        emu_periph_t g = gpio_periph(b->gpio[i], b->rcc);
        if (emu_add_periph(emu, &g) != 0 || rcc_on_reset_bit(b->rcc, RCC_AHB1RSTR, 1u << i, &g) != 0) {
            return -1;
        }
    }
    /* Peripheral resets through RCC (RM0090 §7.3.5, §7.3.9). */
    int bad = rcc_on_reset_bit(b->rcc, RCC_APB2RSTR, 1u << 12, &list[8]) ||
              rcc_on_reset_bit(b->rcc, RCC_APB2RSTR, 1u << 4, &list[5]) ||
              rcc_on_reset_bit(b->rcc, RCC_APB2RSTR, 1u << 14, &list[4]) ||
              rcc_on_reset_bit(b->rcc, RCC_AHB1RSTR, 1u << 22, &list[7]) ||
              rcc_on_reset_bit(b->rcc, RCC_AHB1RSTR, 1u << 21, &list[6]);
    return bad ? -1 : 0;
}
