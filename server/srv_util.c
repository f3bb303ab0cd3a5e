/* fota-server request helpers: see fota/srv.h. */
#include "fota/srv.h"

#include <string.h>

/* Reads a decimal number; returns the characters consumed, 0 when there is none or it overflows. */
static int read_num(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        uint64_t d = (uint64_t)(s[n] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
        n++;
    }
    *out = v;
    return n;
}

srv_range_t srv_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (h == NULL) {
        return SRV_RANGE_NONE;
    }
    if (strncmp(h, "bytes=", 6) != 0) {
        return SRV_RANGE_MALFORMED;
    }
    h += 6;
    if (strchr(h, ',') != NULL) {
        return SRV_RANGE_NONE; /* several ranges: the whole resource is a valid answer */
    }
    uint64_t a = 0, b = 0;
    int na = read_num(h, &a);
    if (h[na] != '-') {
        return SRV_RANGE_MALFORMED;
    }
    int nb = read_num(h + na + 1, &b);
    if (h[na + 1 + nb] != '\0' || (na == 0 && nb == 0)) {
        return SRV_RANGE_MALFORMED;
    }
    if (na == 0) { /* suffix: the last b bytes */
        if (b == 0 || size == 0) {
            return SRV_RANGE_UNSATISFIABLE;
        }
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return SRV_RANGE_OK;
    }
    if (nb == 0) {
        b = size ? size - 1 : 0;
    } else if (b < a) {
        return SRV_RANGE_MALFORMED;
    }
    if (a >= size) {
        return SRV_RANGE_UNSATISFIABLE;
    }
    *first = a;
    *last = b >= size ? size - 1 : b;
    return SRV_RANGE_OK;
}

int srv_valid_device_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-')) {
            return 0;
        }
    }
    return 1;
}
