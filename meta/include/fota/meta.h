/* Boot metadata: which bank to boot, which one is on trial, the device's security counter.
 * Stored as an append-only log of fixed-size records across two flash sectors (power-safe design in
 * docs/flash-layout.md); this header holds the record codec. All fields little endian. */
#ifndef FOTA_META_H
#define FOTA_META_H

#include <stdint.h>

#include "fota/layout.h"

#define META_RECORD_SIZE 32          /* bytes; a multiple of the x32 program unit */
#define META_RECORD_MAGIC 0x4154454Du /* "META": marks a written record slot */
#define META_RECORD_VERSION 1

typedef enum {
    META_OK = 0,
    META_ERR_BLANK,   /* slot never written (all 0xFF) */
    META_ERR_MAGIC,   /* slot written but not a record: torn or foreign */
    META_ERR_CRC,     /* record damaged, e.g. a program cut by power loss */
    META_ERR_VERSION, /* record written by a newer format */
    META_ERR_FIELD,   /* CRC fine but a field is out of range */
} meta_err_t;

/* The state the bootloader acts on. */
typedef struct {
    uint8_t boot_bank;         /* layout_bank_t: the confirmed image to boot */
    uint8_t trial_bank;        /* layout_bank_t on trial, LAYOUT_BANK_NONE when none */
    uint8_t trial_attempts;    /* boots of the trial image so far */
    uint8_t flags;             /* META_F_* */
    uint32_t security_counter; /* lowest security counter the device still accepts */
} meta_state_t;

#define META_F_FELL_BACK 0x01u /* the last boot could not use boot_bank and ran the other one */
#define META_F_REVERTED 0x02u  /* the last trial was not confirmed in time and was reverted */
#define META_FLAGS_KNOWN (META_F_FELL_BACK | META_F_REVERTED)

/* Encodes a record with sequence number seq (higher wins) and its CRC-32. */
void meta_record_encode(uint32_t seq, const meta_state_t *st, uint8_t rec[META_RECORD_SIZE]);
meta_err_t meta_record_decode(const uint8_t rec[META_RECORD_SIZE], uint32_t *seq, meta_state_t *st);

const char *meta_strerror(meta_err_t err);

#endif
