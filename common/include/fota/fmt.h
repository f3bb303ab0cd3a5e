/* A small formatter for log lines on the device, where newlib's printf costs kilobytes.
 * Supports %s, %c, %u, %x, %X, %%, and a zero-padded width for %u/%x (e.g. %08x). Always
 * NUL-terminates; returns the number of characters written (truncated output is cut short). */
#ifndef FOTA_FMT_H
#define FOTA_FMT_H

#include <stdarg.h>
#include <stddef.h>

size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap);
size_t fmt_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
