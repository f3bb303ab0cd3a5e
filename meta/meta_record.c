/* Metadata record codec: 32 bytes, CRC-32 over the first 28. A torn program leaves a record whose
 * CRC fails, which readers treat as never written. */
#include <string.h>

#include "fota/crc32.h"
#include "fota/le.h"
#include "fota/meta.h"

enum {
    R_MAGIC = 0,       /* u32 META_RECORD_MAGIC */
    R_VERSION = 4,     /* u8 META_RECORD_VERSION */
    R_BOOT_BANK = 5,   /* u8 */
    R_TRIAL_BANK = 6,  /* u8 */
    R_ATTEMPTS = 7,    /* u8 */
    R_SEQ = 8,         /* u32 */
    R_SEC_CNT = 12,    /* u32 */
    R_FLAGS = 16,      /* u8 */
    R_XFER_BANK = 17,  /* u8 bank of the transfer in progress (0 when none) */
    R_XFER_ID = 18,    /* 8 bytes: start of the image SHA-256; all zero when none */
    R_RSVD = 26,       /* 2 bytes, zero */
    R_CRC = 28,        /* u32 CRC-32 of bytes 0..27 */
    R_END = 32,
};
_Static_assert(R_END == META_RECORD_SIZE, "record field table and META_RECORD_SIZE disagree");
_Static_assert(META_RECORD_SIZE % 4 == 0, "records are programmed in 32-bit words");

void meta_record_encode(uint32_t seq, const meta_state_t *st, uint8_t rec[META_RECORD_SIZE])
{
    memset(rec, 0, META_RECORD_SIZE);
    le_put32(rec + R_MAGIC, META_RECORD_MAGIC);
    rec[R_VERSION] = META_RECORD_VERSION;
    rec[R_BOOT_BANK] = st->boot_bank;
    rec[R_TRIAL_BANK] = st->trial_bank;
    rec[R_ATTEMPTS] = st->trial_attempts;
    le_put32(rec + R_SEQ, seq);
    le_put32(rec + R_SEC_CNT, st->security_counter);
    rec[R_FLAGS] = st->flags;
    rec[R_XFER_BANK] = st->xfer_bank;
    memcpy(rec + R_XFER_ID, st->xfer_id, META_XFER_ID_SIZE);
    le_put32(rec + R_CRC, crc32(rec, R_CRC));
}

static int valid_bank(uint8_t b, int none_ok)
{
    return b == LAYOUT_BANK_A || b == LAYOUT_BANK_B || (none_ok && b == LAYOUT_BANK_NONE);
}

meta_err_t meta_record_decode(const uint8_t rec[META_RECORD_SIZE], uint32_t *seq, meta_state_t *st)
{
    uint8_t all = 0xFF;
    for (int i = 0; i < META_RECORD_SIZE; i++) {
        all &= rec[i];
    }
    if (all == 0xFF) {
        return META_ERR_BLANK;
    }
    if (le_get32(rec + R_MAGIC) != META_RECORD_MAGIC) {
        return META_ERR_MAGIC;
    }
    if (le_get32(rec + R_CRC) != crc32(rec, R_CRC)) {
        return META_ERR_CRC;
    }
    if (rec[R_VERSION] != META_RECORD_VERSION) {
        return META_ERR_VERSION;
    }
    meta_state_t s = {
        .boot_bank = rec[R_BOOT_BANK],
        .trial_bank = rec[R_TRIAL_BANK],
        .trial_attempts = rec[R_ATTEMPTS],
        .flags = rec[R_FLAGS],
        .security_counter = le_get32(rec + R_SEC_CNT),
        .xfer_bank = rec[R_XFER_BANK],
    };
    memcpy(s.xfer_id, rec + R_XFER_ID, META_XFER_ID_SIZE);
    uint8_t any_id = 0;
    for (int i = 0; i < META_XFER_ID_SIZE; i++) {
        any_id |= s.xfer_id[i];
    }
    if (!valid_bank(s.boot_bank, 0) || !valid_bank(s.trial_bank, 1) || s.trial_bank == s.boot_bank ||
        (s.flags & ~META_FLAGS_KNOWN) != 0 || (any_id ? !valid_bank(s.xfer_bank, 0) : s.xfer_bank != 0)) {
        return META_ERR_FIELD;
    }
    for (int i = R_RSVD; i < R_CRC; i++) {
        if (rec[i] != 0) {
            return META_ERR_FIELD;
        }
    }
    if (le_get32(rec + R_SEQ) > META_SEQ_MAX) {
        return META_ERR_FIELD; /* all ones: never written by the log (it renumbers before) */
    }
    *seq = le_get32(rec + R_SEQ);
    *st = s;
    return META_OK;
}

const char *meta_strerror(meta_err_t err)
{
    switch (err) {
    case META_OK:
        return "ok";
    case META_ERR_BLANK:
        return "metadata slot is blank";
    case META_ERR_MAGIC:
        return "metadata slot holds no record (bad magic)";
    case META_ERR_CRC:
        return "metadata record CRC mismatch (torn or damaged)";
    case META_ERR_VERSION:
        return "metadata record from an unknown format version";
    case META_ERR_FIELD:
        return "metadata record field out of range";
    case META_ERR_NO_STATE:
        return "no metadata: blank device";
    case META_ERR_FLASH:
        return "metadata flash write failed";
    case META_ERR_STATE:
        return "metadata transition not allowed in this state";
    }
    return "unknown metadata error";
}
