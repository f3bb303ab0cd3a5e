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

/* The first occurrence of needle in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    for (; p + n <= end; p++) {
        if (memcmp(p, needle, n) == 0) {
            return p;
        }
    }
    return NULL;
}

/* Copies the text between <tag> and </tag> inside [p, end) into out; -1 when absent or too long. */
static int element(const char *p, const char *end, const char *open, const char *close, char *out, size_t cap)
{
    const char *a = find(p, end, open);
    if (a == NULL) {
        return -1;
    }
    a += strlen(open);
    const char *b = find(a, end, close);
    if (b == NULL || (size_t)(b - a) >= cap) {
        return -1;
    }
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    return 0;
}

int srv_s3_list_parse(const char *xml, size_t len, srv_s3_object_t *out, int cap)
{
    const char *end = xml + len;
    if (find(xml, end, "<ListBucketResult") == NULL) {
        return -1;
    }
    int n = 0;
    const char *p = xml;
    for (;;) {
        const char *a = find(p, end, "<Contents>");
        if (a == NULL) {
            return n;
        }
        const char *b = find(a, end, "</Contents>");
        if (b == NULL) {
            return -1;
        }
        srv_s3_object_t o;
        if (element(a, b, "<Key>", "</Key>", o.key, sizeof(o.key)) != 0 ||
            element(a, b, "<ETag>", "</ETag>", o.etag, sizeof(o.etag)) != 0) {
            return -1;
        }
        if (n < cap) {
            out[n] = o;
        }
        n++;
        p = b + strlen("</Contents>");
    }
}

int srv_s3_list_next(const char *xml, size_t len, char *token, size_t cap)
{
    const char *end = xml + len;
    if (find(xml, end, "<IsTruncated>true</IsTruncated>") == NULL) {
        return 0;
    }
    return element(xml, end, "<NextContinuationToken>", "</NextContinuationToken>", token, cap) == 0 && token[0]
               ? 1
               : -1;
}
