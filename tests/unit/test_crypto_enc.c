/* Known answers for the image-encryption primitives of the crypto port (fota/crypto_enc.h), from
 * their specifications: ECDH P-256 (RFC 5903 section 8.1), HKDF-SHA256 (RFC 5869 A.1 and A.3),
 * HMAC-SHA256 (RFC 4231 test case 2), AES-128-CTR (NIST SP 800-38A F.5.1), then what the format
 * will rely on: decryption from any offset, in place, and refusals of bad keys and tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fota/crypto_enc.h"
#include "test_util.h"

static void test_ecdh_rfc5903(void **state)
{
    (void)state;
    uint8_t i[32], r[32], gi[65], gr[65], z[32], want[32];
    test_unhex("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433", i, 32);
    test_unhex("C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53", r, 32);
    test_unhex("04DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
               "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
               gi, 65);
    test_unhex("04D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
               "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
               gr, 65);
    test_unhex("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE", want, 32);
    assert_int_equal(crypto_ecdh_p256(i, gr, z), CRYPTO_OK);
    assert_memory_equal(z, want, 32);
    assert_int_equal(crypto_ecdh_p256(r, gi, z), CRYPTO_OK);
    assert_memory_equal(z, want, 32);
    /* A point off the curve, and the zero scalar: refused, nothing derived. */
    gr[64] ^= 1;
    assert_int_equal(crypto_ecdh_p256(i, gr, z), CRYPTO_ERR_BAD_KEY);
    gr[64] ^= 1;
    uint8_t zero[32] = {0};
    assert_int_not_equal(crypto_ecdh_p256(zero, gr, z), CRYPTO_OK);
}

static void test_hkdf_rfc5869(void **state)
{
    (void)state;
    uint8_t ikm[22], salt[13], info[10], okm[42], want[42];
    memset(ikm, 0x0b, sizeof(ikm));
    for (int k = 0; k < 13; k++) {
        salt[k] = (uint8_t)k;
    }
    for (int k = 0; k < 10; k++) {
        info[k] = (uint8_t)(0xf0 + k);
    }
    test_unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865", want, 42);
    assert_int_equal(crypto_hkdf_sha256(salt, sizeof(salt), ikm, sizeof(ikm), info, sizeof(info), okm, 42), CRYPTO_OK);
    assert_memory_equal(okm, want, 42);
    /* A.3: no salt, no info. */
    test_unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8", want, 42);
    assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm, 42), CRYPTO_OK);
    assert_memory_equal(okm, want, 42);
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    const char *data = "what do ya want for nothing?";
    uint8_t mac[32], want[32];
    test_unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
    assert_int_equal(crypto_hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data), mac),
                     CRYPTO_OK);
    assert_memory_equal(mac, want, 32);
    assert_int_equal(crypto_hmac_sha256_verify((const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data), want),
                     CRYPTO_OK);
    want[31] ^= 1;
    assert_int_equal(crypto_hmac_sha256_verify((const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data), want),
                     CRYPTO_ERR_BAD_SIGNATURE);
}

static void test_aes_ctr_sp800_38a(void **state)
{
    (void)state;
    uint8_t key[16], iv[16], pt[64], ct[64], want[64], back[64];
    test_unhex("2b7e151628aed2a6abf7158809cf4f3c", key, 16);
    test_unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv, 16);
    test_unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
               "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
               pt, 64);
    test_unhex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
               "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
               want, 64);
    assert_int_equal(crypto_aes128_ctr(key, iv, 0, pt, ct, 64), CRYPTO_OK);
    assert_memory_equal(ct, want, 64);
    /* From every offset, any length: the same bytes (the counter's carry out of the low byte
     * included: the IV ends in ff). A receiver decrypts each piece as it comes, and resumes. */
    for (unsigned off = 0; off < 64; off++) {
        for (unsigned n = 1; off + n <= 64; n += 7) {
            assert_int_equal(crypto_aes128_ctr(key, iv, off, want + off, back, n), CRYPTO_OK);
            assert_memory_equal(back, pt + off, n);
        }
    }
    memcpy(back, want, 64); /* in place */
    assert_int_equal(crypto_aes128_ctr(key, iv, 0, back, back, 64), CRYPTO_OK);
    assert_memory_equal(back, pt, 64);
}

/* Pieces longer than the implementation's internal 256-byte steps, at an odd offset. */
static void test_aes_ctr_long_runs(void **state)
{
    (void)state;
    static uint8_t pt[5000], ct[5000], piece[5000];
    uint8_t key[16] = {1, 2, 3}, iv[16] = {0};
    uint32_t s = 5;
    for (size_t k = 0; k < sizeof(pt); k++) {
        pt[k] = (uint8_t)test_rand(&s);
    }
    assert_int_equal(crypto_aes128_ctr(key, iv, 0, pt, ct, sizeof(pt)), CRYPTO_OK);
    assert_int_equal(crypto_aes128_ctr(key, iv, 1037, ct + 1037, piece, 3000), CRYPTO_OK);
    assert_memory_equal(piece, pt + 1037, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecdh_rfc5903),      cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_hmac_rfc4231),      cmocka_unit_test(test_aes_ctr_sp800_38a),
        cmocka_unit_test(test_aes_ctr_long_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
