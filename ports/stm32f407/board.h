/* The STM32F407 board support shared by the bootloader and the example application: clock (168 MHz
 * from HSE), flash driver, USART1 log (TX on PB6, 115200 8N1), the Discovery LEDs (PD12 green, PD13
 * orange, PD14 red, PD15 blue), the independent watchdog, the reset cause and the jump. */
#ifndef FOTA_BOARD_F407_H
#define FOTA_BOARD_F407_H

#include <stdint.h>

#include "fota/boot.h"
#include "fota/flash.h"
#include "fota/layout.h"

typedef enum {
    BOARD_CLOCK_HSI = 0,      /* the reset clock, before board_init */
    BOARD_CLOCK_PLL,          /* 168 MHz, set up here */
    BOARD_CLOCK_PLL_KEPT,     /* 168 MHz, found running (the bootloader set it up) */
    BOARD_CLOCK_HSI_NO_HSE,   /* 16 MHz: HSERDY did not come within 10 ms */
    BOARD_CLOCK_HSI_NO_PLL,   /* 16 MHz: PLLRDY did not come, or the switch did not take */
} board_clock_t;

/* Clock (168 MHz, or HSI on failure), USART1, LEDs. */
void board_init(void);
board_clock_t board_clock(void);
uint32_t board_hclk(void);
const char *board_clock_text(board_clock_t c);
void board_puts(const char *s); /* bounded wait per character: a dead USART never hangs us */
void board_log_line(const char *line);
/* One formatted line (fota/fmt.h's formats, at most 119 characters), as board_log_line. */
void board_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void board_log_async(void); /* from now on the log is sent by interrupt (see board.c) */
void board_log_flush(void); /* waits until the log has left (bounded); board_reset and board_jump call it */
void board_led(boot_led_t led, int on);
void board_led_toggle(boot_led_t led);
void board_delay_ms(uint32_t ms);
void board_watchdog_start(void);
void board_watchdog_kick(void);
boot_reset_t board_reset_cause(void);
void board_jump(uint32_t vector_table) __attribute__((noreturn));
void board_set_vtor(uint32_t vector_table);
uint32_t board_pc(void);
void board_reset(void) __attribute__((noreturn)); /* SYSRESETREQ */

/* The flash port over the F407 flash controller (RM0090 §3.6). */
flash_port_t board_flash_port(void);
/* Whether the option bytes write-protect sectors 0-1, the bootloader's (FLASH_OPTCR.nWRP). */
int board_boot_sectors_protected(void);
/* Write-protects sectors 0-1 through the option bytes (RM0090 §3.6.4: OPTKEYR, OPTCR with nWRP0-1
 * cleared and every other option byte as it is, RDP included, OPTSTRT, wait for BSY), then checks
 * that OPTCR reads them protected. FLASH_OK when they are (at once if they already were). */
flash_err_t board_protect_boot_sectors(void);
/* The OTP area (0x1FFF7800-0x1FFF7A0F, RM0090 §3.7) as a flash port: read, and program of erased
 * words through the controller (a block whose lock byte is 0x00 is refused); never erased. */
flash_port_t board_otp_port(void);
/* The same for the application running from bank running: sectors 0-1 and that bank refused. */
flash_port_t board_flash_port_app(layout_bank_t running);

#endif
