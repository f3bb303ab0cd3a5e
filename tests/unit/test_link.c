/* Link framing: encode/decode round trips, every single-byte corruption of a frame rejected,
 * lengths bounded by the buffer, padding ignored, STATUS codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fota/link.h"
#include "test_util.h"

static void test_link_round_trip_with_padding(void **state)
{
    (void)state;
    uint8_t payload[LINK_MAX_PAYLOAD], buf[LINK_FRAME_MAX + 64];
    for (size_t i = 0; i < sizeof(payload); i++) {
        payload[i] = (uint8_t)(i * 31);
    }
    uint16_t lens[] = {0, 1, 4, 100, LINK_MAX_PAYLOAD};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        memset(buf, 0, sizeof(buf)); /* the transaction's padding */
        size_t n = link_encode(buf, sizeof(buf), LINK_DATA, (uint16_t)(1000 + k), payload, lens[k]);
        assert_int_equal(n, LINK_HDR_SIZE + lens[k] + LINK_CRC_SIZE);
        link_frame_t f;
        assert_int_equal(link_decode(buf, sizeof(buf), &f), LINK_OK);
        assert_int_equal(f.type, LINK_DATA);
        assert_int_equal(f.seq, 1000 + k);
        assert_int_equal(f.len, lens[k]);
        if (lens[k]) {
            assert_memory_equal(f.payload, payload, lens[k]);
        }
        assert_int_equal(link_decode(buf, n, &f), LINK_OK); /* exactly the frame, no padding */
        assert_int_equal(link_decode(buf, n - 1, &f), n - 1 < LINK_HDR_SIZE + LINK_CRC_SIZE ? LINK_ERR_SHORT
                                                                                              : LINK_ERR_LENGTH);
    }
    assert_int_equal(link_encode(buf, sizeof(buf), LINK_DATA, 1, payload, LINK_MAX_PAYLOAD + 1), 0);
    assert_int_equal(link_encode(buf, 20, LINK_DATA, 1, payload, 100), 0);
}

static void test_link_every_single_byte_change_is_rejected(void **state)
{
    (void)state;
    uint8_t payload[200], buf[LINK_STATUS_TXN + 256];
    for (size_t i = 0; i < sizeof(payload); i++) {
        payload[i] = (uint8_t)i;
    }
    memset(buf, 0, sizeof(buf));
    size_t n = link_encode(buf, sizeof(buf), LINK_DATA, 7, payload, sizeof(payload));
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1u << b);
            link_frame_t f;
            link_err_t e = link_decode(buf, sizeof(buf), &f);
            if (e == LINK_OK) {
                fail_msg("flipping bit %d of byte %zu went undetected", b, i);
            }
            buf[i] ^= (uint8_t)(1u << b);
        }
    }
    /* Idle lines are no frames. */
    uint8_t idle[64];
    link_frame_t f;
    memset(idle, 0x00, sizeof(idle));
    assert_int_equal(link_decode(idle, sizeof(idle), &f), LINK_ERR_SYNC);
    memset(idle, 0xFF, sizeof(idle));
    assert_int_equal(link_decode(idle, sizeof(idle), &f), LINK_ERR_SYNC);
}

static void test_link_length_field_is_bounded(void **state)
{
    (void)state;
    uint8_t buf[64] = {LINK_SYNC, LINK_DATA, 0, 0, 0xFF, 0xFF};
    link_frame_t f;
    assert_int_equal(link_decode(buf, sizeof(buf), &f), LINK_ERR_LENGTH);
    buf[4] = 60; /* fits LINK_MAX_PAYLOAD but not the 64 bytes received */
    buf[5] = 0;
    assert_int_equal(link_decode(buf, sizeof(buf), &f), LINK_ERR_LENGTH);
}

static void test_link_status_codec(void **state)
{
    (void)state;
    link_status_t st = {.ack_seq = 513,
                        .ack_type = LINK_BEGIN,
                        .result = LINK_R_OK,
                        .state = 2,
                        .free_bufs = 2,
                        .version = LINK_PROTOCOL_VERSION,
                        .next_offset = 131072,
                        .detail = 0xDEADBEEF,
                        .extra = {9, 8, 7},
                        .extra_len = 3};
    uint8_t p[64], frame[LINK_STATUS_TXN];
    size_t n = link_status_encode(&st, p, sizeof(p));
    assert_int_equal(n, LINK_STATUS_SIZE + 3);
    size_t fn = link_encode(frame, sizeof(frame), LINK_STATUS, 0, p, (uint16_t)n);
    assert_true(fn > 0 && fn <= LINK_STATUS_TXN);
    link_frame_t f;
    assert_int_equal(link_decode(frame, sizeof(frame), &f), LINK_OK);
    link_status_t back;
    assert_int_equal(link_status_decode(f.payload, f.len, &back), LINK_OK);
    assert_int_equal(back.ack_seq, 513);
    assert_int_equal(back.next_offset, 131072);
    assert_int_equal(back.detail, 0xDEADBEEF);
    assert_int_equal(back.extra_len, 3);
    assert_int_equal(back.extra[2], 7);
    assert_int_equal(link_status_decode(p, LINK_STATUS_SIZE - 1, &back), LINK_ERR_LENGTH);
    assert_int_equal(link_status_decode(p, LINK_STATUS_SIZE + LINK_STATUS_EXTRA_MAX + 1, &back), LINK_ERR_LENGTH);
    assert_string_equal(link_result_name(LINK_R_ROLLBACK), "rollback");
    assert_string_equal(link_result_name((link_result_t)200), "unknown result");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_round_trip_with_padding),
        cmocka_unit_test(test_link_every_single_byte_change_is_rejected),
        cmocka_unit_test(test_link_length_field_is_bounded),
        cmocka_unit_test(test_link_status_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
