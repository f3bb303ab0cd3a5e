/* CRC-32 known answers (IEEE 802.3 check value) and incremental == one-shot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fota/crc32.h"

static void test_crc32_check_value(void **state)
{
    (void)state;
    const uint8_t check[] = "123456789";
    assert_int_equal(crc32(check, 9), 0xCBF43926u);
    assert_int_equal(crc32(NULL, 0), 0x00000000u);
    const uint8_t zero[4] = {0};
    assert_int_equal(crc32(zero, 4), 0x2144DF1Cu);
    const uint8_t fox[] = "The quick brown fox jumps over the lazy dog";
    assert_int_equal(crc32(fox, sizeof(fox) - 1), 0x414FA339u);
}

static void test_crc32_incremental_matches_one_shot(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 7 + 3);
    }
    uint32_t whole = crc32(buf, sizeof(buf));
    for (size_t split = 0; split <= sizeof(buf); split += 37) {
        uint32_t c = crc32_update(CRC32_INIT, buf, split);
        c = crc32_update(c, buf + split, sizeof(buf) - split);
        assert_int_equal(crc32_final(c), whole);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test(test_crc32_incremental_matches_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
