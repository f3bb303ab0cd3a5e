/* Link master: see fota/link_master.h. The answer to a frame arrives in the next transaction, so
 * every decision below is made on the last STATUS received intact. */
#include "fota/link_master.h"

#include <string.h>

#include "fota/delta.h"
#include "fota/image.h"
#include "fota/le.h"

#define TXN_MAX LINK_FRAME_MAX

void lm_init(link_master_t *m, const link_port_t *port)
{
    memset(m, 0, sizeof(*m));
    m->port = *port;
    m->timeout_us = 10000000u;
    m->spi_hz = 8000000u;
    m->gap_us = 20;
    m->poll_us = 100;
    m->erase_poll_us = 2000;
    m->drain_poll_us = 1000;
}

/* One transaction carrying frame (type, seq, payload); decodes what comes back into m->status.
 * Returns 1 when a STATUS arrived intact, 0 when not, -1 when the port failed. */
static int exchange(link_master_t *m, uint8_t type, uint16_t seq, const uint8_t *payload, uint16_t len)
{
    uint8_t tx[TXN_MAX], rx[TXN_MAX];
    size_t n = link_encode(tx, sizeof(tx), type, seq, payload, len);
    if (n < LINK_STATUS_TXN) {
        memset(tx + n, 0, LINK_STATUS_TXN - n);
        n = LINK_STATUS_TXN;
    }
    if (m->port.transact(m->port.ctx, tx, rx, (uint32_t)n) != 0) {
        return -1;
    }
    m->elapsed_us += (uint64_t)n * 8u * 1000000u / m->spi_hz + m->gap_us;
    m->transactions++;
    m->wire_bytes += n;
    link_frame_t f;
    link_status_t st;
    if (link_decode(rx, n, &f) != LINK_OK || f.type != LINK_STATUS ||
        link_status_decode(f.payload, f.len, &st) != LINK_OK) {
        m->bad_frames++;
        return 0;
    }
    m->status = st;
    return 1;
}

static void wait(link_master_t *m, uint32_t us)
{
    m->port.wait_us(m->port.ctx, us);
    m->elapsed_us += us;
}

/* Whether a refusal is final for this image (retrying it cannot help) or says the device is not
 * where the master thought (it reset, or a flash operation failed): then re-read INFO, resume. */
static lm_err_t refusal(uint8_t result)
{
    return result == LINK_R_BAD_STATE || result == LINK_R_FLASH ? LM_ERR_STATE : LM_ERR_REFUSED;
}

/* The slave re-arms before it decodes: the STATUS a transaction carries was made before the
 * previous frame was read, so the answer to a request comes one or two transactions later. This
 * many polls without it, and the request is sent again. */
#define STALE_POLLS 4

/* An erase the slave announced (sector << 24 | worst-case ms in detail, state erasing): its CPU
 * cannot answer until the erase ends, so wait the typical time once (half the worst case at x32
 * for every sector size, DS8626) instead of polling; after that, polls come every erase_poll_us
 * until the slave answers. */
static void wait_erase(link_master_t *m)
{
    const link_status_t *st = &m->status;
    if (st->state != 1 /* erasing */ || st->detail == 0 || st->detail == m->erase_waited) {
        return;
    }
    m->erase_waited = st->detail;
    wait(m, (st->detail & 0xFFFFFFu) * 500u);
}

/* The pause after a transaction that got no intact answer. */
static uint32_t no_answer_us(const link_master_t *m)
{
    return m->status.state == 1 /* erasing: it cannot answer yet */ ? m->erase_poll_us : m->poll_us;
}

lm_err_t lm_request(link_master_t *m, uint8_t type, const uint8_t *payload, uint16_t len)
{
    uint16_t seq = ++m->seq;
    int send_request = 1;
    uint32_t stale = 0;
    /* Bounded by time, not by count: the device is given timeout_us to answer at all; each
     * answer that shows it alive (pending, busy, not yet decoded) starts the time again. */
    for (uint64_t since = m->elapsed_us; m->elapsed_us - since < m->timeout_us;) {
        int r = send_request ? exchange(m, type, seq, payload, len) : exchange(m, LINK_POLL, seq, NULL, 0);
        if (r < 0) {
            return LM_ERR_IO;
        }
        if (send_request) {
            send_request = 0; /* its answer comes with a following transaction */
            stale = 0;
            if (r == 1) {
                wait_erase(m); /* but what it carried may announce an erase */
            }
            continue;
        }
        if (r == 0) {
            /* The answer was garbled, or the slave could not answer (an erase stalls it): pause,
             * then ask again (requests are idempotent). */
            wait(m, no_answer_us(m));
            send_request = 1;
            m->resent++;
            continue;
        }
        const link_status_t *st = &m->status;
        wait_erase(m);
        if (st->ack_seq != seq || st->ack_type != type) {
            /* Not decoded yet, or it never arrived intact. */
            wait(m, m->poll_us);
            if (++stale >= STALE_POLLS) {
                send_request = 1;
                m->resent++;
            }
            continue;
        }
        if (st->result == LINK_R_BAD_FRAME) {
            send_request = 1; /* a frame after ours was garbled: ask again for the answer */
            m->resent++;
            continue;
        }
        if (st->result == LINK_R_BUSY) {
            wait(m, m->poll_us);
            send_request = 1;
            since = m->elapsed_us;
            continue;
        }
        if (st->result == LINK_R_PENDING) {
            /* A sector erase takes up to a second or two: no point asking every poll interval. */
            wait(m, st->state == 1 /* erasing */ ? m->erase_poll_us : m->poll_us);
            since = m->elapsed_us;
            continue;
        }
        return st->result == LINK_R_OK ? LM_OK : refusal(st->result);
    }
    return LM_ERR_TIMEOUT;
}

int lm_read_memory(void *ctx, uint32_t offset, uint8_t *buf, uint32_t len)
{
    memcpy(buf, (const uint8_t *)ctx + offset, len);
    return 0;
}

void lm_begin_encode(uint8_t out[LINK_BEGIN_SIZE], uint32_t size, const uint8_t sha256[32], uint8_t bank,
                     const uint8_t header[64])
{
    le_put32(out, size);
    memcpy(out + 4, sha256, 32);
    out[36] = bank;
    memcpy(out + 37, header, 64);
}

lm_err_t lm_poll(link_master_t *m)
{
    int r = exchange(m, LINK_POLL, m->seq, NULL, 0);
    return r < 0 ? LM_ERR_IO : r == 0 ? LM_ERR_TIMEOUT : LM_OK;
}

static lm_err_t send(link_master_t *m, uint8_t type, const uint8_t *begin, uint16_t begin_len, uint32_t size,
                     lm_read_fn read, void *rctx, lm_progress_fn progress, void *pctx, uint32_t *resumed_from)
{
    lm_err_t e = lm_request(m, type, begin, begin_len);
    if (e != LM_OK) {
        return e;
    }
    uint32_t off = m->status.next_offset;
    if (resumed_from != NULL) {
        *resumed_from = off;
    }
    uint8_t payload[4 + LINK_MAX_DATA];
    uint32_t stalls = 0, last_done = off;
    uint64_t progress_at = m->elapsed_us;
    uint16_t lost_upto = m->seq; /* DATA frames up to this seq are answered or given up for lost */
    for (;;) {
        const link_status_t *st = &m->status;
        if (st->state == 5 /* AGENT_ERROR */) {
            return refusal(st->result);
        }
        uint32_t done = st->next_offset;
        if (done == size && st->free_bufs == 2 && off >= size) {
            break; /* every byte accepted and programmed */
        }
        /* Free buffers as far as we know: DATA frames are numbered one by one, so those sent after
         * the request this STATUS answers are still in flight. */
        uint16_t answered = (int16_t)(st->ack_seq - lost_upto) > 0 ? st->ack_seq : lost_upto;
        int credit = (int)st->free_bufs - (int)(uint16_t)(m->seq - answered);
        int r;
        if (off < size && credit > 0) {
            uint32_t n = size - off < LINK_MAX_DATA ? size - off : LINK_MAX_DATA;
            le_put32(payload, off);
            if (read(rctx, off, payload + 4, n) != 0) {
                return LM_ERR_IO;
            }
            uint16_t seq = ++m->seq;
            r = exchange(m, LINK_DATA, seq, payload, (uint16_t)(4 + n));
            off += n;
        } else {
            if (off >= size) {
                /* All sent: the slave programs (or decodes) what it holds; each poll costs it an
                 * interrupt, and a patch can keep it busy for seconds. */
                wait(m, m->drain_poll_us);
            } else if (credit <= 0) {
                wait(m, m->poll_us);
            }
            r = exchange(m, LINK_POLL, m->seq, NULL, 0);
        }
        if (r < 0) {
            return LM_ERR_IO;
        }
        if (r == 0) {
            if (m->elapsed_us - progress_at > m->timeout_us) {
                return LM_ERR_TIMEOUT;
            }
            continue;
        }
        wait_erase(m);
        /* Go back to what the slave expects when it refused a chunk, or missed one. */
        if (st->result == LINK_R_BAD_OFFSET || st->result == LINK_R_BUSY || st->result == LINK_R_BAD_FRAME) {
            /* Refused for room or order, or garbled on the way: transient, never fatal. */
            if (st->next_offset < off) {
                m->resent += (off - st->next_offset + LINK_MAX_DATA - 1) / LINK_MAX_DATA;
                off = st->next_offset;
            }
        } else if (st->result != LINK_R_OK && st->result != LINK_R_PENDING && st->ack_type == LINK_DATA) {
            return refusal(st->result); /* e.g. BAD_STATE: the device reset and is idle */
        }
        if (st->next_offset != last_done) {
            last_done = st->next_offset;
            stalls = 0;
            progress_at = m->elapsed_us;
            if (progress != NULL) {
                progress(pctx, last_done, size);
            }
        } else if (m->elapsed_us - progress_at > m->timeout_us) {
            return LM_ERR_TIMEOUT;
        } else if (++stalls % 64 == 0) {
            /* No progress for a while: frames or their answers were lost. Resend from what the
             * slave has, and stop waiting for answers that will not come. */
            off = st->next_offset;
            lost_upto = m->seq;
        }
    }
    return lm_request(m, LINK_VERIFY, NULL, 0);
}

int lm_begin_image(lm_begin_t *b, uint32_t size, const uint8_t file_sha[32], uint8_t bank, lm_read_fn read,
                   void *rctx)
{
    uint8_t header[IMG_HEADER_FIELDS_SIZE], trailer[FOTA_IMG_TRAILER_MAX];
    img_header_t h;
    img_trailer_t t;
    if (size < IMG_HEADER_FIELDS_SIZE || read(rctx, 0, header, sizeof(header)) != 0) {
        return -1;
    }
    b->type = LINK_BEGIN;
    b->len = LINK_BEGIN_SIZE;
    if (img_header_decode(header, &h) != IMG_OK) {
        lm_begin_encode(b->payload, size, file_sha, bank, header); /* the device says what is wrong */
        return 0;
    }
    if ((h.flags & IMG_FLAG_ENCRYPTED) == 0) {
        lm_begin_encode(b->payload, size, file_sha, bank, header);
        return 0;
    }
    /* Encrypted: the signed hash and the key record are in the trailer, in clear. */
    if (img_total_size(&h) != size || h.trailer_size > sizeof(trailer)) {
        return -2;
    }
    if (read(rctx, h.hdr_size + h.payload_size, trailer, h.trailer_size) != 0) {
        return -1;
    }
    if (img_trailer_parse(trailer, h.trailer_size, &t) != IMG_OK || t.enc == NULL) {
        return -2;
    }
    lm_begin_encode(b->payload, size, t.sha256, bank, header);
    memcpy(b->payload + LINK_BEGIN_SIZE, t.enc, IMG_ENC_EC256_SIZE);
    b->type = LINK_BEGIN_ENC;
    b->len = LINK_BEGIN_ENC_SIZE;
    return 0;
}
_Static_assert(LINK_BEGIN_ENC_SIZE == LINK_BEGIN_SIZE + IMG_ENC_EC256_SIZE, "BEGIN_ENC carries the key record");
_Static_assert(DELTA_ENC_RECORD_SIZE == IMG_ENC_EC256_SIZE, "an encrypted patch carries an image's key record");

lm_err_t lm_send(link_master_t *m, const lm_begin_t *begin, uint32_t size, lm_read_fn read, void *rctx,
                 lm_progress_fn progress, void *pctx, uint32_t *resumed_from)
{
    return send(m, begin->type, begin->payload, begin->len, size, read, rctx, progress, pctx, resumed_from);
}

int lm_begin_delta_encode(lm_begin_t *b, const uint8_t *patch, uint32_t patch_size, delta_info_t *header)
{
    delta_info_t info;
    img_header_t h;
    if (delta_parse_patch(patch, patch_size, &info) != DELTA_OK ||
        img_header_decode(info.target_header, &h) != IMG_OK) {
        return -1;
    }
    uint8_t *out = b->payload;
    lm_begin_encode(out, info.target_size, info.target_sha256, h.bank, info.target_header);
    le_put32(out + LINK_BEGIN_SIZE, patch_size);
    memcpy(out + LINK_BEGIN_SIZE + 4, info.base_sha256, 32);
    b->type = LINK_BEGIN_DELTA;
    b->len = LINK_BEGIN_DELTA_SIZE;
    if ((info.flags & DELTA_FLAG_ENCRYPTED) != 0) {
        memcpy(out + LINK_BEGIN_DELTA_SIZE, patch + DELTA_HDR_SIZE, DELTA_ENC_RECORD_SIZE);
        b->type = LINK_BEGIN_DELTA_ENC;
        b->len = LINK_BEGIN_DELTA_ENC_SIZE;
    }
    if (header != NULL) {
        *header = info;
    }
    return 0;
}

lm_err_t lm_commit(link_master_t *m, uint8_t bank)
{
    lm_err_t e = lm_request(m, LINK_COMMIT, NULL, 0);
    if (e == LM_OK) {
        (void)lm_poll(m);
        return LM_OK;
    }
    if (lm_request(m, LINK_STATE, NULL, 0) == LM_OK && m->status.extra_len >= 2 &&
        (m->status.extra[0] == bank || m->status.extra[1] == bank)) {
        return LM_OK;
    }
    return e;
}

const char *lm_strerror(lm_err_t e)
{
    switch (e) {
    case LM_OK:
        return "ok";
    case LM_ERR_IO:
        return "SPI transaction failed";
    case LM_ERR_TIMEOUT:
        return "no answer from the device";
    case LM_ERR_REFUSED:
        return "refused by the device";
    case LM_ERR_STATE:
        return "the device is not where the transfer was (it reset, or a flash operation failed)";
    }
    return "unknown link master error";
}
