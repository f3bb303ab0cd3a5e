/* The patch encoder: see fota/delta_enc.h and docs/delta.md.
 *
 * 1. Both images are masked: the immediates of BL/B.W and the words that hold addresses inside the
 *    image are blanked, so code that only moved matches exactly.
 * 2. The target is parsed greedily into copies from the base (suffix array of the masked base,
 *    libdivsufsort), preferring to go on with the previous copy's alignment; copies with the same
 *    alignment separated by a short gap are joined (the gap becomes residuals).
 * 3. The copies give the relocation map: where each stretch of the base moved to.
 * 4. Every copied byte is predicted exactly as the decoder will (delta_predict) and only the
 *    difference is coded; the rest is literal. Everything goes through one adaptive range coder. */
#include "fota/delta_enc.h"

#include <divsufsort.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta_code.h"
#include "fota/crypto.h"
#include "fota/delta.h"
#include "fota/le.h"

/* The shortest copy worth its header: no one value is best for every pair (8 bytes makes the -O2
 * corpus pair 3 % smaller and the small-change pairs up to 50 % larger than 12), so each patch is
 * encoded with each of these and the smallest kept. */
static const uint32_t copy_mins[] = {8u, 12u};
#define JOIN_GAP 24u /* copies with one alignment this close are joined */
#define MAP_MIN 32u  /* copies shorter than this do not make a breakpoint */
#define SEARCH_CAP 4096u

/* ---- range encoder ---- */

typedef struct {
    uint64_t low;
    uint32_t range;
    uint8_t cache;
    uint64_t cache_size;
    uint8_t *buf;
    size_t len, cap;
    int oom;
} rc_t;

static void put(rc_t *rc, uint8_t b)
{
    if (rc->len == rc->cap) {
        size_t cap = rc->cap ? rc->cap * 2 : 4096;
        uint8_t *nb = realloc(rc->buf, cap);
        if (nb == NULL) {
            rc->oom = 1;
            return;
        }
        rc->buf = nb;
        rc->cap = cap;
    }
    rc->buf[rc->len++] = b;
}

static void shift_low(rc_t *rc)
{
    if ((uint32_t)rc->low < 0xFF000000u || (rc->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(rc->low >> 32);
        uint8_t t = rc->cache;
        do {
            put(rc, (uint8_t)(t + carry));
            t = 0xFF;
        } while (--rc->cache_size != 0);
        rc->cache = (uint8_t)(rc->low >> 24);
    }
    rc->cache_size++;
    rc->low = (rc->low & 0x00FFFFFFu) << 8;
}

static void enc_bit(rc_t *rc, delta_prob_t *p, unsigned b)
{
    uint32_t bound = (rc->range >> RC_PROB_BITS) * *p;
    if (b == 0) {
        rc->range = bound;
        *p = (delta_prob_t)(*p + (((1u << RC_PROB_BITS) - *p) >> RC_MOVE_BITS));
    } else {
        rc->low += bound;
        rc->range -= bound;
        *p = (delta_prob_t)(*p - (*p >> RC_MOVE_BITS));
    }
    while (rc->range < RC_TOP) {
        rc->range <<= 8;
        shift_low(rc);
    }
}

static void enc_direct(rc_t *rc, unsigned b)
{
    rc->range >>= 1;
    if (b) {
        rc->low += rc->range;
    }
    while (rc->range < RC_TOP) {
        rc->range <<= 8;
        shift_low(rc);
    }
}

static void enc_tree(rc_t *rc, delta_prob_t *probs, unsigned bits, unsigned v)
{
    unsigned m = 1;
    for (unsigned i = bits; i-- > 0;) {
        unsigned b = (v >> i) & 1u;
        enc_bit(rc, &probs[m], b);
        m = (m << 1) | b;
    }
}

static void enc_number(rc_t *rc, delta_num_model_t *m, uint32_t v)
{
    uint32_t x = v + 1u;
    unsigned n = 0;
    while ((x >> n) > 1u) {
        n++;
    }
    enc_tree(rc, m->cls, 6, n);
    for (unsigned i = n; i-- > 0;) {
        enc_direct(rc, (x >> i) & 1u);
    }
}

typedef struct {
    rc_t rc;
    delta_models_t md; /* the decoder's models, adapting the same way */
} enc_t;

static void enc_signed(enc_t *e, delta_num_model_t *m, int64_t v)
{
    enc_bit(&e->rc, &e->md.sign_bit, v < 0);
    enc_number(&e->rc, m, (uint32_t)(v < 0 ? -v : v));
}

/* ---- matching ---- */

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The image with what moves when code moves blanked (see delta_predict for the same scan). */
static void mask(const uint8_t *img, uint32_t size, uint32_t addr, uint8_t *m)
{
    memcpy(m, img, size);
    for (uint32_t p = 0; p < size;) {
        uint32_t avail = size - p < 4u ? size - p : 4u;
        delta_unit_t u = delta_unit(img + p, avail, addr + p, addr, size);
        if (u == DELTA_UNIT_ADDR) {
            memset(m + p, 0xA5, 4);
        } else if (u == DELTA_UNIT_BRANCH) { /* the opcode bits stay, the immediate goes */
            m[p] = 0;
            m[p + 1] = (uint8_t)(img[p + 1] & 0xF8u);
            m[p + 2] = 0;
            m[p + 3] = (uint8_t)(img[p + 3] & 0xD0u);
        }
        p += delta_unit_len(u);
    }
}

static uint32_t common(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn)
{
    uint32_t n = an < bn ? an : bn, i = 0;
    while (i < n && a[i] == b[i]) {
        i++;
    }
    return i;
}

/* Longest match of q in the base: one of the two suffixes around q's place in the sorted order. */
static uint32_t longest(const saidx_t *sa, const uint8_t *old, uint32_t on, const uint8_t *q, uint32_t qn, uint32_t *at)
{
    uint32_t cap = qn < SEARCH_CAP ? qn : SEARCH_CAP;
    uint32_t lo = 0, hi = on;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        uint32_t s = (uint32_t)sa[mid], sl = on - s;
        int c = memcmp(old + s, q, sl < cap ? sl : cap);
        if (c < 0 || (c == 0 && sl < cap)) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    uint32_t best = 0;
    *at = 0;
    for (uint32_t k = lo > 0 ? lo - 1u : 0; k <= lo && k < on; k++) {
        uint32_t s = (uint32_t)sa[k];
        uint32_t l = common(old + s, on - s, q, qn);
        if (l > best) {
            best = l;
            *at = s;
        }
    }
    return best;
}

typedef struct {
    uint32_t new_off, old_off, len;
} seg_t;

typedef struct {
    seg_t *v;
    size_t n, cap;
} segs_t;

static int seg_push(segs_t *s, uint32_t nw, uint32_t old, uint32_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        seg_t *nv = realloc(s->v, cap * sizeof(*nv));
        if (nv == NULL) {
            return -1;
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (seg_t){nw, old, len};
    return 0;
}

/* The greedy parse of the masked target mt against the masked base mb (sa: its suffix array). */
static int parse(const uint8_t *mb, const saidx_t *sa, uint32_t bn, const uint8_t *mt, uint32_t tn, uint32_t copy_min,
                 segs_t *out)
{
    int64_t align = 0; /* base offset - target offset of the previous copy */
    uint32_t pos = 0;
    while (pos < tn) {
        uint32_t cont = 0;
        int64_t c = (int64_t)pos + align;
        if (c >= 0 && c < (int64_t)bn) {
            cont = common(mb + c, bn - (uint32_t)c, mt + pos, tn - pos);
        }
        uint32_t at;
        uint32_t best = longest(sa, mb, bn, mt + pos, tn - pos, &at);
        uint32_t take_old, take_len = 0;
        if (cont >= copy_min && cont + 8u >= best) {
            take_old = (uint32_t)c;
            take_len = cont;
        } else if (best >= copy_min) {
            take_old = at;
            take_len = best;
            align = (int64_t)at - pos;
        }
        if (take_len == 0 && out->n > 0) {
            /* No exact match here: go on with the previous copy's alignment through the
             * differences while it keeps matching more than it misses (the best score of +1 per
             * equal byte, -1 per other), as bsdiff does; the differences become residuals. */
            seg_t *prev = &out->v[out->n - 1];
            int64_t al = (int64_t)prev->old_off - prev->new_off;
            uint32_t end = prev->new_off + prev->len;
            if (end == pos && (int64_t)pos + al >= 0) {
                int32_t score = 0, top = 0;
                uint32_t best_i = 0;
                for (uint32_t i = 0; pos + i < tn && (int64_t)pos + al + i < (int64_t)bn && score > top - 32; i++) {
                    score += mb[pos + al + i] == mt[pos + i] ? 1 : -1;
                    if (score > top) {
                        top = score;
                        best_i = i + 1;
                    }
                }
                if (top >= 4) {
                    prev->len += best_i;
                    pos += best_i;
                    continue;
                }
            }
        }
        if (take_len == 0) {
            pos++;
            continue;
        }
        /* Join with the previous copy when it had this alignment and the gap is short. */
        if (out->n > 0) {
            seg_t *prev = &out->v[out->n - 1];
            uint32_t end = prev->new_off + prev->len;
            if ((int64_t)prev->old_off - prev->new_off == (int64_t)take_old - pos && pos - end <= JOIN_GAP) {
                prev->len = pos + take_len - prev->new_off;
                pos += take_len;
                continue;
            }
        }
        if (seg_push(out, pos, take_old, take_len) != 0) {
            return -1;
        }
        pos += take_len;
    }
    return 0;
}

static int by_len_desc(const void *a, const void *b)
{
    const seg_t *x = a, *y = b;
    return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;
}

static int by_old(const void *a, const void *b)
{
    const seg_t *x = a, *y = b;
    return x->old_off < y->old_off ? -1 : x->old_off > y->old_off ? 1 : 0;
}

/* Breakpoints from the longest copies: where each stretch of the base went. */
static uint32_t build_map(const segs_t *segs, delta_map_t *map)
{
    seg_t *c = malloc((segs->n ? segs->n : 1) * sizeof(*c));
    if (c == NULL) {
        return UINT32_MAX;
    }
    size_t n = 0;
    for (size_t i = 0; i < segs->n; i++) {
        if (segs->v[i].len >= MAP_MIN) {
            c[n++] = segs->v[i];
        }
    }
    qsort(c, n, sizeof(*c), by_len_desc);
    if (n > DELTA_MAP_MAX) {
        n = DELTA_MAP_MAX;
    }
    qsort(c, n, sizeof(*c), by_old);
    uint32_t count = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t shift = (int32_t)((int64_t)c[i].new_off - c[i].old_off);
        if (count > 0 && map[count - 1].old == c[i].old_off) {
            continue; /* two copies of one stretch: the longer (sorted first by length) is kept */
        }
        if ((count == 0 && shift == 0) || (count > 0 && map[count - 1].shift == shift)) {
            continue;
        }
        map[count].old = c[i].old_off;
        map[count].shift = shift;
        count++;
    }
    free(c);
    return count;
}

/* What every encoding of one patch shares: both images masked, the base's suffix array, the
 * target's SHA-256. */
typedef struct {
    const uint8_t *base, *target;
    uint32_t base_size, base_addr, target_size, target_addr;
    const uint8_t *base_id;
    uint8_t *mb, *mt;
    saidx_t *sa;
    uint8_t target_sha[CRYPTO_SHA256_SIZE];
} enc_in_t;

static int encode_with(uint32_t copy_min, const enc_in_t *in, uint8_t **patch, size_t *patch_size,
                       delta_enc_stats_t *stats, char *err, size_t errlen)
{
    const uint8_t *base = in->base, *target = in->target;
    uint32_t base_size = in->base_size, base_addr = in->base_addr, target_size = in->target_size,
             target_addr = in->target_addr;
    *patch = NULL;
    *patch_size = 0;
    delta_enc_stats_t st = {0};
    uint8_t *res = malloc(target_size);
    enc_t *e = calloc(1, sizeof(*e));
    delta_map_t *map = malloc(DELTA_MAP_MAX * sizeof(*map));
    segs_t segs = {0};
    int rc = -1;
    if (res == NULL || e == NULL || map == NULL) {
        errf(err, errlen, "out of memory");
        goto done;
    }
    if (parse(in->mb, in->sa, base_size, in->mt, target_size, copy_min, &segs) != 0) {
        errf(err, errlen, "out of memory");
        goto done;
    }
    uint32_t map_count = build_map(&segs, map);
    if (map_count == UINT32_MAX) {
        errf(err, errlen, "out of memory");
        goto done;
    }
    st.map_entries = map_count;

    e->rc.range = 0xFFFFFFFFu;
    e->rc.cache_size = 1;
    delta_models_init(&e->md);

    enc_number(&e->rc, &e->md.m_count, map_count);
    for (uint32_t i = 0; i < map_count; i++) {
        uint32_t prev_old = i ? map[i - 1].old : 0;
        int32_t prev_shift = i ? map[i - 1].shift : 0;
        enc_number(&e->rc, &e->md.m_map_old, map[i].old - prev_old - (i ? 1u : 0u));
        enc_signed(e, &e->md.m_map_shift, (int64_t)map[i].shift - prev_shift);
    }

    uint32_t out = 0, old_pos = 0;
    size_t si = 0;
    while (out < target_size) {
        uint32_t copy = 0;
        if (si < segs.n && segs.v[si].new_off == out) {
            const seg_t *s = &segs.v[si++];
            copy = s->len;
            enc_number(&e->rc, &e->md.m_copy, copy);
            enc_signed(e, &e->md.m_off, (int64_t)s->old_off - old_pos);
            /* Residuals: target minus the decoder's own prediction. */
            uint32_t src = s->old_off, q = out, left = copy;
            while (left > 0) {
                uint32_t avail = base_size - src;
                avail = avail < left ? avail : left;
                avail = avail < 4u ? avail : 4u;
                uint8_t pred[4];
                unsigned k =
                    delta_predict(map, map_count, base_addr, base_size, target_addr, base + src, avail, src, q, pred);
                for (unsigned j = 0; j < k; j++) {
                    res[q + j] = (uint8_t)(target[q + j] - pred[j]);
                }
                src += k;
                q += k;
                left -= k;
            }
            uint32_t j = out;
            while (j < out + copy) {
                uint32_t run = 0;
                while (j + run < out + copy && res[j + run] == 0) {
                    run++;
                }
                enc_number(&e->rc, &e->md.m_run, run);
                j += run;
                if (j < out + copy) {
                    enc_tree(&e->rc, e->md.res[delta_res_ctx(j)], 8, res[j]);
                    st.residuals++;
                    j++;
                }
            }
            old_pos = s->old_off + copy;
            out += copy;
            st.copied += copy;
        } else {
            enc_number(&e->rc, &e->md.m_copy, 0);
        }
        uint32_t lit = (si < segs.n ? segs.v[si].new_off : target_size) - out;
        enc_number(&e->rc, &e->md.m_lit, lit);
        for (uint32_t j = 0; j < lit; j++) {
            uint8_t prev = out + j ? target[out + j - 1] : 0;
            enc_tree(&e->rc, e->md.lit[delta_lit_ctx(out + j, prev)], 8, target[out + j]);
        }
        old_pos += lit;
        if (old_pos > base_size) {
            old_pos = base_size;
        }
        out += lit;
        st.literal += lit;
        st.pairs++;
    }
    for (int i = 0; i < 5; i++) {
        shift_low(&e->rc);
    }
    if (e->rc.oom) {
        errf(err, errlen, "out of memory");
        goto done;
    }

    size_t total = DELTA_HDR_SIZE + e->rc.len;
    uint8_t *p = malloc(total);
    if (p == NULL) {
        errf(err, errlen, "out of memory");
        goto done;
    }
    memset(p, 0, DELTA_HDR_SIZE);
    le_put32(p, DELTA_MAGIC);
    le_put16(p + 4, DELTA_FORMAT);
    le_put16(p + 6, DELTA_HDR_SIZE);
    le_put32(p + 8, base_size);
    le_put32(p + 12, target_size);
    le_put32(p + 16, base_addr);
    le_put32(p + 20, target_addr);
    le_put32(p + 24, (uint32_t)e->rc.len);
    le_put32(p + 28, 0);
    memcpy(p + 32, in->base_id, 32);
    memcpy(p + 64, in->target_sha, 32);
    memcpy(p + 96, target, target_size < 64u ? target_size : 64u);
    memcpy(p + DELTA_HDR_SIZE, e->rc.buf, e->rc.len);
    *patch = p;
    *patch_size = total;
    if (stats != NULL) {
        *stats = st;
    }
    rc = 0;
done:
    if (e != NULL) {
        free(e->rc.buf);
    }
    free(e);
    free(res);
    free(map);
    free(segs.v);
    return rc;
}

int delta_encode(const uint8_t *base, uint32_t base_size, uint32_t base_addr, const uint8_t base_id[32],
                 const uint8_t *target, uint32_t target_size, uint32_t target_addr, uint8_t **patch, size_t *patch_size,
                 delta_enc_stats_t *stats, char *err, size_t errlen)
{
    *patch = NULL;
    *patch_size = 0;
    if (base_size == 0 || base_size > DELTA_SIZE_MAX || target_size == 0 || target_size > DELTA_SIZE_MAX) {
        errf(err, errlen, "image sizes must be 1 to %u bytes (base %u, target %u)", DELTA_SIZE_MAX, base_size,
             target_size);
        return -1;
    }
    enc_in_t in = {base, target, base_size, base_addr, target_size, target_addr, base_id,
                   malloc(base_size), malloc(target_size), malloc((size_t)base_size * sizeof(saidx_t)), {0}};
    int rc = -1;
    if (in.mb == NULL || in.mt == NULL || in.sa == NULL) {
        errf(err, errlen, "out of memory");
        goto done;
    }
    mask(base, base_size, base_addr, in.mb);
    mask(target, target_size, target_addr, in.mt);
    if (divsufsort(in.mb, in.sa, (saidx_t)base_size) != 0) {
        errf(err, errlen, "out of memory (suffix array)");
        goto done;
    }
    if (crypto_sha256(target, target_size, in.target_sha) != CRYPTO_OK) {
        errf(err, errlen, "SHA-256 failed");
        goto done;
    }
    for (size_t i = 0; i < sizeof(copy_mins) / sizeof(copy_mins[0]); i++) {
        uint8_t *p;
        size_t n;
        delta_enc_stats_t st;
        if (encode_with(copy_mins[i], &in, &p, &n, &st, err, errlen) != 0) {
            free(*patch);
            *patch = NULL;
            *patch_size = 0;
            goto done;
        }
        if (*patch == NULL || n < *patch_size) {
            free(*patch);
            *patch = p;
            *patch_size = n;
            if (stats != NULL) {
                *stats = st;
            }
        } else {
            free(p);
        }
    }
    rc = 0;
done:
    free(in.mb);
    free(in.mt);
    free(in.sa);
    return rc;
}

int delta_read_buffer(void *ctx, uint32_t offset, uint8_t *buf, uint32_t len)
{
    const delta_buffer_t *b = ctx;
    if (offset > b->len || len > b->len - offset) {
        return -1;
    }
    memcpy(buf, b->data + offset, len);
    return 0;
}
