/* Delta patches (delta/): the encoder and the device's decoder on images made by a small linker
 * model (Thumb halfwords, BL calls and literal words that point inside the image), so a change
 * moves code the way a real one does. Round trips at every feed size, the prediction of moved
 * calls, and hostile patches: truncated, corrupted, bad headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fota/crypto.h"
#include "fota/delta.h"
#include "fota/delta_enc.h"
#include "fota/le.h"
#include "test_util.h"

#define BANK_A 0x08020000u
#define BANK_B 0x08060000u

/* A program: items the linker lays out in order. */
enum { IT_HALF, IT_BL, IT_LIT };
typedef struct {
    uint8_t type;
    uint16_t half;   /* IT_HALF */
    uint32_t target; /* IT_BL, IT_LIT: index of the item pointed to */
} item_t;

typedef struct {
    item_t *v;
    uint32_t n;
} prog_t;

static uint16_t plain_half(uint32_t *s)
{
    for (;;) {
        uint16_t h = (uint16_t)test_rand(s);
        if ((h & 0xE000u) != 0xE000u || (h & 0x1800u) == 0) {
            return h; /* a 16-bit instruction */
        }
    }
}

static prog_t make_prog(uint32_t n, uint32_t seed)
{
    prog_t p = {calloc(n, sizeof(item_t)), n};
    assert_non_null(p.v);
    uint32_t s = seed;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = test_rand(&s) % 100u;
        p.v[i].type = r < 8 ? IT_BL : r < 12 ? IT_LIT : IT_HALF;
        p.v[i].half = plain_half(&s);
        p.v[i].target = test_rand(&s) % n;
    }
    return p;
}

/* Inserts k new halfwords before item at. */
static prog_t insert(const prog_t *a, uint32_t at, uint32_t k, uint32_t seed)
{
    prog_t p = {calloc(a->n + k, sizeof(item_t)), a->n + k};
    assert_non_null(p.v);
    uint32_t s = seed;
    for (uint32_t i = 0, j = 0; i < a->n; i++) {
        if (i == at) {
            for (uint32_t m = 0; m < k; m++) {
                p.v[j++] = (item_t){IT_HALF, plain_half(&s), 0};
            }
        }
        p.v[j] = a->v[i];
        if (p.v[j].type != IT_HALF && p.v[j].target >= at) {
            p.v[j].target += k;
        }
        j++;
    }
    return p;
}

/* Lays the program out at addr after a 512-byte header: literal words 4-aligned (a NOP pads). */
static uint32_t link_prog(const prog_t *p, uint32_t addr, uint8_t *out, uint32_t cap)
{
    uint32_t *where = calloc(p->n, sizeof(uint32_t));
    assert_non_null(where);
    for (int pass = 0; pass < 2; pass++) {
        uint32_t o = 512;
        memset(out, 0xFF, 512);
        le_put32(out, 0x41544F46u);
        for (uint32_t i = 0; i < p->n; i++) {
            const item_t *it = &p->v[i];
            if (it->type == IT_LIT && (o & 3u) != 0) {
                le_put16(out + o, 0xBF00u);
                o += 2;
            }
            where[i] = o;
            assert_true(o + 4 <= cap);
            if (it->type == IT_HALF) {
                le_put16(out + o, it->half);
                o += 2;
            } else if (it->type == IT_LIT) {
                le_put32(out + o, addr + where[it->target] + 1u);
                o += 4;
            } else {
                uint32_t imm = (addr + where[it->target]) - (addr + o + 4u);
                uint32_t s = (imm >> 24) & 1u, i1 = (imm >> 23) & 1u, i2 = (imm >> 22) & 1u;
                uint32_t j1 = !(i1 ^ s), j2 = !(i2 ^ s);
                le_put16(out + o, (uint16_t)(0xF000u | (s << 10) | ((imm >> 12) & 0x3FFu)));
                le_put16(out + o + 2, (uint16_t)(0xD000u | (j1 << 13) | (j2 << 11) | ((imm >> 1) & 0x7FFu)));
                o += 4;
            }
        }
        if (pass == 1) {
            free(where);
            return o;
        }
    }
    return 0;
}

/* Applies patch to base feeding `chunk` bytes at a time with `room` bytes of output space.
 * Returns the final status and the bytes made in out (at most cap). */
static delta_err_t apply(const uint8_t *base, uint32_t base_len, const uint8_t *patch, size_t plen, size_t chunk,
                         size_t room, uint8_t *out, size_t cap, size_t *made)
{
    static delta_dec_t d;
    delta_buffer_t m = {base, base_len};
    delta_dec_init(&d, delta_read_buffer, &m);
    size_t pos = 0;
    *made = 0;
    for (int guard = 0; guard < 10000000; guard++) {
        size_t n = plen - pos < chunk ? plen - pos : chunk, used, got;
        uint8_t buf[4096];
        size_t r = room < sizeof(buf) ? room : sizeof(buf);
        delta_err_t e = delta_dec_run(&d, patch + pos, n, &used, buf, r, &got);
        assert_true(used <= n);
        assert_true(got <= r);
        if (got > 0) {
            assert_true(*made + got <= cap);
            memcpy(out + *made, buf, got);
            *made += got;
        }
        pos += used;
        if (e < 0 || e == DELTA_DONE) {
            return e;
        }
        if (pos == plen && used == 0 && got == 0 && e != DELTA_HEADER) {
            return delta_dec_end(&d);
        }
    }
    fail_msg("decoder made no progress");
    return DELTA_ERR_STATE;
}

typedef struct {
    uint8_t base[65536], target[65536];
    uint32_t bn, tn;
    uint8_t *patch;
    size_t plen;
    delta_enc_stats_t st;
} pair_t;

static void encode(pair_t *p)
{
    char err[160];
    uint8_t id[32];
    assert_int_equal(crypto_sha256(p->base, p->bn, id), CRYPTO_OK); /* not images: any name will do */
    assert_int_equal(delta_encode(p->base, p->bn, BANK_A, id, p->target, p->tn, BANK_B, &p->patch, &p->plen, &p->st,
                                  err, sizeof(err)),
                     0);
}

static void check_round_trip(const pair_t *p, size_t chunk, size_t room)
{
    static uint8_t out[65536];
    size_t made;
    delta_err_t e = apply(p->base, p->bn, p->patch, p->plen, chunk, room, out, sizeof(out), &made);
    assert_int_equal(e, DELTA_DONE);
    assert_int_equal(made, p->tn);
    assert_memory_equal(out, p->target, p->tn);
}

static pair_t *moved_pair(uint32_t n, uint32_t insert_at, uint32_t k)
{
    pair_t *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    prog_t a = make_prog(n, 12345u);
    prog_t b = insert(&a, insert_at, k, 777u);
    p->bn = link_prog(&a, BANK_A, p->base, sizeof(p->base));
    p->tn = link_prog(&b, BANK_B, p->target, sizeof(p->target));
    free(a.v);
    free(b.v);
    encode(p);
    return p;
}

static void free_pair(pair_t *p)
{
    free(p->patch);
    free(p);
}

/* The same program linked for the other bank: every call and pointer predicted, nothing corrected. */
static void test_other_bank_is_all_predicted(void **state)
{
    (void)state;
    pair_t *p = moved_pair(12000, 0, 0);
    check_round_trip(p, 1024, 512);
    assert_int_equal(p->st.residuals, 0);
    assert_int_equal(p->st.literal, 0);
    assert_true(p->plen < DELTA_HDR_SIZE + 64);
    free_pair(p);
}

/* 40 bytes inserted early: the calls and pointers past it all move. The relocation map predicts
 * them; without it hundreds of BL and literal words would be corrected one by one. */
static void test_inserted_code_moves_calls(void **state)
{
    (void)state;
    pair_t *p = moved_pair(12000, 1000, 20);
    check_round_trip(p, 1024, 512);
    print_message("insert: patch %zu bytes, %u pairs, %u breakpoints, %u corrected, %u literal\n", p->plen, p->st.pairs,
                  p->st.map_entries, p->st.residuals, p->st.literal);
    assert_true(p->st.map_entries >= 1);
    assert_true(p->st.residuals <= 16);
    assert_true(p->plen < DELTA_HDR_SIZE + 200);
    free_pair(p);
}

/* Any feed size and any output room give the same bytes. */
static void test_every_feed_size(void **state)
{
    (void)state;
    pair_t *p = moved_pair(6000, 2500, 7);
    const size_t chunks[] = {1, 2, 3, 5, 17, 95, 96, 97, 1000, 1u << 20};
    const size_t rooms[] = {1, 2, 3, 512, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        for (size_t j = 0; j < sizeof(rooms) / sizeof(rooms[0]); j++) {
            check_round_trip(p, chunks[i], rooms[j]);
        }
    }
    free_pair(p);
}

/* Unrelated random images: everything literal, still exact. */
static void test_unrelated_images(void **state)
{
    (void)state;
    pair_t *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    uint32_t s = 99;
    p->bn = 5000;
    p->tn = 7001;
    for (uint32_t i = 0; i < p->bn; i++) {
        p->base[i] = (uint8_t)test_rand(&s);
    }
    for (uint32_t i = 0; i < p->tn; i++) {
        p->target[i] = (uint8_t)test_rand(&s);
    }
    memcpy(p->target + 3000, p->base + 100, 2000); /* and one long match */
    encode(p);
    check_round_trip(p, 64, 100);
    assert_true(p->st.copied >= 2000);
    free_pair(p);
}

/* Every cut of the patch: never DONE, never a byte past the target, an error at the end. */
static void test_truncated_patches_are_refused(void **state)
{
    (void)state;
    pair_t *p = moved_pair(3000, 800, 9);
    static uint8_t out[65536];
    for (size_t cut = 0; cut < p->plen; cut++) {
        size_t made;
        delta_err_t e = apply(p->base, p->bn, p->patch, cut, 33, 512, out, sizeof(out), &made);
        assert_true(e < 0);
        assert_true(made <= p->tn);
    }
    free_pair(p);
}

/* Each byte of the patch flipped: an error, or bytes that are not the target (the device's hash
 * check refuses them), or, only in the range coder's last bytes whose low bits decide nothing, the
 * target itself; never a read or write out of bounds (ASan watches). */
static void test_corrupted_patches_never_pass(void **state)
{
    (void)state;
    pair_t *p = moved_pair(3000, 800, 9);
    static uint8_t out[65536];
    uint8_t *bad = malloc(p->plen);
    assert_non_null(bad);
    size_t errors = 0, wrong = 0;
    for (size_t i = DELTA_HDR_SIZE; i < p->plen; i++) {
        memcpy(bad, p->patch, p->plen);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        size_t made;
        delta_err_t e = apply(p->base, p->bn, bad, p->plen, 100, 512, out, sizeof(out), &made);
        if (e < 0) {
            errors++;
        } else {
            assert_int_equal(e, DELTA_DONE);
            assert_int_equal(made, p->tn);
            if (memcmp(out, p->target, p->tn) == 0) {
                assert_true(i >= p->plen - 4); /* a flip that changes nothing */
            } else {
                wrong++;
            }
        }
    }
    print_message("corrupted body: %zu refused by the decoder, %zu left to the hash check\n", errors, wrong);
    assert_true(errors + wrong >= p->plen - DELTA_HDR_SIZE - 4);
    free(bad);
    free_pair(p);
}

static void test_bad_headers(void **state)
{
    (void)state;
    pair_t *p = moved_pair(2000, 10, 1);
    uint8_t h[DELTA_HDR_SIZE];
    delta_info_t info;
    memcpy(h, p->patch, sizeof(h));
    assert_int_equal(delta_parse_header(h, sizeof(h), &info), DELTA_OK);
    assert_int_equal(info.base_size, p->bn);
    assert_int_equal(info.target_addr, BANK_B);
    assert_int_equal(delta_parse_header(h, sizeof(h) - 1, &info), DELTA_ERR_HEADER);
    /* A patch held whole: exactly the header and the body it announces. */
    assert_int_equal(delta_parse_patch(p->patch, p->plen, &info), DELTA_OK);
    assert_int_equal(delta_parse_patch(p->patch, p->plen - 1, &info), DELTA_ERR_TRUNCATED);
    assert_int_equal(delta_parse_patch(p->patch, p->plen + 1, &info), DELTA_ERR_TRUNCATED);
    assert_int_equal(delta_parse_patch(h, sizeof(h) - 1, &info), DELTA_ERR_HEADER);
    h[0] ^= 1;
    assert_int_equal(delta_parse_header(h, sizeof(h), &info), DELTA_ERR_MAGIC);
    memcpy(h, p->patch, sizeof(h));
    le_put16(h + 4, 2);
    assert_int_equal(delta_parse_header(h, sizeof(h), &info), DELTA_ERR_FORMAT);
    memcpy(h, p->patch, sizeof(h));
    le_put32(h + 28, 2); /* a flag this decoder does not know (1 is DELTA_FLAG_ENCRYPTED) */
    assert_int_equal(delta_parse_header(h, sizeof(h), &info), DELTA_ERR_FORMAT);
    le_put32(h + 28, DELTA_FLAG_ENCRYPTED);
    assert_int_equal(delta_parse_header(h, sizeof(h), &info), DELTA_OK);
    assert_int_equal(delta_body_offset(&info), DELTA_HDR_SIZE + DELTA_ENC_RECORD_SIZE);
    memcpy(h, p->patch, sizeof(h));
    le_put32(h + 12, (1u << 20) + 1);
    assert_int_equal(delta_parse_header(h, sizeof(h), &info), DELTA_ERR_HEADER);
    memcpy(h, p->patch, sizeof(h));
    le_put32(h + 8, 0);
    assert_int_equal(delta_parse_header(h, sizeof(h), &info), DELTA_ERR_HEADER);
    /* Through the decoder: the error sticks. */
    static delta_dec_t d;
    delta_buffer_t m = {p->base, p->bn};
    delta_dec_init(&d, delta_read_buffer, &m);
    size_t used, got;
    uint8_t out[16];
    assert_int_equal(delta_dec_run(&d, h, sizeof(h), &used, out, sizeof(out), &got), DELTA_ERR_HEADER);
    assert_int_equal(delta_dec_run(&d, p->patch, p->plen, &used, out, sizeof(out), &got), DELTA_ERR_HEADER);
    assert_int_equal(delta_dec_end(&d), DELTA_ERR_HEADER);
    free_pair(p);
}

/* The decoder's state is the RAM applying costs on the device (issue 14: at most 8 KiB). */
static void test_decoder_state_fits_the_budget(void **state)
{
    (void)state;
    print_message("decoder state: %u bytes\n", DELTA_DEC_RAM);
    assert_true(DELTA_DEC_RAM <= 8192u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_other_bank_is_all_predicted),
        cmocka_unit_test(test_inserted_code_moves_calls),
        cmocka_unit_test(test_every_feed_size),
        cmocka_unit_test(test_unrelated_images),
        cmocka_unit_test(test_truncated_patches_are_refused),
        cmocka_unit_test(test_corrupted_patches_never_pass),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_decoder_state_fits_the_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
