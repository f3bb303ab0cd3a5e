/* fota-server's request helpers: Range headers (RFC 9110 §14) and device ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fota/srv.h"

static void test_srv_range_forms(void **state)
{
    (void)state;
    uint64_t a = 0, b = 0;
    assert_int_equal(srv_parse_range(NULL, 1000, &a, &b), SRV_RANGE_NONE);
    assert_int_equal(srv_parse_range("bytes=0-99", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 0 && b == 99);
    assert_int_equal(srv_parse_range("bytes=900-", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 900 && b == 999);
    assert_int_equal(srv_parse_range("bytes=-100", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 900 && b == 999);
    assert_int_equal(srv_parse_range("bytes=-5000", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 0 && b == 999);
    assert_int_equal(srv_parse_range("bytes=500-5000", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 500 && b == 999);
    assert_int_equal(srv_parse_range("bytes=1000-", 1000, &a, &b), SRV_RANGE_UNSATISFIABLE);
    assert_int_equal(srv_parse_range("bytes=-0", 1000, &a, &b), SRV_RANGE_UNSATISFIABLE);
    assert_int_equal(srv_parse_range("bytes=0-1,5-6", 1000, &a, &b), SRV_RANGE_NONE);
    const char *bad[] = {"bytes=", "bytes=-", "bytes=5-4", "bytes=a-b", "pages=0-1", "bytes=1-2x",
                         "bytes=99999999999999999999-", "bytes= 1-2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (srv_parse_range(bad[i], 1000, &a, &b) != SRV_RANGE_MALFORMED) {
            fail_msg("'%s' was not refused as malformed", bad[i]);
        }
    }
}

static void test_srv_device_ids(void **state)
{
    (void)state;
    assert_true(srv_valid_device_id("dev-01.A_b"));
    assert_false(srv_valid_device_id(""));
    assert_false(srv_valid_device_id(".."));
    assert_false(srv_valid_device_id("a/b"));
    assert_false(srv_valid_device_id("a b"));
    assert_false(srv_valid_device_id("0123456789012345678901234567890123456789012345678901234567890123456789"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srv_range_forms),
        cmocka_unit_test(test_srv_device_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
