/* The OTA agent: see fota/agent.h and docs/link-protocol.md. */
#include "fota/agent.h"

#include <string.h>

#include "fota/devkey.h"
#include "fota/le.h"

#define VERIFY_STEP 4096u /* bytes hashed per poll */
#define SCAN_STEP 256u    /* bytes read per step when scanning flash */

static uint32_t bank_base(const agent_t *a)
{
    return layout_bank_base(a->bank);
}

/* The running image (a patch's base), read through the flash port. */
static int read_running(void *ctx, uint32_t offset, uint8_t *buf, uint32_t len)
{
    agent_t *a = ctx;
    return flash_read(a->cfg.flash, layout_bank_base(a->cfg.running) + offset, buf, len) == FLASH_OK ? 0 : -1;
}

/* The SHA-256 the running image is signed over: the hash in its own trailer. The bootloader checked
 * it (and the signature over it) before running this image, and nothing writes the running bank
 * since, so it is read, not recomputed. 0, or -1 when the image cannot be read. */
static int running_id(agent_t *a, uint8_t id[CRYPTO_SHA256_SIZE], uint32_t *size)
{
    uint8_t buf[FOTA_IMG_TRAILER_MAX];
    img_header_t h;
    img_trailer_t t;
    if (read_running(a, 0, buf, IMG_HEADER_FIELDS_SIZE) != 0 || img_header_decode(buf, &h) != IMG_OK ||
        h.trailer_size > sizeof(buf) || read_running(a, h.hdr_size + h.payload_size, buf, h.trailer_size) != 0 ||
        img_trailer_parse(buf, h.trailer_size, &t) != IMG_OK) {
        return -1; /* cannot happen: the bootloader checked what runs */
    }
    memcpy(id, t.sha256, CRYPTO_SHA256_SIZE);
    *size = img_total_size(&h);
    return 0;
}

/* The image's sectors: first and last index in layout_sectors[]. */
static int first_sector(const agent_t *a, uint32_t from)
{
    return layout_sector_of(bank_base(a) + from);
}

static int last_sector(const agent_t *a)
{
    return layout_sector_of(bank_base(a) + (a->size ? a->size - 1 : 0));
}

/* Encodes the STATUS frame the next transaction carries into the back copy, then publishes it:
 * the interrupt copies tx[tx_front], so it never sees a half-written frame. */
static void encode_status(agent_t *a)
{
    a->status.ack_seq = a->last_seq;
    a->status.ack_type = a->last_type;
    a->status.state = (uint8_t)a->state;
    a->status.free_bufs = (uint8_t)(AGENT_SLOTS - a->held_count);
    a->status.version = LINK_PROTOCOL_VERSION;
    a->status.next_offset = a->next_offset;
    a->status.detail = a->detail;
    uint8_t payload[LINK_STATUS_SIZE + LINK_STATUS_EXTRA_MAX];
    size_t n = link_status_encode(&a->status, payload, sizeof(payload));
    uint8_t back = (uint8_t)(a->tx_front ^ 1u);
    memset(a->tx[back], 0, sizeof(a->tx[back]));
    (void)link_encode(a->tx[back], sizeof(a->tx[back]), LINK_STATUS, a->last_seq, payload, (uint16_t)n);
    a->txgen[back] = ++a->gen;
    __atomic_store_n(&a->tx_front, back, __ATOMIC_RELEASE);
}

/* Rebuilds the STATUS from the current state, answering the last request with its result. */
static void refresh(agent_t *a)
{
    a->status.result = a->cmd_result;
    encode_status(a);
}

static void answer(agent_t *a, link_result_t r, uint32_t detail)
{
    a->cmd_result = (uint8_t)r;
    a->status.extra_len = 0;
    a->detail = detail;
    refresh(a);
}

/* Gives back every chunk accepted and not programmed. */
static void drop_held(agent_t *a)
{
    for (; a->held_count > 0; a->held_count--) {
        __atomic_store_n(&a->rx_state[a->held[a->held_head]], AGENT_RX_FREE, __ATOMIC_RELEASE);
        a->held_head = (uint8_t)((a->held_head + 1u) % AGENT_SLOTS);
    }
    a->held_done = 0;
}

/* OK with the extra bytes already in status.extra. */
static void answer_extra(agent_t *a, uint8_t extra_len)
{
    a->cmd_result = LINK_R_OK;
    a->detail = 0;
    a->status.extra_len = extra_len;
    refresh(a);
}

/* The image key lives in RAM only while the transfer that needs it is under way. */
static void forget_key(agent_t *a)
{
    memset(a->enc.key, 0, sizeof(a->enc.key));
    a->enc.keyed = 0;
}

static void fail(agent_t *a, link_result_t r, uint32_t detail)
{
    forget_key(a);
    a->state = AGENT_ERROR;
    a->pending = 0;
    drop_held(a);
    answer(a, r, detail);
}

void agent_init(agent_t *a, const agent_config_t *cfg)
{
    memset(a, 0, sizeof(*a));
    a->cfg = *cfg;
    a->state = AGENT_IDLE;
    a->bank = LAYOUT_BANK_NONE;
    a->erase_sector = -1;
    meta_err_t me = meta_log_open(&a->meta, cfg->flash);
    answer(a, LINK_R_OK, (uint32_t)me);
}

/* The master sent an intact frame during a transaction that carried STATUS generation gen: it has
 * read that STATUS. */
static void saw(agent_t *a, uint32_t gen)
{
    if ((int32_t)(gen - a->seen_gen) > 0) {
        a->seen_gen = gen;
    }
}

/* Generation g has been read by the master. */
static int seen(const agent_t *a, uint32_t g)
{
    return g != 0 && (int32_t)(a->seen_gen - g) >= 0;
}

/* An intact POLL: header only. Six bytes of CRC, cheap enough for the interrupt. */
static int is_poll(const uint8_t *rx, uint32_t len)
{
    link_frame_t f;
    return len >= LINK_HDR_SIZE + LINK_CRC_SIZE && rx[0] == LINK_SYNC && rx[1] == LINK_POLL && rx[4] == 0 &&
           rx[5] == 0 && link_decode(rx, LINK_HDR_SIZE + LINK_CRC_SIZE, &f) == LINK_OK;
}

static int free_rx(const agent_t *a)
{
    for (int i = 0; i < AGENT_RXBUFS; i++) {
        if (__atomic_load_n(&a->rx_state[i], __ATOMIC_ACQUIRE) == AGENT_RX_FREE) {
            return i;
        }
    }
    return -1;
}

uint8_t *agent_rx_swap(agent_t *a, uint32_t got, uint8_t tx[LINK_STATUS_TXN])
{
    uint8_t cur = a->rx_dma;
    if (a->rx_state[cur] != AGENT_RX_DMA) { /* the first call */
        int f = free_rx(a);
        cur = (uint8_t)(f < 0 ? 0 : f);
        a->rx_state[cur] = AGENT_RX_DMA;
        a->rx_dma = cur;
        got = 0;
    }
    if (got > LINK_FRAME_MAX) {
        got = LINK_FRAME_MAX;
    }
    if (got > 0 && is_poll(a->rx[cur], got)) {
        /* Nothing to decode: it only tells that the master saw what this transaction sent. */
        if ((int32_t)(a->tx_gen - a->poll_gen) > 0) {
            __atomic_store_n(&a->poll_gen, a->tx_gen, __ATOMIC_RELEASE);
        }
    } else if (got > 0) {
        uint8_t head = a->rxq_head;
        uint8_t tail = __atomic_load_n(&a->rxq_tail, __ATOMIC_ACQUIRE);
        int next = free_rx(a);
        if (next >= 0 && (uint8_t)(head - tail) < AGENT_RXQ) {
            agent_rxq_t *q = &a->rxq[head % AGENT_RXQ];
            q->len = (uint16_t)got;
            q->buf = cur;
            q->gen = a->tx_gen;
            a->rx_state[cur] = AGENT_RX_FULL;
            __atomic_store_n(&a->rxq_head, (uint8_t)(head + 1u), __ATOMIC_RELEASE);
            cur = (uint8_t)next;
            a->rx_state[cur] = AGENT_RX_DMA;
            a->rx_dma = cur;
        }
        /* Otherwise the frame is dropped: the buffer is reused and the master will resend. */
    }
    uint8_t f = __atomic_load_n(&a->tx_front, __ATOMIC_ACQUIRE);
    memcpy(tx, a->tx[f], LINK_STATUS_TXN);
    a->tx_gen = a->txgen[f];
    return a->rx[cur];
}

static void put_version(uint8_t *p, const img_version_t *v)
{
    p[0] = v->major;
    p[1] = v->minor;
    p[2] = (uint8_t)v->patch;
}

/* Returns 1 when the chunk was accepted: its buffer is then held until programmed. */
static int on_data(agent_t *a, const link_frame_t *f, uint8_t buf)
{
    if (a->state != AGENT_RECEIVING) {
        answer(a, LINK_R_BAD_STATE, (uint32_t)a->state);
        return 0;
    }
    if (f->len <= 4 || f->len - 4 > LINK_MAX_DATA) {
        answer(a, LINK_R_BAD_FRAME, f->len);
        return 0;
    }
    uint32_t off = le_get32(f->payload);
    uint32_t n = f->len - 4u;
    uint32_t limit = a->dl.on ? a->dl.patch_size : a->size; /* a patch: DATA carries its bytes */
    if ((uint64_t)off + n <= a->next_offset) {
        answer(a, LINK_R_OK, 0); /* a duplicate of bytes already accepted: harmless */
        return 0;
    }
    if (off != a->next_offset || (uint64_t)off + n > limit || ((n & 3u) != 0 && off + n != limit)) {
        answer(a, LINK_R_BAD_OFFSET, off);
        return 0;
    }
    if (a->held_count == AGENT_SLOTS) {
        answer(a, LINK_R_BUSY, 0);
        return 0;
    }
    a->held[(a->held_head + a->held_count) % AGENT_SLOTS] = buf;
    a->held_count++;
    __atomic_store_n(&a->rx_state[buf], AGENT_RX_HELD, __ATOMIC_RELEASE);
    a->next_offset += n;
    answer(a, LINK_R_OK, 0);
    return 1;
}

/* A frame that arrived during a transaction which sent STATUS generation gen. Returns 1 when its
 * buffer now holds an accepted chunk. */
static int on_transaction(agent_t *a, uint8_t buf, uint32_t len, uint32_t gen)
{
    const uint8_t *rx = a->rx[buf];
    link_frame_t f;
    link_err_t e = link_decode(rx, len, &f);
    if (e == LINK_ERR_SYNC) {
        return 0; /* no frame: an idle transaction */
    }
    if (e != LINK_OK) {
        /* ack_seq stays the last good request, whose own result is kept for when the master
         * resends: a garbled POLL must not turn a finished command into a failed one. */
        a->status.result = LINK_R_BAD_FRAME;
        encode_status(a);
        a->bad_gen = a->gen;
        return 0;
    }
    saw(a, gen);
    if (f.type == LINK_POLL) {
        refresh(a);
        return 0;
    }
    /* A retransmission gets the same answer without a second execution; one that was refused
     * for lack of room (BUSY) is a new attempt. */
    int repeat = f.seq == a->last_seq && f.type == a->last_type && f.type != LINK_DATA && a->cmd_result != LINK_R_BUSY;
    if (repeat) {
        refresh(a); /* a retransmission: the same answer, no second execution */
        return 0;
    }
    a->last_seq = f.seq;
    a->last_type = f.type;
    switch (f.type) {
    case LINK_INFO: {
        /* One publication: the interrupt may load any STATUS published, so never a half answer. */
        uint8_t *x = a->status.extra;
        put_version(x, &a->cfg.boot_version);
        put_version(x + 3, &a->cfg.app_version);
        x[6] = (uint8_t)a->cfg.running;
        le_put16(x + 7, LINK_MAX_DATA);
        x[9] = (uint8_t)a->state;
        answer_extra(a, 10);
        return 0;
    }
    case LINK_STATE: {
        const meta_state_t *s = &a->meta.state;
        uint8_t *x = a->status.extra;
        x[0] = s->boot_bank;
        x[1] = s->trial_bank;
        x[2] = s->trial_attempts;
        x[3] = s->flags;
        le_put32(x + 4, s->security_counter);
        x[8] = a->meta.have_state;
        answer_extra(a, 9);
        return 0;
    }
    case LINK_IMAGE_ID: {
        uint32_t size;
        if (running_id(a, a->status.extra, &size) != 0) {
            answer(a, LINK_R_BAD_STATE, 0);
            return 0;
        }
        answer_extra(a, CRYPTO_SHA256_SIZE);
        return 0;
    }
    case LINK_DATA:
        return on_data(a, &f, buf);
    case LINK_BEGIN:
    case LINK_BEGIN_DELTA:
    case LINK_BEGIN_ENC:
    case LINK_BEGIN_DELTA_ENC:
        if (f.len != (f.type == LINK_BEGIN         ? LINK_BEGIN_SIZE
                      : f.type == LINK_BEGIN_DELTA ? LINK_BEGIN_DELTA_SIZE
                      : f.type == LINK_BEGIN_ENC   ? LINK_BEGIN_ENC_SIZE
                                                   : LINK_BEGIN_DELTA_ENC_SIZE)) {
            answer(a, LINK_R_BAD_FRAME, f.len);
            return 0;
        }
        if (a->pending != 0 || a->held_count != 0) {
            answer(a, LINK_R_BUSY, 0);
            return 0;
        }
        a->size = le_get32(f.payload);
        memcpy(a->sha, f.payload + 4, CRYPTO_SHA256_SIZE);
        a->bank = (layout_bank_t)f.payload[36];
        memcpy(a->header, f.payload + 37, IMG_HEADER_FIELDS_SIZE);
        a->dl.on = f.type == LINK_BEGIN_DELTA || f.type == LINK_BEGIN_DELTA_ENC;
        forget_key(a);
        a->enc.on = f.type == LINK_BEGIN_ENC || f.type == LINK_BEGIN_DELTA_ENC;
        if (a->enc.on) {
            memcpy(a->enc.record, f.payload + (a->dl.on ? LINK_BEGIN_DELTA_SIZE : LINK_BEGIN_SIZE),
                   sizeof(a->enc.record));
        }
        a->erase_sector = -2; /* validate first */
        if (a->dl.on) {
            a->dl.patch_size = le_get32(f.payload + LINK_BEGIN_SIZE);
            memcpy(a->dl.base_sha, f.payload + LINK_BEGIN_SIZE + 4, CRYPTO_SHA256_SIZE);
            a->dl.base_size = 0;
            a->erase_sector = -3; /* the running image must be the patch's base: check it first */
        }
        f.type = LINK_BEGIN; /* one pending command for both */
        break;
    case LINK_VERIFY:
        if (a->state == AGENT_VERIFIED) {
            answer(a, LINK_R_OK, 0);
            return 0;
        }
        if (a->state == AGENT_VERIFYING && a->pending == LINK_VERIFY) {
            /* The master lost track (a new sequence number): the verification goes on. */
            a->pending_seq = f.seq;
            answer(a, LINK_R_PENDING, 0);
            return 0;
        }
        if (a->state != AGENT_RECEIVING || a->next_offset != (a->dl.on ? a->dl.patch_size : a->size)) {
            answer(a, LINK_R_BAD_STATE, a->next_offset);
            return 0;
        }
        a->verified = 0;
        break;
    case LINK_COMMIT:
        if (a->state != AGENT_VERIFIED) {
            answer(a, LINK_R_BAD_STATE, (uint32_t)a->state);
            return 0;
        }
        break;
    case LINK_ABORT:
        break;
    default:
        answer(a, LINK_R_UNKNOWN, f.type);
        return 0;
    }
    a->pending = f.type;
    a->pending_seq = f.seq;
    answer(a, LINK_R_PENDING, 0);
    return 0;
}

/* Offset just past the last byte of the image range that is not erased. */
static int high_water(agent_t *a, uint32_t *hw)
{
    uint8_t buf[SCAN_STEP];
    uint32_t end = a->size;
    while (end > 0) {
        uint32_t n = end < SCAN_STEP ? end : SCAN_STEP;
        if (flash_read(a->cfg.flash, bank_base(a) + end - n, buf, n) != FLASH_OK) {
            return -1;
        }
        for (uint32_t i = n; i > 0; i--) {
            if (buf[i - 1] != 0xFF) {
                *hw = end - n + i;
                return 0;
            }
        }
        end -= n;
    }
    *hw = 0;
    return 0;
}

static int sector_blank(agent_t *a, int s, int *blank)
{
    uint8_t buf[SCAN_STEP];
    for (uint32_t off = 0; off < layout_sectors[s].size; off += SCAN_STEP) {
        if (flash_read(a->cfg.flash, layout_sectors[s].base + off, buf, SCAN_STEP) != FLASH_OK) {
            return -1;
        }
        for (uint32_t i = 0; i < SCAN_STEP; i++) {
            if (buf[i] != 0xFF) {
                *blank = 0;
                return 0;
            }
        }
    }
    *blank = 1;
    return 0;
}

/* BEGIN_ENC: the image key, from the record BEGIN_ENC carried and the device's own key. About 8 M
 * cycles (ECDH), done once per BEGIN (a resume unwraps again: the key is never stored). 0, or the
 * transfer has failed with the reason. */
static int unwrap(agent_t *a, const img_header_t *h)
{
    uint8_t rec[DEVKEY_RECORD_SIZE], priv[DEVKEY_KEY_SIZE];
    if (flash_read(a->cfg.flash, DEVKEY_ADDR, rec, sizeof(rec)) != FLASH_OK) {
        fail(a, LINK_R_FLASH, FLASH_ERR_HARDWARE);
        return -1;
    }
    devkey_err_t de = devkey_decode(rec, priv);
    memset(rec, 0, sizeof(rec));
    if (de != DEVKEY_OK) {
        fail(a, LINK_R_BAD_KEY, de == DEVKEY_ERR_NONE ? AGENT_KEY_NONE : AGENT_KEY_CORRUPT);
        return -1;
    }
    crypto_err_t ce = crypto_enc_ec256_unwrap(priv, a->enc.record, a->enc.key);
    memset(priv, 0, sizeof(priv));
    if (ce != CRYPTO_OK) {
        if (ce == CRYPTO_ERR_INTERNAL) {
            fail(a, LINK_R_BAD_IMAGE, IMG_ERR_CRYPTO);
        } else {
            fail(a, LINK_R_BAD_KEY, ce == CRYPTO_ERR_BAD_SIGNATURE ? AGENT_KEY_OTHER : AGENT_KEY_RECORD);
        }
        return -1;
    }
    a->enc.keyed = 1;
    /* What travels encrypted: an image's payload; a patch's body, after its header and record. */
    a->enc.from = a->dl.on ? DELTA_HDR_SIZE + DELTA_ENC_RECORD_SIZE : h->hdr_size;
    a->enc.to = a->dl.on ? a->dl.patch_size : h->hdr_size + h->payload_size;
    return 0;
}

static void begin_validate(agent_t *a)
{
    img_header_t h;
    img_err_t ie = img_header_decode(a->header, &h);
    if (!a->meta.have_state) {
        fail(a, LINK_R_BAD_STATE, META_ERR_NO_STATE);
        return;
    }
    if ((a->bank != LAYOUT_BANK_A && a->bank != LAYOUT_BANK_B) || a->bank == a->cfg.running) {
        fail(a, LINK_R_WRONG_BANK, a->bank); /* never the running bank */
        return;
    }
    if (a->size > LAYOUT_BANK_SIZE || a->size < IMG_HEADER_SIZE + IMG_MIN_PAYLOAD) {
        fail(a, LINK_R_TOO_LARGE, a->size);
        return;
    }
    if (ie != IMG_OK) {
        fail(a, ie == IMG_ERR_SIZE ? LINK_R_TOO_LARGE : LINK_R_BAD_IMAGE, ie);
        return;
    }
    if (h.bank != a->bank) {
        fail(a, LINK_R_WRONG_BANK, IMG_ERR_WRONG_BANK);
        return;
    }
    if ((h.flags & IMG_FLAG_ENCRYPTED) != 0 && !a->enc.on) {
        /* Without its key record (BEGIN, or a patch): never program ciphertext. */
        fail(a, LINK_R_BAD_IMAGE, IMG_ERR_ENCRYPTED);
        return;
    }
    if ((h.flags & IMG_FLAG_ENCRYPTED) == 0 && a->enc.on) {
        fail(a, LINK_R_BAD_IMAGE, IMG_ERR_HEADER); /* BEGIN_ENC for an image that is not encrypted */
        return;
    }
    if (img_total_size(&h) != a->size) {
        fail(a, LINK_R_BAD_IMAGE, IMG_ERR_SIZE);
        return;
    }
    if (h.security_counter < a->meta.state.security_counter) {
        fail(a, LINK_R_ROLLBACK, IMG_ERR_ROLLBACK);
        return;
    }
    if (a->enc.on && unwrap(a, &h) != 0) {
        return; /* before anything is erased */
    }
    uint32_t from = 0;
    a->torn_pending = 0;
    a->resuming = (uint8_t)meta_transfer_matches(&a->meta.state, a->bank, a->sha);
    if (a->resuming) {
        uint32_t hw;
        if (high_water(a, &hw) != 0) {
            fail(a, LINK_R_FLASH, FLASH_ERR_HARDWARE);
            return;
        }
        /* Words are programmed in order, so a cut tears at most the last one written: restart at
         * the last word that is not blank. With a port that can finish a torn word
         * (flash_finish_word), nothing is erased: that word is finished (or found whole) when its
         * data comes again, the rest of its sector is still blank. Without, restart at the
         * sector holding it, erased again. */
        if (hw > 0 && a->cfg.flash->finish_word != NULL) {
            from = (hw - 1u) & ~3u;
            a->torn_at = from;
            a->torn_pending = 1;
        } else if (hw > 0) {
            int s = layout_sector_of(bank_base(a) + hw - 1);
            from = layout_sectors[s].base - bank_base(a);
        }
    }
    a->next_offset = a->programmed = from;
    if (a->dl.on) {
        /* The patch comes again from its start and is decoded again; what it makes below from is
         * in flash already (programmed in order, the torn word finished as for an image). */
        a->next_offset = 0;
        a->dl.keep_below = from;
        a->dl.made = 0;
        a->dl.stage_len = 0;
        a->dl.done = 0;
        delta_dec_init(&a->dl.dec, read_running, a);
    }
    a->enc.upto = a->next_offset; /* transfer bytes from here on arrive, and are decrypted, anew */
    drop_held(a);
    a->erase_sector = first_sector(a, from);
    if (a->torn_pending) {
        a->erase_sector++; /* the sector holding from: written up to there, blank after */
    }
    a->erase_gen = 0;
    a->state = AGENT_ERASING;
    refresh(a);
}

/* Worst-case erase time at x32 (DS8626, flash characteristics): the master waits it out, since
 * the single-bank F407 stalls every fetch, and with it this interrupt, while a sector erases. */
static uint32_t erase_max_ms(int sector)
{
    uint32_t size = layout_sectors[sector].size;
    return size <= 0x4000u ? 500u : size <= 0x10000u ? 1100u : 2000u;
}

/* BEGIN_DELTA: the running image must be the patch's base. Before anything is erased. */
static void base_check(agent_t *a)
{
    uint8_t id[CRYPTO_SHA256_SIZE];
    uint32_t size;
    if (running_id(a, id, &size) != 0) {
        fail(a, LINK_R_BAD_BASE, 0);
        return;
    }
    if (memcmp(id, a->dl.base_sha, CRYPTO_SHA256_SIZE) != 0) {
        fail(a, LINK_R_BAD_BASE, 1);
        return;
    }
    a->dl.base_size = size;
    a->erase_sector = -2;
}

static void begin_step(agent_t *a)
{
    if (a->erase_sector == -3) {
        base_check(a);
        return;
    }
    if (a->erase_sector == -2) {
        begin_validate(a);
        return;
    }
    if (a->erase_sector >= 0 && a->erase_sector <= last_sector(a)) {
        int blank;
        if (a->erase_gen == 0) {
            if (sector_blank(a, a->erase_sector, &blank) != 0) {
                fail(a, LINK_R_FLASH, FLASH_ERR_HARDWARE);
                return;
            }
            if (blank) {
                a->erase_sector++;
                return;
            }
            /* Announce the erase (sector, worst-case ms) and start it once the master has read
             * that: it then waits instead of polling a device that cannot answer. */
            a->detail = ((uint32_t)a->erase_sector << 24) | erase_max_ms(a->erase_sector);
            refresh(a);
            a->erase_gen = a->gen;
            return;
        }
        if (!seen(a, a->erase_gen)) {
            return;
        }
        flash_err_t fe = flash_erase_sector(a->cfg.flash, a->erase_sector);
        if (fe != FLASH_OK) {
            fail(a, LINK_R_FLASH, fe);
            return;
        }
        a->erase_gen = 0;
        a->detail = 0;
        a->erase_sector++;
        refresh(a);
        return;
    }
    /* Sectors clean: only now is the transfer recorded, so a resume never trusts a sector
     * whose erase was cut. */
    if (!a->resuming) {
        meta_err_t me = meta_begin_transfer(&a->meta, a->bank, a->sha);
        if (me != META_OK) {
            fail(a, LINK_R_FLASH, me);
            return;
        }
    }
    a->erase_sector = -1;
    a->state = AGENT_RECEIVING;
    a->pending = 0;
    answer(a, LINK_R_OK, 0);
}

#define PROGRAM_STEP 256u /* bytes programmed per poll: about 1 ms, so frames are decoded often */

/* BEGIN_ENC: the chunk of n bytes at image offset off, in place: its payload bytes (header and
 * trailer travel in clear), counter mode from their offset in the payload, so a resume decrypts
 * from wherever it starts. About 50,000 cycles per KiB on the Cortex-M4. */
static int decrypt(agent_t *a, uint32_t off, uint8_t *data, uint32_t n)
{
    if (off + n <= a->enc.upto) {
        return 0; /* decrypted already, on an earlier poll */
    }
    a->enc.upto = off + n;
    uint32_t lo = off > a->enc.from ? off : a->enc.from, hi = off + n < a->enc.to ? off + n : a->enc.to;
    if (lo < hi && (!a->enc.keyed || crypto_enc_payload(a->enc.key, lo - a->enc.from, data + (lo - off),
                                                       data + (lo - off), hi - lo) != CRYPTO_OK)) {
        fail(a, LINK_R_BAD_IMAGE, IMG_ERR_CRYPTO);
        return -1;
    }
    return 0;
}

/* Programs len bytes (whole words) from src at image offset at, finishing first the word a cut may
 * have torn when at is where it lies (it may be whole already: a resume starts there). 0; or the
 * transfer has failed: a word that is not a torn copy of these bytes means flash holds something
 * else, and the transfer is forgotten (the next BEGIN erases); any other flash error keeps it (the
 * next BEGIN resumes from what flash holds). One rule for image chunks and a patch's stage. */
static int program_at(agent_t *a, uint32_t at, const uint8_t *src, uint32_t len)
{
    if (a->torn_pending && at == a->torn_at) {
        a->torn_pending = 0;
        uint32_t w;
        memcpy(&w, src, 4);
        flash_err_t fe = flash_finish_word(a->cfg.flash, bank_base(a) + at, w);
        if (fe != FLASH_OK) {
            (void)meta_end_transfer(&a->meta);
            fail(a, LINK_R_FLASH, fe);
            return -1;
        }
        at += 4u;
        src += 4;
        len -= 4u;
    }
    flash_err_t fe = len > 0 ? flash_program(a->cfg.flash, bank_base(a) + at, src, len) : FLASH_OK;
    if (fe != FLASH_OK) {
        fail(a, LINK_R_FLASH, fe);
        return -1;
    }
    return 0;
}

static void program_step(agent_t *a)
{
    uint8_t *frame = a->rx[a->held[a->held_head]];
    uint32_t off = le_get32(frame + LINK_HDR_SIZE);
    uint32_t n = le_get16(frame + 4) - 4u;
    uint8_t *data = frame + LINK_HDR_SIZE + 4;
    uint32_t padded = (n + 3u) & ~3u;
    if (a->held_done == 0) {
        for (uint32_t i = n; i < padded; i++) {
            data[i] = 0xFF; /* the last piece, padded to whole words (over the decoded CRC) */
        }
        if (a->enc.on && decrypt(a, off, data, n) != 0) {
            return;
        }
    }
    uint32_t piece = padded - a->held_done < PROGRAM_STEP ? padded - a->held_done : PROGRAM_STEP;
    if (program_at(a, off + a->held_done, data + a->held_done, piece) != 0) {
        return;
    }
    a->held_done = (uint16_t)(a->held_done + piece);
    if (a->held_done < padded) {
        return;
    }
    a->programmed = off + n;
    a->held_done = 0;
    __atomic_store_n(&a->rx_state[a->held[a->held_head]], AGENT_RX_FREE, __ATOMIC_RELEASE);
    a->held_head = (uint8_t)((a->held_head + 1u) % AGENT_SLOTS);
    a->held_count--;
    refresh(a);
}

/* Programs what the decoder made into stage[] (one flash operation): bytes below keep_below are in
 * flash already (a resume); the word a cut may have torn is finished, as for an image. */
static void stage_flush(agent_t *a)
{
    uint32_t s = a->dl.made - a->dl.stage_len, padded = (a->dl.stage_len + 3u) & ~3u;
    if (s == 0 &&
        (a->dl.stage_len < IMG_HEADER_FIELDS_SIZE || memcmp(a->dl.stage, a->header, IMG_HEADER_FIELDS_SIZE) != 0)) {
        /* The patch makes another header than the one BEGIN_DELTA announced (and was checked). */
        (void)meta_end_transfer(&a->meta);
        fail(a, LINK_R_BAD_IMAGE, IMG_ERR_HEADER);
        return;
    }
    for (uint32_t i = a->dl.stage_len; i < padded; i++) {
        a->dl.stage[i] = 0xFF;
    }
    if (s + padded > a->dl.keep_below) {
        uint32_t start = s > a->dl.keep_below ? s : a->dl.keep_below;
        if (program_at(a, start, a->dl.stage + (start - s), s + padded - start) != 0) {
            return;
        }
    }
    a->programmed = a->dl.made;
    a->dl.stage_len = 0;
}

/* A patch: one decoding step of the first held frame into stage[], or one programming of stage[]. */
static void delta_step(agent_t *a)
{
    if (a->dl.stage_len == AGENT_STAGE || (a->dl.done && a->dl.stage_len > 0)) {
        stage_flush(a);
        return;
    }
    if (a->held_count == 0) {
        return;
    }
    uint8_t *frame = a->rx[a->held[a->held_head]];
    uint32_t n = le_get16(frame + 4) - 4u;
    uint8_t *data = frame + LINK_HDR_SIZE + 4;
    if (a->enc.on && decrypt(a, le_get32(frame + LINK_HDR_SIZE), data, n) != 0) {
        return;
    }
    size_t used = 0, got = 0;
    delta_err_t e = DELTA_DONE;
    if (!a->dl.done) {
        e = delta_dec_run(&a->dl.dec, data + a->held_done, n - a->held_done, &used, a->dl.stage + a->dl.stage_len,
                          AGENT_STAGE - a->dl.stage_len, &got);
    } else {
        used = n - a->held_done; /* bytes after the end of the patch's body: ignored */
    }
    a->held_done = (uint16_t)(a->held_done + used);
    a->dl.stage_len = (uint16_t)(a->dl.stage_len + got);
    a->dl.made += (uint32_t)got;
    if (e == DELTA_HEADER) {
        /* The patch must be for this image, from the running one, at these addresses. */
        const delta_info_t *in = delta_dec_info(&a->dl.dec);
        if (in->target_size != a->size || memcmp(in->target_sha256, a->sha, CRYPTO_SHA256_SIZE) != 0 ||
            ((in->flags & DELTA_FLAG_ENCRYPTED) != 0) != a->enc.on ||
            memcmp(in->target_header, a->header, IMG_HEADER_FIELDS_SIZE) != 0 || in->target_addr != bank_base(a)) {
            (void)meta_end_transfer(&a->meta);
            fail(a, LINK_R_BAD_IMAGE, (uint32_t)-DELTA_ERR_HEADER);
            return;
        }
        if (in->base_size != a->dl.base_size || memcmp(in->base_sha256, a->dl.base_sha, CRYPTO_SHA256_SIZE) != 0 ||
            in->base_addr != layout_bank_base(a->cfg.running)) {
            (void)meta_end_transfer(&a->meta);
            fail(a, LINK_R_BAD_BASE, (uint32_t)-DELTA_ERR_BASE);
            return;
        }
    } else if (e < 0) {
        /* A corrupt or hostile patch: nothing it made can be staged (VERIFY would refuse it too);
         * the transfer is forgotten so the next BEGIN starts afresh. */
        (void)meta_end_transfer(&a->meta);
        fail(a, LINK_R_BAD_IMAGE, (uint32_t)-e);
        return;
    } else if (e == DELTA_DONE) {
        a->dl.done = 1;
    }
    if (a->held_done == n) {
        a->held_done = 0;
        __atomic_store_n(&a->rx_state[a->held[a->held_head]], AGENT_RX_FREE, __ATOMIC_RELEASE);
        a->held_head = (uint8_t)((a->held_head + 1u) % AGENT_SLOTS);
        a->held_count--;
        refresh(a);
    }
}

static void verify_step(agent_t *a)
{
    if (a->verified == 0 && a->dl.on && (!a->dl.done || a->dl.stage_len > 0 || a->dl.made != a->size)) {
        /* The whole patch came and the image is not whole: a patch cut short. */
        (void)meta_end_transfer(&a->meta);
        a->pending = 0;
        fail(a, LINK_R_BAD_IMAGE, (uint32_t)-DELTA_ERR_TRUNCATED);
        return;
    }
    if (a->verified == 0) {
        /* An image that came encrypted is plaintext in flash now: the policy of a caller that
         * decrypts. */
        img_policy_t pol = {.pubkey = a->cfg.pubkey,
                            .min_security_counter = a->meta.state.security_counter,
                            .bank = a->bank,
                            .decrypts = a->enc.on};
        forget_key(a); /* every byte is decrypted */
        img_verify_init(&a->verify, &pol);
        a->whole_on = 0;
        a->state = AGENT_VERIFYING;
    }
    uint8_t buf[SCAN_STEP];
    for (uint32_t done = 0; done < VERIFY_STEP && a->verified < a->size; done += SCAN_STEP) {
        uint32_t n = a->size - a->verified < SCAN_STEP ? a->size - a->verified : SCAN_STEP;
        if (flash_read(a->cfg.flash, bank_base(a) + a->verified, buf, n) != FLASH_OK) {
            fail(a, LINK_R_FLASH, FLASH_ERR_HARDWARE);
            return;
        }
        /* The whole-file hash (BEGIN's) and the signed hash share everything up to the trailer:
         * hash it once, then go on with a copy for the trailer. */
        uint32_t he = img_verify_hashed_end(&a->verify), k = 0;
        if (!a->whole_on && he != 0 && he >= a->verified && he - a->verified <= n) {
            k = he - a->verified;
            img_verify_update(&a->verify, buf, k);
            crypto_sha256_clone(&a->whole, &a->verify.sha);
            a->whole_on = 1;
        }
        img_verify_update(&a->verify, buf + k, n - k);
        if (a->whole_on) {
            crypto_sha256_update(&a->whole, buf + k, n - k);
        }
        a->verified += n;
    }
    if (a->verified < a->size) {
        return;
    }
    uint8_t digest[CRYPTO_SHA256_SIZE] = {0};
    img_err_t ie = img_verify_final(&a->verify, NULL);
    if (ie == IMG_OK && !a->whole_on) {
        ie = IMG_ERR_SIZE; /* never reached the trailer: cannot happen with a valid header */
    }
    if (a->whole_on && crypto_sha256_finish(&a->whole, digest) != CRYPTO_OK && ie == IMG_OK) {
        ie = IMG_ERR_CRYPTO;
    }
    if (ie == IMG_OK && a->enc.on && !a->dl.on) {
        /* BEGIN_ENC announced the signed hash (the master only knows the ciphertext's): the
         * trailer's, which img_verify_final has just matched to what flash holds. */
        img_trailer_t t;
        if (img_trailer_parse(a->verify.trailer, a->verify.hdr.trailer_size, &t) != IMG_OK) {
            ie = IMG_ERR_TLV; /* cannot happen: final parsed it */
        } else {
            memcpy(digest, t.sha256, sizeof(digest));
        }
    }
    if (ie == IMG_OK && memcmp(digest, a->sha, sizeof(digest)) != 0) {
        ie = IMG_ERR_HASH; /* flash holds another image than the one announced */
    }
    a->pending = 0;
    if (ie != IMG_OK) {
        /* Nothing is staged. The transfer is forgotten so the next BEGIN starts afresh. */
        (void)meta_end_transfer(&a->meta);
        fail(a, ie == IMG_ERR_ROLLBACK ? LINK_R_ROLLBACK : LINK_R_BAD_IMAGE, ie);
        return;
    }
    a->state = AGENT_VERIFIED;
    answer(a, LINK_R_OK, 0);
}

/* Decodes the frames the interrupt queued, in arrival order. */
static void drain(agent_t *a)
{
    uint32_t pg = __atomic_load_n(&a->poll_gen, __ATOMIC_ACQUIRE);
    saw(a, pg);
    uint8_t tail = a->rxq_tail;
    while (tail != __atomic_load_n(&a->rxq_head, __ATOMIC_ACQUIRE)) {
        agent_rxq_t q = a->rxq[tail % AGENT_RXQ];
        if (!on_transaction(a, q.buf, q.len, q.gen)) {
            __atomic_store_n(&a->rx_state[q.buf], AGENT_RX_FREE, __ATOMIC_RELEASE);
        }
        tail++;
        __atomic_store_n(&a->rxq_tail, tail, __ATOMIC_RELEASE);
    }
    if (a->status.result == LINK_R_BAD_FRAME && seen(a, a->bad_gen)) {
        refresh(a); /* an intact POLL came after the garbled frame: back to the last answer */
    }
    if (a->reset_armed && seen(a, a->commit_gen)) {
        a->reset_now = 1; /* the COMMIT answer went out, and the master came back: it has it */
    }
}

int agent_poll(agent_t *a)
{
    drain(a);
    if (a->reset_now) {
        a->reset_now = 0;
        a->reset_armed = 0;
        a->cfg.reset(a->cfg.ctx);
        return 0;
    }
    if (a->state == AGENT_RECEIVING && a->dl.on && (a->held_count > 0 || (a->dl.done && a->dl.stage_len > 0))) {
        delta_step(a);
        return 1;
    }
    if (a->held_count > 0 && a->state == AGENT_RECEIVING) {
        program_step(a);
        return 1;
    }
    switch (a->pending) {
    case LINK_BEGIN:
        begin_step(a);
        break;
    case LINK_VERIFY:
        verify_step(a);
        break;
    case LINK_COMMIT: {
        meta_err_t me = meta_stage_trial(&a->meta, a->bank);
        a->pending = 0;
        if (me != META_OK) {
            fail(a, LINK_R_FLASH, me);
        } else {
            a->state = AGENT_IDLE;
            answer(a, LINK_R_OK, 0);
            a->reset_armed = 1;
            a->commit_gen = a->gen;
        }
        break;
    }
    case LINK_ABORT: {
        meta_err_t me = meta_end_transfer(&a->meta);
        a->pending = 0;
        drop_held(a);
        a->state = AGENT_IDLE;
        a->next_offset = 0;
        a->dl.on = 0;
        a->enc.on = 0;
        forget_key(a);
        answer(a, me == META_OK ? LINK_R_OK : LINK_R_FLASH, me);
        break;
    }
    default:
        return a->rxq_tail != __atomic_load_n(&a->rxq_head, __ATOMIC_ACQUIRE);
    }
    return a->pending != 0 || a->held_count > 0;
}

const char *agent_state_name(agent_state_t s)
{
    static const char *const names[] = {"idle", "erasing", "receiving", "verifying", "verified", "error"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
_Static_assert(sizeof(agent_t) - AGENT_DELTA_RAM <= 8192, "the agent must fit its 8 KiB RAM budget");
_Static_assert(AGENT_DELTA_RAM <= 8192, "applying a patch must fit its 8 KiB RAM budget (issue 14)");
_Static_assert(IMG_ENC_EC256_SIZE == CRYPTO_ENC_EC256_SIZE, "the key record the agent unwraps is the image format's");
