/* Invariant 1, exhaustively: for each sequence (stage an image for trial, trial boot, confirm, a
 * trial that is never confirmed and is reverted, fallback, first boot, metadata rotation), cut
 * power at every flash operation, once cleanly and once tearing the operation, then reboot through
 * the bootloader core. After every cut the device must boot a valid signed image, bit for bit one
 * of the images it was given, and the metadata must be one of the states the sequence allows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "device_fixture.h"

static uint8_t *img_a, *img_b;
static size_t len_a, len_b;

typedef struct {
    const char *name;
    void (*prepare)(device_t *d);
    void (*run)(device_t *d);
    meta_state_t final; /* the state an uncut run must end in */
    meta_state_t allowed[8];
    int n_allowed;
    int blank_allowed; /* no metadata at all is a valid outcome (first boot) */
} scenario_t;

static meta_state_t S(layout_bank_t boot, layout_bank_t trial, uint8_t attempts, uint8_t flags)
{
    meta_state_t s = {.boot_bank = (uint8_t)boot, .trial_bank = (uint8_t)trial, .trial_attempts = attempts, .flags = flags};
    return s;
}

static void boot_once(device_t *d)
{
    boot_decision_t dec;
    boot_decide(&d->port, fx_pub, &dec);
}

/* Scenario steps. */
static void prep_a_only(device_t *d)
{
    fx_place(d, LAYOUT_BANK_A, img_a, len_a);
    meta_state_t s = S(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, 0);
    fx_meta(d, &s);
}
static void run_stage(device_t *d)
{
    if (fx_write_bank(d, LAYOUT_BANK_B, img_b, len_b) != FLASH_OK) {
        fail_msg("writing bank B failed");
    }
    meta_log_t log;
    (void)meta_log_open(&log, &d->port.flash);
    if (meta_stage_trial(&log, LAYOUT_BANK_B) != META_OK) {
        fail_msg("staging failed");
    }
}
static void prep_trial_pending(device_t *d)
{
    fx_place(d, LAYOUT_BANK_A, img_a, len_a);
    fx_place(d, LAYOUT_BANK_B, img_b, len_b);
    meta_state_t s = S(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0);
    fx_meta(d, &s);
}
static void prep_trial_running(device_t *d)
{
    fx_place(d, LAYOUT_BANK_A, img_a, len_a);
    fx_place(d, LAYOUT_BANK_B, img_b, len_b);
    meta_state_t s = S(LAYOUT_BANK_A, LAYOUT_BANK_B, 1, 0);
    fx_meta(d, &s);
}
static void run_confirm(device_t *d)
{
    meta_log_t log;
    (void)meta_log_open(&log, &d->port.flash);
    if (meta_confirm(&log, LAYOUT_BANK_B, 0) != META_OK) {
        fail_msg("confirm failed");
    }
}
static void run_never_confirmed(device_t *d)
{
    for (int i = 0; i <= FOTA_TRIAL_ATTEMPTS; i++) {
        boot_once(d);
    }
}
static void prep_boot_bank_corrupt(device_t *d)
{
    fx_place(d, LAYOUT_BANK_A, img_a, len_a);
    fx_place(d, LAYOUT_BANK_B, img_b, len_b);
    d->mem[LAYOUT_BANK_B_BASE - LAYOUT_FLASH_BASE + 800] ^= 0x04;
    meta_state_t s = S(LAYOUT_BANK_B, LAYOUT_BANK_NONE, 0, 0);
    fx_meta(d, &s);
}
static void prep_blank_meta(device_t *d)
{
    fx_place(d, LAYOUT_BANK_A, img_a, len_a);
}
/* Half 0 full of the newest records, half 1 full of older ones: the next write must erase half 1. */
static void prep_log_full(device_t *d)
{
    fx_place(d, LAYOUT_BANK_A, img_a, len_a);
    fx_place(d, LAYOUT_BANK_B, img_b, len_b);
    meta_log_t log;
    (void)meta_log_open(&log, &d->port.flash);
    meta_state_t s = S(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, 0);
    for (int i = 0; i < 3 * META_SLOTS; i++) {
        if (meta_log_write(&log, &s) != META_OK) {
            fail_msg("prefill failed");
        }
    }
    if (log.half != 0 || log.next_slot != META_SLOTS) {
        fail_msg("prefill did not leave half 0 full");
    }
}
static void run_stage_only(device_t *d)
{
    meta_log_t log;
    (void)meta_log_open(&log, &d->port.flash);
    if (meta_stage_trial(&log, LAYOUT_BANK_B) != META_OK) {
        fail_msg("staging failed");
    }
}

/* Invariant 1 after a cut: reboot (twice: the first boot may itself write metadata) and check. */
static void check_after_cut(device_t *d, const scenario_t *sc, uint64_t k, int tear)
{
    meta_log_t log;
    meta_err_t me = meta_log_open(&log, &d->port.flash);
    if (me == META_ERR_NO_STATE) {
        if (!sc->blank_allowed) {
            fail_msg("%s: cut at op %llu (tear %d): metadata lost", sc->name, (unsigned long long)k, tear);
        }
    } else {
        assert_int_equal(me, META_OK);
        int ok = 0;
        for (int i = 0; i < sc->n_allowed; i++) {
            ok |= meta_state_equal(&log.state, &sc->allowed[i]);
        }
        if (!ok) {
            fail_msg("%s: cut at op %llu (tear %d): state boot=%u trial=%u attempts=%u flags=%u not allowed", sc->name,
                     (unsigned long long)k, tear, log.state.boot_bank, log.state.trial_bank, log.state.trial_attempts,
                     log.state.flags);
        }
    }
    for (int reboot = 0; reboot < 2; reboot++) {
        boot_decision_t dec;
        boot_decide(&d->port, fx_pub, &dec);
        if (dec.err != BOOT_OK) {
            fail_msg("%s: cut at op %llu (tear %d), reboot %d: no bootable image (A: %s, B: %s)", sc->name,
                     (unsigned long long)k, tear, reboot, img_strerror(dec.verdict[0]), img_strerror(dec.verdict[1]));
        }
        /* Bit for bit one of the images we gave it, in its own bank. */
        const uint8_t *want = dec.bank == LAYOUT_BANK_A ? img_a : img_b;
        size_t want_len = dec.bank == LAYOUT_BANK_A ? len_a : len_b;
        if (memcmp(d->mem + (layout_bank_base(dec.bank) - LAYOUT_FLASH_BASE), want, want_len) != 0) {
            fail_msg("%s: cut at op %llu: booting bank %c whose contents are not the signed image", sc->name,
                     (unsigned long long)k, layout_bank_letter(dec.bank));
        }
    }
}

static uint64_t run_scenario(const scenario_t *sc)
{
    device_t d;
    fx_device_init(&d);
    sc->prepare(&d);
    uint8_t *snapshot = malloc(LAYOUT_FLASH_SIZE);
    assert_non_null(snapshot);
    memcpy(snapshot, d.mem, LAYOUT_FLASH_SIZE);

    /* Dry run: how many flash operations the sequence takes, and its end state is allowed. */
    uint64_t before = d.sim.ops;
    sc->run(&d);
    uint64_t total = d.sim.ops - before;
    meta_log_t end;
    assert_int_equal(meta_log_open(&end, &d.port.flash), META_OK);
    if (!meta_state_equal(&end.state, &sc->final)) {
        fail_msg("%s: an uncut run ends in boot=%u trial=%u attempts=%u flags=%u, not the expected state", sc->name,
                 end.state.boot_bank, end.state.trial_bank, end.state.trial_attempts, end.state.flags);
    }
    check_after_cut(&d, sc, total, 0);

    uint64_t tried = 0;
    for (uint64_t k = 0; k < total; k++) {
        for (volatile int tear = 0; tear < 2; tear++) { /* volatile: read after the longjmp */
            memcpy(d.mem, snapshot, LAYOUT_FLASH_SIZE);
            jmp_buf env;
            flash_sim_cut_after(&d.sim, k, tear, (uint32_t)(k * 2 + (uint64_t)tear + 1), &env);
            if (setjmp(env) == 0) {
                sc->run(&d);
                fail_msg("%s: no power cut at op %llu of %llu", sc->name, (unsigned long long)k,
                         (unsigned long long)total);
            }
            flash_sim_disarm(&d.sim);
            check_after_cut(&d, sc, k, tear);
            tried++;
        }
    }
    print_message("      %-34s %5llu flash operations, %5llu cut points, 0 failures\n", sc->name,
                  (unsigned long long)total, (unsigned long long)tried);
    free(snapshot);
    fx_device_free(&d);
    return tried;
}

static void test_power_cut_at_every_operation_leaves_a_bootable_device(void **state)
{
    (void)state;
    const meta_state_t a = S(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, 0);
    const scenario_t scenarios[] = {
        {"stage image in B for trial", prep_a_only, run_stage, S(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0), {a, S(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0)}, 2, 0},
        {"trial boot of B", prep_trial_pending, boot_once, S(LAYOUT_BANK_A, LAYOUT_BANK_B, 1, 0),
         {S(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0), S(LAYOUT_BANK_A, LAYOUT_BANK_B, 1, 0)}, 2, 0},
        {"confirm B", prep_trial_running, run_confirm, S(LAYOUT_BANK_B, LAYOUT_BANK_NONE, 0, 0),
         {S(LAYOUT_BANK_A, LAYOUT_BANK_B, 1, 0), S(LAYOUT_BANK_B, LAYOUT_BANK_NONE, 0, 0)}, 2, 0},
        {"trial never confirmed, reverted", prep_trial_pending, run_never_confirmed,
         S(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, META_F_REVERTED),
         {S(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0), S(LAYOUT_BANK_A, LAYOUT_BANK_B, 1, 0),
          S(LAYOUT_BANK_A, LAYOUT_BANK_B, 2, 0), S(LAYOUT_BANK_A, LAYOUT_BANK_B, 3, 0),
          S(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, META_F_REVERTED)},
         5, 0},
        {"fallback from corrupt bank B", prep_boot_bank_corrupt, boot_once,
         S(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, META_F_FELL_BACK),
         {S(LAYOUT_BANK_B, LAYOUT_BANK_NONE, 0, 0), S(LAYOUT_BANK_A, LAYOUT_BANK_NONE, 0, META_F_FELL_BACK)}, 2, 0},
        {"first boot, blank metadata", prep_blank_meta, boot_once, a, {a}, 1, 1},
        {"metadata rotation (log full)", prep_log_full, run_stage_only, S(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0), {a, S(LAYOUT_BANK_A, LAYOUT_BANK_B, 0, 0)}, 2,
         0},
    };
    uint64_t total = 0;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        total += run_scenario(&scenarios[i]);
    }
    print_message("      %llu cut points, 0 failures\n", (unsigned long long)total);
}

static int group_setup(void **state)
{
    (void)state;
    if (fx_setup_keys() != 0) {
        return -1;
    }
    img_a = fx_image(fx_key, LAYOUT_BANK_A, 1, 0, 1000, &len_a);
    img_b = fx_image(fx_key, LAYOUT_BANK_B, 2, 0, 1000, &len_b);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(img_a), free(img_b);
    fx_teardown_keys();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_cut_at_every_operation_leaves_a_bootable_device),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
