/* What the patch encoder and decoder must agree on beyond the public header: the range coder's
 * constants and the model contexts (docs/delta.md, "Body"). Private to delta/. */
#ifndef FOTA_DELTA_CODE_H
#define FOTA_DELTA_CODE_H

#include "fota/delta.h"

#define RC_PROB_BITS 11u
#define RC_PROB_INIT (1u << (RC_PROB_BITS - 1))
#define RC_MOVE_BITS 4u
#define RC_TOP (1u << 24)

#define DELTA_NUM_MAX_BITS 22u /* a coded number is below 2^22 (images are at most 1 MiB) */
#define DELTA_SIZE_MAX (1u << 20)

static inline unsigned delta_lit_ctx(uint32_t out_pos, uint8_t prev)
{
    return (unsigned)((out_pos & 1u) | ((uint32_t)(prev >> 7) << 1));
}

static inline unsigned delta_res_ctx(uint32_t out_pos)
{
    return (unsigned)(out_pos & 1u);
}

#endif
