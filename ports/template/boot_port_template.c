/* Template for a new bootloader port: copy it to ports/<board>/, fill every function, and link it
 * with boot/boot.c and the core. Each hook's duty is written beside it; none may block without a
 * bound. See ports/stm32f407/ for a complete port and sim/ for the simulator's. */
#include "fota/boot.h"
#include "fota/trusted_key.h"

/* Read len bytes at an absolute flash address. */
static flash_err_t t_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    (void)ctx, (void)addr, (void)buf, (void)len;
    return FLASH_ERR_HARDWARE; /* TODO(port) */
}

/* Erase one sector (index into layout_sectors[]); return only when done or failed. */
static flash_err_t t_erase(void *ctx, int sector)
{
    (void)ctx, (void)sector;
    return FLASH_ERR_HARDWARE; /* TODO(port) */
}

/* Program whole words at a word-aligned address; report alignment and not-erased errors. */
static flash_err_t t_program(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    (void)ctx, (void)addr, (void)data, (void)len;
    return FLASH_ERR_HARDWARE; /* TODO(port) */
}

static void t_log(void *ctx, const char *line) { (void)ctx, (void)line; /* one line to the console */ }
static void t_led(void *ctx, boot_led_t led, int on) { (void)ctx, (void)led, (void)on; }
static void t_watchdog(void *ctx) { (void)ctx; /* start an independent watchdog (cannot be stopped) */ }
static boot_reset_t t_reset_cause(void *ctx) { (void)ctx; return BOOT_RESET_OTHER; }
static void t_jump(void *ctx, uint32_t vt) { (void)ctx, (void)vt; /* IRQs off, SysTick off, NVIC clear, VTOR, MSP, branch */ }
static void t_halt(void *ctx) { (void)ctx; /* no valid image: signal it forever */ }

int main(void);
int main(void)
{
    boot_port_t port = {{t_read, t_erase, t_program, 0}, t_log, t_led, t_watchdog, t_reset_cause, t_jump, t_halt, 0};
    boot_decision_t d;
    boot_run(&port, fota_trusted_pubkey, &d);
    for (;;) {
    }
}
