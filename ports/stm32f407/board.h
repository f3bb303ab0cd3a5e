/* The STM32F407 board support shared by the bootloader and the example application: flash
 * driver, USART1 log (PA9, 115200 8N1 at the 16 MHz HSI), the Discovery LEDs (PD12 green, PD13
 * orange, PD14 red, PD15 blue), the independent watchdog, the reset cause and the jump. */
#ifndef FOTA_BOARD_F407_H
#define FOTA_BOARD_F407_H

#include <stdint.h>

#include "fota/boot.h"
#include "fota/flash.h"

void board_init(void);
void board_puts(const char *s); /* bounded wait per character: a dead USART never hangs us */
void board_log_line(const char *line);
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

#endif
