/* The crypto port's primitives for encrypted images (issue 14; the image format that will use them
 * is not wired yet: docs/encryption.md): ECDH on P-256, HKDF-SHA256, HMAC-SHA256, AES-128-CTR.
 * One implementation, crypto_enc.c, over the PSA Crypto API, built where the library provides these
 * algorithms: the host tools today (mbedTLS 3.6 with the p256-m driver). The bootloader never
 * links them. Known-answer tests: tests/unit/test_crypto_enc.c. */
#ifndef FOTA_CRYPTO_ENC_H
#define FOTA_CRYPTO_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "fota/crypto.h"

#define CRYPTO_P256_PRIV_SIZE 32 /* a private scalar, big-endian; also the ECDH shared secret's size */
#define CRYPTO_AES128_KEY_SIZE 16

/* ECDH (SEC 1, as RFC 5903 checks it): the x coordinate of priv times the peer's point (65-byte
 * uncompressed). CRYPTO_ERR_BAD_KEY when the scalar or the point is not valid. */
crypto_err_t crypto_ecdh_p256(const uint8_t priv[CRYPTO_P256_PRIV_SIZE], const uint8_t peer[CRYPTO_P256_PUBKEY_SIZE],
                              uint8_t secret[CRYPTO_P256_PRIV_SIZE]);

/* HKDF-SHA256 (RFC 5869): okm_len bytes from ikm, with salt (may be empty: zeros) and info. */
crypto_err_t crypto_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                                const uint8_t *info, size_t info_len, uint8_t *okm, size_t okm_len);

/* HMAC-SHA256 (RFC 2104), and its check in constant time (CRYPTO_ERR_BAD_SIGNATURE on mismatch). */
crypto_err_t crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                                uint8_t mac[CRYPTO_SHA256_SIZE]);
crypto_err_t crypto_hmac_sha256_verify(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                                       const uint8_t mac[CRYPTO_SHA256_SIZE]);

/* AES-128 in counter mode (NIST SP 800-38A), from any byte offset of the stream whose first
 * counter block is iv (the counter is iv as a 128-bit big-endian number, plus one per block): so a
 * receiver can decrypt each piece as it arrives, and resume anywhere. Encrypts and decrypts; in and
 * out may be the same buffer. */
crypto_err_t crypto_aes128_ctr(const uint8_t key[CRYPTO_AES128_KEY_SIZE], const uint8_t iv[16], uint64_t offset,
                               const uint8_t *in, uint8_t *out, size_t len);

/* The key-wrapping scheme of encrypted images (docs/encryption.md, IMG_TLV_ENC_EC256): a record is
 * the sender's ephemeral public key (65) || HMAC-SHA256 tag (32) || wrapped image key (16). From
 * Z = ECDH(private, public): HKDF-SHA256(no salt, Z, "fota-enc-ec256-v1") gives k_wrap (16) ||
 * k_mac (32); wrapped = AES-128-CTR(k_wrap, iv 0) of the image key; tag = HMAC(k_mac, wrapped). */
#define CRYPTO_ENC_EC256_SIZE (CRYPTO_P256_PUBKEY_SIZE + CRYPTO_SHA256_SIZE + CRYPTO_AES128_KEY_SIZE)
#define CRYPTO_ENC_KEYS_SIZE (CRYPTO_AES128_KEY_SIZE + CRYPTO_SHA256_SIZE)

/* The sender's side: the record for image_key, from a fresh ephemeral key pair (eph_priv, eph_pub)
 * and the device's public key. CRYPTO_ERR_BAD_KEY when device_pub is not a point of P-256. */
crypto_err_t crypto_enc_ec256_wrap(const uint8_t eph_priv[CRYPTO_P256_PRIV_SIZE],
                                   const uint8_t eph_pub[CRYPTO_P256_PUBKEY_SIZE],
                                   const uint8_t device_pub[CRYPTO_P256_PUBKEY_SIZE],
                                   const uint8_t image_key[CRYPTO_AES128_KEY_SIZE],
                                   uint8_t record[CRYPTO_ENC_EC256_SIZE]);

/* The device's side: the image key from a record, with the device's private scalar. The tag is
 * checked (in constant time) before anything is unwrapped: CRYPTO_ERR_BAD_SIGNATURE when the record
 * was made for another key (or altered), CRYPTO_ERR_BAD_KEY when its ephemeral key is not a point
 * of the curve (or the private scalar is not valid). Intermediate secrets are wiped. */
crypto_err_t crypto_enc_ec256_unwrap(const uint8_t priv[CRYPTO_P256_PRIV_SIZE],
                                     const uint8_t record[CRYPTO_ENC_EC256_SIZE],
                                     uint8_t image_key[CRYPTO_AES128_KEY_SIZE]);

/* The payload cipher of encrypted images and patches: AES-128-CTR under the image key from an
 * all-zero counter block (a fresh key per image makes that safe), from byte offset offset of the
 * encrypted stretch. Encrypts and decrypts; in and out may be the same buffer. */
crypto_err_t crypto_enc_payload(const uint8_t key[CRYPTO_AES128_KEY_SIZE], uint64_t offset, const uint8_t *in,
                                uint8_t *out, size_t len);

#endif
