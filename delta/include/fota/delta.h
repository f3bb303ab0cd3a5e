/* Delta updates: the patch decoder the device runs (docs/delta.md).
 *
 * A patch rebuilds one signed image (the target) from another (the base, the image the device
 * runs). The decoder streams: it takes the patch in pieces of any size, reads the base through a
 * callback (the running bank, memory-mapped on the F407), and writes the target sequentially into
 * the caller's buffer, which the agent programs into the inactive bank like a full image. It
 * allocates nothing; its whole state is delta_dec_t (DELTA_DEC_RAM bytes). Every length, offset and
 * count in a patch is checked before use: a hostile patch gets an error, never a read outside the
 * base or a write outside the caller's buffer. A patch that decodes to the wrong bytes is caught
 * after it, by the target's hash and signature, exactly as a full image is. */
#ifndef FOTA_DELTA_H
#define FOTA_DELTA_H

#include <stddef.h>
#include <stdint.h>

#define DELTA_MAGIC 0x544C4446u /* "FDLT" */
#define DELTA_FORMAT 1u
#define DELTA_HDR_SIZE 160u
#define DELTA_MAP_MAX 256u /* relocation breakpoints a patch may carry */
#define DELTA_UNIT_MAX 96u /* most patch bytes one decoding step can consume */
#define DELTA_LIT_CTX 4u   /* literal contexts: output offset parity x top bit of the previous byte */
#define DELTA_RES_CTX 2u   /* residual contexts: output offset parity */

typedef enum {
    DELTA_OK = 0,             /* progress made; call again with more input or more output room */
    DELTA_HEADER = 1,         /* the header is complete: check it (delta_dec_info) before going on */
    DELTA_DONE = 2,           /* the whole target has been produced */
    DELTA_ERR_MAGIC = -1,     /* not a patch */
    DELTA_ERR_FORMAT = -2,    /* a format version or flag this decoder does not know */
    DELTA_ERR_HEADER = -3,    /* sizes or addresses out of range */
    DELTA_ERR_BASE = -4,      /* the base the caller has is not the base the patch names */
    DELTA_ERR_CORRUPT = -5,   /* the body decodes to something impossible (a length past the end, ...) */
    DELTA_ERR_TRUNCATED = -6, /* the body ended before the target did */
    DELTA_ERR_READ = -7,      /* the base could not be read */
    DELTA_ERR_STATE = -8,     /* called after an error or after DONE */
} delta_err_t;

/* Header flags. DELTA_FLAG_ENCRYPTED: a patch of an encrypted release (docs/encryption.md): the
 * IMG_TLV_ENC_EC256 record's value (DELTA_ENC_RECORD_SIZE bytes) follows the header, and the body
 * after it is AES-128-CTR under the key that record wraps. The decoder skips the record; its caller
 * unwraps the key and decrypts the body before feeding it. */
#define DELTA_FLAG_ENCRYPTED 0x00000001u
#define DELTA_ENC_RECORD_SIZE 113u

/* The header, little endian, DELTA_HDR_SIZE bytes, not compressed. */
typedef struct {
    uint32_t base_size;        /* bytes of the base image (header + payload + trailer) */
    uint32_t target_size;      /* bytes of the target image */
    uint32_t base_addr;        /* flash address the base is stored at (its bank's base) */
    uint32_t target_addr;      /* flash address the target will be stored at */
    uint32_t body_size;        /* bytes of range-coded body after the header */
    uint32_t flags;            /* DELTA_FLAG_ENCRYPTED; any other set bit is refused */
    uint8_t base_sha256[32];   /* the SHA-256 the base image is signed over (its IMG_TLV_SHA256) */
    uint8_t target_sha256[32]; /* SHA-256 of the target's target_size bytes */
    uint8_t target_header[64]; /* the target's header fields (its first 64 bytes): what BEGIN sends */
} delta_info_t;

/* Reads len bytes of the base at offset; 0 on success. */
typedef int (*delta_read_fn)(void *ctx, uint32_t offset, uint8_t *buf, uint32_t len);

/* Adaptive binary models: 11-bit probabilities. */
typedef uint16_t delta_prob_t;
typedef struct {
    delta_prob_t cls[64]; /* bit length of value + 1, a 6-bit tree */
} delta_num_model_t;

/* Every adaptive model of the body (the encoder has the same set). Only probabilities. */
typedef struct {
    delta_prob_t sign_bit;
    delta_num_model_t m_copy, m_lit, m_off, m_run, m_map_old, m_map_shift, m_count;
    delta_prob_t lit[DELTA_LIT_CTX][256];
    delta_prob_t res[DELTA_RES_CTX][256];
} delta_models_t;

typedef struct {
    uint32_t old;  /* base offset where this breakpoint starts */
    int32_t shift; /* target offset - base offset from here on */
} delta_map_t;

/* The decoder. Public so it can be placed statically; the fields are private. */
typedef struct {
    delta_read_fn read;
    void *rctx;
    delta_info_t info;
    int32_t phase;
    delta_err_t err;
    /* Header bytes, then input carried over between calls (less than one step's worth). */
    uint8_t hdr[DELTA_HDR_SIZE];
    uint32_t hdr_len;
    uint32_t record_left; /* bytes of an encrypted patch's key record still to skip */
    uint8_t carry[DELTA_UNIT_MAX];
    uint32_t carry_len, carry_pos;
    uint32_t body_read; /* body bytes the range decoder has taken */
    const uint8_t *in;  /* this call's input */
    size_t in_len, in_pos;
    uint8_t overrun; /* the decoder wanted a byte the body does not have */
    /* Range decoder. */
    uint32_t range, code;
    uint32_t init_bytes;
    delta_models_t md; /* the models */
    /* Relocation map. */
    delta_map_t map[DELTA_MAP_MAX];
    uint32_t map_count, map_i;
    /* Where we are. */
    uint32_t out_pos;   /* target bytes produced */
    uint32_t old_pos;   /* base offset the next copy starts from, before its adjustment */
    uint32_t copy_left; /* bytes of the current copy not yet produced */
    uint32_t run_left;  /* zero residuals pending in the current copy */
    uint32_t lit_left;  /* literal bytes pending */
    uint32_t src;       /* base offset of the next copied byte */
    uint8_t prev;       /* last byte produced */
    uint8_t need_run;   /* the next thing in a copy is a run of zero residuals */
    uint8_t pending_nz; /* after the run, one non-zero residual */
    uint8_t empty_copy; /* this pair copied nothing */
    /* Prediction of the copied bytes, a few instructions and words ahead. */
    uint8_t pred[32];
    uint8_t pred_len, pred_pos;
    uint8_t win[64]; /* base bytes read ahead */
    uint32_t win_off, win_len;
} delta_dec_t;

#define DELTA_DEC_RAM ((uint32_t)sizeof(delta_dec_t))

/* Starts a decoder that reads the base through read(ctx, ...). */
void delta_dec_init(delta_dec_t *d, delta_read_fn read, void *ctx);

/* Feeds in[0..in_len) and produces at most out_cap target bytes into out. *in_used and *out_len
 * say how much was taken and made. Returns DELTA_HEADER once, as soon as the header is in (then
 * call again, with the rest of the input); DELTA_OK while more input or room is needed; DELTA_DONE
 * when the target is complete; a negative delta_err_t otherwise (and every later call returns it). */
delta_err_t delta_dec_run(delta_dec_t *d, const uint8_t *in, size_t in_len, size_t *in_used, uint8_t *out,
                          size_t out_cap, size_t *out_len);

/* After the last of the patch has been fed: DELTA_DONE if the target is complete, else the error,
 * or DELTA_ERR_TRUNCATED when the patch ended before the target did. */
delta_err_t delta_dec_end(const delta_dec_t *d);

/* The header, once delta_dec_run has returned DELTA_HEADER. */
const delta_info_t *delta_dec_info(const delta_dec_t *d);

/* Parses a header (DELTA_HDR_SIZE bytes). */
delta_err_t delta_parse_header(const uint8_t *buf, size_t len, delta_info_t *out);

/* Patch bytes before the body: the header, and an encrypted patch's key record. A whole patch is
 * delta_body_offset() + body_size bytes. */
static inline uint32_t delta_body_offset(const delta_info_t *in)
{
    return DELTA_HDR_SIZE + ((in->flags & DELTA_FLAG_ENCRYPTED) != 0 ? DELTA_ENC_RECORD_SIZE : 0u);
}

/* Parses the header of a patch held whole in buf (len bytes): DELTA_ERR_TRUNCATED when len is not
 * the header, key record and body the header announces. */
delta_err_t delta_parse_patch(const uint8_t *buf, size_t len, delta_info_t *out);

const char *delta_strerror(delta_err_t e);

/* The prediction both sides make for copied bytes (shared by the encoder and the decoder, so
 * they cannot disagree): the base bytes at base offset p, about to land at target offset q, with
 * Thumb-2 BL/B.W targets and words that hold base addresses moved to where the relocation map puts
 * them. old4 holds up to 4 base bytes from p, avail of them usable (the copy's end or the base's).
 * Writes the predicted bytes to out and returns how many (1, 2 or 4). */
unsigned delta_predict(const delta_map_t *map, uint32_t map_count, uint32_t base_addr, uint32_t base_size,
                       uint32_t target_addr, const uint8_t *old4, uint32_t avail, uint32_t p, uint32_t q,
                       uint8_t out[4]);

#endif
