/* What the patch encoder and decoder must agree on beyond the public header: the range coder's
 * constants and the model contexts (docs/delta.md, "Body"). Private to delta/. */
#ifndef FOTA_DELTA_CODE_H
#define FOTA_DELTA_CODE_H

#include "fota/delta.h"
#include "fota/le.h"

#define RC_PROB_BITS 11u
#define RC_PROB_INIT (1u << (RC_PROB_BITS - 1))
#define RC_MOVE_BITS 4u
#define RC_TOP (1u << 24)

#define DELTA_NUM_MAX_BITS 22u /* a coded number is below 2^22 (images are at most 1 MiB) */
#define DELTA_SIZE_MAX (1u << 20)

/* What the instruction stream holds at p (address addr, avail bytes usable): the one rule the
 * encoder masks by and both sides predict by (delta_predict). A word-aligned word holding an address
 * in [lo, lo + span] (a literal pool entry, a vector, a function pointer); BL or B.W (T1/T4:
 * 11110 S imm10 | 1 1/0 J1 1 J2 imm11, ARMv7-M ARM A7.7.18, A7.7.12); another 32-bit Thumb-2
 * instruction (kept in step with the stream); a halfword; a lone byte (odd address, or the end). */
typedef enum { DELTA_UNIT_BYTE, DELTA_UNIT_HALF, DELTA_UNIT_WORD, DELTA_UNIT_ADDR, DELTA_UNIT_BRANCH } delta_unit_t;

static inline __attribute__((always_inline)) delta_unit_t delta_unit(const uint8_t *p, uint32_t avail, uint32_t addr,
                                                                     uint32_t lo, uint32_t span)
{
    if ((addr & 1u) != 0 || avail < 2) {
        return DELTA_UNIT_BYTE;
    }
    if (avail >= 4) {
        uint32_t w = le_get32(p);
        uint16_t h1 = (uint16_t)w, h2 = (uint16_t)(w >> 16);
        if ((addr & 3u) == 0 && w >= lo && w - lo <= span) {
            return DELTA_UNIT_ADDR;
        }
        if ((h1 & 0xF800u) == 0xF000u && ((h2 & 0xD000u) == 0xD000u || (h2 & 0xD000u) == 0x9000u)) {
            return DELTA_UNIT_BRANCH;
        }
        if ((h1 & 0xE000u) == 0xE000u && (h1 & 0x1800u) != 0) {
            return DELTA_UNIT_WORD;
        }
    }
    return DELTA_UNIT_HALF;
}

static inline unsigned delta_unit_len(delta_unit_t u)
{
    return u == DELTA_UNIT_BYTE ? 1u : u == DELTA_UNIT_HALF ? 2u : 4u;
}

/* Every model at its starting probability (the encoder's and the decoder's). */
static inline void delta_models_init(delta_models_t *m)
{
    delta_prob_t *p = (delta_prob_t *)(void *)m;
    for (size_t i = 0; i < sizeof(*m) / sizeof(delta_prob_t); i++) {
        p[i] = (delta_prob_t)RC_PROB_INIT;
    }
}

static inline unsigned delta_lit_ctx(uint32_t out_pos, uint8_t prev)
{
    return (unsigned)((out_pos & 1u) | ((uint32_t)(prev >> 7) << 1));
}

static inline unsigned delta_res_ctx(uint32_t out_pos)
{
    return (unsigned)(out_pos & 1u);
}

#endif
