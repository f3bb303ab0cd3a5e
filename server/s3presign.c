/* Presigned S3 GET URLs: see fota/s3presign.h. The steps are those of AWS's "Authenticating
 * Requests: Using Query Parameters (AWS Signature Version 4)": canonical request, string to sign,
 * the signing key derived from the secret by four HMAC-SHA256, the signature. */
#include "fota/s3presign.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mbedtls/md.h"
#include "mbedtls/sha256.h"

typedef struct {
    char *p;
    size_t len, cap;
    int overflow;
} sbuf_t;

static void put(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = b->overflow ? -1 : vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->overflow = 1;
    } else {
        b->len += (size_t)n;
    }
}

/* Percent-encodes s (n bytes) as SigV4 asks: unreserved characters stay, and '/' too when keep_slash. */
static void put_enc(sbuf_t *b, const char *s, size_t n, int keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~' || (c == '/' && keep_slash)) {
            put(b, "%c", c);
        } else {
            put(b, "%%%02X", c);
        }
    }
}

int s3_uri_encode(const char *s, char *out, size_t cap)
{
    sbuf_t b = {out, 0, cap, 0};
    if (cap == 0) {
        return -1;
    }
    out[0] = '\0';
    put_enc(&b, s, strlen(s), 1);
    return b.overflow ? -1 : 0;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

static int hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    return mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, klen, (const unsigned char *)msg,
                           strlen(msg), out);
}

int s3_presign_get(const s3_presign_cfg_t *cfg, const char *path, time_t now, uint32_t expires, char *out, size_t cap)
{
    if (cfg == NULL || cfg->base == NULL || cfg->region == NULL || cfg->access_key == NULL || cfg->secret_key == NULL ||
        path == NULL || out == NULL || cap == 0 || expires < 1 || expires > 604800 || cfg->region[0] == '\0' ||
        cfg->access_key[0] == '\0' || cfg->secret_key[0] == '\0' || path[0] != '/') {
        return -1;
    }
    size_t scheme = strncmp(cfg->base, "https://", 8) == 0 ? 8 : strncmp(cfg->base, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0) {
        return -1;
    }
    const char *host = cfg->base + scheme;
    size_t host_len = strcspn(host, "/?#");
    const char *base_path = host + host_len;
    size_t base_path_len = strcspn(base_path, "?#");
    if (host_len == 0 || base_path[base_path_len] != '\0') {
        return -1;
    }
    while (base_path_len > 0 && base_path[base_path_len - 1] == '/') {
        base_path_len--;
    }
    /* The Host header a client sends: without the scheme's default port (left out of the URL too). */
    const char *dflt = scheme == 8 ? ":443" : ":80";
    size_t signed_host_len = host_len;
    if (host_len > strlen(dflt) && strncmp(host + host_len - strlen(dflt), dflt, strlen(dflt)) == 0) {
        signed_host_len -= strlen(dflt);
    }
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL) {
        return -1;
    }
    char amzdate[20], day[12];
    if (strftime(amzdate, sizeof(amzdate), "%Y%m%dT%H%M%SZ", &tm) != 16 ||
        strftime(day, sizeof(day), "%Y%m%d", &tm) != 8) {
        return -1;
    }
    char scope[128];
    if ((size_t)snprintf(scope, sizeof(scope), "%s/%s/s3/aws4_request", day, cfg->region) >= sizeof(scope)) {
        return -1;
    }

    /* The canonical URI and query, which are also the URL's. */
    char uri_mem[2048], query_mem[4096];
    sbuf_t uri = {uri_mem, 0, sizeof(uri_mem), 0}, q = {query_mem, 0, sizeof(query_mem), 0};
    put_enc(&uri, base_path, base_path_len, 1);
    put_enc(&uri, path, strlen(path), 1);
    put(&q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
    put_enc(&q, cfg->access_key, strlen(cfg->access_key), 0);
    put(&q, "%%2F");
    put_enc(&q, scope, strlen(scope), 0);
    put(&q, "&X-Amz-Date=%s&X-Amz-Expires=%u", amzdate, (unsigned)expires);
    if (cfg->session_token != NULL && cfg->session_token[0] != '\0') {
        put(&q, "&X-Amz-Security-Token=");
        put_enc(&q, cfg->session_token, strlen(cfg->session_token), 0);
    }
    put(&q, "&X-Amz-SignedHeaders=host");
    if (uri.overflow || q.overflow) {
        return -1;
    }

    char creq_mem[8192];
    sbuf_t creq = {creq_mem, 0, sizeof(creq_mem), 0};
    put(&creq, "GET\n%s\n%s\nhost:%.*s\n\nhost\nUNSIGNED-PAYLOAD", uri_mem, query_mem, (int)signed_host_len, host);
    unsigned char d[32];
    if (creq.overflow || mbedtls_sha256((const unsigned char *)creq_mem, creq.len, d, 0) != 0) {
        return -1;
    }
    char creq_hex[65], sts[256];
    hex(d, 32, creq_hex);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate, scope, creq_hex);

    char k0[300];
    if ((size_t)snprintf(k0, sizeof(k0), "AWS4%s", cfg->secret_key) >= sizeof(k0)) {
        return -1;
    }
    unsigned char k[32], sig[32];
    int rc = hmac((const unsigned char *)k0, strlen(k0), day, k);
    rc = rc ? rc : hmac(k, 32, cfg->region, k);
    rc = rc ? rc : hmac(k, 32, "s3", k);
    rc = rc ? rc : hmac(k, 32, "aws4_request", k);
    rc = rc ? rc : hmac(k, 32, sts, sig);
    memset(k0, 0, sizeof(k0));
    memset(k, 0, sizeof(k));
    if (rc != 0) {
        return -1;
    }
    char sig_hex[65];
    hex(sig, 32, sig_hex);
    sbuf_t o = {out, 0, cap, 0};
    put(&o, "%.*s%.*s%s?%s&X-Amz-Signature=%s", (int)scheme, cfg->base, (int)signed_host_len, host, uri_mem, query_mem,
        sig_hex);
    return o.overflow ? -1 : 0;
}
