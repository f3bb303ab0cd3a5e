/* Images and patches encrypted for one device (docs/encryption.md): the host's side, the writer and
 * a reader the tools use to check what they wrote. The scheme itself (wrap, unwrap, the payload
 * cipher) is crypto_enc.c's, which the device's agent uses too. */
#include <stdlib.h>
#include <string.h>

#include <psa/crypto.h>

#include "fota/crypto_enc.h"
#include "fota/delta.h"
#include "fota/hostlib.h"
#include "fota/le.h"

/* The payload bytes of a well-formed encrypted image, or NULL. */
static uint8_t *encrypted_payload(uint8_t *image, size_t len, img_header_t *h, img_trailer_t *t)
{
    if (len < IMG_HEADER_SIZE || img_header_decode(image, h) != IMG_OK || img_total_size(h) != len ||
        img_trailer_parse(image + h->hdr_size + h->payload_size, h->trailer_size, t) != IMG_OK) {
        fota_err("not a well-formed image");
        return NULL;
    }
    if ((h->flags & IMG_FLAG_ENCRYPTED) == 0 || t->enc == NULL) {
        fota_err("the image is not encrypted");
        return NULL;
    }
    return image + h->hdr_size;
}

int fota_enc_wrap(const uint8_t device_pub[CRYPTO_P256_PUBKEY_SIZE],
                  uint8_t record[IMG_TLV_HDR_SIZE + IMG_ENC_EC256_SIZE], uint8_t image_key[16])
{
    uint8_t eph_priv[32], eph_pub[CRYPTO_P256_PUBKEY_SIZE];
    int rc = -1;
    fota_signer *eph = fota_signer_generate();
    if (eph == NULL) {
        return -1;
    }
    if (psa_crypto_init() != PSA_SUCCESS || psa_generate_random(image_key, 16) != PSA_SUCCESS) {
        fota_err("no random numbers for the image key");
        goto out;
    }
    if (fota_signer_private(eph, eph_priv) != 0) {
        goto out;
    }
    fota_signer_pubkey(eph, eph_pub);
    crypto_err_t e = crypto_enc_ec256_wrap(eph_priv, eph_pub, device_pub, image_key, record + IMG_TLV_HDR_SIZE);
    if (e != CRYPTO_OK) {
        fota_err(e == CRYPTO_ERR_BAD_KEY ? "the device key is not a P-256 public key"
                                         : "wrapping the image key failed (crypto library)");
        goto out;
    }
    le_put16(record, IMG_TLV_ENC_EC256);
    le_put16(record + 2, IMG_ENC_EC256_SIZE);
    rc = 0;
out:
    memset(eph_priv, 0, sizeof(eph_priv));
    fota_signer_free(eph);
    return rc;
}

int fota_image_encrypt_payload(uint8_t *image, size_t len, const uint8_t image_key[16])
{
    img_header_t h;
    img_trailer_t t;
    uint8_t *p = encrypted_payload(image, len, &h, &t);
    if (p == NULL) {
        return -1;
    }
    if (crypto_enc_payload(image_key, 0, p, p, h.payload_size) != CRYPTO_OK) {
        fota_err("encrypting the payload failed (crypto library)");
        return -1;
    }
    return 0;
}

int fota_image_decrypt(uint8_t *image, size_t len, const uint8_t device_priv[32])
{
    img_header_t h;
    img_trailer_t t;
    uint8_t *p = encrypted_payload(image, len, &h, &t);
    if (p == NULL) {
        return -1;
    }
    uint8_t image_key[16];
    crypto_err_t e = crypto_enc_ec256_unwrap(device_priv, t.enc, image_key);
    if (e == CRYPTO_ERR_BAD_KEY) {
        fota_err("the image's key record is malformed (its ephemeral key is not a P-256 point)");
        return -1;
    }
    if (e != CRYPTO_OK) {
        fota_err(e == CRYPTO_ERR_BAD_SIGNATURE ? "the image is not encrypted for this device key"
                                               : "decrypting failed (crypto library)");
        return -1;
    }
    e = crypto_enc_payload(image_key, 0, p, p, h.payload_size);
    memset(image_key, 0, sizeof(image_key));
    if (e != CRYPTO_OK) {
        fota_err("decrypting failed (crypto library)");
        return -1;
    }
    return 0;
}

img_err_t fota_image_check_sealed(const uint8_t *img, size_t len, const uint8_t *pubkey, img_header_t *hdr)
{
    img_header_t h;
    img_trailer_t t;
    img_err_t e = len < IMG_HEADER_FIELDS_SIZE ? IMG_ERR_TRUNCATED : img_header_decode(img, &h);
    if (e != IMG_OK) {
        return e;
    }
    if (img_total_size(&h) != len) {
        return img_total_size(&h) > len ? IMG_ERR_TRUNCATED : IMG_ERR_TRAILING;
    }
    if ((h.flags & IMG_FLAG_ENCRYPTED) == 0) {
        return IMG_ERR_HEADER; /* not sealed: img_verify_buffer checks it whole */
    }
    e = img_trailer_parse(img + h.hdr_size + h.payload_size, h.trailer_size, &t);
    if (e == IMG_OK && t.enc == NULL) {
        e = IMG_ERR_TLV_MISSING;
    }
    if (e != IMG_OK) {
        return e;
    }
    if (hdr != NULL) {
        *hdr = h;
    }
    return img_check_signer(pubkey, &t, t.sha256);
}

/* A whole patch's header, and whether it is encrypted; -1 after a message when it is not a patch. */
static int patch_header(const uint8_t *patch, size_t len, delta_info_t *in)
{
    if (delta_parse_patch(patch, len, in) != DELTA_OK) {
        fota_err("not a whole patch (header or size wrong)");
        return -1;
    }
    return 0;
}

/* The patch (whole, header in) with its body run through AES-128-CTR under key, which is wiped:
 * sealed when rec is a key record (the flag set, rec after the header), opened when rec is NULL
 * (the flag cleared, the record dropped). The counter stream is the same both ways. */
static int patch_crypt(const uint8_t *patch, const delta_info_t *in, uint8_t key[CRYPTO_AES128_KEY_SIZE],
                       const uint8_t *rec, uint8_t **out, size_t *out_len)
{
    size_t at = rec != NULL ? DELTA_HDR_SIZE + DELTA_ENC_RECORD_SIZE : DELTA_HDR_SIZE;
    uint8_t *o = malloc(at + in->body_size);
    if (o == NULL) {
        memset(key, 0, CRYPTO_AES128_KEY_SIZE);
        fota_err("out of memory");
        return -1;
    }
    memcpy(o, patch, DELTA_HDR_SIZE);
    le_put32(o + 28, rec != NULL ? in->flags | DELTA_FLAG_ENCRYPTED : in->flags & ~DELTA_FLAG_ENCRYPTED);
    if (rec != NULL) {
        memcpy(o + DELTA_HDR_SIZE, rec, DELTA_ENC_RECORD_SIZE);
    }
    crypto_err_t e = crypto_enc_payload(key, 0, patch + delta_body_offset(in), o + at, in->body_size);
    memset(key, 0, CRYPTO_AES128_KEY_SIZE);
    if (e != CRYPTO_OK) {
        fota_err("%s the patch failed (crypto library)", rec != NULL ? "encrypting" : "decrypting");
        free(o);
        return -1;
    }
    *out = o;
    *out_len = at + in->body_size;
    return 0;
}

int fota_patch_seal(const uint8_t *patch, size_t len, const uint8_t device_pub[CRYPTO_P256_PUBKEY_SIZE],
                    uint8_t **out, size_t *out_len)
{
    delta_info_t in;
    if (patch_header(patch, len, &in) != 0) {
        return -1;
    }
    if ((in.flags & DELTA_FLAG_ENCRYPTED) != 0) {
        fota_err("the patch is encrypted already");
        return -1;
    }
    uint8_t rec[IMG_TLV_HDR_SIZE + IMG_ENC_EC256_SIZE], key[CRYPTO_AES128_KEY_SIZE];
    if (fota_enc_wrap(device_pub, rec, key) != 0) {
        return -1;
    }
    return patch_crypt(patch, &in, key, rec + IMG_TLV_HDR_SIZE, out, out_len);
}

int fota_patch_open(const uint8_t *patch, size_t len, const uint8_t device_priv[32], uint8_t **out,
                    size_t *out_len)
{
    delta_info_t in;
    if (patch_header(patch, len, &in) != 0) {
        return -1;
    }
    if ((in.flags & DELTA_FLAG_ENCRYPTED) == 0) {
        fota_err("the patch is not encrypted");
        return -1;
    }
    uint8_t key[CRYPTO_AES128_KEY_SIZE];
    crypto_err_t e = crypto_enc_ec256_unwrap(device_priv, patch + DELTA_HDR_SIZE, key);
    if (e != CRYPTO_OK) {
        fota_err(e == CRYPTO_ERR_BAD_SIGNATURE ? "the patch is not encrypted for this device key"
                                               : "the patch's key record is malformed");
        return -1;
    }
    return patch_crypt(patch, &in, key, NULL, out, out_len);
}
