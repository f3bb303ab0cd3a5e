/* Minimal formatter: see fota/fmt.h. */
#include "fota/fmt.h"

#include <stdint.h>

static void put(char *buf, size_t size, size_t *n, char c)
{
    if (*n + 1 < size) {
        buf[*n] = c;
    }
    (*n)++;
}

static void put_num(char *buf, size_t size, size_t *n, uint32_t v, unsigned base, int width, int upper)
{
    char tmp[10];
    int len = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[len++] = digits[v % base];
        v /= base;
    } while (v != 0);
    for (int i = len; i < width; i++) {
        put(buf, size, n, '0');
    }
    while (len > 0) {
        put(buf, size, n, tmp[--len]);
    }
}

size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    size_t n = 0;
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%') {
            put(buf, size, &n, *p);
            continue;
        }
        p++;
        int width = 0;
        while (*p >= '0' && *p <= '9') {
            width = width * 10 + (*p++ - '0');
        }
        switch (*p) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (s != NULL && *s != '\0') {
                put(buf, size, &n, *s++);
            }
            break;
        }
        case 'c':
            put(buf, size, &n, (char)va_arg(ap, int));
            break;
        case 'u':
            put_num(buf, size, &n, va_arg(ap, unsigned), 10, width, 0);
            break;
        case 'x':
        case 'X':
            put_num(buf, size, &n, va_arg(ap, unsigned), 16, width, *p == 'X');
            break;
        case '%':
            put(buf, size, &n, '%');
            break;
        case '\0':
            p--;
            break;
        default:
            put(buf, size, &n, '?');
            break;
        }
    }
    if (size > 0) {
        buf[n < size ? n : size - 1] = '\0';
    }
    return n < size ? n : (size ? size - 1 : 0);
}

size_t fmt_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = fmt_vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
