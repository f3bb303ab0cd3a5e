/* The SPI link framing shared by the bridge (master) and the agent (slave): frames with sync,
 * type, sequence number, length, payload and CRC-32, and the STATUS payload. docs/link-protocol.md.
 * No allocation; decode bounds every length by the buffer it is given. */
#ifndef FOTA_LINK_H
#define FOTA_LINK_H

#include <stddef.h>
#include <stdint.h>

#define LINK_PROTOCOL_VERSION 1
#define LINK_SYNC 0x5A
#define LINK_HDR_SIZE 6 /* sync, type, seq u16, len u16 */
#define LINK_CRC_SIZE 4
#define LINK_MAX_DATA 1024 /* image bytes in one DATA frame */
#define LINK_MAX_PAYLOAD (LINK_MAX_DATA + 8)
#define LINK_FRAME_MAX (LINK_HDR_SIZE + LINK_MAX_PAYLOAD + LINK_CRC_SIZE)
#define LINK_STATUS_SIZE 16      /* fixed part of a STATUS payload */
#define LINK_STATUS_EXTRA_MAX 32 /* INFO/STATE/IMAGE_ID data after it */
#define LINK_STATUS_TXN 64       /* shortest transaction: a whole STATUS frame fits */
_Static_assert(LINK_HDR_SIZE + LINK_STATUS_SIZE + LINK_STATUS_EXTRA_MAX + LINK_CRC_SIZE <= LINK_STATUS_TXN,
               "a STATUS frame must fit the shortest transaction");

/* Request types (master -> slave). */
enum {
    LINK_POLL = 0x01,
    LINK_INFO = 0x02,
    LINK_BEGIN = 0x03,
    LINK_DATA = 0x04,
    LINK_VERIFY = 0x05,
    LINK_COMMIT = 0x06,
    LINK_STATE = 0x07,
    LINK_ABORT = 0x08,
    LINK_BEGIN_DELTA = 0x09, /* BEGIN for a patch: the DATA that follows is decoded into the image */
    LINK_IMAGE_ID = 0x0A,    /* the SHA-256 the running image is signed over: what a patch names */
    LINK_BEGIN_ENC = 0x0B,   /* BEGIN for an image encrypted for this device: its key record follows */
    LINK_BEGIN_DELTA_ENC = 0x0C, /* BEGIN_DELTA for a patch encrypted for this device: its key record follows */
    LINK_STATUS = 0x81,      /* the slave's only frame */
};

/* STATUS results. */
typedef enum {
    LINK_R_OK = 0,
    LINK_R_PENDING = 1,
    LINK_R_BUSY = 2,
    LINK_R_BAD_FRAME = 3,
    LINK_R_UNKNOWN = 4,
    LINK_R_BAD_STATE = 5,
    LINK_R_BAD_OFFSET = 6,
    LINK_R_WRONG_BANK = 7,
    LINK_R_TOO_LARGE = 8,
    LINK_R_ROLLBACK = 9,
    LINK_R_BAD_IMAGE = 10,
    LINK_R_FLASH = 11,
    LINK_R_BAD_BASE = 12, /* BEGIN_DELTA: the running image is not the patch's base */
    LINK_R_BAD_KEY = 13,  /* BEGIN_ENC, BEGIN_DELTA_ENC: no device key, or encrypted for another key */
} link_result_t;

/* BEGIN payload: size u32, sha256[32], bank u8, header fields[64]. */
#define LINK_BEGIN_SIZE (4 + 32 + 1 + 64)
/* BEGIN_DELTA payload: BEGIN's (for the image the patch makes), patch size u32, SHA-256 of the
 * base image[32]. */
#define LINK_BEGIN_DELTA_SIZE (LINK_BEGIN_SIZE + 4 + 32)
/* BEGIN_ENC payload (docs/encryption.md): BEGIN's, with the SHA-256 the image is signed over (of
 * header and plaintext payload: neither side knows the other's whole-file hash), then the image's
 * IMG_TLV_ENC_EC256 record[113]. */
#define LINK_BEGIN_ENC_SIZE (LINK_BEGIN_SIZE + 113)
/* BEGIN_DELTA_ENC payload: BEGIN_DELTA's, then the patch's key record[113] (its bytes 160-272). */
#define LINK_BEGIN_DELTA_ENC_SIZE (LINK_BEGIN_DELTA_SIZE + 113)

typedef enum {
    LINK_OK = 0,
    LINK_ERR_SHORT,  /* fewer bytes than a frame needs */
    LINK_ERR_SYNC,   /* no sync byte: an idle or garbled transaction */
    LINK_ERR_LENGTH, /* payload length beyond the maximum or the bytes received */
    LINK_ERR_CRC,    /* CRC-32 mismatch */
    LINK_ERR_SPACE,  /* encode: the buffer is too small */
} link_err_t;

typedef struct {
    uint8_t type;
    uint16_t seq;
    uint16_t len;
    const uint8_t *payload; /* points into the decoded buffer */
} link_frame_t;

/* Encodes a frame into buf; returns its size, or 0 when it does not fit (or len is too big). */
size_t link_encode(uint8_t *buf, size_t cap, uint8_t type, uint16_t seq, const uint8_t *payload, uint16_t len);
/* Decodes the frame at the start of buf (a transaction: the frame, then padding). */
link_err_t link_decode(const uint8_t *buf, size_t len, link_frame_t *out);

typedef struct {
    uint16_t ack_seq;
    uint8_t ack_type;
    uint8_t result; /* link_result_t */
    uint8_t state;  /* agent state */
    uint8_t free_bufs;
    uint16_t version; /* LINK_PROTOCOL_VERSION */
    uint32_t next_offset;
    uint32_t detail;
    uint8_t extra[LINK_STATUS_EXTRA_MAX];
    uint8_t extra_len;
} link_status_t;

/* STATUS payload codec. encode returns the payload size. */
size_t link_status_encode(const link_status_t *st, uint8_t *buf, size_t cap);
link_err_t link_status_decode(const uint8_t *payload, size_t len, link_status_t *st);

const char *link_strerror(link_err_t err);
const char *link_result_name(link_result_t r);

#endif
