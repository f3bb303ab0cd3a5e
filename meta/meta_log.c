/* The metadata log: an append-only sequence of records over two sectors, so that a power cut at
 * any point leaves the old state or the new one readable (docs/flash-layout.md). */
#include <string.h>

#include "fota/meta.h"

static uint32_t half_base(int half)
{
    return half == 0 ? LAYOUT_META0_BASE : LAYOUT_META1_BASE;
}

static int half_sector(int half)
{
    return layout_sector_of(half_base(half));
}

static uint32_t slot_addr(int half, int slot)
{
    return half_base(half) + (uint32_t)slot * META_RECORD_SIZE;
}

static int is_blank(const uint8_t *p, uint32_t n)
{
    uint8_t acc = 0xFF;
    for (uint32_t i = 0; i < n; i++) {
        acc &= p[i];
    }
    return acc == 0xFF;
}

meta_err_t meta_log_open(meta_log_t *log, const flash_port_t *flash)
{
    memset(log, 0, sizeof(*log));
    log->flash = flash;
    int best_slot = -1;
    for (int h = 0; h < 2; h++) {
        for (int i = 0; i < META_SLOTS; i++) {
            uint8_t rec[META_RECORD_SIZE];
            uint32_t seq;
            meta_state_t st;
            if (flash_read(flash, slot_addr(h, i), rec, sizeof(rec)) != FLASH_OK) {
                return META_ERR_FLASH;
            }
            if (meta_record_decode(rec, &seq, &st) == META_OK && (!log->have_state || seq > log->seq)) {
                log->have_state = 1;
                log->seq = seq;
                log->state = st;
                log->half = (uint8_t)h;
                best_slot = i;
            }
        }
    }
    if (!log->have_state) {
        return META_ERR_NO_STATE;
    }
    /* The next append goes to the first blank slot after the current record; torn slots (a cut
     * program) are skipped, never programmed again. */
    log->next_slot = META_SLOTS;
    for (int i = best_slot + 1; i < META_SLOTS; i++) {
        uint8_t rec[META_RECORD_SIZE];
        if (flash_read(flash, slot_addr(log->half, i), rec, sizeof(rec)) != FLASH_OK) {
            return META_ERR_FLASH;
        }
        if (is_blank(rec, sizeof(rec))) {
            log->next_slot = (uint16_t)i;
            break;
        }
    }
    return META_OK;
}

/* Programs one record and reads it back. */
static meta_err_t put_record(meta_log_t *log, int half, int slot, const uint8_t rec[META_RECORD_SIZE])
{
    uint8_t back[META_RECORD_SIZE];
    if (flash_program(log->flash, slot_addr(half, slot), rec, META_RECORD_SIZE) != FLASH_OK ||
        flash_read(log->flash, slot_addr(half, slot), back, sizeof(back)) != FLASH_OK ||
        memcmp(rec, back, META_RECORD_SIZE) != 0) {
        return META_ERR_FLASH;
    }
    return META_OK;
}

/* Erases a half and checks that every byte reads erased. */
static meta_err_t erase_half(meta_log_t *log, int half)
{
    if (flash_erase_sector(log->flash, half_sector(half)) != FLASH_OK) {
        return META_ERR_FLASH;
    }
    uint8_t buf[64];
    for (uint32_t off = 0; off < LAYOUT_META_SECTOR_SIZE; off += sizeof(buf)) {
        if (flash_read(log->flash, half_base(half) + off, buf, sizeof(buf)) != FLASH_OK ||
            !is_blank(buf, sizeof(buf))) {
            return META_ERR_FLASH;
        }
    }
    return META_OK;
}

/* Erases half target (twice if need be: a marginal erase may succeed the second time) and puts
 * rec in its first slot. */
static meta_err_t rotate(meta_log_t *log, int target, const uint8_t rec[META_RECORD_SIZE])
{
    meta_err_t e = erase_half(log, target);
    if (e != META_OK) {
        e = erase_half(log, target);
    }
    return e == META_OK ? put_record(log, target, 0, rec) : e;
}

/* The log as a reader will find it holds seq and st as its newest record. */
static int reads_back(const meta_log_t *log, uint32_t seq, const meta_state_t *st)
{
    meta_log_t again;
    uint8_t want[META_RECORD_SIZE], got[META_RECORD_SIZE];
    if (meta_log_open(&again, log->flash) != META_OK) {
        return 0;
    }
    meta_record_encode(seq, st, want); /* the encoding compares the fields, not struct padding */
    meta_record_encode(again.seq, &again.state, got);
    return memcmp(want, got, sizeof(want)) == 0;
}

static meta_err_t append(meta_log_t *log, uint32_t seq, const meta_state_t *st)
{
    uint8_t rec[META_RECORD_SIZE];
    meta_record_encode(seq, st, rec);
    if (log->have_state && seq != 1) {
        for (int i = log->next_slot; i < META_SLOTS; i++) {
            uint8_t cur[META_RECORD_SIZE];
            if (flash_read(log->flash, slot_addr(log->half, i), cur, sizeof(cur)) != FLASH_OK) {
                return META_ERR_FLASH;
            }
            if (!is_blank(cur, sizeof(cur))) {
                continue;
            }
            if (put_record(log, log->half, i, rec) == META_OK) {
                log->seq = seq;
                log->state = *st;
                log->next_slot = (uint16_t)(i + 1);
                return META_OK;
            }
            /* A failed program leaves a damaged slot: the next blank one is tried. */
        }
    }
    /* Rotate: the other half holds only older records (or nothing), so erasing it cannot lose
     * the current state. */
    int target = log->have_state ? 1 - log->half : 0;
    meta_err_t e = rotate(log, target, rec);
    if (e != META_OK) {
        return e;
    }
    if (seq == 1 && log->have_state) {
        /* Renumbered: the half left behind holds higher numbers and would outrank the new record.
         * A cut before this erase leaves the previous state (that half's newest): the write is
         * lost, not misread. */
        e = erase_half(log, log->half);
        if (e != META_OK) {
            e = erase_half(log, log->half);
        }
        if (e != META_OK) {
            return e;
        }
    }
    log->have_state = 1;
    log->seq = seq;
    log->state = *st;
    log->half = (uint8_t)target;
    log->next_slot = 1;
    return META_OK;
}

meta_err_t meta_log_write(meta_log_t *log, const meta_state_t *st)
{
    /* Sequence numbers only grow; at the largest one a reader accepts (a forged record may get
     * there at once) the log starts again from 1 in a fresh half. */
    uint32_t seq = log->have_state && log->seq < META_SEQ_MAX ? log->seq + 1 : 1;
    meta_err_t e = append(log, seq, st);
    if (e == META_OK && !reads_back(log, seq, st)) {
        /* Something outranks what was written (a record with a higher number somewhere): start
         * again from 1, then it must read back. */
        e = append(log, 1, st);
        if (e == META_OK && !reads_back(log, 1, st)) {
            e = META_ERR_FLASH;
        }
    }
    return e;
}

meta_err_t meta_stage_trial(meta_log_t *log, layout_bank_t bank)
{
    if (!log->have_state || (bank != LAYOUT_BANK_A && bank != LAYOUT_BANK_B) || bank == log->state.boot_bank) {
        return META_ERR_STATE;
    }
    meta_state_t st = log->state;
    st.trial_bank = (uint8_t)bank;
    st.trial_attempts = 0;
    st.flags = 0;
    st.xfer_bank = 0; /* the transfer is over */
    memset(st.xfer_id, 0, sizeof(st.xfer_id));
    return meta_log_write(log, &st);
}

meta_err_t meta_confirm(meta_log_t *log, layout_bank_t running, uint32_t image_security_counter)
{
    if (!log->have_state) {
        return META_ERR_STATE;
    }
    meta_state_t st = log->state;
    if (st.trial_bank == running) {
        st.boot_bank = (uint8_t)running;
        st.trial_bank = LAYOUT_BANK_NONE;
        st.trial_attempts = 0;
        st.flags = 0;
    } else if (st.boot_bank != running) {
        return META_ERR_STATE; /* running an image the metadata does not know */
    }
    if (image_security_counter > st.security_counter) {
        st.security_counter = image_security_counter;
    }
    if (meta_state_equal(&st, &log->state)) {
        return META_OK; /* already confirmed: no flash wear */
    }
    return meta_log_write(log, &st);
}

/* An all-zero id means "no transfer". */
static int id_set(const uint8_t id[META_XFER_ID_SIZE])
{
    uint8_t any = 0;
    for (int i = 0; i < META_XFER_ID_SIZE; i++) {
        any |= id[i];
    }
    return any != 0;
}

meta_err_t meta_begin_transfer(meta_log_t *log, layout_bank_t bank, const uint8_t id[META_XFER_ID_SIZE])
{
    if (!log->have_state || bank == log->state.boot_bank || (bank != LAYOUT_BANK_A && bank != LAYOUT_BANK_B) ||
        !id_set(id)) {
        return META_ERR_STATE;
    }
    meta_state_t st = log->state;
    st.xfer_bank = (uint8_t)bank;
    memcpy(st.xfer_id, id, META_XFER_ID_SIZE);
    if (st.trial_bank == bank) {
        st.trial_bank = LAYOUT_BANK_NONE; /* its image is being overwritten */
        st.trial_attempts = 0;
    }
    return meta_log_write(log, &st);
}

meta_err_t meta_end_transfer(meta_log_t *log)
{
    if (!log->have_state) {
        return META_ERR_STATE;
    }
    meta_state_t st = log->state;
    if (!id_set(st.xfer_id)) {
        return META_OK; /* nothing recorded */
    }
    st.xfer_bank = 0;
    memset(st.xfer_id, 0, sizeof(st.xfer_id));
    return meta_log_write(log, &st);
}

int meta_transfer_matches(const meta_state_t *st, layout_bank_t bank, const uint8_t id[META_XFER_ID_SIZE])
{
    return id_set(st->xfer_id) && st->xfer_bank == bank && memcmp(st->xfer_id, id, META_XFER_ID_SIZE) == 0;
}

int meta_state_equal(const meta_state_t *a, const meta_state_t *b)
{
    return a->boot_bank == b->boot_bank && a->trial_bank == b->trial_bank && a->trial_attempts == b->trial_attempts &&
           a->flags == b->flags && a->security_counter == b->security_counter && a->xfer_bank == b->xfer_bank &&
           memcmp(a->xfer_id, b->xfer_id, sizeof(a->xfer_id)) == 0;
}
