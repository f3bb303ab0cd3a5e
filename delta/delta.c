/* The patch decoder: see fota/delta.h and docs/delta.md. */
#include "fota/delta.h"

#include <string.h>

#include "delta_code.h"
#include "fota/le.h"

enum {
    P_HDR = 0,
    P_RECORD,  /* an encrypted patch's key record, after the header: skipped */
    P_INIT,    /* the range decoder's first five bytes */
    P_MAPN,    /* breakpoint count */
    P_MAP,     /* breakpoints */
    P_COPYLEN, /* a pair starts: bytes copied from the base */
    P_OFF,     /* where in the base they start */
    P_COPY,    /* producing them */
    P_LITLEN,  /* literal bytes after the copy */
    P_LIT,     /* producing them */
    P_DONE,
    P_ERR,
};

/* ---- the prediction (shared with the encoder) ---- */

static int32_t map_shift(const delta_map_t *map, uint32_t count, uint32_t o)
{
    /* The last breakpoint at or before o; none: no shift. */
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        if (map[mid].old <= o) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : map[lo - 1u].shift;
}

/* Where an address of the base is in the target: inside the base, moved by the map and by the
 * difference of the banks; outside (SRAM, the bootloader, peripherals), unchanged. */
static uint32_t relocate(const delta_map_t *map, uint32_t count, uint32_t base_addr, uint32_t base_size,
                         uint32_t target_addr, uint32_t a)
{
    if (a < base_addr || a - base_addr > base_size) {
        return a;
    }
    uint32_t o = a - base_addr;
    return target_addr + o + (uint32_t)map_shift(map, count, o);
}

static inline __attribute__((always_inline)) unsigned
predict_unit(const delta_map_t *map, uint32_t map_count, uint32_t base_addr, uint32_t base_size, uint32_t target_addr,
             const uint8_t *old4, uint32_t avail, uint32_t p, uint32_t q, uint8_t out[4])
{
    if (avail == 0) {
        return 0;
    }
    delta_unit_t u = delta_unit(old4, avail, base_addr + p, base_addr, base_size);
    if (u == DELTA_UNIT_ADDR) {
        le_put32(out, relocate(map, map_count, base_addr, base_size, target_addr, le_get32(old4)));
    } else if (u == DELTA_UNIT_BRANCH) {
        uint16_t h1 = le_get16(old4), h2 = le_get16(old4 + 2);
        uint32_t s = (h1 >> 10) & 1u, j1 = (h2 >> 13) & 1u, j2 = (h2 >> 11) & 1u;
        uint32_t i1 = !(j1 ^ s), i2 = !(j2 ^ s);
        uint32_t imm =
            (s << 24) | (i1 << 23) | (i2 << 22) | ((uint32_t)(h1 & 0x3FFu) << 12) | ((uint32_t)(h2 & 0x7FFu) << 1);
        if (s) {
            imm |= 0xFE000000u; /* sign-extend from bit 24 */
        }
        uint32_t from = base_addr + p + 4u;
        uint32_t to = relocate(map, map_count, base_addr, base_size, target_addr, from + imm);
        uint32_t nimm = to - (target_addr + q + 4u);
        /* Representable: 25-bit signed, even. Otherwise keep the bytes (the residual fixes them). */
        uint32_t top = nimm & 0xFF000000u;
        if ((nimm & 1u) == 0 && (top == 0 || top == 0xFF000000u)) {
            uint32_t ns = (nimm >> 24) & 1u, ni1 = (nimm >> 23) & 1u, ni2 = (nimm >> 22) & 1u;
            uint32_t nj1 = !(ni1 ^ ns), nj2 = !(ni2 ^ ns);
            le_put16(out, (uint16_t)(0xF000u | (ns << 10) | ((nimm >> 12) & 0x3FFu)));
            le_put16(out + 2, (uint16_t)((h2 & 0xD000u) | (nj1 << 13) | (nj2 << 11) | ((nimm >> 1) & 0x7FFu)));
        } else {
            memcpy(out, old4, 4);
        }
    } else {
        memcpy(out, old4, delta_unit_len(u));
    }
    return delta_unit_len(u);
}

unsigned delta_predict(const delta_map_t *map, uint32_t map_count, uint32_t base_addr, uint32_t base_size,
                       uint32_t target_addr, const uint8_t *old4, uint32_t avail, uint32_t p, uint32_t q,
                       uint8_t out[4])
{
    return predict_unit(map, map_count, base_addr, base_size, target_addr, old4, avail, p, q, out);
}

/* ---- the header ---- */

delta_err_t delta_parse_header(const uint8_t *b, size_t len, delta_info_t *o)
{
    if (len < DELTA_HDR_SIZE) {
        return DELTA_ERR_HEADER;
    }
    if (le_get32(b) != DELTA_MAGIC) {
        return DELTA_ERR_MAGIC;
    }
    if (le_get16(b + 4) != DELTA_FORMAT) {
        return DELTA_ERR_FORMAT;
    }
    if (le_get16(b + 6) != DELTA_HDR_SIZE) {
        return DELTA_ERR_HEADER;
    }
    o->base_size = le_get32(b + 8);
    o->target_size = le_get32(b + 12);
    o->base_addr = le_get32(b + 16);
    o->target_addr = le_get32(b + 20);
    o->body_size = le_get32(b + 24);
    o->flags = le_get32(b + 28);
    memcpy(o->base_sha256, b + 32, 32);
    memcpy(o->target_sha256, b + 64, 32);
    memcpy(o->target_header, b + 96, 64);
    if ((o->flags & ~DELTA_FLAG_ENCRYPTED) != 0) {
        return DELTA_ERR_FORMAT;
    }
    if (o->base_size == 0 || o->base_size > DELTA_SIZE_MAX || o->target_size == 0 || o->target_size > DELTA_SIZE_MAX ||
        o->body_size < 5u || o->body_size > 4u * DELTA_SIZE_MAX || o->base_addr > UINT32_MAX - DELTA_SIZE_MAX ||
        o->target_addr > UINT32_MAX - DELTA_SIZE_MAX) {
        return DELTA_ERR_HEADER;
    }
    return DELTA_OK;
}

delta_err_t delta_parse_patch(const uint8_t *b, size_t len, delta_info_t *o)
{
    delta_err_t e = delta_parse_header(b, len, o);
    if (e == DELTA_OK && len != (uint64_t)delta_body_offset(o) + o->body_size) {
        e = DELTA_ERR_TRUNCATED;
    }
    return e;
}

/* ---- the range decoder ---- */

static uint8_t next_byte(delta_dec_t *d)
{
    if (d->body_read >= d->info.body_size) {
        d->overrun = 1;
        return 0;
    }
    uint8_t b;
    if (d->carry_pos < d->carry_len) {
        b = d->carry[d->carry_pos++];
    } else if (d->in_pos < d->in_len) {
        b = d->in[d->in_pos++];
    } else {
        d->overrun = 1; /* cannot happen: each step starts with its worst case available */
        return 0;
    }
    d->body_read++;
    return b;
}

static unsigned bit(delta_dec_t *d, delta_prob_t *p)
{
    uint32_t bound = (d->range >> RC_PROB_BITS) * *p;
    unsigned b;
    if (d->code < bound) {
        d->range = bound;
        *p = (delta_prob_t)(*p + (((1u << RC_PROB_BITS) - *p) >> RC_MOVE_BITS));
        b = 0;
    } else {
        d->code -= bound;
        d->range -= bound;
        *p = (delta_prob_t)(*p - (*p >> RC_MOVE_BITS));
        b = 1;
    }
    if (d->range < RC_TOP) {
        d->range <<= 8;
        d->code = (d->code << 8) | next_byte(d);
    }
    return b;
}

static unsigned direct(delta_dec_t *d)
{
    d->range >>= 1;
    unsigned b = 0;
    if (d->code >= d->range) {
        d->code -= d->range;
        b = 1;
    }
    if (d->range < RC_TOP) {
        d->range <<= 8;
        d->code = (d->code << 8) | next_byte(d);
    }
    return b;
}

static unsigned tree(delta_dec_t *d, delta_prob_t *probs, unsigned bits)
{
    unsigned m = 1;
    for (unsigned i = 0; i < bits; i++) {
        m = (m << 1) | bit(d, &probs[m]);
    }
    return m - (1u << bits);
}

/* A number: its bit length (plus one) in a tree, then the bits below the leading one. Returns 0
 * and sets the error when the length is impossible. */
static int number(delta_dec_t *d, delta_num_model_t *m, uint32_t *v)
{
    unsigned n = tree(d, m->cls, 6);
    if (n >= DELTA_NUM_MAX_BITS) {
        return 0;
    }
    uint32_t x = 1;
    for (unsigned i = 0; i < n; i++) {
        x = (x << 1) | direct(d);
    }
    *v = x - 1u;
    return 1;
}

static int signed_number(delta_dec_t *d, delta_num_model_t *m, int32_t *v)
{
    unsigned neg = bit(d, &d->md.sign_bit);
    uint32_t u;
    if (!number(d, m, &u)) {
        return 0;
    }
    *v = neg ? -(int32_t)u : (int32_t)u;
    return 1;
}

/* ---- the decoder ---- */

void delta_dec_init(delta_dec_t *d, delta_read_fn read, void *ctx)
{
    memset(d, 0, sizeof(*d));
    d->read = read;
    d->rctx = ctx;
    d->phase = P_HDR;
    d->range = 0xFFFFFFFFu;
    delta_models_init(&d->md);
}

static delta_err_t fail(delta_dec_t *d, delta_err_t e)
{
    d->err = e;
    d->phase = P_ERR;
    return e;
}

/* Enough input for one step's worst case (or for the rest of the body)? If not, keeps what there is
 * for the next call. */
static int have_step(delta_dec_t *d)
{
    size_t avail = (d->carry_len - d->carry_pos) + (d->in_len - d->in_pos);
    uint32_t left = d->info.body_size - d->body_read;
    size_t need = left < DELTA_UNIT_MAX ? left : DELTA_UNIT_MAX;
    if (avail >= need) { /* need 0: the body is all read; a step that wants more overruns and fails */
        return 1;
    }
    memmove(d->carry, d->carry + d->carry_pos, d->carry_len - d->carry_pos);
    d->carry_len -= d->carry_pos;
    d->carry_pos = 0;
    memcpy(d->carry + d->carry_len, d->in + d->in_pos, d->in_len - d->in_pos);
    d->carry_len += (uint32_t)(d->in_len - d->in_pos);
    d->in_pos = d->in_len;
    return 0;
}

/* Predicts the next instructions and words of the current copy, as many as pred[] holds: the
 * same units, one after the other, as the encoder's walk (each unit sees up to 4 bytes, fewer only
 * at the end of the copy or of the base). */
static int predict_next(delta_dec_t *d)
{
    uint32_t len = 0, src = d->src, q = d->out_pos + (uint32_t)(d->pred_len - d->pred_pos);
    uint32_t left = d->copy_left - (uint32_t)(d->pred_len - d->pred_pos); /* copy bytes not predicted */
    d->pred_len = d->pred_pos = 0;
    while (left > 0 && len + 4u <= sizeof(d->pred)) {
        uint32_t avail = d->info.base_size - src;
        avail = avail < left ? avail : left;
        avail = avail < 4u ? avail : 4u;
        if (src < d->win_off || src + avail > d->win_off + d->win_len) {
            if (len > 0) {
                break; /* predict what the window holds first */
            }
            uint32_t n = d->info.base_size - src;
            n = n < sizeof(d->win) ? n : (uint32_t)sizeof(d->win);
            if (d->read(d->rctx, src, d->win, n) != 0) {
                return 0;
            }
            d->win_off = src;
            d->win_len = n;
        }
        unsigned k = predict_unit(d->map, d->map_count, d->info.base_addr, d->info.base_size, d->info.target_addr,
                                  d->win + (src - d->win_off), avail, src, q, d->pred + len);
        len += k;
        src += k;
        q += k;
        left -= k;
    }
    d->pred_len = (uint8_t)len;
    d->src = src;
    return 1;
}

/* The next predicted byte of the current copy. */
static int predicted(delta_dec_t *d, uint8_t *out)
{
    if (d->pred_pos == d->pred_len && !predict_next(d)) {
        return 0;
    }
    *out = d->pred[d->pred_pos++];
    return 1;
}

static void emit(delta_dec_t *d, uint8_t *out, size_t *n, uint8_t b)
{
    out[(*n)++] = b;
    d->prev = b;
    d->out_pos++;
}

delta_err_t delta_dec_run(delta_dec_t *d, const uint8_t *in, size_t in_len, size_t *in_used, uint8_t *out,
                          size_t out_cap, size_t *out_len)
{
    *in_used = 0;
    *out_len = 0;
    if (d->phase == P_ERR) {
        return d->err;
    }
    if (d->phase == P_DONE) {
        return DELTA_DONE;
    }
    d->in = in;
    d->in_len = in_len;
    d->in_pos = 0;
    size_t n = 0;
    delta_err_t ret = DELTA_OK;
    for (;;) {
        if (d->overrun) {
            ret = fail(d, DELTA_ERR_CORRUPT);
            break;
        }
        if (d->phase == P_HDR) {
            size_t take = DELTA_HDR_SIZE - d->hdr_len;
            if (take > d->in_len - d->in_pos) {
                take = d->in_len - d->in_pos;
            }
            memcpy(d->hdr + d->hdr_len, d->in + d->in_pos, take);
            d->hdr_len += (uint32_t)take;
            d->in_pos += take;
            if (d->hdr_len < DELTA_HDR_SIZE) {
                break;
            }
            delta_err_t e = delta_parse_header(d->hdr, DELTA_HDR_SIZE, &d->info);
            if (e != DELTA_OK) {
                ret = fail(d, e);
                break;
            }
            d->record_left = delta_body_offset(&d->info) - DELTA_HDR_SIZE;
            d->phase = d->record_left > 0 ? P_RECORD : P_INIT;
            ret = DELTA_HEADER;
            break;
        }
        if (d->phase == P_RECORD) {
            /* The caller unwrapped the key from this record and decrypts the body it feeds. */
            size_t take = d->in_len - d->in_pos < d->record_left ? d->in_len - d->in_pos : d->record_left;
            d->in_pos += take;
            d->record_left -= (uint32_t)take;
            if (d->record_left > 0) {
                break;
            }
            d->phase = P_INIT;
            continue;
        }
        if (d->phase == P_DONE) {
            ret = DELTA_DONE;
            break;
        }
        /* Steps that produce bytes without input. */
        if (d->phase == P_COPY && !d->need_run && d->run_left > 0) {
            /* Predicted bytes as they are, a unit at a time (the bulk of a patch's output). */
            while (d->run_left > 0 && n < out_cap) {
                if (d->pred_pos == d->pred_len && !predict_next(d)) {
                    ret = fail(d, DELTA_ERR_READ);
                    goto out;
                }
                uint32_t k = (uint32_t)(d->pred_len - d->pred_pos);
                k = k < d->run_left ? k : d->run_left;
                k = k < out_cap - n ? k : (uint32_t)(out_cap - n);
                for (uint32_t i = 0; i < k; i++) {
                    out[n + i] = d->pred[d->pred_pos + i];
                }
                n += k;
                d->pred_pos = (uint8_t)(d->pred_pos + k);
                d->prev = out[n - 1];
                d->out_pos += k;
                d->run_left -= k;
                d->copy_left -= k;
            }
            if (d->run_left > 0) {
                break; /* out of room */
            }
            if (!d->pending_nz) {
                d->phase = P_LITLEN;
            }
            continue;
        }
        if ((d->phase == P_COPY || d->phase == P_LIT) && n == out_cap) {
            break;
        }
        if (!have_step(d)) {
            break;
        }
        switch (d->phase) {
        case P_INIT:
            while (d->init_bytes < 5) {
                uint8_t b = next_byte(d);
                if (d->init_bytes == 0 && b != 0) {
                    ret = fail(d, DELTA_ERR_CORRUPT);
                    goto out;
                }
                d->code = (d->code << 8) | b;
                d->init_bytes++;
            }
            d->phase = P_MAPN;
            break;
        case P_MAPN: {
            uint32_t c;
            if (!number(d, &d->md.m_count, &c) || c > DELTA_MAP_MAX) {
                ret = fail(d, DELTA_ERR_CORRUPT);
                goto out;
            }
            d->map_count = c;
            d->map_i = 0;
            d->phase = c ? P_MAP : P_COPYLEN;
            break;
        }
        case P_MAP: {
            uint32_t gap;
            int32_t dshift;
            if (!number(d, &d->md.m_map_old, &gap) || !signed_number(d, &d->md.m_map_shift, &dshift)) {
                ret = fail(d, DELTA_ERR_CORRUPT);
                goto out;
            }
            uint32_t prev_old = d->map_i ? d->map[d->map_i - 1].old : 0;
            int32_t prev_shift = d->map_i ? d->map[d->map_i - 1].shift : 0;
            uint32_t old = prev_old + gap + (d->map_i ? 1u : 0u);
            int32_t shift = prev_shift + dshift;
            if (old > d->info.base_size || shift < -(int32_t)DELTA_SIZE_MAX || shift > (int32_t)DELTA_SIZE_MAX) {
                ret = fail(d, DELTA_ERR_CORRUPT);
                goto out;
            }
            d->map[d->map_i].old = old;
            d->map[d->map_i].shift = shift;
            if (++d->map_i == d->map_count) {
                d->phase = P_COPYLEN;
            }
            break;
        }
        case P_COPYLEN: {
            uint32_t len;
            if (!number(d, &d->md.m_copy, &len) || len > d->info.target_size - d->out_pos) {
                ret = fail(d, DELTA_ERR_CORRUPT);
                goto out;
            }
            d->copy_left = len;
            d->empty_copy = len == 0;
            d->phase = len ? P_OFF : P_LITLEN;
            break;
        }
        case P_OFF: {
            int32_t off;
            if (!signed_number(d, &d->md.m_off, &off)) {
                ret = fail(d, DELTA_ERR_CORRUPT);
                goto out;
            }
            int64_t src = (int64_t)d->old_pos + off;
            if (src < 0 || src > (int64_t)d->info.base_size || d->copy_left > d->info.base_size - (uint32_t)src) {
                ret = fail(d, DELTA_ERR_CORRUPT);
                goto out;
            }
            d->src = (uint32_t)src;
            d->old_pos = d->src + d->copy_left;
            d->pred_len = d->pred_pos = 0;
            d->need_run = 1;
            d->pending_nz = 0;
            d->phase = P_COPY;
            break;
        }
        case P_COPY:
            if (d->need_run) {
                uint32_t run;
                if (!number(d, &d->md.m_run, &run) || run > d->copy_left) {
                    ret = fail(d, DELTA_ERR_CORRUPT);
                    goto out;
                }
                d->run_left = run;
                d->pending_nz = run < d->copy_left;
                d->need_run = 0;
                if (run == 0 && !d->pending_nz) {
                    d->phase = P_LITLEN; /* an empty copy cannot happen: copy_left > 0 here */
                }
            } else {
                /* run_left == 0 and a non-zero residual is due. */
                uint8_t p;
                unsigned r = tree(d, d->md.res[delta_res_ctx(d->out_pos)], 8);
                if (r == 0) {
                    ret = fail(d, DELTA_ERR_CORRUPT);
                    goto out;
                }
                if (!predicted(d, &p)) {
                    ret = fail(d, DELTA_ERR_READ);
                    goto out;
                }
                emit(d, out, &n, (uint8_t)(p + r));
                d->copy_left--;
                d->pending_nz = 0;
                if (d->copy_left > 0) {
                    d->need_run = 1;
                } else {
                    d->phase = P_LITLEN;
                }
            }
            break;
        case P_LITLEN: {
            uint32_t len;
            /* A pair that makes nothing would loop forever: the encoder never writes one. */
            if (!number(d, &d->md.m_lit, &len) || len > d->info.target_size - d->out_pos ||
                (len == 0 && d->empty_copy)) {
                ret = fail(d, DELTA_ERR_CORRUPT);
                goto out;
            }
            d->lit_left = len;
            d->old_pos += len;
            if (d->old_pos > d->info.base_size) {
                d->old_pos = d->info.base_size;
            }
            if (len > 0) {
                d->phase = P_LIT;
            } else if (d->out_pos == d->info.target_size) {
                d->phase = P_DONE;
            } else {
                d->phase = P_COPYLEN;
            }
            break;
        }
        case P_LIT: {
            unsigned b = tree(d, d->md.lit[delta_lit_ctx(d->out_pos, d->prev)], 8);
            emit(d, out, &n, (uint8_t)b);
            if (--d->lit_left == 0) {
                d->phase = d->out_pos == d->info.target_size ? P_DONE : P_COPYLEN;
            }
            break;
        }
        default:
            ret = fail(d, DELTA_ERR_STATE);
            goto out;
        }
    }
out:
    if (d->overrun && d->phase != P_ERR) {
        ret = fail(d, DELTA_ERR_CORRUPT);
    }
    *in_used = d->in_pos;
    *out_len = n;
    d->in = NULL;
    d->in_len = d->in_pos = 0;
    return ret;
}

delta_err_t delta_dec_end(const delta_dec_t *d)
{
    if (d->phase == P_DONE) {
        return DELTA_DONE;
    }
    if (d->phase == P_ERR) {
        return d->err;
    }
    return DELTA_ERR_TRUNCATED;
}

const delta_info_t *delta_dec_info(const delta_dec_t *d)
{
    return &d->info;
}

const char *delta_strerror(delta_err_t e)
{
    switch (e) {
    case DELTA_OK:
        return "ok";
    case DELTA_HEADER:
        return "header read";
    case DELTA_DONE:
        return "done";
    case DELTA_ERR_MAGIC:
        return "not a patch (bad magic)";
    case DELTA_ERR_FORMAT:
        return "unknown patch format version or flags";
    case DELTA_ERR_HEADER:
        return "patch header out of range";
    case DELTA_ERR_BASE:
        return "patch is for another base image";
    case DELTA_ERR_CORRUPT:
        return "patch body is corrupt";
    case DELTA_ERR_TRUNCATED:
        return "patch ended before the image did";
    case DELTA_ERR_READ:
        return "could not read the base image";
    case DELTA_ERR_STATE:
        return "decoder used after it finished";
    }
    return "unknown delta error";
}
