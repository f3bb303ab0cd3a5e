/* Metadata record codec: round trip, torn records (any prefix of a program) never decode as valid,
 * single-bit damage is caught, out-of-range fields are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fota/meta.h"
#include "test_util.h"

static const meta_state_t sample = {
    .boot_bank = LAYOUT_BANK_A,
    .trial_bank = LAYOUT_BANK_B,
    .trial_attempts = 2,
    .flags = META_F_FELL_BACK,
    .security_counter = 0x01020304,
    .xfer_bank = LAYOUT_BANK_B,
    .xfer_id = {1, 2, 3, 4, 5, 6, 7, 8},
};

static void test_meta_record_round_trip(void **state)
{
    (void)state;
    uint8_t rec[META_RECORD_SIZE];
    meta_record_encode(77, &sample, rec);
    uint32_t seq;
    meta_state_t st;
    assert_int_equal(meta_record_decode(rec, &seq, &st), META_OK);
    assert_int_equal(seq, 77);
    assert_true(meta_state_equal(&st, &sample));
}

static void test_meta_blank_slot_is_blank(void **state)
{
    (void)state;
    uint8_t rec[META_RECORD_SIZE];
    memset(rec, 0xFF, sizeof(rec));
    uint32_t seq;
    meta_state_t st;
    assert_int_equal(meta_record_decode(rec, &seq, &st), META_ERR_BLANK);
}

/* A program cut by power loss leaves the first words written and the rest erased (and the word
 * in flight with any subset of its bits cleared): none of that may read as a valid record. */
static void test_meta_torn_record_never_decodes(void **state)
{
    (void)state;
    uint8_t full[META_RECORD_SIZE], rec[META_RECORD_SIZE];
    meta_record_encode(5, &sample, full);
    uint32_t seed = 7, seq;
    meta_state_t st;
    for (int words = 0; words < META_RECORD_SIZE / 4; words++) {
        for (int trial = 0; trial < 50; trial++) {
            memset(rec, 0xFF, sizeof(rec));
            memcpy(rec, full, (size_t)words * 4);
            for (int b = 0; b < 4; b++) {
                /* Bits of the word in flight: programmed ones are cleared, others still 1. */
                uint8_t mask = (uint8_t)test_rand(&seed);
                rec[words * 4 + b] = (uint8_t)(full[words * 4 + b] | mask);
            }
            if (memcmp(rec, full, sizeof(rec)) == 0) {
                continue; /* the cut happened to leave the whole record: it is then valid */
            }
            assert_int_not_equal(meta_record_decode(rec, &seq, &st), META_OK);
        }
    }
}

static void test_meta_any_bit_flip_is_caught(void **state)
{
    (void)state;
    uint8_t rec[META_RECORD_SIZE];
    meta_record_encode(9, &sample, rec);
    uint32_t seq;
    meta_state_t st;
    for (int bit = 0; bit < META_RECORD_SIZE * 8; bit++) {
        rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(meta_record_decode(rec, &seq, &st), META_OK);
        rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

static void test_meta_fields_out_of_range_are_refused(void **state)
{
    (void)state;
    meta_state_t bad[] = {sample, sample, sample, sample, sample, sample};
    bad[0].boot_bank = LAYOUT_BANK_NONE;
    bad[1].trial_bank = 3;
    bad[2].trial_bank = bad[2].boot_bank; /* a bank cannot be on trial against itself */
    bad[3].flags = 0x80;
    bad[4].xfer_bank = 7; /* a transfer into no bank */
    memset(bad[5].xfer_id, 0, sizeof(bad[5].xfer_id)); /* no transfer, yet a bank */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t rec[META_RECORD_SIZE];
        meta_record_encode(1, &bad[i], rec);
        uint32_t seq;
        meta_state_t st;
        assert_int_equal(meta_record_decode(rec, &seq, &st), META_ERR_FIELD);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_record_round_trip),
        cmocka_unit_test(test_meta_blank_slot_is_blank),
        cmocka_unit_test(test_meta_torn_record_never_decodes),
        cmocka_unit_test(test_meta_any_bit_flip_is_caught),
        cmocka_unit_test(test_meta_fields_out_of_range_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
