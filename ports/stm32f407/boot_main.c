/* The STM32F407 bootloader: the portable core over this board's port. */
#include "board.h"
#include "fota/boot.h"
#include "fota/layout.h"
#include "fota/trusted_key.h"
#include "regs.h"

/* Whether anything answers at the OTP area. Every F407 has it; QEMU's netduinoplus2 maps nothing
 * there and answers a bus fault, which would stop the boot. So the first read is a probe: a fault
 * on exactly that load, at that address, while probing, is noted and stepped over (the 16-bit load
 * below) by the HardFault handler; any other fault stops as before. */
static volatile int otp_probing, otp_missing;

static int otp_answers(void)
{
    const volatile uint32_t *p = (const volatile uint32_t *)(uintptr_t)LAYOUT_OTP_BASE;
    uint32_t v;
    otp_probing = 1;
    __asm__ volatile("ldr.n %0, [%1]" : "=l"(v) : "l"(p) : "memory");
    otp_probing = 0;
    (void)v;
    return !otp_missing;
}

void hardfault_c(uint32_t *frame); /* called by startup.c's HardFault_Handler */
void hardfault_c(uint32_t *frame)
{
    uint32_t cfsr = SCB_CFSR;
    if (otp_probing && (cfsr & (SCB_CFSR_PRECISERR | SCB_CFSR_BFARVALID)) == (SCB_CFSR_PRECISERR | SCB_CFSR_BFARVALID) &&
        SCB_BFAR == LAYOUT_OTP_BASE) {
        otp_missing = 1;
        SCB_CFSR = cfsr; /* write 1 to clear */
        SCB_HFSR = SCB_HFSR;
        frame[6] += 2u; /* the ldr.n */
        return;
    }
    for (;;) {
    }
}

static void p_log(void *ctx, const char *line)
{
    (void)ctx;
    board_log_line(line);
}

static void p_led(void *ctx, boot_led_t led, int on)
{
    (void)ctx;
    board_led(led, on);
}

static void p_watchdog(void *ctx)
{
    (void)ctx;
    board_watchdog_start();
}

static boot_reset_t p_reset_cause(void *ctx)
{
    (void)ctx;
    return board_reset_cause();
}

static void p_jump(void *ctx, uint32_t vector_table)
{
    (void)ctx;
    board_jump(vector_table);
}

/* The seed's error indication: fast red blink, forever (a reset or a new image ends it). */
static void p_halt(void *ctx)
{
    (void)ctx;
    board_log_line("boot: halted: fast red blink");
    board_log_flush(); /* no jump will flush it */
    for (;;) {
        board_led_toggle(BOOT_LED_RED);
        board_delay_ms(100);
    }
}

int main(void)
{
    board_init();
    board_log_async(); /* the log leaves while the images are verified */
    board_puts("boot: clock ");
    board_log_line(board_clock_text(board_clock()));
    /* Sectors 0-1 (this bootloader) write-protected by the option bytes: set on the first boot,
     * checked, and set again if something cleared them, on every boot (docs/hardware.md, "Write
     * protection"). */
    if (!board_boot_sectors_protected()) {
        board_log_line("boot: write-protecting sectors 0-1 (option bytes nWRP0-1)");
        flash_err_t we = board_protect_boot_sectors();
        if (we != FLASH_OK) {
            board_puts("boot: sectors 0-1 not write-protected: ");
            board_log_line(flash_strerror(we));
        }
    }
    const flash_port_t otp = board_otp_port(); /* main never returns: it lives as long as port */
    int have_otp = otp_answers();
    if (!have_otp) {
        board_log_line("boot: nothing answers at the OTP area (not an F407: QEMU?): security counter in the metadata only");
    }
    boot_port_t port = {
        .flash = board_flash_port(),
        .log = p_log,
        .led = p_led,
        .watchdog_start = p_watchdog,
        .reset_cause = p_reset_cause,
        .jump = p_jump,
        .halt_error = p_halt,
        .ctx = 0,
        .otp = have_otp ? &otp : NULL,
    };
    boot_decision_t d;
    boot_run(&port, fota_trusted_pubkey, &d);
    for (;;) {
    }
}
