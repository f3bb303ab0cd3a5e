/* ARM semihosting for the test-only probes (QEMU runs them with -semihosting): one call, console
 * output, and an exit status the emulator exits with. On a board without a debugger the
 * semihosting breakpoint faults. */
#ifndef FOTA_PROBE_SEMIHOST_H
#define FOTA_PROBE_SEMIHOST_H

#include <stdarg.h>
#include <stdint.h>

#include "fota/fmt.h"

static inline void semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
}

/* SYS_WRITE0: a NUL-terminated string to the host's console. */
static inline void semihost_puts(const char *s)
{
    semihost_call(0x04u, s);
}

/* SYS_EXIT_EXTENDED with ADP_Stopped_ApplicationExit and the exit code. */
static inline void semihost_exit(uint32_t code)
{
    uint32_t block[2] = {0x20026u, code};
    semihost_call(0x20u, block);
}

/* printf-like (fota/fmt.h's subset) to the host's console, a line at most 119 characters. */
static inline void semihost_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void semihost_say(const char *fmt, ...)
{
    char line[120];
    va_list ap;
    va_start(ap, fmt);
    fmt_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    semihost_puts(line);
}

#endif
