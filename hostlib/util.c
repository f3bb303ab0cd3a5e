/* File, number and error helpers for the `fota` tool. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fota/hostlib.h"

static const char *program = "fota";

void fota_set_program(const char *name)
{
    program = name;
}

void fota_err(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", program);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int fota_read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fota_err("cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fota_err("'%s' is not a regular file", path);
        fclose(f);
        return -1;
    }
    if ((uint64_t)st.st_size > max) {
        fota_err("'%s' is %lld bytes, more than the %zu this command accepts", path, (long long)st.st_size, max);
        fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL) {
        fota_err("out of memory reading '%s'", path);
        fclose(f);
        return -1;
    }
    if (n > 0 && fread(buf, 1, n, f) != n) {
        fota_err("cannot read '%s': %s", path, ferror(f) ? strerror(errno) : "short read");
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 0;
}

int fota_write_file(const char *path, const uint8_t *data, size_t len, int mode)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL) {
        fota_err("out of memory");
        return -1;
    }
    snprintf(tmp, plen + 16, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        fota_err("cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0) {
        ok = 0;
        saved = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok) {
            saved = errno;
        }
        fota_err("cannot write '%s': %s", path, strerror(saved));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

layout_bank_t fota_parse_bank(const char *s)
{
    if (s != NULL && s[0] != '\0' && s[1] == '\0') {
        if (s[0] == 'a' || s[0] == 'A') {
            return LAYOUT_BANK_A;
        }
        if (s[0] == 'b' || s[0] == 'B') {
            return LAYOUT_BANK_B;
        }
    }
    return LAYOUT_BANK_NONE;
}

int fota_parse_u32(const char *s, uint32_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > 0xFFFFFFFFull) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

void fota_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

int fota_bad_option(const char *cmd, int c, int optopt_val, char **argv, int optind_val)
{
    const char *arg = argv[optind_val - 1];
    if (c == ':') {
        fota_err("%s: option '%s' needs a value (see 'fota %s --help')", cmd, arg, cmd);
    } else if (optopt_val != 0) {
        fota_err("%s: unknown option '-%c' (see 'fota %s --help')", cmd, optopt_val, cmd);
    } else {
        fota_err("%s: unknown option '%s' (see 'fota %s --help')", cmd, arg, cmd);
    }
    return EXIT_USAGE;
}
