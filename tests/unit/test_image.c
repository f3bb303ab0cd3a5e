/* The image format and its verifier: sign -> verify round trips, every single-byte change rejected,
 * wrong key, truncated, oversized, wrong bank, malformed trailer, rollback, bad vectors, and a
 * bounded seeded random-mutation run over the parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fota/hostlib.h"
#include "fota/image.h"
#include "fota/le.h"
#include "test_util.h"

static char tmpdir[64];
static fota_signer *key1, *key2;
static uint8_t pub1[CRYPTO_P256_PUBKEY_SIZE], pub2[CRYPTO_P256_PUBKEY_SIZE];

static int setup_keys(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/fota-test-image-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    char p1[128], q1[128], p2[128], q2[128];
    snprintf(p1, sizeof(p1), "%s/k1.pem", tmpdir);
    snprintf(q1, sizeof(q1), "%s/k1.pub.pem", tmpdir);
    snprintf(p2, sizeof(p2), "%s/k2.pem", tmpdir);
    snprintf(q2, sizeof(q2), "%s/k2.pub.pem", tmpdir);
    if (fota_keygen_files(p1, q1) != 0 || fota_keygen_files(p2, q2) != 0) {
        return -1;
    }
    key1 = fota_signer_load(p1);
    key2 = fota_signer_load(p2);
    if (key1 == NULL || key2 == NULL || fota_load_pubkey(q1, pub1) != 0 || fota_load_pubkey(q2, pub2) != 0) {
        return -1;
    }
    unlink(p1), unlink(q1), unlink(p2), unlink(q2);
    rmdir(tmpdir);
    return 0;
}

static int teardown_keys(void **state)
{
    (void)state;
    fota_signer_free(key1);
    fota_signer_free(key2);
    return 0;
}

/* Issue 10: `fota sign` gives only low-S signatures (s <= n/2, n the P-256 group order); each
 * still verifies. Before, about half of RFC 6979's signatures had the high s. */
static void test_signer_gives_low_s_signatures(void **state)
{
    (void)state;
    static const uint8_t half_n[32] = {0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF,
                                       0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B,
                                       0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8};
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE];
    fota_signer_pubkey(key1, pub);
    for (uint32_t i = 0; i < 64; i++) {
        uint8_t hash[CRYPTO_SHA256_SIZE], sig[CRYPTO_P256_SIG_SIZE];
        assert_int_equal(crypto_sha256((const uint8_t *)&i, sizeof(i), hash), CRYPTO_OK);
        assert_int_equal(fota_signer_sign(key1, hash, sig), 0);
        assert_true(memcmp(sig + 32, half_n, 32) <= 0);
        assert_int_equal(crypto_p256_verify(pub, hash, sig), CRYPTO_OK);
    }
}

/* A payload that looks like a linked application: SP at the top of SRAM, reset vector inside. */
static uint8_t *make_payload(layout_bank_t bank, size_t len, uint32_t seed)
{
    uint8_t *p = malloc(len);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)test_rand(&seed);
    }
    le_put32(p, LAYOUT_SRAM_BASE + LAYOUT_SRAM_SIZE);
    le_put32(p + 4, layout_bank_base(bank) + IMG_HEADER_SIZE + 0x101);
    return p;
}

typedef struct {
    uint8_t *data;
    size_t len;
} image_t;

static image_t build(fota_signer *k, layout_bank_t bank, size_t payload_len, uint32_t sec, const uint8_t *extra,
                     size_t extra_len)
{
    uint8_t *payload = make_payload(bank, payload_len, 42);
    img_version_t v = {1, 2, 3, 4};
    image_t img;
    assert_int_equal(fota_image_build(k, payload, payload_len, bank, &v, sec, extra, extra_len, &img.data, &img.len),
                     0);
    free(payload);
    return img;
}

static img_err_t verify(const uint8_t *data, size_t len, const uint8_t *pub, layout_bank_t bank, uint32_t min_sec,
                        img_header_t *hdr)
{
    img_policy_t pol = {.pubkey = pub, .min_security_counter = min_sec, .bank = bank};
    return img_verify_buffer(data, len, &pol, hdr);
}

/* Re-signs an image whose header or payload a test changed on purpose, so that only the property
 * under test makes it invalid. */
static void resign(image_t *img, fota_signer *k)
{
    uint8_t *t;
    uint32_t hashed = IMG_HEADER_SIZE + le_get32(img->data + 8); /* raw: the header may be invalid on purpose */
    uint8_t digest[32], sig[64];
    assert_int_equal(crypto_sha256(img->data, hashed, digest), CRYPTO_OK);
    assert_int_equal(fota_signer_sign(k, digest, sig), 0);
    t = img->data + hashed;
    /* Standard layout from fota_image_build: info, key id, sha256, signature. */
    memcpy(t + IMG_TLV_INFO_SIZE + (4 + 32) + 4, digest, 32);
    memcpy(t + IMG_TLV_INFO_SIZE + 2 * (4 + 32) + 4, sig, 64);
}

static void test_sign_then_verify_round_trip(void **state)
{
    (void)state;
    for (int b = 0; b < 2; b++) {
        layout_bank_t bank = b ? LAYOUT_BANK_B : LAYOUT_BANK_A;
        image_t img = build(key1, bank, 3000, 7, NULL, 0);
        img_header_t h;
        assert_int_equal(verify(img.data, img.len, pub1, bank, 7, &h), IMG_OK);
        assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_NONE, 0, NULL), IMG_OK);
        assert_int_equal(h.payload_size, 3000);
        assert_int_equal(h.bank, bank);
        assert_int_equal(h.security_counter, 7);
        assert_int_equal(h.version.major, 1);
        assert_int_equal(h.version.minor, 2);
        assert_int_equal(h.version.patch, 3);
        assert_int_equal(h.version.build, 4);
        assert_int_equal(h.load_addr, layout_bank_base(bank) + IMG_HEADER_SIZE);
        assert_int_equal(img_total_size(&h), img.len);
        free(img.data);
    }
}

static void test_signing_is_deterministic(void **state)
{
    (void)state;
    image_t a = build(key1, LAYOUT_BANK_A, 100, 0, NULL, 0);
    image_t b = build(key1, LAYOUT_BANK_A, 100, 0, NULL, 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    free(a.data);
    free(b.data);
}

static void test_every_single_byte_change_is_rejected(void **state)
{
    (void)state;
    image_t img = build(key1, LAYOUT_BANK_A, 600, 0, NULL, 0);
    size_t payload_end = IMG_HEADER_SIZE + 600;
    int tried = 0;
    for (size_t i = 0; i < img.len; i++) {
        for (int k = 0; k < 2; k++) {
            uint8_t delta = k == 0 ? 0x01 : 0x80;
            img.data[i] ^= delta;
            img_err_t e = verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL);
            img.data[i] ^= delta;
            if (e == IMG_OK) {
                fail_msg("changing byte %zu (xor 0x%02x) of %zu was not detected", i, delta, img.len);
            }
            if (i >= IMG_HEADER_FIELDS_SIZE && i < IMG_HEADER_SIZE) {
                assert_int_equal(e, IMG_ERR_HEADER); /* padding: reserved, 0xFF only */
            } else if (i >= IMG_HEADER_SIZE && i < payload_end) {
                assert_int_equal(e, IMG_ERR_HASH); /* payload: only the hash can tell */
            }
            tried++;
        }
    }
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_OK);
    print_message("      %d single-byte changes over a %zu-byte image, all rejected\n", tried, img.len);
    free(img.data);
}

static void test_wrong_key_is_rejected(void **state)
{
    (void)state;
    image_t img = build(key2, LAYOUT_BANK_A, 500, 0, NULL, 0);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_KEY_ID);
    assert_int_equal(verify(img.data, img.len, pub2, LAYOUT_BANK_A, 0, NULL), IMG_OK);
    /* A forged key id does not help: the signature still fails. */
    uint8_t id1[32];
    assert_int_equal(crypto_sha256(pub1, sizeof(pub1), id1), CRYPTO_OK);
    memcpy(img.data + IMG_HEADER_SIZE + 500 + IMG_TLV_INFO_SIZE + 4, id1, 32);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_SIGNATURE);
    free(img.data);
}

static void test_missing_key_never_passes(void **state)
{
    (void)state;
    image_t img = build(key1, LAYOUT_BANK_A, 500, 0, NULL, 0);
    assert_int_equal(verify(img.data, img.len, NULL, LAYOUT_BANK_A, 0, NULL), IMG_ERR_NO_KEY);
    free(img.data);
}

static void test_truncated_image_is_rejected(void **state)
{
    (void)state;
    image_t img = build(key1, LAYOUT_BANK_A, 300, 0, NULL, 0);
    for (size_t n = 0; n < img.len; n++) {
        img_err_t e = verify(img.data, n, pub1, LAYOUT_BANK_A, 0, NULL);
        assert_int_equal(e, IMG_ERR_TRUNCATED);
    }
    free(img.data);
}

static void test_oversized_image_is_rejected(void **state)
{
    (void)state;
    image_t img = build(key1, LAYOUT_BANK_A, 300, 0, NULL, 0);
    /* Bytes after the announced end. */
    uint8_t *longer = malloc(img.len + 1);
    memcpy(longer, img.data, img.len);
    longer[img.len] = 0xFF;
    assert_int_equal(verify(longer, img.len + 1, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_TRAILING);
    free(longer);
    /* A header announcing more than a bank holds (re-signed, so only the size is wrong). */
    le_put32(img.data + 8, LAYOUT_BANK_SIZE - IMG_HEADER_SIZE);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_SIZE);
    le_put32(img.data + 8, 0xFFFFFFF0u);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_SIZE);
    free(img.data);
    /* The builder refuses a payload that cannot fit. */
    uint8_t *big = make_payload(LAYOUT_BANK_A, LAYOUT_BANK_SIZE, 1);
    img_version_t v = {1, 0, 0, 0};
    uint8_t *out;
    size_t out_len;
    assert_int_equal(fota_image_build(key1, big, LAYOUT_BANK_SIZE - IMG_HEADER_SIZE, LAYOUT_BANK_A, &v, 0, NULL, 0,
                                      &out, &out_len),
                     -1);
    free(big);
}

static void test_largest_image_fills_the_bank(void **state)
{
    (void)state;
    size_t trailer = IMG_TLV_INFO_SIZE + 3 * IMG_TLV_HDR_SIZE + 2 * 32 + 64;
    image_t img = build(key1, LAYOUT_BANK_B, LAYOUT_BANK_SIZE - IMG_HEADER_SIZE - trailer, 0, NULL, 0);
    assert_int_equal(img.len, LAYOUT_BANK_SIZE);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_B, 0, NULL), IMG_OK);
    free(img.data);
}

static void test_wrong_bank_is_rejected(void **state)
{
    (void)state;
    image_t img = build(key1, LAYOUT_BANK_A, 300, 0, NULL, 0);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_B, 0, NULL), IMG_ERR_WRONG_BANK);
    /* A header that claims bank B but keeps bank A's load address is inconsistent. */
    img.data[28] = LAYOUT_BANK_B;
    resign(&img, key1);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_NONE, 0, NULL), IMG_ERR_BANK);
    img.data[28] = 7;
    resign(&img, key1);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_NONE, 0, NULL), IMG_ERR_BANK);
    free(img.data);
}

static void test_lower_security_counter_is_rejected(void **state)
{
    (void)state;
    image_t img = build(key1, LAYOUT_BANK_A, 300, 5, NULL, 0);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 6, NULL), IMG_ERR_ROLLBACK);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 5, NULL), IMG_OK);
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_OK);
    free(img.data);
}

static void test_header_fields_are_strict(void **state)
{
    (void)state;
    static const struct {
        size_t off;
        uint8_t val;
        img_err_t want;
    } cases[] = {
        {0, 'X', IMG_ERR_MAGIC},
        {4, 2, IMG_ERR_FORMAT},
        {6, 0, IMG_ERR_HEADER},  /* header size 0x100 (set below) */
        {29, 1, IMG_ERR_HEADER}, /* reserved */
        {40, 1, IMG_ERR_HEADER}, /* reserved */
        {63, 1, IMG_ERR_HEADER}, /* reserved */
        {36, 2, IMG_ERR_HEADER}, /* unknown flag (bit 0 is IMG_FLAG_ENCRYPTED) */
        {39, 0x80, IMG_ERR_HEADER}, /* unknown flag */
        {12, 0, IMG_ERR_SIZE},   /* trailer smaller than its info header (set below) */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        image_t img = build(key1, LAYOUT_BANK_A, 300, 0, NULL, 0);
        if (cases[i].off == 6) {
            le_put16(img.data + 6, 0x100);
        } else if (cases[i].off == 12) {
            le_put32(img.data + 12, 3);
        } else {
            img.data[cases[i].off] = cases[i].val;
        }
        img_header_t h;
        assert_int_equal(img_header_decode(img.data, &h), cases[i].want);
        assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), cases[i].want);
        free(img.data);
    }
}

/* Issue 10: the padding after the header fields is reserved, so even a validly signed image with a
 * byte there other than 0xFF is refused, wherever the byte is and however the image is streamed. */
static void test_signed_header_padding_must_be_erased(void **state)
{
    (void)state;
    static const size_t offs[] = {64, 65, 300, 511};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        image_t img = build(key1, LAYOUT_BANK_A, 300, 0, NULL, 0);
        img.data[offs[i]] = 0xFE;
        resign(&img, key1);
        assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_HEADER);
        img_policy_t pol = {.pubkey = pub1, .min_security_counter = 0, .bank = LAYOUT_BANK_A};
        img_verify_ctx_t ctx;
        img_verify_init(&ctx, &pol);
        for (size_t off = 0; off < img.len; off += 7) { /* in pieces that straddle the padding */
            img_verify_update(&ctx, img.data + off, img.len - off < 7 ? img.len - off : 7);
        }
        assert_int_equal(img_verify_final(&ctx, NULL), IMG_ERR_HEADER);
        free(img.data);
    }
    image_t ok = build(key1, LAYOUT_BANK_A, 300, 0, NULL, 0);
    assert_int_equal(verify(ok.data, ok.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_OK);
    free(ok.data);
}

/* IMG_FLAG_ENCRYPTED (docs/encryption.md): refused unless the caller decrypts; the wrapped-key
 * record exactly when the flag is set, at its exact size. */
static void test_encrypted_flag_and_record(void **state)
{
    (void)state;
    uint8_t rec[4 + IMG_ENC_EC256_SIZE];
    le_put16(rec, IMG_TLV_ENC_EC256);
    le_put16(rec + 2, IMG_ENC_EC256_SIZE);
    memset(rec + 4, 0x5A, IMG_ENC_EC256_SIZE);
    img_policy_t plain = {.pubkey = pub1, .bank = LAYOUT_BANK_A};
    img_policy_t dec = {.pubkey = pub1, .bank = LAYOUT_BANK_A, .decrypts = 1};
    /* Flag and record. */
    image_t img = build(key1, LAYOUT_BANK_A, 300, 0, rec, sizeof(rec));
    le_put32(img.data + 36, IMG_FLAG_ENCRYPTED);
    resign(&img, key1);
    assert_int_equal(img_verify_buffer(img.data, img.len, &plain, NULL), IMG_ERR_ENCRYPTED);
    assert_int_equal(img_verify_buffer(img.data, img.len, &dec, NULL), IMG_OK);
    free(img.data);
    /* Flag without the record. */
    img = build(key1, LAYOUT_BANK_A, 300, 0, NULL, 0);
    le_put32(img.data + 36, IMG_FLAG_ENCRYPTED);
    resign(&img, key1);
    assert_int_equal(img_verify_buffer(img.data, img.len, &dec, NULL), IMG_ERR_TLV_MISSING);
    free(img.data);
    /* The record without the flag, and a record of the wrong size. */
    img = build(key1, LAYOUT_BANK_A, 300, 0, rec, sizeof(rec));
    assert_int_equal(img_verify_buffer(img.data, img.len, &dec, NULL), IMG_ERR_TLV);
    free(img.data);
    le_put16(rec + 2, IMG_ENC_EC256_SIZE - 1);
    img = build(key1, LAYOUT_BANK_A, 300, 0, rec, sizeof(rec) - 1);
    le_put32(img.data + 36, IMG_FLAG_ENCRYPTED);
    resign(&img, key1);
    assert_int_equal(img_verify_buffer(img.data, img.len, &dec, NULL), IMG_ERR_TLV);
    free(img.data);
}

static void test_bad_vectors_are_rejected(void **state)
{
    (void)state;
    static const uint32_t bad[][2] = {
        {0, 0x08020301},                   /* SP zero */
        {0x20020004, 0x08020301},          /* SP past the end of SRAM */
        {0x20000000, 0x08020301},          /* SP at the base: no room */
        {0x20010002, 0x08020301},          /* SP misaligned */
        {0x20020000, 0x08020300},          /* reset vector without the Thumb bit */
        {0x20020000, 0x08060301},          /* reset vector in the other bank */
        {0x20020000, 0x08020201 + 4096},   /* reset vector past the payload */
        {0x20020000, 0x08020001},          /* reset vector inside the header */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        image_t img = build(key1, LAYOUT_BANK_A, 1024, 0, NULL, 0);
        le_put32(img.data + IMG_HEADER_SIZE, bad[i][0]);
        le_put32(img.data + IMG_HEADER_SIZE + 4, bad[i][1]);
        resign(&img, key1);
        assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_VECTORS);
        free(img.data);
    }
}

static void test_malformed_trailer_is_rejected(void **state)
{
    (void)state;
    /* An ignorable unknown record is skipped. */
    uint8_t ign[] = {0x42, 0x80, 3, 0, 'x', 'y', 'z'};
    image_t img = build(key1, LAYOUT_BANK_A, 300, 0, ign, sizeof(ign));
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_OK);
    free(img.data);
    /* An unknown critical record is not. */
    uint8_t crit[] = {0x42, 0x00, 3, 0, 'x', 'y', 'z'};
    img = build(key1, LAYOUT_BANK_A, 300, 0, crit, sizeof(crit));
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_TLV_UNKNOWN);
    free(img.data);
    /* A second hash record. */
    uint8_t dup[4 + 32] = {0x10, 0x00, 32, 0};
    img = build(key1, LAYOUT_BANK_A, 300, 0, dup, sizeof(dup));
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_TLV);
    free(img.data);
    /* A record whose length runs past the trailer. */
    uint8_t over[] = {0x42, 0x80, 9, 0, 'x'};
    img = build(key1, LAYOUT_BANK_A, 300, 0, over, sizeof(over));
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_TLV);
    free(img.data);
    /* A record header cut short. */
    uint8_t cut[] = {0x42, 0x80};
    img = build(key1, LAYOUT_BANK_A, 300, 0, cut, sizeof(cut));
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_TLV);
    free(img.data);

    img = build(key1, LAYOUT_BANK_A, 300, 0, NULL, 0);
    uint8_t *t = img.data + IMG_HEADER_SIZE + 300;
    /* Wrong info magic; info length disagreeing with the header. */
    t[0] ^= 1;
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_TLV);
    t[0] ^= 1;
    t[2] ^= 1;
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_TLV);
    t[2] ^= 1;
    /* Signature record turned into an ignorable one: the signature is then missing. */
    size_t sig_rec = IMG_TLV_INFO_SIZE + 2 * (4 + 32);
    t[sig_rec + 1] |= 0x80;
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_TLV_MISSING);
    t[sig_rec + 1] &= 0x7F;
    /* Hash record with a wrong length. */
    t[IMG_TLV_INFO_SIZE + 4 + 32 + 2] = 31;
    assert_int_equal(verify(img.data, img.len, pub1, LAYOUT_BANK_A, 0, NULL), IMG_ERR_TLV);
    free(img.data);
}

struct mem {
    const uint8_t *data;
    size_t len;
    int fail_at; /* read call that fails, or -1 */
    int calls;
};

static int mem_read(void *rctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    struct mem *m = rctx;
    if (m->calls++ == m->fail_at || off > m->len || len > m->len - off) {
        return -1;
    }
    memcpy(buf, m->data + off, len);
    return 0;
}

static void test_verify_read_matches_streaming(void **state)
{
    (void)state;
    image_t img = build(key1, LAYOUT_BANK_B, 5000, 0, NULL, 0);
    /* Region larger than the image, as a bank in flash is. */
    uint8_t *region = malloc(LAYOUT_BANK_SIZE);
    memset(region, 0xFF, LAYOUT_BANK_SIZE);
    memcpy(region, img.data, img.len);
    struct mem m = {region, LAYOUT_BANK_SIZE, -1, 0};
    img_policy_t pol = {.pubkey = pub1, .min_security_counter = 0, .bank = LAYOUT_BANK_B};
    img_header_t h;
    assert_int_equal(img_verify_read(mem_read, &m, LAYOUT_BANK_SIZE, &pol, &h), IMG_OK);
    assert_int_equal(h.payload_size, 5000);
    m.calls = 0;
    m.fail_at = 3;
    assert_int_equal(img_verify_read(mem_read, &m, LAYOUT_BANK_SIZE, &pol, NULL), IMG_ERR_READ);
    m.fail_at = -1;
    m.calls = 0;
    assert_int_equal(img_verify_read(mem_read, &m, (uint32_t)img.len - 1, &pol, NULL), IMG_ERR_TRUNCATED);
    /* An erased bank is not an image. */
    memset(region, 0xFF, LAYOUT_BANK_SIZE);
    assert_int_equal(img_verify_read(mem_read, &m, LAYOUT_BANK_SIZE, &pol, NULL), IMG_ERR_MAGIC);
    free(region);

    /* Streaming in random pieces gives the same answer as one piece. */
    uint32_t seed = 99;
    for (int round = 0; round < 20; round++) {
        img_verify_ctx_t ctx;
        img_verify_init(&ctx, &pol);
        size_t off = 0;
        while (off < img.len) {
            size_t n = 1 + test_rand(&seed) % 700;
            if (n > img.len - off) {
                n = img.len - off;
            }
            img_verify_update(&ctx, img.data + off, n);
            off += n;
        }
        assert_int_equal(img_verify_final(&ctx, NULL), IMG_OK);
    }
    free(img.data);
}

static void test_random_mutations_never_pass(void **state)
{
    (void)state;
    image_t img = build(key1, LAYOUT_BANK_A, 700, 0, NULL, 0);
    uint8_t *buf = malloc(img.len + 64);
    uint32_t seed = 0xC0FFEE;
    int rounds = 3000, rejected = 0;
    for (int r = 0; r < rounds; r++) {
        memcpy(buf, img.data, img.len);
        size_t len = img.len;
        int changed = 0;
        int edits = 1 + (int)(test_rand(&seed) % 6);
        for (int e = 0; e < edits; e++) {
            uint32_t kind = test_rand(&seed) % 8;
            if (kind == 0 && len > 1) {
                len = test_rand(&seed) % len; /* truncate */
                changed = 1;
            } else if (kind == 1 && len < img.len + 64) {
                buf[len++] = (uint8_t)test_rand(&seed); /* extend */
                changed = 1;
            } else if (len > 0) {
                /* Aim half the edits at the header and trailer, where the parser works hardest. */
                size_t at = test_rand(&seed) % 2 ? test_rand(&seed) % len
                            : test_rand(&seed) % 2 ? test_rand(&seed) % IMG_HEADER_FIELDS_SIZE
                                                  : len - 1 - test_rand(&seed) % (len < 160 ? len : 160);
                uint8_t v = (uint8_t)test_rand(&seed);
                if (buf[at] != v) {
                    buf[at] = v;
                    changed = 1;
                }
            }
        }
        img_err_t e = verify(buf, len, pub1, LAYOUT_BANK_A, 0, NULL);
        if (changed && !(len == img.len && memcmp(buf, img.data, len) == 0)) {
            assert_int_not_equal(e, IMG_OK);
            rejected++;
        }
        /* The piecewise parsers alone, on whatever bytes are there. */
        img_header_t h;
        (void)img_header_decode(buf, &h);
        img_trailer_t t;
        if (len >= 160) {
            (void)img_trailer_parse(buf + len - 144, 144, &t);
        }
    }
    print_message("      %d random mutations, %d changed images all rejected\n", rounds, rejected);
    free(buf);
    free(img.data);
}

static void test_version_parse_format_compare(void **state)
{
    (void)state;
    img_version_t v, w;
    char s[32];
    assert_int_equal(img_version_parse("1.2.3", &v), 0);
    assert_int_equal(v.major, 1);
    assert_int_equal(v.build, 0);
    img_version_format(&v, s, sizeof(s));
    assert_string_equal(s, "1.2.3");
    assert_int_equal(img_version_parse("255.255.65535+4294967295", &v), 0);
    img_version_format(&v, s, sizeof(s));
    assert_string_equal(s, "255.255.65535+4294967295");
    const char *bad[] = {"", "1", "1.2", "1.2.3.4", "256.0.0", "1.256.0", "1.2.65536", "01.2.3", "1.2.3+",
                         "1.2.3+4294967296", "-1.2.3", "1.2.3 ", " 1.2.3", "a.b.c", "1..3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (img_version_parse(bad[i], &v) == 0) {
            fail_msg("version '%s' was accepted", bad[i]);
        }
    }
    assert_int_equal(img_version_parse("1.2.3+9", &v), 0);
    assert_int_equal(img_version_parse("1.2.3+1", &w), 0);
    assert_int_equal(img_version_cmp(&v, &w), 0); /* build does not order */
    assert_int_equal(img_version_parse("1.10.0", &w), 0);
    assert_true(img_version_cmp(&v, &w) < 0);
    assert_true(img_version_cmp(&w, &v) > 0);
    assert_int_equal(img_version_parse("2.0.0", &w), 0);
    assert_true(img_version_cmp(&v, &w) < 0);
}

static void test_every_error_has_a_message(void **state)
{
    (void)state;
    for (int e = IMG_OK; e <= IMG_ERR_CRYPTO; e++) {
        assert_string_not_equal(img_strerror((img_err_t)e), "unknown image error");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signer_gives_low_s_signatures),
        cmocka_unit_test(test_sign_then_verify_round_trip),
        cmocka_unit_test(test_signing_is_deterministic),
        cmocka_unit_test(test_every_single_byte_change_is_rejected),
        cmocka_unit_test(test_wrong_key_is_rejected),
        cmocka_unit_test(test_missing_key_never_passes),
        cmocka_unit_test(test_truncated_image_is_rejected),
        cmocka_unit_test(test_oversized_image_is_rejected),
        cmocka_unit_test(test_largest_image_fills_the_bank),
        cmocka_unit_test(test_wrong_bank_is_rejected),
        cmocka_unit_test(test_lower_security_counter_is_rejected),
        cmocka_unit_test(test_header_fields_are_strict),
        cmocka_unit_test(test_signed_header_padding_must_be_erased),
        cmocka_unit_test(test_encrypted_flag_and_record),
        cmocka_unit_test(test_bad_vectors_are_rejected),
        cmocka_unit_test(test_malformed_trailer_is_rejected),
        cmocka_unit_test(test_verify_read_matches_streaming),
        cmocka_unit_test(test_random_mutations_never_pass),
        cmocka_unit_test(test_version_parse_format_compare),
        cmocka_unit_test(test_every_error_has_a_message),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
