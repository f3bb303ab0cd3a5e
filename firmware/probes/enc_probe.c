/* The image-encryption primitives (crypto/crypto_enc.c) on the Cortex-M4, built with the device's
 * decrypting configuration (crypto/mbedtls_config_device_enc.h). First the work whose cost
 * scripts/bench.sh measures on fota-emu (which stops at the first semihosting call): one key
 * unwrap as the format will do it (ECDH, HKDF, HMAC check, 16 bytes of CTR) and 16 KiB of
 * AES-128-CTR. Then the known answers of tests/unit/test_crypto_enc.c, reported through ARM
 * semihosting with the number of failures as exit status. Test-only: runs under QEMU. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "fota/crypto_enc.h"
#include "fota/fmt.h"
#include "semihost.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = h[2 * i + (size_t)k];
            v = v * 16u + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        out[i] = (uint8_t)v;
    }
}

static unsigned failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        failures++;
        semihost_say("enc_probe: FAIL %s\n", what);
    }
}

#define RFC5903_I "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433"
#define RFC5903_GR                                                                                                     \
    "04D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF6356FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F" \
    "8353E74F33039872AB"
#define RFC5903_Z "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"

static uint8_t buf[16384];

int main(void)
{
    uint8_t priv[32], peer[65], z[32], keys[48], mac[32], wrapped[16] = {0}, key[16], iv[16] = {0};
    unhex(RFC5903_I, priv, 32);
    unhex(RFC5903_GR, peer, 65);
    /* The measured work: one unwrap, then 16 KiB decrypted. */
    crypto_err_t e1 = crypto_ecdh_p256(priv, peer, z);
    crypto_err_t e2 = crypto_hkdf_sha256(NULL, 0, z, 32, (const uint8_t *)"fota-enc-ec256-v1", 17, keys, 48);
    crypto_err_t e3 = crypto_hmac_sha256(keys + 16, 32, wrapped, 16, mac);
    crypto_err_t e4 = crypto_hmac_sha256_verify(keys + 16, 32, wrapped, 16, mac);
    crypto_err_t e5 = crypto_aes128_ctr(keys, iv, 0, wrapped, key, 16);
    crypto_err_t e6 = crypto_aes128_ctr(key, iv, 0, buf, buf, sizeof(buf));
    semihost_say("enc_probe: measured work done (unwrap, 16 KiB of AES-128-CTR)\n");
    check(e1 == CRYPTO_OK && e2 == CRYPTO_OK && e3 == CRYPTO_OK && e4 == CRYPTO_OK && e5 == CRYPTO_OK &&
              e6 == CRYPTO_OK,
          "the measured work");

    /* Known answers (see tests/unit/test_crypto_enc.c for the sources). */
    uint8_t want[64];
    unhex(RFC5903_Z, want, 32);
    check(crypto_ecdh_p256(priv, peer, z) == CRYPTO_OK && memcmp(z, want, 32) == 0, "ECDH RFC 5903 8.1");
    peer[64] ^= 1;
    check(crypto_ecdh_p256(priv, peer, z) == CRYPTO_ERR_BAD_KEY, "ECDH refuses a point off the curve");
    uint8_t ikm[22], salt[13], info[10], okm[42];
    memset(ikm, 0x0b, sizeof(ikm));
    for (int k = 0; k < 13; k++) {
        salt[k] = (uint8_t)k;
    }
    for (int k = 0; k < 10; k++) {
        info[k] = (uint8_t)(0xf0 + k);
    }
    unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865", want, 42);
    check(crypto_hkdf_sha256(salt, 13, ikm, 22, info, 10, okm, 42) == CRYPTO_OK && memcmp(okm, want, 42) == 0,
          "HKDF RFC 5869 A.1");
    const char *data = "what do ya want for nothing?";
    unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
    check(crypto_hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data), mac) == CRYPTO_OK &&
              memcmp(mac, want, 32) == 0,
          "HMAC RFC 4231 case 2");
    want[0] ^= 1;
    check(crypto_hmac_sha256_verify((const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data), want) ==
              CRYPTO_ERR_BAD_SIGNATURE,
          "HMAC check refuses a wrong tag");
    uint8_t pt[64], ct[64];
    unhex("2b7e151628aed2a6abf7158809cf4f3c", key, 16);
    unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv, 16);
    unhex(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b"
        "17ad2b417be66c3710",
        pt, 64);
    unhex(
        "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03"
        "d1792170a0f3009cee",
        want, 64);
    check(crypto_aes128_ctr(key, iv, 0, pt, ct, 64) == CRYPTO_OK && memcmp(ct, want, 64) == 0,
          "AES-128-CTR SP 800-38A");
    check(crypto_aes128_ctr(key, iv, 37, want + 37, ct, 27) == CRYPTO_OK && memcmp(ct, pt + 37, 27) == 0,
          "AES-128-CTR from offset 37");
    semihost_say("enc_probe: %u known-answer failures on the device\n", failures);
    semihost_exit(failures);
    for (;;) {
    }
}
