/* Link framing: see fota/link.h and docs/link-protocol.md. */
#include "fota/link.h"

#include <string.h>

#include "fota/crc32.h"
#include "fota/le.h"

size_t link_encode(uint8_t *buf, size_t cap, uint8_t type, uint16_t seq, const uint8_t *payload, uint16_t len)
{
    size_t total = (size_t)LINK_HDR_SIZE + len + LINK_CRC_SIZE;
    if (len > LINK_MAX_PAYLOAD || total > cap) {
        return 0;
    }
    buf[0] = LINK_SYNC;
    buf[1] = type;
    le_put16(buf + 2, seq);
    le_put16(buf + 4, len);
    if (len > 0) {
        memcpy(buf + LINK_HDR_SIZE, payload, len);
    }
    le_put32(buf + LINK_HDR_SIZE + len, crc32(buf, LINK_HDR_SIZE + (size_t)len));
    return total;
}

link_err_t link_decode(const uint8_t *buf, size_t len, link_frame_t *out)
{
    if (len < LINK_HDR_SIZE + LINK_CRC_SIZE) {
        return LINK_ERR_SHORT;
    }
    if (buf[0] != LINK_SYNC) {
        return LINK_ERR_SYNC;
    }
    uint16_t plen = le_get16(buf + 4);
    if (plen > LINK_MAX_PAYLOAD || (size_t)LINK_HDR_SIZE + plen + LINK_CRC_SIZE > len) {
        return LINK_ERR_LENGTH;
    }
    if (le_get32(buf + LINK_HDR_SIZE + plen) != crc32(buf, LINK_HDR_SIZE + (size_t)plen)) {
        return LINK_ERR_CRC;
    }
    out->type = buf[1];
    out->seq = le_get16(buf + 2);
    out->len = plen;
    out->payload = buf + LINK_HDR_SIZE;
    return LINK_OK;
}

size_t link_status_encode(const link_status_t *st, uint8_t *buf, size_t cap)
{
    size_t extra = st->extra_len <= LINK_STATUS_EXTRA_MAX ? st->extra_len : LINK_STATUS_EXTRA_MAX;
    if (cap < LINK_STATUS_SIZE + extra) {
        return 0;
    }
    le_put16(buf, st->ack_seq);
    buf[2] = st->ack_type;
    buf[3] = st->result;
    buf[4] = st->state;
    buf[5] = st->free_bufs;
    le_put16(buf + 6, st->version);
    le_put32(buf + 8, st->next_offset);
    le_put32(buf + 12, st->detail);
    memcpy(buf + LINK_STATUS_SIZE, st->extra, extra);
    return LINK_STATUS_SIZE + extra;
}

link_err_t link_status_decode(const uint8_t *payload, size_t len, link_status_t *st)
{
    if (len < LINK_STATUS_SIZE || len > LINK_STATUS_SIZE + LINK_STATUS_EXTRA_MAX) {
        return LINK_ERR_LENGTH;
    }
    st->ack_seq = le_get16(payload);
    st->ack_type = payload[2];
    st->result = payload[3];
    st->state = payload[4];
    st->free_bufs = payload[5];
    st->version = le_get16(payload + 6);
    st->next_offset = le_get32(payload + 8);
    st->detail = le_get32(payload + 12);
    st->extra_len = (uint8_t)(len - LINK_STATUS_SIZE);
    memcpy(st->extra, payload + LINK_STATUS_SIZE, st->extra_len);
    return LINK_OK;
}

const char *link_strerror(link_err_t err)
{
    switch (err) {
    case LINK_OK:
        return "ok";
    case LINK_ERR_SHORT:
        return "frame too short";
    case LINK_ERR_SYNC:
        return "no frame (sync byte missing)";
    case LINK_ERR_LENGTH:
        return "frame length out of bounds";
    case LINK_ERR_CRC:
        return "frame CRC mismatch";
    case LINK_ERR_SPACE:
        return "frame does not fit the buffer";
    }
    return "unknown link error";
}

const char *link_result_name(link_result_t r)
{
    static const char *const names[] = {"ok",         "pending",   "busy",     "bad frame",
                                        "unknown request", "bad state", "bad offset", "wrong bank",
                                        "too large",  "rollback",  "bad image", "flash error",
                                        "bad base",   "bad key"};
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown result";
}
