/* The master side of the link: requests with retransmission, and a pipelined, resumable image
 * transfer. Used by the bridge core and by the agent tests; reaches SPI only through its port. */
#ifndef FOTA_LINK_MASTER_H
#define FOTA_LINK_MASTER_H

#include <stdint.h>

#include "fota/delta.h"
#include "fota/link.h"

typedef struct {
    /* One transaction: NSS low, len bytes out of tx and into rx, NSS high. 0 on success. */
    int (*transact)(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len);
    /* Let time pass before polling again (the slave is erasing, programming or hashing). */
    void (*wait_us)(void *ctx, uint32_t us);
    void *ctx;
} link_port_t;

typedef enum {
    LM_OK = 0,
    LM_ERR_IO,      /* the transaction itself failed (the port said so) */
    LM_ERR_TIMEOUT, /* no sign of life from the slave for timeout_us */
    LM_ERR_REFUSED, /* final for this image: refused (bad image, wrong bank, rollback, too large) */
    LM_ERR_STATE,   /* not final: BAD_STATE or FLASH (the slave reset, or lost track): read INFO, resume */
} lm_err_t;

typedef struct {
    link_port_t port;
    uint16_t seq;
    uint32_t timeout_us;    /* silence (no sign of life) after which a request fails: LM_ERR_TIMEOUT */
    uint32_t spi_hz;        /* for the master's own clock: transactions take bytes * 8 / spi_hz */
    uint32_t gap_us;        /* and this between two transactions */
    uint64_t elapsed_us;    /* the master's clock: its transactions and its waits */
    uint32_t poll_us;       /* pause between polls while the slave works */
    uint32_t erase_poll_us; /* the same while it erases */
    uint32_t drain_poll_us; /* the same once every byte is sent (a patch: while the slave decodes it) */
    link_status_t status;   /* last STATUS received intact */
    uint32_t erase_waited;  /* the announced erase already waited out */
    /* Counters for the benchmark and the logs. */
    uint64_t transactions, wire_bytes, resent, bad_frames;
} link_master_t;

void lm_init(link_master_t *m, const link_port_t *port);

/* Sends a request and polls until its final answer; LM_OK when the answer is LINK_R_OK. */
lm_err_t lm_request(link_master_t *m, uint8_t type, const uint8_t *payload, uint16_t len);

/* One POLL transaction: refreshes m->status. LM_OK when a STATUS arrived intact. After COMMIT
 * this is what tells the slave its answer was seen, so it may reset. */
lm_err_t lm_poll(link_master_t *m);

/* Reads len bytes of the image at offset (the bridge streams from its download). 0 on success. */
typedef int (*lm_read_fn)(void *ctx, uint32_t offset, uint8_t *buf, uint32_t len);
typedef void (*lm_progress_fn)(void *ctx, uint32_t done, uint32_t total);
/* An lm_read_fn over an image held in memory; ctx is its first byte. */
int lm_read_memory(void *ctx, uint32_t offset, uint8_t *buf, uint32_t len);

/* The BEGIN payload: image size, SHA-256 of the whole image, target bank, header fields. */
void lm_begin_encode(uint8_t out[LINK_BEGIN_SIZE], uint32_t size, const uint8_t sha256[32], uint8_t bank,
                     const uint8_t header[64]);

/* The request that starts a transfer: BEGIN, or BEGIN_ENC for an image encrypted for the device
 * (docs/encryption.md); BEGIN_DELTA or BEGIN_DELTA_ENC for a patch. */
typedef struct {
    uint8_t type;
    uint16_t len;
    uint8_t payload[LINK_BEGIN_DELTA_ENC_SIZE];
} lm_begin_t;

/* The request for the image of size bytes that read gives (its header, and for an encrypted image
 * its trailer: the hash it is signed over and its key record), whose SHA-256 is file_sha, for
 * bank. 0; -1 when read fails; -2 when the image's header or trailer is not well formed. */
int lm_begin_image(lm_begin_t *b, uint32_t size, const uint8_t file_sha[32], uint8_t bank, lm_read_fn read,
                   void *rctx);

/* BEGIN (the slave answers where to resume), then DATA from there, pipelined, until the slave has
 * programmed every byte, then VERIFY. The caller decides when to COMMIT. For a patch (BEGIN_DELTA,
 * docs/delta.md), size is the patch's: the patch goes in DATA frames (a resume sends it again from
 * the offset the slave gives, 0: it re-decodes), then VERIFY of the image it made. */
lm_err_t lm_send(link_master_t *m, const lm_begin_t *begin, uint32_t size, lm_read_fn read, void *rctx,
                 lm_progress_fn progress, void *pctx, uint32_t *resumed_from);

/* The BEGIN_DELTA request from a whole patch of patch_size bytes (its header: the image it makes,
 * the base it needs), BEGIN_DELTA_ENC for a patch encrypted for the device (with its key record),
 * and the header decoded into *header when not NULL. 0, or -1 when it is not a whole patch (too
 * short, not a patch header, a body size that disagrees with patch_size). */
int lm_begin_delta_encode(lm_begin_t *b, const uint8_t *patch, uint32_t patch_size, delta_info_t *header);

/* COMMIT, then the poll that lets the device reset. If the answer is lost on the way (the device
 * may already have staged the image and reset), asks the device's metadata: LM_OK when bank is now
 * the boot bank or on trial. */
lm_err_t lm_commit(link_master_t *m, uint8_t bank);

const char *lm_strerror(lm_err_t e);

#endif
