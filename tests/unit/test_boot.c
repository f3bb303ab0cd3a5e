/* The bootloader core's decisions: every row of the boot table in docs/boot.md, on a simulated
 * device, with the metadata it leaves behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "device_fixture.h"
#include "fota/seccnt.h"

static uint8_t *img_a, *img_b, *img_b_other, *img_a_sec5;
static size_t len_a, len_b, len_b_other, len_a_sec5;

static int group_setup(void **state)
{
    (void)state;
    if (fx_setup_keys() != 0) {
        return -1;
    }
    img_a = fx_image(fx_key, LAYOUT_BANK_A, 1, 0, 2000, &len_a);
    img_b = fx_image(fx_key, LAYOUT_BANK_B, 2, 0, 2000, &len_b);
    img_b_other = fx_image(fx_other, LAYOUT_BANK_B, 2, 0, 2000, &len_b_other);
    img_a_sec5 = fx_image(fx_key, LAYOUT_BANK_A, 1, 5, 2000, &len_a_sec5);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(img_a), free(img_b), free(img_b_other), free(img_a_sec5);
    fx_teardown_keys();
    return 0;
}

static meta_state_t st(layout_bank_t boot, layout_bank_t trial, uint8_t attempts, uint32_t sec)
{
    meta_state_t s = {.boot_bank = (uint8_t)boot, .trial_bank = (uint8_t)trial, .trial_attempts = attempts, .security_counter = sec};
    return s;
}

static void run(device_t *d, boot_decision_t *dec)
{
    d->jumped = d->halted = d->watchdog = 0;
    boot_run(&d->port, fx_pub, dec);
}

static void test_boot_runs_bank_named_by_metadata(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    fx_place(&d, LAYOUT_BANK_A, img_a, len_a);
    fx_place(&d, LAYOUT_BANK_B, img_b, len_b);
    meta_state_t s = st(LAYOUT_BANK_B, LAYOUT_BANK_NONE, 0, 0);
    fx_meta(&d, &s);
    boot_decision_t dec;
    run(&d, &dec);
    assert_int_equal(dec.err, BOOT_OK);
    assert_int_equal(dec.bank, LAYOUT_BANK_B);
    assert_int_equal(dec.path, BOOT_PATH_NORMAL);
    assert_int_equal(d.jumped, 1);
    assert_int_equal(d.jump_addr, LAYOUT_APP_B_ORIGIN);
    assert_int_equal(d.watchdog, 0);
    fx_device_free(&d);
}

static void test_boot_initialises_blank_metadata(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    fx_place(&d, LAYOUT_BANK_B, img_b, len_b); /* only B */
    boot_decision_t dec;
    run(&d, &dec);
    assert_int_equal(dec.bank, LAYOUT_BANK_B);
    assert_int_equal(dec.path, BOOT_PATH_INIT);
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &d.port.flash), META_OK);
    assert_int_equal(log.state.boot_bank, LAYOUT_BANK_B);
    fx_device_free(&d);
}

static void test_boot_falls_back_when_boot_bank_corrupt(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    fx_place(&d, LAYOUT_BANK_A, img_a, len_a);
    fx_place(&d, LAYOUT_BANK_B, img_b, len_b);
    d.mem[LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE + 700] ^= 0x01;
    meta_state_t s = st(LAYOUT_BANK_B, LAYOUT_BANK_NONE, 0, 0);
    fx_meta(&d, &s);
    boot_decision_t dec;
    run(&d, &dec);
    assert_int_equal(dec.bank, LAYOUT_BANK_A);
    assert_int_equal(dec.path, BOOT_PATH_FALLBACK);
    assert_int_equal(dec.verdict[LAYOUT_BANK_B], IMG_ERR_HASH);
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &d.port.flash), META_OK);
    assert_int_equal(log.state.boot_bank, LAYOUT_BANK_A);
    assert_true(log.state.flags & META_F_FELL_BACK);
    fx_device_free(&d);
}

static void test_boot_refuses_foreign_key_and_halts_when_nothing_valid(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    fx_place(&d, LAYOUT_BANK_B, img_b_other, len_b_other);
    meta_state_t s = st(LAYOUT_BANK_B, LAYOUT_BANK_NONE, 0, 0);
    fx_meta(&d, &s);
    boot_decision_t dec;
    run(&d, &dec);
    assert_int_equal(dec.err, BOOT_ERR_NO_IMAGE);
    assert_int_equal(dec.verdict[LAYOUT_BANK_B], IMG_ERR_KEY_ID);
    assert_int_equal(dec.verdict[LAYOUT_BANK_A], IMG_ERR_MAGIC);
    assert_int_equal(d.jumped, 0);
    assert_int_equal(d.halted, 1);
    assert_non_null(strstr(d.last_log, "no valid image"));
    fx_device_free(&d);
}

static void test_boot_trial_counts_attempts_then_reverts(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    fx_place(&d, LAYOUT_BANK_A, img_a, len_a);
    fx_place(&d, LAYOUT_BANK_B, img_b, len_b);
    meta_state_t s = st(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0);
    fx_meta(&d, &s);
    boot_decision_t dec;
    for (int i = 1; i <= FOTA_TRIAL_ATTEMPTS; i++) {
        run(&d, &dec);
        assert_int_equal(dec.bank, LAYOUT_BANK_B);
        assert_int_equal(dec.path, BOOT_PATH_TRIAL);
        assert_int_equal(dec.state.trial_attempts, i);
        assert_int_equal(d.watchdog, 1);
    }
    run(&d, &dec); /* the image never confirmed itself */
    assert_int_equal(dec.bank, LAYOUT_BANK_A);
    assert_int_equal(dec.path, BOOT_PATH_REVERTED);
    assert_int_equal(d.watchdog, 0);
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &d.port.flash), META_OK);
    assert_int_equal(log.state.trial_bank, LAYOUT_BANK_NONE);
    assert_true(log.state.flags & META_F_REVERTED);
    run(&d, &dec);
    assert_int_equal(dec.bank, LAYOUT_BANK_A);
    assert_int_equal(dec.path, BOOT_PATH_NORMAL);
    fx_device_free(&d);
}

static void test_boot_confirmed_trial_becomes_boot_bank_and_raises_counter(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    fx_place(&d, LAYOUT_BANK_A, img_a, len_a);
    size_t len;
    uint8_t *b3 = fx_image(fx_key, LAYOUT_BANK_B, 3, 3, 1000, &len);
    fx_place(&d, LAYOUT_BANK_B, b3, len);
    meta_state_t s = st(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0);
    fx_meta(&d, &s);
    boot_decision_t dec;
    run(&d, &dec);
    assert_int_equal(dec.path, BOOT_PATH_TRIAL);
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &d.port.flash), META_OK);
    assert_int_equal(meta_confirm(&log, LAYOUT_BANK_B, 3), META_OK);
    for (int i = 0; i < 5; i++) {
        run(&d, &dec);
        assert_int_equal(dec.bank, LAYOUT_BANK_B);
        assert_int_equal(dec.path, BOOT_PATH_NORMAL);
        assert_int_equal(d.watchdog, 0);
    }
    assert_int_equal(dec.state.security_counter, 3);
    /* Bank A (security counter 0) is now below the device's counter: no fallback to it. */
    d.mem[LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE + 600] ^= 0x40;
    run(&d, &dec);
    assert_int_equal(dec.err, BOOT_ERR_NO_IMAGE);
    assert_int_equal(dec.verdict[LAYOUT_BANK_A], IMG_ERR_ROLLBACK);
    free(b3);
    fx_device_free(&d);
}

static void test_boot_rejects_corrupt_trial_image(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    fx_place(&d, LAYOUT_BANK_A, img_a, len_a);
    fx_place(&d, LAYOUT_BANK_B, img_b, len_b);
    d.mem[LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE + 900] ^= 0x10;
    meta_state_t s = st(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0);
    fx_meta(&d, &s);
    boot_decision_t dec;
    run(&d, &dec);
    assert_int_equal(dec.bank, LAYOUT_BANK_A);
    assert_int_equal(dec.path, BOOT_PATH_REVERTED);
    assert_int_equal(d.watchdog, 0);
    fx_device_free(&d);
}

static void test_boot_rejects_rollback_of_security_counter(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    fx_place(&d, LAYOUT_BANK_A, img_a_sec5, len_a_sec5);
    fx_place(&d, LAYOUT_BANK_B, img_b, len_b); /* security counter 0 */
    meta_state_t s = st(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 5);
    fx_meta(&d, &s);
    boot_decision_t dec;
    run(&d, &dec);
    assert_int_equal(dec.bank, LAYOUT_BANK_A);
    assert_int_equal(dec.verdict[LAYOUT_BANK_B], IMG_ERR_ROLLBACK);
    assert_int_equal(dec.path, BOOT_PATH_REVERTED);
    fx_device_free(&d);
}

/* Finding 2 of issue 10: the floor survives erased or forged metadata because it lives in OTP. */
static void test_boot_counter_in_otp_survives_erased_metadata(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    size_t len3, len5;
    uint8_t *a3 = fx_image(fx_key, LAYOUT_BANK_A, 1, 3, 1000, &len3);
    uint8_t *b5 = fx_image(fx_key, LAYOUT_BANK_B, 2, 5, 1000, &len5);
    fx_place(&d, LAYOUT_BANK_A, a3, len3);
    fx_place(&d, LAYOUT_BANK_B, b5, len5);
    /* Bank B (counter 5) confirmed: its first normal boot writes 5 into OTP, one word per step. */
    meta_state_t s = st(LAYOUT_BANK_B, LAYOUT_BANK_NONE, 0, 5);
    fx_meta(&d, &s);
    boot_decision_t dec;
    run(&d, &dec);
    assert_int_equal(dec.bank, LAYOUT_BANK_B);
    assert_int_equal(dec.otp_counter, 5);
    uint32_t v;
    flash_err_t fe;
    assert_int_equal(seccnt_read(&d.otp_port, &v, &fe), SECCNT_OK);
    assert_int_equal(v, 5);
    /* Anyone who can write flash: the metadata becomes random bytes, bank B is destroyed. Bank A
     * (counter 3) must not boot. */
    for (uint32_t i = 0; i < 2 * LAYOUT_META_SECTOR_SIZE; i++) {
        d.mem[LAYOUT_META0_BASE - LAYOUT_FLASH_BASE + i] = (uint8_t)(i * 2654435761u >> 13);
    }
    memset(d.mem + (LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE), 0xFF, 4096);
    run(&d, &dec);
    assert_int_equal(dec.err, BOOT_ERR_NO_IMAGE);
    assert_int_equal(dec.verdict[LAYOUT_BANK_A], IMG_ERR_ROLLBACK);
    assert_int_equal(d.jumped, 0);
    /* Erased metadata instead: the same. */
    memset(d.mem + (LAYOUT_META0_BASE - LAYOUT_FLASH_BASE), 0xFF, 2 * LAYOUT_META_SECTOR_SIZE);
    run(&d, &dec);
    assert_int_equal(dec.verdict[LAYOUT_BANK_A], IMG_ERR_ROLLBACK);
    assert_int_equal(d.jumped, 0);
    /* A forged record saying counter 0 is raised back to the OTP's 5 (the cache only goes up),
     * and bank B, restored, boots. */
    fx_place(&d, LAYOUT_BANK_B, b5, len5);
    meta_state_t forged = st(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, 0);
    memset(d.mem + (LAYOUT_META0_BASE - LAYOUT_FLASH_BASE), 0xFF, 2 * LAYOUT_META_SECTOR_SIZE);
    fx_meta(&d, &forged);
    run(&d, &dec);
    assert_int_equal(dec.bank, LAYOUT_BANK_B);
    assert_int_equal(dec.path, BOOT_PATH_FALLBACK);
    assert_int_equal(dec.state.security_counter, 5);
    assert_int_equal(dec.verdict[LAYOUT_BANK_A], IMG_ERR_ROLLBACK);
    free(a3), free(b5);
    fx_device_free(&d);
}

static void test_boot_trial_does_not_raise_otp_counter(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    size_t len;
    uint8_t *b7 = fx_image(fx_key, LAYOUT_BANK_B, 2, 7, 1000, &len);
    fx_place(&d, LAYOUT_BANK_A, img_a, len_a);
    fx_place(&d, LAYOUT_BANK_B, b7, len);
    meta_state_t s = st(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0);
    fx_meta(&d, &s);
    boot_decision_t dec;
    for (int i = 0; i < FOTA_TRIAL_ATTEMPTS; i++) {
        run(&d, &dec);
        assert_int_equal(dec.path, BOOT_PATH_TRIAL);
        assert_int_equal(dec.otp_counter, 0);
    }
    /* Never confirmed: reverted, and bank A (counter 0) still boots. */
    run(&d, &dec);
    assert_int_equal(dec.path, BOOT_PATH_REVERTED);
    assert_int_equal(dec.bank, LAYOUT_BANK_A);
    assert_int_equal(dec.otp_counter, 0);
    free(b7);
    fx_device_free(&d);
}

static void test_seccnt_thermometer_capacity_and_tamper(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    uint32_t v;
    flash_err_t fe;
    assert_int_equal(seccnt_read(&d.otp_port, &v, &fe), SECCNT_OK);
    assert_int_equal(v, 0);
    assert_int_equal(seccnt_raise(&d.otp_port, 2, &fe), SECCNT_OK);
    assert_int_equal(seccnt_raise(&d.otp_port, 1, &fe), SECCNT_OK); /* never lowers */
    assert_int_equal(seccnt_read(&d.otp_port, &v, &fe), SECCNT_OK);
    assert_int_equal(v, 2);
    /* A word cleared further out by someone else only raises it. */
    d.otp[4 * 9] = 0x7F;
    assert_int_equal(seccnt_read(&d.otp_port, &v, &fe), SECCNT_OK);
    assert_int_equal(v, 10);
    /* Past the capacity: held at the capacity, and said so. */
    assert_int_equal(seccnt_raise(&d.otp_port, LAYOUT_SECCNT_WORDS + 5, &fe), SECCNT_ERR_FULL);
    assert_int_equal(seccnt_read(&d.otp_port, &v, &fe), SECCNT_OK);
    assert_int_equal(v, LAYOUT_SECCNT_WORDS);
    /* OTP is never erased, and a locked block is never programmed. */
    assert_int_equal(flash_erase_sector(&d.otp_port, 0), FLASH_ERR_PROTECTED);
    d.otp[LAYOUT_OTP_SIZE + 13] = 0x00;
    static const uint32_t zero = 0;
    assert_int_equal(flash_program(&d.otp_port, LAYOUT_OTP_BASE + 13 * 32, &zero, 4), FLASH_ERR_PROTECTED);
    assert_int_equal(flash_program(&d.otp_port, LAYOUT_OTP_BASE + 14 * 32, &zero, 4), FLASH_OK);
    fx_device_free(&d);
}

/* A power cut at every OTP and metadata operation of a raise never lowers the counter and never
 * lets the old image boot. */
static void test_boot_otp_raise_survives_power_cuts(void **state)
{
    (void)state;
    size_t len3, len6;
    uint8_t *a3 = fx_image(fx_key, LAYOUT_BANK_A, 1, 3, 1000, &len3);
    uint8_t *b6 = fx_image(fx_key, LAYOUT_BANK_B, 2, 6, 1000, &len6);
    for (uint64_t k = 0; k < 12; k++) {
        for (int tear = 0; tear <= 1; tear++) {
            device_t d;
            fx_device_init(&d);
            fx_place(&d, LAYOUT_BANK_A, a3, len3);
            fx_place(&d, LAYOUT_BANK_B, b6, len6);
            meta_state_t s = st(LAYOUT_BANK_B, LAYOUT_BANK_NONE, 0, 6);
            fx_meta(&d, &s);
            jmp_buf cut;
            boot_decision_t dec;
            flash_sim_cut_after(&d.sim, k, tear, (uint32_t)(k * 7 + 1), &cut);
            if (setjmp(cut) == 0) {
                run(&d, &dec);
            }
            flash_sim_disarm(&d.sim);
            uint32_t v;
            flash_err_t fe;
            assert_int_equal(seccnt_read(&d.otp_port, &v, &fe), SECCNT_OK);
            assert_true(v <= 6);
            run(&d, &dec); /* power back: the raise completes */
            assert_int_equal(dec.bank, LAYOUT_BANK_B);
            assert_int_equal(seccnt_read(&d.otp_port, &v, &fe), SECCNT_OK);
            assert_int_equal(v, 6);
            memset(d.mem + (LAYOUT_META0_BASE - LAYOUT_FLASH_BASE), 0xFF, 2 * LAYOUT_META_SECTOR_SIZE);
            memset(d.mem + (LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE), 0xFF, 4096);
            run(&d, &dec);
            assert_int_equal(dec.verdict[LAYOUT_BANK_A], IMG_ERR_ROLLBACK);
            fx_device_free(&d);
        }
    }
    free(a3), free(b6);
}

static void test_meta_transitions_refuse_nonsense(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &d.port.flash), META_ERR_NO_STATE);
    assert_int_equal(meta_stage_trial(&log, LAYOUT_BANK_B), META_ERR_STATE);
    meta_state_t s = st(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, 0);
    fx_meta(&d, &s);
    assert_int_equal(meta_log_open(&log, &d.port.flash), META_OK);
    assert_int_equal(meta_stage_trial(&log, LAYOUT_BANK_A), META_ERR_STATE); /* the running bank */
    assert_int_equal(meta_confirm(&log, LAYOUT_BANK_B, 0), META_ERR_STATE);  /* not staged */
    uint32_t seq = log.seq;
    assert_int_equal(meta_confirm(&log, LAYOUT_BANK_A, 0), META_OK);
    assert_int_equal(log.seq, seq); /* nothing to change, nothing written */
    assert_int_equal(meta_stage_trial(&log, LAYOUT_BANK_B), META_OK);
    assert_int_equal(log.state.trial_bank, LAYOUT_BANK_B);
    fx_device_free(&d);
}

static void test_meta_log_rotates_and_keeps_latest(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    meta_log_t log;
    (void)meta_log_open(&log, &d.port.flash);
    meta_state_t s = st(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, 0);
    /* Three times around both halves. */
    for (uint32_t i = 0; i < 3 * 2 * META_SLOTS + 7; i++) {
        s.security_counter = i;
        assert_int_equal(meta_log_write(&log, &s), META_OK);
        if (i % 97 == 0 || i % META_SLOTS == META_SLOTS - 1 || i % META_SLOTS == 0) {
            meta_log_t again;
            assert_int_equal(meta_log_open(&again, &d.port.flash), META_OK);
            assert_int_equal(again.state.security_counter, i);
            assert_int_equal(again.seq, log.seq);
            assert_int_equal(again.half, log.half);
            assert_int_equal(again.next_slot, log.next_slot);
        }
    }
    /* Each half was erased about three times: wear spreads over both. */
    int s0 = layout_sector_of(LAYOUT_META0_BASE), s1 = layout_sector_of(LAYOUT_META1_BASE);
    assert_in_range(d.sim.erases[s0], 3, 4);
    assert_in_range(d.sim.erases[s1], 3, 4);
    fx_device_free(&d);
}

static void test_meta_log_skips_torn_slot(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    meta_state_t s = st(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, 1);
    fx_meta(&d, &s);
    /* A torn record in the next slot: half its words programmed. */
    memset(d.mem + (LAYOUT_META0_BASE - LAYOUT_FLASH_BASE) + META_RECORD_SIZE, 0x00, 12);
    meta_log_t log;
    assert_int_equal(meta_log_open(&log, &d.port.flash), META_OK);
    assert_int_equal(log.state.security_counter, 1);
    assert_int_equal(log.next_slot, 2);
    s.security_counter = 2;
    assert_int_equal(meta_log_write(&log, &s), META_OK);
    assert_int_equal(meta_log_open(&log, &d.port.flash), META_OK);
    assert_int_equal(log.state.security_counter, 2);
    fx_device_free(&d);
}

/* Issue 10, finding 4: a record forged with the largest sequence number must not freeze the log.
 * Before the fix the next write wrapped to 0, never won the comparison, and still said OK. Each
 * write must be readable as the newest record, including one just below the maximum, which forces
 * a renumbering. */
static void test_meta_log_survives_a_forged_maximum_sequence(void **state)
{
    (void)state;
    static const uint32_t forged[] = {0xFFFFFFFFu, 0xFFFFFFFEu, 0xFFFFFFFDu};
    for (size_t f = 0; f < sizeof(forged) / sizeof(forged[0]); f++) {
        device_t d;
        fx_device_init(&d);
        meta_state_t s = st(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, 1);
        fx_meta(&d, &s);
        uint8_t rec[META_RECORD_SIZE];
        meta_record_encode(forged[f], &s, rec);
        memcpy(d.mem + (LAYOUT_META0_BASE - LAYOUT_FLASH_BASE) + META_RECORD_SIZE, rec, sizeof(rec));
        meta_log_t log;
        assert_int_equal(meta_log_open(&log, &d.port.flash), META_OK);
        for (uint32_t n = 2; n < 8; n++) {
            s.security_counter = n;
            assert_int_equal(meta_log_write(&log, &s), META_OK);
            meta_log_t again;
            assert_int_equal(meta_log_open(&again, &d.port.flash), META_OK);
            assert_int_equal(again.state.security_counter, n); /* the write is the newest record */
            log = again;
        }
        fx_device_free(&d);
    }
}

static void test_flash_sim_enforces_nor_rules_and_counts_time(void **state)
{
    (void)state;
    device_t d;
    fx_device_init(&d);
    const flash_port_t *f = &d.port.flash;
    uint8_t w[8] = {0x0F, 0xF0, 0x00, 0xFF, 1, 2, 3, 4};
    assert_int_equal(flash_program(f, LAYOUT_BANK_A_BASE + 2, w, 4), FLASH_ERR_ALIGN);
    assert_int_equal(flash_program(f, LAYOUT_BANK_A_BASE, w, 6), FLASH_ERR_ALIGN);
    assert_int_equal(flash_program(f, LAYOUT_FLASH_BASE + LAYOUT_FLASH_SIZE, w, 4), FLASH_ERR_RANGE);
    assert_int_equal(flash_program(f, LAYOUT_BANK_A_BASE, w, 8), FLASH_OK);
    assert_int_equal(flash_program(f, LAYOUT_BANK_A_BASE, w, 4), FLASH_ERR_NOT_ERASED);
    uint8_t r[8];
    assert_int_equal(flash_read(f, LAYOUT_BANK_A_BASE, r, 8), FLASH_OK);
    assert_memory_equal(r, w, 8);
    assert_int_equal(d.sim.program_us, 2 * SIM_PROGRAM_WORD_US);
    assert_int_equal(flash_erase_sector(f, 12), FLASH_ERR_RANGE);
    assert_int_equal(flash_erase_sector(f, 5), FLASH_OK);
    assert_int_equal(flash_erase_sector(f, 2), FLASH_OK);
    assert_int_equal(flash_erase_sector(f, 4), FLASH_OK);
    assert_int_equal(d.sim.erase_us, SIM_ERASE_128K_US + SIM_ERASE_16K_US + SIM_ERASE_64K_US);
    assert_int_equal(flash_read(f, LAYOUT_BANK_A_BASE, r, 8), FLASH_OK);
    assert_int_equal(r[2], 0xFF);
    fx_device_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_runs_bank_named_by_metadata),
        cmocka_unit_test(test_boot_initialises_blank_metadata),
        cmocka_unit_test(test_boot_falls_back_when_boot_bank_corrupt),
        cmocka_unit_test(test_boot_refuses_foreign_key_and_halts_when_nothing_valid),
        cmocka_unit_test(test_boot_trial_counts_attempts_then_reverts),
        cmocka_unit_test(test_boot_confirmed_trial_becomes_boot_bank_and_raises_counter),
        cmocka_unit_test(test_boot_rejects_corrupt_trial_image),
        cmocka_unit_test(test_boot_rejects_rollback_of_security_counter),
        cmocka_unit_test(test_boot_counter_in_otp_survives_erased_metadata),
        cmocka_unit_test(test_boot_trial_does_not_raise_otp_counter),
        cmocka_unit_test(test_seccnt_thermometer_capacity_and_tamper),
        cmocka_unit_test(test_boot_otp_raise_survives_power_cuts),
        cmocka_unit_test(test_meta_transitions_refuse_nonsense),
        cmocka_unit_test(test_meta_log_rotates_and_keeps_latest),
        cmocka_unit_test(test_meta_log_skips_torn_slot),
        cmocka_unit_test(test_meta_log_survives_a_forged_maximum_sequence),
        cmocka_unit_test(test_flash_sim_enforces_nor_rules_and_counts_time),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
