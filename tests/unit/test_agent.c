/* The OTA agent with the link master, in one process over the simulated flash: a complete update
 * that boots on trial and confirms; corrupted, dropped and duplicated transactions; power cuts in
 * the middle of a transfer followed by a resume; and every image the agent must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "device_fixture.h"
#include "fota/agent.h"
#include "fota/delta_enc.h"
#include "fota/devkey.h"
#include "fota/link_master.h"

static uint8_t *img_a, *img_b, *img_b_other, *img_b_sec1, *img_a_for_b;
static size_t len_a, len_b, len_b_other, len_b_sec1, len_a_for_b;
/* Patches (docs/delta.md): img_a (running in A) -> img_bd, a release made from img_a's payload with
 * code inserted and changed, for B; and one from another base. */
static uint8_t *img_bd, *patch_ab, *patch_other;
static size_t len_bd, len_patch_ab, len_patch_other;

typedef struct {
    device_t dev;
    agent_t agent;
    int resets;
    /* Fault injection, per transaction, in thousandths. */
    uint32_t rng, corrupt_tx, corrupt_rx, drop, dup;
    uint64_t faults;
    uint8_t txload[LINK_STATUS_TXN]; /* what the SPI interrupt loaded for the next transaction */
    uint8_t *rxbuf;                  /* where it receives */
} rig_t;

/* What the SPI port's interrupt does when NSS rises. */
static void rig_receive(rig_t *r, const uint8_t *bytes, uint32_t len)
{
    memcpy(r->rxbuf, bytes, len);
    r->rxbuf = agent_rx_swap(&r->agent, len, r->txload);
}

static void rig_reset(void *ctx)
{
    ((rig_t *)ctx)->resets++;
}

static void rig_agent(rig_t *r)
{
    agent_config_t cfg = {.flash = &r->dev.port.flash,
                          .pubkey = fx_pub,
                          .running = LAYOUT_BANK_A,
                          .boot_version = {1, 0, 0, 0},
                          .app_version = {1, 0, 0, 0},
                          .reset = rig_reset,
                          .ctx = r};
    agent_init(&r->agent, &cfg);
    r->rxbuf = agent_rx_swap(&r->agent, 0, r->txload);
}

static int chance(rig_t *r, uint32_t per_mille)
{
    return per_mille && test_rand(&r->rng) % 1000 < per_mille;
}

static int rig_transact(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len)
{
    rig_t *r = ctx;
    uint8_t out[LINK_FRAME_MAX];
    memcpy(out, tx, len);
    memset(rx, 0, len);
    memcpy(rx, r->txload, len < LINK_STATUS_TXN ? len : LINK_STATUS_TXN);
    if (chance(r, r->corrupt_rx)) {
        rx[test_rand(&r->rng) % LINK_STATUS_TXN] ^= (uint8_t)(1u << (test_rand(&r->rng) % 8));
        r->faults++;
    }
    if (chance(r, r->drop)) {
        r->faults++; /* the slave never saw it */
    } else {
        if (chance(r, r->corrupt_tx)) {
            out[test_rand(&r->rng) % len] ^= (uint8_t)(1u << (test_rand(&r->rng) % 8));
            r->faults++;
        }
        rig_receive(r, out, len);
        if (chance(r, r->dup)) {
            rig_receive(r, out, len);
            r->faults++;
        }
    }
    agent_poll(&r->agent); /* the application's main loop runs between transactions */
    return 0;
}

static void rig_wait(void *ctx, uint32_t us)
{
    (void)us;
    agent_poll(&((rig_t *)ctx)->agent);
}

static rig_t *rig_new(void)
{
    rig_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    fx_device_init(&r->dev);
    fx_place(&r->dev, LAYOUT_BANK_A, img_a, len_a);
    meta_state_t s = {.boot_bank = LAYOUT_BANK_A, .trial_bank = LAYOUT_BANK_NONE};
    fx_meta(&r->dev, &s);
    r->rng = 1;
    rig_agent(r);
    return r;
}

static void rig_free(rig_t *r)
{
    fx_device_free(&r->dev);
    free(r);
}

static lm_err_t send(rig_t *r, link_master_t *m, const uint8_t *img, size_t len, layout_bank_t bank, uint32_t *from)
{
    link_port_t port = {rig_transact, rig_wait, r};
    lm_init(m, &port);
    lm_begin_t begin;
    uint8_t sha[CRYPTO_SHA256_SIZE];
    assert_int_equal(crypto_sha256(img, len, sha), CRYPTO_OK);
    assert_int_equal(lm_begin_image(&begin, (uint32_t)len, sha, (uint8_t)bank, lm_read_memory, (void *)img), 0);
    return lm_send(m, &begin, (uint32_t)len, lm_read_memory, (void *)img, NULL, NULL, from);
}

static lm_err_t send_patch(rig_t *r, link_master_t *m, const uint8_t *patch, size_t len, uint32_t *from)
{
    link_port_t port = {rig_transact, rig_wait, r};
    lm_init(m, &port);
    lm_begin_t begin;
    assert_int_equal(lm_begin_delta_encode(&begin, patch, (uint32_t)len, NULL), 0);
    return lm_send(m, &begin, (uint32_t)len, lm_read_memory, (void *)patch, NULL, NULL, from);
}

/* Sends an image to bank B (a patch when patch is set) with the power cut at flash operation cut
 * (a torn write when tear), then disarms. The cut's longjmp lands in this frame, which holds none
 * of the caller's loop variables (-Wclobbered in optimised builds). */
static void send_until_cut(rig_t *r, const uint8_t *data, size_t len, int patch, uint64_t cut, int tear, uint32_t seed)
{
    link_master_t m;
    jmp_buf env;
    flash_sim_cut_after(&r->dev.sim, cut, tear, seed, &env);
    if (!setjmp(env)) {
        if (patch) {
            (void)send_patch(r, &m, data, len, NULL);
        } else {
            (void)send(r, &m, data, len, LAYOUT_BANK_B, NULL);
        }
    }
    flash_sim_disarm(&r->dev.sim);
}

static const uint8_t *bank_b(const rig_t *r)
{
    return r->dev.mem + (LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE);
}

/* A patch applied by the agent: the image in B byte for byte, verified, staged, booted on trial. */
/* COMMIT of bank B is answered, and the bootloader then runs B on trial. */
static void commit_boots_b_on_trial(rig_t *r, link_master_t *m)
{
    assert_int_equal(lm_commit(m, LAYOUT_BANK_B), LM_OK);
    boot_decision_t d;
    boot_decide(&r->dev.port, fx_pub, &d);
    assert_int_equal(d.bank, LAYOUT_BANK_B);
    assert_int_equal(d.path, BOOT_PATH_TRIAL);
}

static void test_agent_applies_a_patch(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    link_master_t m;
    uint32_t from = 99;
    /* What the bridge asks first: the SHA-256 the running image is signed over (its patch's name). */
    link_port_t port = {rig_transact, rig_wait, r};
    lm_init(&m, &port);
    uint8_t id_a[32];
    assert_int_equal(fota_image_signed_hash(img_a, len_a, id_a), 0);
    assert_int_equal(lm_request(&m, LINK_IMAGE_ID, NULL, 0), LM_OK);
    assert_int_equal(m.status.extra_len, 32);
    assert_memory_equal(m.status.extra, id_a, 32);
    assert_int_equal(send_patch(r, &m, patch_ab, len_patch_ab, &from), LM_OK);
    assert_int_equal(from, 0);
    assert_memory_equal(bank_b(r), img_bd, len_bd);
    commit_boots_b_on_trial(r, &m);
    print_message("      patch of %zu bytes for an image of %zu: %llu transactions, %llu bytes on the wire; "
                  "applying adds %u bytes to the agent\n",
                  len_patch_ab, len_bd, (unsigned long long)m.transactions, (unsigned long long)m.wire_bytes,
                  (unsigned)AGENT_DELTA_RAM);
    rig_free(r);
}

/* A patch for another base: refused before anything is erased; bank B and the metadata untouched. */
static void test_agent_refuses_a_patch_for_another_base(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    uint8_t *before = malloc(LAYOUT_BANK_SIZE);
    assert_non_null(before);
    memcpy(before, bank_b(r), LAYOUT_BANK_SIZE);
    link_master_t m;
    assert_int_equal(send_patch(r, &m, patch_other, len_patch_other, NULL), LM_ERR_REFUSED);
    assert_int_equal(m.status.result, LINK_R_BAD_BASE);
    assert_int_equal(m.status.ack_type, LINK_BEGIN_DELTA);
    assert_memory_equal(before, bank_b(r), LAYOUT_BANK_SIZE);
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &r->dev.port.flash), META_OK);
    assert_int_equal(log.state.trial_bank, LAYOUT_BANK_NONE);
    free(before);
    rig_free(r);
}

/* Every byte of the patch body flipped in turn (a sample): refused, while decoding or at VERIFY,
 * and nothing staged. */
static void test_agent_refuses_corrupt_patches(void **state)
{
    (void)state;
    uint8_t *bad = malloc(len_patch_ab);
    assert_non_null(bad);
    int at_decode = 0, at_verify = 0;
    for (size_t i = DELTA_HDR_SIZE; i < len_patch_ab; i += 1 + (len_patch_ab - DELTA_HDR_SIZE) / 12) {
        memcpy(bad, patch_ab, len_patch_ab);
        bad[i] ^= 0x10;
        rig_t *r = rig_new();
        link_master_t m;
        assert_int_equal(send_patch(r, &m, bad, len_patch_ab, NULL), LM_ERR_REFUSED);
        assert_int_equal(m.status.result, LINK_R_BAD_IMAGE);
        if (m.status.ack_type == LINK_VERIFY) {
            at_verify++;
        } else {
            at_decode++;
        }
        assert_int_equal(lm_request(&m, LINK_COMMIT, NULL, 0), LM_ERR_STATE);
        meta_log_t log;
        assert_int_equal(meta_log_open(&log, &r->dev.port.flash), META_OK);
        assert_int_equal(log.state.trial_bank, LAYOUT_BANK_NONE);
        rig_free(r);
    }
    print_message("      corrupt patches: %d refused while decoding, %d at VERIFY\n", at_decode, at_verify);
    free(bad);
}

/* A patch cut short (a bridge that announces and sends fewer bytes than its body): every byte
 * sent is accepted, and VERIFY refuses the image it could not finish; nothing staged. */
static void test_agent_refuses_a_truncated_patch(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    link_master_t m;
    link_port_t port = {rig_transact, rig_wait, r};
    lm_init(&m, &port);
    lm_begin_t begin;
    assert_int_equal(lm_begin_delta_encode(&begin, patch_ab, (uint32_t)len_patch_ab, NULL), 0);
    uint32_t cut = (uint32_t)len_patch_ab - 100;
    le_put32(begin.payload + LINK_BEGIN_SIZE, cut);
    assert_int_equal(lm_send(&m, &begin, cut, lm_read_memory, (void *)patch_ab, NULL, NULL, NULL), LM_ERR_REFUSED);
    assert_int_equal(m.status.result, LINK_R_BAD_IMAGE);
    assert_int_equal(m.status.ack_type, LINK_VERIFY);
    assert_int_equal(m.status.detail, (uint32_t)-DELTA_ERR_TRUNCATED);
    assert_int_equal(lm_request(&m, LINK_COMMIT, NULL, 0), LM_ERR_STATE);
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &r->dev.port.flash), META_OK);
    assert_int_equal(log.state.trial_bank, LAYOUT_BANK_NONE);
    rig_free(r);
}

/* Power cut at random flash operations while a patch is applied, then power back: the agent
 * re-decodes the patch from its start, keeps what is in flash, and finishes bit-exact. */
static void test_agent_resumes_a_patch_after_power_cuts(void **state)
{
    (void)state;
    uint32_t seed = 777;
    int resumed = 0;
    for (int trial = 0; trial < 30; trial++) {
        rig_t *r = rig_new();
        link_master_t m;
        uint64_t cut = 2 + test_rand(&seed) % (len_bd / 4 + 40);
        int tear = (int)(test_rand(&seed) & 1);
        send_until_cut(r, patch_ab, len_patch_ab, 1, cut, tear, seed);
        boot_decision_t d;
        boot_decide(&r->dev.port, fx_pub, &d);
        assert_int_equal(d.bank, LAYOUT_BANK_A);
        rig_agent(r);
        assert_int_equal(send_patch(r, &m, patch_ab, len_patch_ab, NULL), LM_OK);
        resumed += r->agent.dl.keep_below > 0;
        assert_memory_equal(bank_b(r), img_bd, len_bd);
        rig_free(r);
    }
    print_message("      30 power cuts while patching, %d resumed past image offset 0, all bit-exact\n", resumed);
    assert_true(resumed > 0);
}

static void test_agent_update_boots_on_trial_and_confirms(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    link_master_t m;
    uint32_t from = 99;
    assert_int_equal(send(r, &m, img_b, len_b, LAYOUT_BANK_B, &from), LM_OK);
    assert_int_equal(from, 0);
    assert_memory_equal(r->dev.mem + (LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE), img_b, len_b);
    assert_int_equal(lm_commit(&m, LAYOUT_BANK_B), LM_OK); /* answered, then the device resets */
    assert_int_equal(r->resets, 1);
    /* The bootloader now runs B on trial; B confirms itself. */
    boot_decision_t d;
    boot_decide(&r->dev.port, fx_pub, &d);
    assert_int_equal(d.bank, LAYOUT_BANK_B);
    assert_int_equal(d.path, BOOT_PATH_TRIAL);
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &r->dev.port.flash), META_OK);
    assert_int_equal(meta_confirm(&log, LAYOUT_BANK_B, 0), META_OK);
    boot_decide(&r->dev.port, fx_pub, &d);
    assert_int_equal(d.bank, LAYOUT_BANK_B);
    assert_int_equal(d.path, BOOT_PATH_NORMAL);
    print_message(
        "      256 KiB-bank update of %zu bytes: %llu transactions, %llu bytes on the wire, agent RAM %zu bytes\n",
        len_b, (unsigned long long)m.transactions, (unsigned long long)m.wire_bytes, sizeof(agent_t));
    rig_free(r);
}

static void test_agent_survives_corrupt_dropped_and_duplicated_transactions(void **state)
{
    (void)state;
    for (uint32_t seed = 1; seed <= 8; seed++) {
        rig_t *r = rig_new();
        r->rng = seed * 7919;
        r->corrupt_tx = r->corrupt_rx = r->drop = r->dup = 30; /* 3% each */
        link_master_t m;
        assert_int_equal(send(r, &m, img_b, len_b, LAYOUT_BANK_B, NULL), LM_OK);
        assert_memory_equal(r->dev.mem + (LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE), img_b, len_b);
        assert_true(r->faults > 0);
        if (seed == 1) {
            print_message("      seed %u: %llu faults injected, %llu transactions, %llu resent\n", seed,
                          (unsigned long long)r->faults, (unsigned long long)m.transactions,
                          (unsigned long long)m.resent);
        }
        rig_free(r);
    }
}

static void test_agent_resumes_after_power_cut_mid_transfer(void **state)
{
    (void)state;
    uint32_t seed = 4242;
    int resumed = 0;
    for (int trial = 0; trial < 30; trial++) {
        rig_t *r = rig_new();
        link_master_t m;
        uint64_t cut = 2 + test_rand(&seed) % (len_b / 4 + 40);
        int tear = (int)(test_rand(&seed) & 1);
        send_until_cut(r, img_b, len_b, 0, cut, tear, seed);
        /* Power comes back: the bootloader still boots A; then the agent starts again. */
        boot_decision_t d;
        boot_decide(&r->dev.port, fx_pub, &d);
        assert_int_equal(d.bank, LAYOUT_BANK_A);
        rig_agent(r);
        uint32_t from = 0;
        assert_int_equal(send(r, &m, img_b, len_b, LAYOUT_BANK_B, &from), LM_OK);
        resumed += from > 0;
        assert_memory_equal(r->dev.mem + (LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE), img_b, len_b);
        rig_free(r);
    }
    print_message("      30 power cuts mid-transfer, %d resumed past offset 0, all bit-exact\n", resumed);
    assert_true(resumed > 0);
}

/* The image must be refused (want; at VERIFY or at BEGIN), leaving the running bank as it was and
 * nothing staged; refused at BEGIN, bank B stays erased. Frees r. */
static void refused_by(rig_t *r, const uint8_t *img, size_t len, layout_bank_t bank, link_result_t want, int at_verify)
{
    uint8_t bank_a_before[4096];
    memcpy(bank_a_before, r->dev.mem + (LAYOUT_BANK_A_BASE - LAYOUT_FLASH_BASE), sizeof(bank_a_before));
    link_master_t m;
    assert_int_equal(send(r, &m, img, len, bank, NULL), LM_ERR_REFUSED);
    assert_int_equal(m.status.result, want);
    assert_int_equal(r->agent.state, AGENT_ERROR);
    if (!at_verify) {
        assert_true(m.status.ack_type == LINK_BEGIN || m.status.ack_type == LINK_BEGIN_ENC);
    }
    assert_int_equal(lm_request(&m, LINK_COMMIT, NULL, 0), LM_ERR_STATE); /* nothing to stage */
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &r->dev.port.flash), META_OK);
    assert_int_equal(log.state.trial_bank, LAYOUT_BANK_NONE);
    assert_memory_equal(bank_a_before, r->dev.mem + (LAYOUT_BANK_A_BASE - LAYOUT_FLASH_BASE), sizeof(bank_a_before));
    if (!at_verify && bank == LAYOUT_BANK_B) {
        const uint8_t *b = r->dev.mem + (LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE);
        for (size_t i = 0; i < len; i++) {
            assert_int_equal(b[i], 0xFF);
        }
    }
    rig_free(r);
}

static void refused(const uint8_t *img, size_t len, layout_bank_t bank, uint32_t device_counter, link_result_t want,
                    int at_verify)
{
    rig_t *r = rig_new();
    if (device_counter) {
        meta_state_t s = {
            .boot_bank = LAYOUT_BANK_A, .trial_bank = LAYOUT_BANK_NONE, .security_counter = device_counter};
        fx_meta(&r->dev, &s);
        rig_agent(r);
    }
    refused_by(r, img, len, bank, want, at_verify);
}

static void test_agent_refuses_bad_images_and_stages_nothing(void **state)
{
    (void)state;
    refused(img_b_other, len_b_other, LAYOUT_BANK_B, 0, LINK_R_BAD_IMAGE, 1);  /* another key */
    refused(img_a, len_a, LAYOUT_BANK_A, 0, LINK_R_WRONG_BANK, 0);             /* the running bank */
    refused(img_a_for_b, len_a_for_b, LAYOUT_BANK_B, 0, LINK_R_WRONG_BANK, 0); /* linked for A */
    refused(img_b_sec1, len_b_sec1, LAYOUT_BANK_B, 5, LINK_R_ROLLBACK, 0);     /* counter 1 < 5 */
    /* A corrupted byte in the image sent: the hash check before staging catches it. */
    uint8_t *bad = malloc(len_b);
    memcpy(bad, img_b, len_b);
    bad[len_b / 2] ^= 0x20;
    refused(bad, len_b, LAYOUT_BANK_B, 0, LINK_R_BAD_IMAGE, 1);
    free(bad);
}

/* Images encrypted for one device (docs/encryption.md). */
static fota_signer *dev_key, *other_dev_key;
static uint8_t *img_e_plain, *img_e; /* the same image: as flash must end up, and as it travels */
static size_t len_e;
/* An encrypted release made from img_bd's payload (as flash will hold it), and its patch from
 * img_a: made on the plaintexts, then encrypted for dev_key; the same patch left plain. */
static uint8_t *img_ed_plain, *patch_ae, *patch_ae_plain;
static size_t len_ed, len_patch_ae, len_patch_ae_plain;

static void put_devkey(rig_t *r, const fota_signer *k, int corrupt)
{
    uint8_t priv[32], rec[DEVKEY_RECORD_SIZE];
    assert_int_equal(fota_signer_private(k, priv), 0);
    devkey_encode(priv, rec);
    rec[20] ^= (uint8_t)corrupt;
    memcpy(r->dev.mem + (DEVKEY_ADDR - LAYOUT_FLASH_BASE), rec, sizeof(rec));
}

static rig_t *rig_keyed(const fota_signer *k, int corrupt)
{
    rig_t *r = rig_new();
    put_devkey(r, k, corrupt);
    return r;
}

static void test_agent_decrypts_an_image_encrypted_for_it(void **state)
{
    (void)state;
    size_t differ = 0;
    for (size_t i = IMG_HEADER_SIZE; i < len_e; i++) {
        differ += img_e[i] != img_e_plain[i];
    }
    assert_true(differ > (len_e - IMG_HEADER_SIZE) * 9 / 10); /* it is ciphertext */
    rig_t *r = rig_keyed(dev_key, 0);
    link_master_t m;
    assert_int_equal(send(r, &m, img_e, len_e, LAYOUT_BANK_B, NULL), LM_OK);
    assert_memory_equal(r->dev.mem + (LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE), img_e_plain, len_e);
    for (size_t i = 0; i < sizeof(r->agent.enc.key); i++) {
        assert_int_equal(r->agent.enc.key[i], 0); /* the image key is gone once verified */
    }
    commit_boots_b_on_trial(r, &m); /* the bootloader runs the decrypted image */
    print_message("      %zu-byte encrypted image: %zu of its payload bytes differ on the wire, flash holds the "
                  "plaintext, booted on trial\n",
                  len_e, differ);
    rig_free(r);
}

static void test_agent_refuses_what_it_cannot_decrypt(void **state)
{
    (void)state;
    /* No device key, another device's key, a corrupt key record: refused at BEGIN, nothing erased. */
    refused_by(rig_new(), img_e, len_e, LAYOUT_BANK_B, LINK_R_BAD_KEY, 0);
    refused_by(rig_keyed(other_dev_key, 0), img_e, len_e, LAYOUT_BANK_B, LINK_R_BAD_KEY, 0);
    refused_by(rig_keyed(dev_key, 0x10), img_e, len_e, LAYOUT_BANK_B, LINK_R_BAD_KEY, 0);
    rig_t *r = rig_keyed(other_dev_key, 0);
    link_master_t m;
    assert_int_equal(send(r, &m, img_e, len_e, LAYOUT_BANK_B, NULL), LM_ERR_REFUSED);
    assert_int_equal(m.status.detail, AGENT_KEY_OTHER);
    rig_free(r);
    /* The key record altered (its tag, then its wrapped key): it no longer unwraps. */
    uint8_t *bad = malloc(len_e);
    assert_non_null(bad);
    img_header_t h;
    assert_int_equal(img_header_decode(img_e, &h), IMG_OK);
    img_trailer_t t;
    assert_int_equal(img_trailer_parse(img_e + h.hdr_size + h.payload_size, h.trailer_size, &t), IMG_OK);
    assert_non_null(t.enc);
    size_t rec = (size_t)(t.enc - img_e); /* the record's value: ephemeral key, tag, wrapped key */
    for (size_t at = rec + 65; at < rec + IMG_ENC_EC256_SIZE; at += 32) {
        memcpy(bad, img_e, len_e);
        bad[at] ^= 0x01;
        refused_by(rig_keyed(dev_key, 0), bad, len_e, LAYOUT_BANK_B, LINK_R_BAD_KEY, 0);
    }
    /* A flipped ciphertext byte decrypts to a flipped plaintext byte: the hash over the plaintext
     * refuses it at VERIFY, and nothing is staged. */
    memcpy(bad, img_e, len_e);
    bad[IMG_HEADER_SIZE + 4321] ^= 0x80;
    refused_by(rig_keyed(dev_key, 0), bad, len_e, LAYOUT_BANK_B, LINK_R_BAD_IMAGE, 1);
    /* Plain BEGIN for an encrypted image (no key record): never programmed as it is. */
    r = rig_keyed(dev_key, 0);
    lm_init(&m, &(link_port_t){rig_transact, rig_wait, r});
    uint8_t begin[LINK_BEGIN_SIZE];
    lm_begin_encode(begin, (uint32_t)len_e, img_e, LAYOUT_BANK_B, img_e);
    assert_int_equal(lm_request(&m, LINK_BEGIN, begin, sizeof(begin)), LM_ERR_REFUSED);
    assert_int_equal(m.status.detail, IMG_ERR_ENCRYPTED);
    rig_free(r);
    /* BEGIN_ENC for an image that is not encrypted: refused. */
    r = rig_keyed(dev_key, 0);
    lm_init(&m, &(link_port_t){rig_transact, rig_wait, r});
    uint8_t begin_enc[LINK_BEGIN_ENC_SIZE];
    lm_begin_encode(begin_enc, (uint32_t)len_b, img_b, LAYOUT_BANK_B, img_b);
    memcpy(begin_enc + LINK_BEGIN_SIZE, img_e + rec, IMG_ENC_EC256_SIZE);
    assert_int_equal(lm_request(&m, LINK_BEGIN_ENC, begin_enc, sizeof(begin_enc)), LM_ERR_REFUSED);
    assert_int_equal(m.status.detail, IMG_ERR_HEADER);
    rig_free(r);
    free(bad);
}

static void test_agent_applies_an_encrypted_patch(void **state)
{
    (void)state;
    rig_t *r = rig_keyed(dev_key, 0);
    link_master_t m;
    uint32_t from = 99;
    assert_int_equal(send_patch(r, &m, patch_ae, len_patch_ae, &from), LM_OK);
    assert_int_equal(m.status.ack_type, LINK_VERIFY);
    assert_memory_equal(bank_b(r), img_ed_plain, len_ed);
    commit_boots_b_on_trial(r, &m);
    rig_free(r);
    /* Power cuts while applying it: each resumed (the patch sent again, decrypted again). */
    uint32_t seed = 99;
    for (int trial = 0; trial < 6; trial++) {
        r = rig_keyed(dev_key, 0);
        uint64_t cut = 2 + test_rand(&seed) % (len_ed / 4);
        int tear = (int)(test_rand(&seed) & 1);
        send_until_cut(r, patch_ae, len_patch_ae, 1, cut, tear, seed);
        rig_agent(r);
        assert_int_equal(send_patch(r, &m, patch_ae, len_patch_ae, NULL), LM_OK);
        assert_memory_equal(bank_b(r), img_ed_plain, len_ed);
        rig_free(r);
    }
    assert_true(len_patch_ae > 4 * LINK_MAX_DATA); /* several frames */
    print_message("      encrypted patch of %zu bytes (%zu plain) for a %zu-byte encrypted release: applied, and "
                  "after 6 power cuts each resumed bit-exact\n",
                  len_patch_ae, len_patch_ae_plain, len_ed);
}

static void test_agent_refuses_encrypted_patches_it_cannot_use(void **state)
{
    (void)state;
    /* Another device's key, or none: refused at BEGIN_DELTA_ENC, nothing erased. */
    rig_t *rs[2] = {rig_keyed(other_dev_key, 0), rig_new()};
    for (int i = 0; i < 2; i++) {
        link_master_t m;
        assert_int_equal(send_patch(rs[i], &m, patch_ae, len_patch_ae, NULL), LM_ERR_REFUSED);
        assert_int_equal(m.status.result, LINK_R_BAD_KEY);
        assert_int_equal(m.status.ack_type, LINK_BEGIN_DELTA_ENC);
        for (size_t k = 0; k < len_ed; k++) {
            assert_int_equal(bank_b(rs[i])[k], 0xFF);
        }
        rig_free(rs[i]);
    }
    /* The plain patch of an encrypted release (it would carry the plaintext): refused at BEGIN. */
    rig_t *r = rig_keyed(dev_key, 0);
    link_master_t m;
    assert_int_equal(send_patch(r, &m, patch_ae_plain, len_patch_ae_plain, NULL), LM_ERR_REFUSED);
    assert_int_equal(m.status.detail, IMG_ERR_ENCRYPTED);
    rig_free(r);
    /* Flipped ciphertext bytes in the body flip the same plaintext bits: refused while decoding or at
     * VERIFY with nothing staged, or (a flip the range decoder absorbs, as test_delta shows for plain
     * patches) decoded to the very same image. */
    uint8_t *bad = malloc(len_patch_ae);
    assert_non_null(bad);
    int refusals = 0, flips = 0;
    for (size_t at = DELTA_HDR_SIZE + DELTA_ENC_RECORD_SIZE + 7; at < len_patch_ae; at += len_patch_ae / 9, flips++) {
        memcpy(bad, patch_ae, len_patch_ae);
        bad[at] ^= 0x40;
        r = rig_keyed(dev_key, 0);
        lm_err_t e = send_patch(r, &m, bad, len_patch_ae, NULL);
        if (e == LM_OK) {
            assert_memory_equal(bank_b(r), img_ed_plain, len_ed);
        } else {
            assert_int_equal(e, LM_ERR_REFUSED);
            assert_int_equal(m.status.result, LINK_R_BAD_IMAGE);
            assert_int_equal(lm_request(&m, LINK_COMMIT, NULL, 0), LM_ERR_STATE);
            refusals++;
        }
        rig_free(r);
    }
    print_message("      %d flipped ciphertext bytes in an encrypted patch: %d refused, the rest made the same image\n",
                  flips, refusals);
    assert_true(refusals >= flips - 1);
    free(bad);
}

static void test_agent_resumes_an_encrypted_image_after_power_cuts(void **state)
{
    (void)state;
    uint32_t seed = 777;
    int resumed = 0;
    for (int trial = 0; trial < 12; trial++) {
        rig_t *r = rig_keyed(dev_key, 0);
        link_master_t m;
        uint64_t cut = 2 + test_rand(&seed) % (len_e / 4 + 40);
        int tear = (int)(test_rand(&seed) & 1);
        send_until_cut(r, img_e, len_e, 0, cut, tear, seed);
        rig_agent(r);
        uint32_t from = 0;
        assert_int_equal(send(r, &m, img_e, len_e, LAYOUT_BANK_B, &from), LM_OK);
        resumed += from > 0;
        assert_memory_equal(r->dev.mem + (LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE), img_e_plain, len_e);
        rig_free(r);
    }
    print_message("      12 power cuts while decrypting, %d resumed past offset 0, all bit-exact plaintext\n",
                  resumed);
    assert_true(resumed > 0);
}

static int group_setup(void **state)
{
    (void)state;
    if (fx_setup_keys() != 0) {
        return -1;
    }
    img_a = fx_image(fx_key, LAYOUT_BANK_A, 1, 0, 20000, &len_a);
    img_b = fx_image(fx_key, LAYOUT_BANK_B, 2, 0, 150000, &len_b); /* spans both sectors of bank B */
    img_b_other = fx_image(fx_other, LAYOUT_BANK_B, 2, 0, 30000, &len_b_other);
    img_b_sec1 = fx_image(fx_key, LAYOUT_BANK_B, 2, 1, 30000, &len_b_sec1);
    img_a_for_b = fx_image(fx_key, LAYOUT_BANK_A, 2, 0, 30000, &len_a_for_b);
    /* The release the patch makes: img_a's payload with 200 bytes inserted at 5,000, a stretch
     * changed at 12,000, and grown to 150,000 bytes (both sectors of B). */
    size_t pa = len_a - IMG_HEADER_SIZE - 144, pn = 150000;
    uint8_t *p = malloc(pn);
    if (p == NULL) {
        return -1;
    }
    memcpy(p, img_a + IMG_HEADER_SIZE, 5000);
    for (size_t i = 0; i < 200; i++) {
        p[5000 + i] = (uint8_t)(i * 7 + 3);
    }
    memcpy(p + 5200, img_a + IMG_HEADER_SIZE + 5000, pa - 5000);
    memset(p + 12000, 0x5A, 64);
    for (size_t i = 5200 + pa - 5000; i < pn; i++) {
        p[i] = (uint8_t)(i * 13 + 2);
    }
    le_put32(p + 4, LAYOUT_BANK_B_BASE + IMG_HEADER_SIZE + 0x41);
    img_version_t v = {2, 0, 0, 0};
    if (fota_image_build(fx_key, p, pn, LAYOUT_BANK_B, &v, 0, NULL, 0, &img_bd, &len_bd) != 0) {
        return -1;
    }
    /* An image encrypted for dev_key: built with the flag and the key record, checked, then its
     * payload encrypted, as `fota sign --encrypt-for` does. */
    uint8_t dev_pub[CRYPTO_P256_PUBKEY_SIZE], rec[IMG_TLV_HDR_SIZE + IMG_ENC_EC256_SIZE], image_key[16];
    dev_key = fota_signer_generate();
    other_dev_key = fota_signer_generate();
    if (dev_key == NULL || other_dev_key == NULL) {
        return -1;
    }
    fota_signer_pubkey(dev_key, dev_pub);
    /* The release the encrypted patch makes: img_bd's payload with 6,000 more bytes changed, as an
     * encrypted release (flash will hold this plaintext); its patch from img_a, made on the
     * plaintexts, then encrypted: several DATA frames long. */
    for (size_t i = 30000; i < 36000; i++) {
        p[i] = (uint8_t)(i * 2654435761u >> 13);
    }
    if (fota_enc_wrap(dev_pub, rec, image_key) != 0 ||
        fota_image_build_flags(fx_key, p, pn, LAYOUT_BANK_B, &v, 0, IMG_FLAG_ENCRYPTED, rec, sizeof(rec),
                               &img_ed_plain, &len_ed) != 0) {
        return -1;
    }
    free(p);
    if (fota_enc_wrap(dev_pub, rec, image_key) != 0 ||
        fota_image_build_flags(fx_key, img_b + IMG_HEADER_SIZE, 90000, LAYOUT_BANK_B, &v, 0, IMG_FLAG_ENCRYPTED, rec,
                               sizeof(rec), &img_e_plain, &len_e) != 0 ||
        (img_e = malloc(len_e)) == NULL) {
        return -1;
    }
    memcpy(img_e, img_e_plain, len_e);
    if (fota_image_encrypt_payload(img_e, len_e, image_key) != 0) {
        return -1;
    }
    char err[160];
    uint8_t id_a[32], id_other[32];
    if (fota_image_signed_hash(img_a, len_a, id_a) != 0 ||
        fota_image_signed_hash(img_a_for_b, len_a_for_b, id_other) != 0 ||
        delta_encode(img_a, (uint32_t)len_a, LAYOUT_BANK_A_BASE, id_a, img_bd, (uint32_t)len_bd, LAYOUT_BANK_B_BASE,
                     &patch_ab, &len_patch_ab, NULL, err, sizeof(err)) != 0 ||
        delta_encode(img_a_for_b, (uint32_t)len_a_for_b, LAYOUT_BANK_A_BASE, id_other, img_bd, (uint32_t)len_bd,
                     LAYOUT_BANK_B_BASE, &patch_other, &len_patch_other, NULL, err, sizeof(err)) != 0 ||
        delta_encode(img_a, (uint32_t)len_a, LAYOUT_BANK_A_BASE, id_a, img_ed_plain, (uint32_t)len_ed,
                     LAYOUT_BANK_B_BASE, &patch_ae_plain, &len_patch_ae_plain, NULL, err, sizeof(err)) != 0 ||
        fota_patch_seal(patch_ae_plain, len_patch_ae_plain, dev_pub, &patch_ae, &len_patch_ae) != 0) {
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(img_a), free(img_b), free(img_b_other), free(img_b_sec1), free(img_a_for_b);
    free(img_bd), free(patch_ab), free(patch_other);
    free(img_e), free(img_e_plain), free(img_ed_plain), free(patch_ae), free(patch_ae_plain);
    fota_signer_free(dev_key), fota_signer_free(other_dev_key);
    fx_teardown_keys();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_update_boots_on_trial_and_confirms),
        cmocka_unit_test(test_agent_survives_corrupt_dropped_and_duplicated_transactions),
        cmocka_unit_test(test_agent_resumes_after_power_cut_mid_transfer),
        cmocka_unit_test(test_agent_refuses_bad_images_and_stages_nothing),
        cmocka_unit_test(test_agent_applies_a_patch),
        cmocka_unit_test(test_agent_refuses_a_patch_for_another_base),
        cmocka_unit_test(test_agent_refuses_corrupt_patches),
        cmocka_unit_test(test_agent_refuses_a_truncated_patch),
        cmocka_unit_test(test_agent_resumes_a_patch_after_power_cuts),
        cmocka_unit_test(test_agent_decrypts_an_image_encrypted_for_it),
        cmocka_unit_test(test_agent_refuses_what_it_cannot_decrypt),
        cmocka_unit_test(test_agent_resumes_an_encrypted_image_after_power_cuts),
        cmocka_unit_test(test_agent_applies_an_encrypted_patch),
        cmocka_unit_test(test_agent_refuses_encrypted_patches_it_cannot_use),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
