/* The crypto port against published known answers: SHA-256 (FIPS 180-2 examples) and
 * ECDSA-P256 verification (a FIPS 186-4 SigGen vector, P-256 with SHA-256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fota/crypto.h"
#include "test_util.h"

static void test_sha256_known_answers(void **state)
{
    (void)state;
    uint8_t h[32], want[32];
    assert_int_equal(crypto_sha256((const uint8_t *)"abc", 3, h), CRYPTO_OK);
    test_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    assert_memory_equal(h, want, 32);

    assert_int_equal(crypto_sha256((const uint8_t *)"", 0, h), CRYPTO_OK);
    test_unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    assert_memory_equal(h, want, 32);

    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(crypto_sha256((const uint8_t *)two, strlen(two), h), CRYPTO_OK);
    test_unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want, 32);
    assert_memory_equal(h, want, 32);
}

static void test_sha256_streaming_equals_one_shot(void **state)
{
    (void)state;
    /* One million 'a' (FIPS 180-2 example 3), fed in uneven pieces. */
    static uint8_t block[1000];
    memset(block, 'a', sizeof(block));
    crypto_sha256_ctx ctx;
    crypto_sha256_start(&ctx);
    size_t fed = 0, step = 1;
    while (fed < 1000000) {
        size_t n = step < 1000000 - fed ? step : 1000000 - fed;
        if (n > sizeof(block)) {
            n = sizeof(block);
        }
        crypto_sha256_update(&ctx, block, n);
        fed += n;
        step = step * 3 % 997 + 1;
    }
    uint8_t h[32], want[32];
    assert_int_equal(crypto_sha256_finish(&ctx, h), CRYPTO_OK);
    test_unhex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", want, 32);
    assert_memory_equal(h, want, 32);
}

/* FIPS 186-4 SigGen, P-256 / SHA-256, first vector; m is the SHA-256 of its message. */
#define KAT_QX "1ccbe91c075fc7f4f033bfa248db8fccd3565de94bbfb12f3c59ff46c271bf83"
#define KAT_QY "ce4014c68811f9a21a1fdb2c0e6113e06db7ca93b7404e78dc7ccd5ca89a4ca9"
#define KAT_M "44acf6b7e36c1342c2c5897204fe09504e1e2efb1a900377dbc4e7a6a133ec56"
#define KAT_R "f3ac8061b514795b8843e3d6629527ed2afd6b1f6a555a7acabb5e6f79c8c2ac"
#define KAT_S "8bf77819ca05a6b2786c76262bf7371cef97b218e96f175a3ccdda2acc058903"

static void kat(uint8_t pub[65], uint8_t m[32], uint8_t sig[64])
{
    pub[0] = 0x04;
    test_unhex(KAT_QX, pub + 1, 32);
    test_unhex(KAT_QY, pub + 33, 32);
    test_unhex(KAT_M, m, 32);
    test_unhex(KAT_R, sig, 32);
    test_unhex(KAT_S, sig + 32, 32);
}

static void test_p256_verify_known_answer(void **state)
{
    (void)state;
    uint8_t pub[65], m[32], sig[64];
    kat(pub, m, sig);
    assert_int_equal(crypto_p256_verify(pub, m, sig), CRYPTO_OK);
}

static void test_p256_rejects_any_changed_bit(void **state)
{
    (void)state;
    uint8_t pub[65], m[32], sig[64];
    kat(pub, m, sig);
    for (int bit = 0; bit < 256; bit += 7) {
        m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(crypto_p256_verify(pub, m, sig), CRYPTO_ERR_BAD_SIGNATURE);
        m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (int bit = 0; bit < 512; bit += 13) {
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(crypto_p256_verify(pub, m, sig), CRYPTO_ERR_BAD_SIGNATURE);
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* r = 0 and s = 0 are out of range, not "valid by accident". */
    uint8_t zero[64] = {0};
    assert_int_equal(crypto_p256_verify(pub, m, zero), CRYPTO_ERR_BAD_SIGNATURE);
}

static void test_p256_rejects_point_off_curve(void **state)
{
    (void)state;
    uint8_t pub[65], m[32], sig[64];
    kat(pub, m, sig);
    pub[64] ^= 1; /* Y no longer matches X */
    assert_int_equal(crypto_p256_verify(pub, m, sig), CRYPTO_ERR_BAD_KEY);
    pub[64] ^= 1;
    pub[0] = 0x02; /* compressed form is not what we store */
    assert_int_not_equal(crypto_p256_verify(pub, m, sig), CRYPTO_OK);
}

static void test_memcmp_ct(void **state)
{
    (void)state;
    uint8_t a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};
    assert_int_equal(crypto_memcmp_ct(a, b, 4), 0);
    b[3] = 5;
    assert_int_not_equal(crypto_memcmp_ct(a, b, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_answers),
        cmocka_unit_test(test_sha256_streaming_equals_one_shot),
        cmocka_unit_test(test_p256_verify_known_answer),
        cmocka_unit_test(test_p256_rejects_any_changed_bit),
        cmocka_unit_test(test_p256_rejects_point_off_curve),
        cmocka_unit_test(test_memcmp_ct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
