/* fota-server request helpers: see fota/srv.h. */
#include "fota/srv.h"

#include <arpa/inet.h>
#include <expat.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Reads a decimal number; returns the characters consumed, 0 when there is none or it overflows. */
static int read_num(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        uint64_t d = (uint64_t)(s[n] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d; /* saturates: larger than any file */
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
    if (strncasecmp(h, "bytes=", 6) != 0) {
        return SRV_RANGE_NONE; /* another range unit, or none: ignored (RFC 9110 §14.2) */
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

/* The S3 listing, read with expat: entities decoded (S3 sends ETags as &quot;...&quot; and keys
 * with &amp;), namespaces ignored, nothing read past len. */
typedef struct {
    int depth, root_ok, bad;
    int in_contents, field; /* field: 1 Key, 2 ETag, 3 IsTruncated, 4 NextContinuationToken */
    srv_s3_object_t cur;
    int have_key, have_etag;
    char text[1024];
    size_t text_len;
    srv_s3_object_t *out;
    int cap, n;
    int truncated;
    char token[1024];
} list_t;

static const char *local_name(const char *name)
{
    const char *sep = strrchr(name, '|'); /* expat's namespace separator below */
    return sep != NULL ? sep + 1 : name;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    list_t *l = ud;
    const char *n = local_name(name);
    l->depth++;
    l->text_len = 0;
    l->field = 0;
    if (l->depth == 1) {
        l->root_ok = strcmp(n, "ListBucketResult") == 0;
    } else if (l->depth == 2 && strcmp(n, "Contents") == 0) {
        l->in_contents = 1;
        l->have_key = l->have_etag = 0;
    } else if (l->depth == 3 && l->in_contents) {
        l->field = strcmp(n, "Key") == 0 ? 1 : strcmp(n, "ETag") == 0 ? 2 : 0;
    } else if (l->depth == 2) {
        l->field = strcmp(n, "IsTruncated") == 0 ? 3 : strcmp(n, "NextContinuationToken") == 0 ? 4 : 0;
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *t, int len)
{
    list_t *l = ud;
    if (l->field == 0) {
        return;
    }
    if (l->text_len + (size_t)len >= sizeof(l->text)) {
        l->bad = 1;
        return;
    }
    memcpy(l->text + l->text_len, t, (size_t)len);
    l->text_len += (size_t)len;
}

static int take(char *dst, size_t cap, const list_t *l)
{
    if (l->text_len >= cap) {
        return -1;
    }
    memcpy(dst, l->text, l->text_len);
    dst[l->text_len] = '\0';
    return 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    list_t *l = ud;
    if (l->field == 1) {
        l->bad |= take(l->cur.key, sizeof(l->cur.key), l) != 0;
        l->have_key = 1;
    } else if (l->field == 2) {
        l->bad |= take(l->cur.etag, sizeof(l->cur.etag), l) != 0;
        l->have_etag = 1;
    } else if (l->field == 3) {
        l->truncated = l->text_len == 4 && memcmp(l->text, "true", 4) == 0;
    } else if (l->field == 4) {
        l->bad |= take(l->token, sizeof(l->token), l) != 0;
    } else if (l->depth == 2 && l->in_contents) {
        if (!l->have_key || !l->have_etag) {
            l->bad = 1;
        } else if (l->n < l->cap) {
            l->out[l->n] = l->cur;
        }
        l->n += l->have_key && l->have_etag;
        l->in_contents = 0;
    }
    l->field = 0;
    l->text_len = 0;
    l->depth--;
}

static int list_read(const char *xml, size_t len, list_t *l)
{
    if (len > INT32_MAX) {
        return -1;
    }
    XML_Parser p = XML_ParserCreateNS(NULL, '|');
    if (p == NULL) {
        return -1;
    }
    XML_SetUserData(p, l);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    int ok = XML_Parse(p, xml, (int)len, 1) == XML_STATUS_OK;
    XML_ParserFree(p);
    return ok && l->root_ok && !l->bad ? 0 : -1;
}

int srv_s3_list_parse(const char *xml, size_t len, srv_s3_object_t *out, int cap)
{
    list_t l;
    memset(&l, 0, sizeof(l));
    l.out = out;
    l.cap = cap;
    return list_read(xml, len, &l) == 0 ? l.n : -1;
}

int srv_s3_list_next(const char *xml, size_t len, char *token, size_t cap)
{
    list_t l;
    memset(&l, 0, sizeof(l));
    if (list_read(xml, len, &l) != 0) {
        return -1;
    }
    if (!l.truncated) {
        return 0;
    }
    size_t n = strlen(l.token);
    if (n == 0 || n >= cap) {
        return -1;
    }
    memcpy(token, l.token, n + 1);
    return 1;
}

int srv_parse_listen(const char *arg, uint32_t default_port, struct sockaddr_storage *out, char *where, size_t cap)
{
    char host[64];
    const char *port_text;
    memset(out, 0, sizeof(*out));
    if (arg == NULL) {
        snprintf(host, sizeof(host), "127.0.0.1");
        port_text = NULL;
    } else if (arg[0] == '[') {
        const char *end = strchr(arg, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - arg - 1) >= sizeof(host) || end == arg + 1) {
            return -1;
        }
        memcpy(host, arg + 1, (size_t)(end - arg - 1));
        host[end - arg - 1] = '\0';
        port_text = end + 2;
    } else {
        const char *colon = strrchr(arg, ':');
        if (colon == NULL || colon == arg || (size_t)(colon - arg) >= sizeof(host) || strchr(arg, ':') != colon) {
            return -1;
        }
        memcpy(host, arg, (size_t)(colon - arg));
        host[colon - arg] = '\0';
        port_text = colon + 1;
    }
    unsigned long port = default_port;
    if (port_text != NULL) {
        char *e = NULL;
        if (*port_text < '0' || *port_text > '9') {
            return -1;
        }
        port = strtoul(port_text, &e, 10);
        if (*e != '\0' || port_text[0] == '0') {
            return -1;
        }
    }
    if (port == 0 || port > 65535) {
        return -1;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    int bracketed = arg != NULL && arg[0] == '[';
    if (!bracketed && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        snprintf(where, cap, "%s:%lu", host, port);
    } else if (bracketed && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        snprintf(where, cap, "[%s]:%lu", host, port);
    } else {
        return -1;
    }
    return 0;
}

int srv_valid_utf8(const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= n) {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0; /* overlong, beyond Unicode, or a surrogate */
        }
        i += n + 1;
    }
    return 1;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

size_t srv_unescape(char *s)
{
    size_t r = 0, w = 0;
    while (s[r] != '\0') {
        int hi, lo;
        if (s[r] == '%' && (hi = hexval(s[r + 1])) >= 0 && (lo = hexval(s[r + 2])) >= 0 && (hi | lo) != 0) {
            s[w++] = (char)(hi * 16 + lo);
            r += 3;
        } else {
            s[w++] = s[r++]; /* %00 stays as it is: a NUL would cut the path short */
        }
    }
    s[w] = '\0';
    return w;
}

int srv_is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) {
            return 0;
        }
    }
    return n == 64;
}

int srv_is_patch_name(const char *s)
{
    char hex[65];
    if (strlen(s) != 64 + 6 || strcmp(s + 64, ".patch") != 0) {
        return 0;
    }
    memcpy(hex, s, 64);
    hex[64] = '\0';
    return srv_is_sha256_hex(hex);
}
