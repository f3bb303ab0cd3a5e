/* Boot metadata: which bank to boot, which one is on trial, the device's security counter.
 * Stored as an append-only log of fixed-size records across two flash sectors (power-safe design in
 * docs/flash-layout.md); this header holds the record codec. All fields little endian. */
#ifndef FOTA_META_H
#define FOTA_META_H

#include <stdint.h>

#include "fota/layout.h"

#define META_RECORD_SIZE 32          /* bytes; a multiple of the x32 program unit */
#define META_SEQ_MAX 0xFFFFFFFEu     /* largest sequence number a record may carry; all ones is refused */
#define META_RECORD_MAGIC 0x4154454Du /* "META": marks a written record slot */
#define META_RECORD_VERSION 1
#define META_XFER_ID_SIZE 8 /* bytes of the image SHA-256 kept to recognise a resumed transfer */

typedef enum {
    META_OK = 0,
    META_ERR_BLANK,   /* slot never written (all 0xFF) */
    META_ERR_MAGIC,   /* slot written but not a record: torn or foreign */
    META_ERR_CRC,     /* record damaged, e.g. a program cut by power loss */
    META_ERR_VERSION, /* record written by a newer format */
    META_ERR_FIELD,   /* CRC fine but a field is out of range */
    META_ERR_NO_STATE, /* no valid record in either half: a blank device */
    META_ERR_FLASH,   /* erase or program failed, or did not read back */
    META_ERR_STATE,   /* the transition makes no sense in this state (e.g. stage the boot bank) */
} meta_err_t;

/* The state the bootloader acts on. */
typedef struct {
    uint8_t boot_bank;         /* layout_bank_t: the confirmed image to boot */
    uint8_t trial_bank;        /* layout_bank_t on trial, LAYOUT_BANK_NONE when none */
    uint8_t trial_attempts;    /* boots of the trial image so far */
    uint8_t flags;             /* META_F_* */
    uint32_t security_counter; /* lowest security counter the device still accepts */
    /* Transfer in progress (agent resume): the bank being written and the first bytes of the
     * SHA-256 of the whole image. All-zero id: no transfer (then xfer_bank is 0). */
    uint8_t xfer_bank;
    uint8_t xfer_id[META_XFER_ID_SIZE];
} meta_state_t;

#define META_F_FELL_BACK 0x01u /* the last boot could not use boot_bank and ran the other one */
#define META_F_REVERTED 0x02u  /* the last trial was not confirmed in time and was reverted */
#define META_FLAGS_KNOWN (META_F_FELL_BACK | META_F_REVERTED)

/* Encodes a record with sequence number seq (higher wins) and its CRC-32. */
void meta_record_encode(uint32_t seq, const meta_state_t *st, uint8_t rec[META_RECORD_SIZE]);
meta_err_t meta_record_decode(const uint8_t rec[META_RECORD_SIZE], uint32_t *seq, meta_state_t *st);

const char *meta_strerror(meta_err_t err);

/* The log over the two metadata sectors (docs/flash-layout.md). The current state is the valid record
 * with the highest sequence number; a write appends a record, rotating to the other half when full. */
#include "fota/flash.h"

#define META_SLOTS (LAYOUT_META_SECTOR_SIZE / META_RECORD_SIZE) /* records per half */

typedef struct {
    const flash_port_t *flash;
    meta_state_t state; /* valid when have_state */
    uint32_t seq;       /* sequence number of the current record */
    uint8_t half;       /* half (0 or 1) that holds the current record */
    uint16_t next_slot; /* where the next append may go in that half; META_SLOTS when full */
    uint8_t have_state;
} meta_log_t;

/* Scans both halves. META_OK, META_ERR_NO_STATE (blank device: log->have_state is 0, writing
 * initialises it) or META_ERR_FLASH. */
meta_err_t meta_log_open(meta_log_t *log, const flash_port_t *flash);
/* Makes st the new state, power-safely: until this returns META_OK the previous state stands. */
meta_err_t meta_log_write(meta_log_t *log, const meta_state_t *st);

/* Transitions shared by the bootloader, the agent and the application. */
/* Agent: the image in bank is complete and verified; boot it on trial at the next reset. */
meta_err_t meta_stage_trial(meta_log_t *log, layout_bank_t bank);
/* Application: the running image works. If it was on trial it becomes the boot bank, and the
 * device's security counter rises to the image's. */
meta_err_t meta_confirm(meta_log_t *log, layout_bank_t running, uint32_t image_security_counter);
/* Agent: the sectors of bank are erased for the image whose SHA-256 starts with id; a later
 * BEGIN for the same image may resume. meta_end_transfer forgets it (abort). */
meta_err_t meta_begin_transfer(meta_log_t *log, layout_bank_t bank, const uint8_t id[META_XFER_ID_SIZE]);
meta_err_t meta_end_transfer(meta_log_t *log);
/* 1 when two states are the same, field by field. */
int meta_state_equal(const meta_state_t *a, const meta_state_t *b);
/* 1 when the state records a transfer of id into bank. */
int meta_transfer_matches(const meta_state_t *st, layout_bank_t bank, const uint8_t id[META_XFER_ID_SIZE]);

#endif
