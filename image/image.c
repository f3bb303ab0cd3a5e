/* Signed image parser and verifier: one implementation for every part of the system.
 * Every size from the image is checked against a bound before it indexes or loops. */
#include "fota/image.h"

#include <stdio.h>
#include <string.h>

#include "fota/le.h"

/* Field offsets in the encoded header (little endian). */
enum {
    H_MAGIC = 0,       /* u32 IMG_MAGIC */
    H_FORMAT = 4,      /* u16 IMG_FORMAT_VERSION */
    H_HDR_SIZE = 6,    /* u16 bytes */
    H_PAYLOAD = 8,     /* u32 bytes */
    H_TRAILER = 12,    /* u32 bytes */
    H_VER_MAJOR = 16,  /* u8 */
    H_VER_MINOR = 17,  /* u8 */
    H_VER_PATCH = 18,  /* u16 */
    H_VER_BUILD = 20,  /* u32 */
    H_SEC_CNT = 24,    /* u32 */
    H_BANK = 28,       /* u8 layout_bank_t */
    H_RSVD0 = 29,      /* 3 bytes, zero */
    H_LOAD_ADDR = 32,  /* u32 absolute address */
    H_FLAGS = 36,      /* u32 */
    H_RSVD1 = 40,      /* 24 bytes, zero */
    H_END = 64,
};
_Static_assert(H_END == IMG_HEADER_FIELDS_SIZE, "header field table and IMG_HEADER_FIELDS_SIZE disagree");
_Static_assert(IMG_HEADER_FIELDS_SIZE <= IMG_HEADER_SIZE, "header fields exceed the header");
_Static_assert(FOTA_IMG_TRAILER_MAX <= 0xFFFF, "trailer length is a u16 on flash");
_Static_assert(FOTA_IMG_TRAILER_MAX >= IMG_TLV_INFO_SIZE + 3 * IMG_TLV_HDR_SIZE + 2 * CRYPTO_SHA256_SIZE +
                                           CRYPTO_P256_SIG_SIZE,
               "FOTA_IMG_TRAILER_MAX cannot hold a signed trailer");

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

uint32_t img_total_size(const img_header_t *hdr)
{
    /* Bounded by decode: each term is at most LAYOUT_BANK_SIZE, so no overflow. */
    return (uint32_t)hdr->hdr_size + hdr->payload_size + hdr->trailer_size;
}

img_err_t img_header_decode(const uint8_t buf[IMG_HEADER_FIELDS_SIZE], img_header_t *hdr)
{
    img_header_t h;
    h.magic = le_get32(buf + H_MAGIC);
    h.format = le_get16(buf + H_FORMAT);
    h.hdr_size = le_get16(buf + H_HDR_SIZE);
    h.payload_size = le_get32(buf + H_PAYLOAD);
    h.trailer_size = le_get32(buf + H_TRAILER);
    h.version.major = buf[H_VER_MAJOR];
    h.version.minor = buf[H_VER_MINOR];
    h.version.patch = le_get16(buf + H_VER_PATCH);
    h.version.build = le_get32(buf + H_VER_BUILD);
    h.security_counter = le_get32(buf + H_SEC_CNT);
    h.bank = buf[H_BANK];
    h.load_addr = le_get32(buf + H_LOAD_ADDR);
    h.flags = le_get32(buf + H_FLAGS);

    if (h.magic != IMG_MAGIC) {
        return IMG_ERR_MAGIC;
    }
    if (h.format != IMG_FORMAT_VERSION) {
        return IMG_ERR_FORMAT;
    }
    if (h.hdr_size != IMG_HEADER_SIZE || !all_zero(buf + H_RSVD0, 3) || !all_zero(buf + H_RSVD1, H_END - H_RSVD1) ||
        (h.flags & ~IMG_FLAGS_KNOWN) != 0) {
        return IMG_ERR_HEADER;
    }
    if ((h.bank != LAYOUT_BANK_A && h.bank != LAYOUT_BANK_B) ||
        h.load_addr != layout_bank_base((layout_bank_t)h.bank) + IMG_HEADER_SIZE) {
        return IMG_ERR_BANK;
    }
    if (h.payload_size < IMG_MIN_PAYLOAD || h.payload_size > LAYOUT_BANK_SIZE ||
        h.trailer_size < IMG_TLV_INFO_SIZE || h.trailer_size > FOTA_IMG_TRAILER_MAX ||
        (uint32_t)h.hdr_size + h.payload_size + h.trailer_size > LAYOUT_BANK_SIZE) {
        return IMG_ERR_SIZE;
    }
    *hdr = h;
    return IMG_OK;
}

void img_header_encode(const img_header_t *hdr, uint8_t buf[IMG_HEADER_SIZE])
{
    memset(buf, 0, IMG_HEADER_FIELDS_SIZE);
    memset(buf + IMG_HEADER_FIELDS_SIZE, LAYOUT_ERASED_BYTE, IMG_HEADER_SIZE - IMG_HEADER_FIELDS_SIZE);
    le_put32(buf + H_MAGIC, hdr->magic);
    le_put16(buf + H_FORMAT, hdr->format);
    le_put16(buf + H_HDR_SIZE, hdr->hdr_size);
    le_put32(buf + H_PAYLOAD, hdr->payload_size);
    le_put32(buf + H_TRAILER, hdr->trailer_size);
    buf[H_VER_MAJOR] = hdr->version.major;
    buf[H_VER_MINOR] = hdr->version.minor;
    le_put16(buf + H_VER_PATCH, hdr->version.patch);
    le_put32(buf + H_VER_BUILD, hdr->version.build);
    le_put32(buf + H_SEC_CNT, hdr->security_counter);
    buf[H_BANK] = hdr->bank;
    le_put32(buf + H_LOAD_ADDR, hdr->load_addr);
    le_put32(buf + H_FLAGS, hdr->flags);
}

img_err_t img_header_check(const img_header_t *hdr, const img_policy_t *policy)
{
    if (policy->bank != LAYOUT_BANK_NONE && hdr->bank != policy->bank) {
        return IMG_ERR_WRONG_BANK;
    }
    if (hdr->security_counter < policy->min_security_counter) {
        return IMG_ERR_ROLLBACK;
    }
    if ((hdr->flags & IMG_FLAG_ENCRYPTED) != 0 && !policy->decrypts) {
        return IMG_ERR_ENCRYPTED;
    }
    return IMG_OK;
}

img_err_t img_trailer_parse(const uint8_t *buf, size_t len, img_trailer_t *out)
{
    img_trailer_t t = {NULL, NULL, NULL, NULL};
    if (len < IMG_TLV_INFO_SIZE || len > FOTA_IMG_TRAILER_MAX) {
        return IMG_ERR_TLV;
    }
    if (le_get16(buf) != IMG_TLV_INFO_MAGIC || le_get16(buf + 2) != len) {
        return IMG_ERR_TLV;
    }
    size_t off = IMG_TLV_INFO_SIZE;
    while (off < len) {
        if (len - off < IMG_TLV_HDR_SIZE) {
            return IMG_ERR_TLV;
        }
        uint16_t type = le_get16(buf + off);
        uint16_t rlen = le_get16(buf + off + 2);
        off += IMG_TLV_HDR_SIZE;
        if (rlen > len - off) {
            return IMG_ERR_TLV;
        }
        const uint8_t *val = buf + off;
        const uint8_t **slot = NULL;
        size_t want = 0;
        switch (type) {
        case IMG_TLV_KEY_ID:
            slot = &t.key_id;
            want = CRYPTO_SHA256_SIZE;
            break;
        case IMG_TLV_SHA256:
            slot = &t.sha256;
            want = CRYPTO_SHA256_SIZE;
            break;
        case IMG_TLV_ECDSA_P256:
            slot = &t.signature;
            want = CRYPTO_P256_SIG_SIZE;
            break;
        case IMG_TLV_ENC_EC256:
            slot = &t.enc;
            want = IMG_ENC_EC256_SIZE;
            break;
        default:
            if ((type & IMG_TLV_IGNORABLE) == 0) {
                return IMG_ERR_TLV_UNKNOWN;
            }
            break;
        }
        if (slot != NULL) {
            if (rlen != want || *slot != NULL) {
                return IMG_ERR_TLV; /* wrong length or a duplicate */
            }
            *slot = val;
        }
        off += rlen;
    }
    if (t.key_id == NULL || t.sha256 == NULL || t.signature == NULL) {
        return IMG_ERR_TLV_MISSING;
    }
    *out = t;
    return IMG_OK;
}

img_err_t img_check_vectors(const img_header_t *hdr, const uint8_t first8[8])
{
    uint32_t sp = le_get32(first8);
    uint32_t reset = le_get32(first8 + 4);
    /* Full-descending stack: the initial SP may equal the end of SRAM but not its base. */
    if (sp <= LAYOUT_SRAM_BASE || sp - LAYOUT_SRAM_BASE > LAYOUT_SRAM_SIZE || (sp & 3u) != 0) {
        return IMG_ERR_VECTORS;
    }
    uint32_t entry = reset & ~1u;
    if ((reset & 1u) == 0 || entry < hdr->load_addr || entry - hdr->load_addr >= hdr->payload_size) {
        return IMG_ERR_VECTORS;
    }
    return IMG_OK;
}

void img_verify_init(img_verify_ctx_t *ctx, const img_policy_t *policy)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->policy = *policy;
    ctx->err = IMG_OK;
    crypto_sha256_start(&ctx->sha);
}

/* Copies the part of [pos, pos+len) that overlaps [lo, lo+n) into dst (indexed from lo). */
static void take_overlap(uint8_t *dst, uint32_t lo, uint32_t n, uint32_t pos, const uint8_t *data, size_t len)
{
    uint32_t start = pos > lo ? pos : lo;
    uint64_t end_data = (uint64_t)pos + len;
    uint64_t end_win = (uint64_t)lo + n;
    uint64_t end = end_data < end_win ? end_data : end_win;
    if (end > start) {
        memcpy(dst + (start - lo), data + (start - pos), (size_t)(end - start));
    }
}

uint32_t img_verify_hashed_end(const img_verify_ctx_t *ctx)
{
    return ctx->have_header ? (uint32_t)ctx->hdr.hdr_size + ctx->hdr.payload_size : 0;
}

img_err_t img_verify_update(img_verify_ctx_t *ctx, const uint8_t *data, size_t len)
{
    if (ctx->err != IMG_OK) {
        return ctx->err;
    }
    while (len > 0) {
        if (!ctx->have_header) {
            size_t n = IMG_HEADER_FIELDS_SIZE - ctx->pos;
            if (n > len) {
                n = len;
            }
            memcpy(ctx->head + ctx->pos, data, n);
            crypto_sha256_update(&ctx->sha, data, n);
            ctx->pos += (uint32_t)n;
            data += n;
            len -= n;
            if (ctx->pos == IMG_HEADER_FIELDS_SIZE) {
                img_err_t e = img_header_decode(ctx->head, &ctx->hdr);
                if (e == IMG_OK) {
                    e = img_header_check(&ctx->hdr, &ctx->policy);
                }
                if (e != IMG_OK) {
                    return ctx->err = e;
                }
                ctx->have_header = 1;
            }
            continue;
        }
        uint32_t hashed_end = (uint32_t)ctx->hdr.hdr_size + ctx->hdr.payload_size;
        uint32_t total = img_total_size(&ctx->hdr);
        if (len > total - ctx->pos) {
            return ctx->err = IMG_ERR_TRAILING;
        }
        /* The header's padding is reserved: 0xFF only, so a later format can give it a meaning
         * that this verifier will never silently accept (docs/image-format.md). */
        for (uint32_t p = ctx->pos; p < ctx->hdr.hdr_size && p - ctx->pos < len; p++) {
            if (data[p - ctx->pos] != LAYOUT_ERASED_BYTE) {
                return ctx->err = IMG_ERR_HEADER;
            }
        }
        take_overlap(ctx->vectors, ctx->hdr.hdr_size, sizeof(ctx->vectors), ctx->pos, data, len);
        take_overlap(ctx->trailer, hashed_end, ctx->hdr.trailer_size, ctx->pos, data, len);
        if (ctx->pos < hashed_end) {
            size_t h = hashed_end - ctx->pos;
            crypto_sha256_update(&ctx->sha, data, h < len ? h : len);
        }
        ctx->pos += (uint32_t)len;
        len = 0;
    }
    return IMG_OK;
}

/* img_check_signer's body, inlined into the verifier (the bootloader does not pay for a call). */
static inline __attribute__((always_inline)) img_err_t check_signer(const uint8_t *pubkey, const img_trailer_t *t,
                                                                    const uint8_t sha256[CRYPTO_SHA256_SIZE])
{
    if (pubkey == NULL) {
        return IMG_ERR_NO_KEY;
    }
    uint8_t key_id[CRYPTO_SHA256_SIZE];
    if (crypto_sha256(pubkey, CRYPTO_P256_PUBKEY_SIZE, key_id) != CRYPTO_OK) {
        return IMG_ERR_CRYPTO;
    }
    if (crypto_memcmp_ct(key_id, t->key_id, sizeof(key_id)) != 0) {
        return IMG_ERR_KEY_ID;
    }
    crypto_err_t ce = crypto_p256_verify(pubkey, sha256, t->signature);
    return ce == CRYPTO_OK ? IMG_OK : ce == CRYPTO_ERR_BAD_SIGNATURE ? IMG_ERR_SIGNATURE : IMG_ERR_CRYPTO;
}

img_err_t img_verify_final(img_verify_ctx_t *ctx, img_header_t *hdr)
{
    if (ctx->err != IMG_OK) {
        return ctx->err;
    }
    if (!ctx->have_header || ctx->pos < img_total_size(&ctx->hdr)) {
        return ctx->err = IMG_ERR_TRUNCATED;
    }
    img_trailer_t t;
    img_err_t e = img_trailer_parse(ctx->trailer, ctx->hdr.trailer_size, &t);
    if (e != IMG_OK) {
        return ctx->err = e;
    }
    /* The wrapped key exactly when the header says the payload travels encrypted. */
    if ((ctx->hdr.flags & IMG_FLAG_ENCRYPTED) != 0 && t.enc == NULL) {
        return ctx->err = IMG_ERR_TLV_MISSING;
    }
    if ((ctx->hdr.flags & IMG_FLAG_ENCRYPTED) == 0 && t.enc != NULL) {
        return ctx->err = IMG_ERR_TLV;
    }
    uint8_t digest[CRYPTO_SHA256_SIZE];
    if (crypto_sha256_finish(&ctx->sha, digest) != CRYPTO_OK) {
        return ctx->err = IMG_ERR_CRYPTO;
    }
    if (crypto_memcmp_ct(digest, t.sha256, sizeof(digest)) != 0) {
        return ctx->err = IMG_ERR_HASH;
    }
    e = img_check_vectors(&ctx->hdr, ctx->vectors);
    if (e != IMG_OK) {
        return ctx->err = e;
    }
    if (hdr != NULL) {
        *hdr = ctx->hdr;
    }
    e = check_signer(ctx->policy.pubkey, &t, digest);
    return e == IMG_OK ? IMG_OK : (ctx->err = e);
}

img_err_t img_check_signer(const uint8_t *pubkey, const img_trailer_t *t, const uint8_t sha256[CRYPTO_SHA256_SIZE])
{
    return check_signer(pubkey, t, sha256);
}

img_err_t img_verify_buffer(const uint8_t *data, size_t len, const img_policy_t *policy, img_header_t *hdr)
{
    img_verify_ctx_t ctx;
    img_verify_init(&ctx, policy);
    img_verify_update(&ctx, data, len);
    return img_verify_final(&ctx, hdr);
}

img_err_t img_verify_read(img_read_fn read, void *rctx, uint32_t region_size, const img_policy_t *policy,
                          img_header_t *hdr)
{
    img_verify_ctx_t ctx;
    uint8_t buf[FOTA_IMG_READ_CHUNK];
    _Static_assert(FOTA_IMG_READ_CHUNK >= IMG_HEADER_FIELDS_SIZE, "read chunk must hold the header fields");

    img_verify_init(&ctx, policy);
    if (region_size < IMG_HEADER_FIELDS_SIZE) {
        return IMG_ERR_TRUNCATED;
    }
    if (read(rctx, 0, buf, IMG_HEADER_FIELDS_SIZE) != 0) {
        return IMG_ERR_READ;
    }
    img_err_t e = img_verify_update(&ctx, buf, IMG_HEADER_FIELDS_SIZE);
    if (e != IMG_OK) {
        return e;
    }
    uint32_t total = img_total_size(&ctx.hdr);
    if (total > region_size) {
        return IMG_ERR_TRUNCATED;
    }
    for (uint32_t off = IMG_HEADER_FIELDS_SIZE; off < total;) {
        uint32_t n = total - off < sizeof(buf) ? total - off : (uint32_t)sizeof(buf);
        if (read(rctx, off, buf, n) != 0) {
            return IMG_ERR_READ;
        }
        e = img_verify_update(&ctx, buf, n);
        if (e != IMG_OK) {
            return e;
        }
        off += n;
    }
    return img_verify_final(&ctx, hdr);
}

int img_version_cmp(const img_version_t *a, const img_version_t *b)
{
    if (a->major != b->major) {
        return a->major < b->major ? -1 : 1;
    }
    if (a->minor != b->minor) {
        return a->minor < b->minor ? -1 : 1;
    }
    if (a->patch != b->patch) {
        return a->patch < b->patch ? -1 : 1;
    }
    return 0;
}

/* Reads a decimal number up to max; advances *s. Returns 0 on success. */
static int parse_num(const char **s, uint32_t max, uint32_t *out)
{
    const char *p = *s;
    uint32_t v = 0;
    if (*p < '0' || *p > '9') {
        return -1;
    }
    if (*p == '0' && p[1] >= '0' && p[1] <= '9') {
        return -1; /* no leading zeros: "01" and "1" would be the same version */
    }
    while (*p >= '0' && *p <= '9') {
        uint32_t d = (uint32_t)(*p - '0');
        if (v > (max - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
        p++;
    }
    *s = p;
    *out = v;
    return 0;
}

int img_version_parse(const char *s, img_version_t *v)
{
    uint32_t major, minor, patch, build = 0;
    if (s == NULL || parse_num(&s, 0xFF, &major) != 0 || *s++ != '.' || parse_num(&s, 0xFF, &minor) != 0 ||
        *s++ != '.' || parse_num(&s, 0xFFFF, &patch) != 0) {
        return -1;
    }
    if (*s == '+') {
        s++;
        if (parse_num(&s, 0xFFFFFFFFu, &build) != 0) {
            return -1;
        }
    }
    if (*s != '\0') {
        return -1;
    }
    v->major = (uint8_t)major;
    v->minor = (uint8_t)minor;
    v->patch = (uint16_t)patch;
    v->build = build;
    return 0;
}

int img_version_format(const img_version_t *v, char *buf, size_t size)
{
    if (v->build != 0) {
        return snprintf(buf, size, "%u.%u.%u+%lu", v->major, v->minor, v->patch, (unsigned long)v->build);
    }
    return snprintf(buf, size, "%u.%u.%u", v->major, v->minor, v->patch);
}

const char *img_strerror(img_err_t err)
{
    switch (err) {
    case IMG_OK:
        return "ok";
    case IMG_ERR_MAGIC:
        return "not a FOTA image (bad header magic)";
    case IMG_ERR_FORMAT:
        return "unsupported image format version";
    case IMG_ERR_HEADER:
        return "malformed image header (header size, reserved fields, padding or unknown flags)";
    case IMG_ERR_BANK:
        return "image header names no valid bank, or its load address does not match the bank";
    case IMG_ERR_SIZE:
        return "image sizes out of bounds: it does not fit a bank";
    case IMG_ERR_TRUNCATED:
        return "image is truncated";
    case IMG_ERR_TRAILING:
        return "data after the end of the image";
    case IMG_ERR_TLV:
        return "malformed image trailer (TLV magic, length or duplicate record)";
    case IMG_ERR_TLV_UNKNOWN:
        return "unknown critical record in image trailer";
    case IMG_ERR_TLV_MISSING:
        return "image trailer lacks the key id, hash or signature";
    case IMG_ERR_HASH:
        return "SHA-256 mismatch: image is corrupted";
    case IMG_ERR_KEY_ID:
        return "image is signed with another key";
    case IMG_ERR_SIGNATURE:
        return "signature does not verify";
    case IMG_ERR_NO_KEY:
        return "no public key given: signature not checked";
    case IMG_ERR_WRONG_BANK:
        return "image is linked for the other bank";
    case IMG_ERR_ROLLBACK:
        return "security counter is below the device's (rollback refused)";
    case IMG_ERR_VECTORS:
        return "initial stack pointer or reset vector is invalid";
    case IMG_ERR_READ:
        return "read failed";
    case IMG_ERR_ENCRYPTED:
        return "encrypted for transport, and not decrypted here";
    case IMG_ERR_CRYPTO:
        return "crypto failure (bad built-in key or pool too small)";
    }
    return "unknown image error";
}
