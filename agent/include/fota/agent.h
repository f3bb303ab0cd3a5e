/* The OTA agent the application links: the SPI-slave side of the link protocol
 * (docs/link-protocol.md).
 *
 * Two contexts share it. The SPI port's interrupt, at the end of every transaction (NSS high),
 * calls agent_rx_swap(): constant time, no decoding. It hands back the filled receive buffer, gets
 * the next one and a copy of the STATUS to send, so the slave is re-armed within microseconds of
 * NSS rising (RM0090 §28.3: SPE must not change while NSS is low). The receive buffers are a
 * single-producer (interrupt), single-consumer (main loop) ring; the STATUS is double-buffered
 * (the main loop writes the back copy, then flips an index the interrupt reads).
 *
 * agent_poll(), from the main loop, decodes the frames received since the last call, answers them
 * in the next STATUS, and does the slow work one step at a time: at most one sector erase, one
 * piece of a chunk's programming or one verification step per call. It never writes the running
 * bank. Everything but the ring and the STATUS index is touched by the main loop only. */
#ifndef FOTA_AGENT_H
#define FOTA_AGENT_H

#include <stdint.h>

#include "fota/crypto_enc.h"
#include "fota/delta.h"
#include "fota/flash.h"
#include "fota/image.h"
#include "fota/link.h"
#include "fota/meta.h"

typedef enum {
    AGENT_IDLE = 0,
    AGENT_ERASING = 1,
    AGENT_RECEIVING = 2,
    AGENT_VERIFYING = 3,
    AGENT_VERIFIED = 4,
    AGENT_ERROR = 5,
} agent_state_t;

typedef struct {
    const flash_port_t *flash;
    const uint8_t *pubkey;      /* CRYPTO_P256_PUBKEY_SIZE: the key the bootloader trusts */
    layout_bank_t running;      /* from the program counter */
    img_version_t boot_version; /* reported by INFO */
    img_version_t app_version;
    void (*reset)(void *ctx); /* after COMMIT: reset into the bootloader */
    void *ctx;
} agent_config_t;

#define AGENT_SLOTS 2                  /* chunks accepted and not yet programmed */
#define AGENT_RXBUFS (AGENT_SLOTS + 1) /* and one the DMA is filling */
#define AGENT_RXQ 4                    /* ring of received frames: a power of two > AGENT_RXBUFS */
#define AGENT_STAGE 256                /* image bytes a patch decodes between two programmings */

enum { AGENT_RX_FREE = 0, AGENT_RX_DMA, AGENT_RX_FULL, AGENT_RX_HELD };

typedef struct {
    uint16_t len; /* bytes received */
    uint8_t buf;  /* which receive buffer */
    uint32_t gen; /* STATUS generation the slave sent during that transaction */
} agent_rxq_t;

/* A patch (BEGIN_DELTA, docs/delta.md): DATA carries patch bytes (next_offset counts them),
 * decoded into the image through stage[]. Private. */
typedef struct {
    uint8_t on;         /* this transfer is a patch */
    uint8_t done;       /* the decoder has made the whole image */
    uint16_t stage_len; /* image bytes in stage[], not yet programmed */
    uint32_t patch_size;
    uint8_t base_sha[CRYPTO_SHA256_SIZE];
    uint32_t base_size;  /* the running image's size, once it is checked to be the base */
    uint32_t made;       /* image bytes the decoder has made */
    uint32_t keep_below; /* a resume: image bytes below this are in flash already */
    uint8_t stage[AGENT_STAGE];
    delta_dec_t dec;
} agent_delta_t;

/* An image encrypted for this device (BEGIN_ENC, docs/encryption.md): the key record BEGIN_ENC
 * carried, until BEGIN unwraps it, then the image key; each chunk's payload bytes are decrypted in
 * their receive buffer just before they are programmed. Private. */
typedef struct {
    uint8_t on;
    uint8_t keyed; /* key holds the image key */
    uint8_t record[CRYPTO_ENC_EC256_SIZE];
    uint8_t key[CRYPTO_AES128_KEY_SIZE];
    uint32_t from, to; /* transfer offsets [from, to) are ciphertext: an image's payload, a patch's body */
    uint32_t upto;     /* transfer bytes decrypted so far: a held frame is decrypted once, however
                        * many polls it takes (a patch's decoder may consume none of it in one) */
} agent_enc_t;

/* LINK_R_BAD_KEY details: why an encrypted image cannot be decrypted here. */
enum {
    AGENT_KEY_NONE = 1,    /* no device-key record at DEVKEY_ADDR (fota/devkey.h) */
    AGENT_KEY_CORRUPT = 2, /* a record whose CRC or format is wrong */
    AGENT_KEY_OTHER = 3,   /* the image's key record was made for another device key (tag mismatch) */
    AGENT_KEY_RECORD = 4,  /* the image's key record is malformed (not a point of P-256) */
};

/* Layout public so the application can place it statically; fields are private. */
typedef struct {
    agent_config_t cfg;
    meta_log_t meta;
    agent_state_t state;
    /* Receive buffers. A DATA frame that is accepted stays in its buffer (HELD) until programmed:
     * held[] lists them in image order. */
    uint8_t rx[AGENT_RXBUFS][LINK_FRAME_MAX];
    uint8_t rx_state[AGENT_RXBUFS]; /* AGENT_RX_*: FREE->DMA->FULL by the interrupt, FULL->FREE|HELD->FREE by poll */
    agent_rxq_t rxq[AGENT_RXQ];     /* FULL buffers in arrival order */
    uint8_t rxq_head;               /* written by the interrupt */
    uint8_t rxq_tail;               /* written by the main loop */
    uint8_t rx_dma;                 /* interrupt only: the buffer being filled */
    uint32_t poll_gen;              /* interrupt: newest STATUS generation sent with an intact POLL */
    uint32_t tx_gen;                /* interrupt only: generation of the STATUS being sent */
    uint8_t held[AGENT_SLOTS];
    uint8_t held_head, held_count;
    uint16_t held_done; /* bytes of the first held chunk programmed so far */
    /* Transfer. */
    layout_bank_t bank;
    uint32_t size; /* image bytes */
    uint8_t sha[CRYPTO_SHA256_SIZE];
    uint8_t header[IMG_HEADER_FIELDS_SIZE];
    uint32_t next_offset; /* next byte expected from the master */
    uint32_t programmed;  /* bytes programmed */
    int erase_sector;     /* next sector to check/erase, -1 when done */
    uint8_t resuming;
    uint8_t torn_pending; /* resuming at torn_at: that word may be torn, finish it */
    uint32_t torn_at;
    /* Verification, one chunk per poll. */
    img_verify_ctx_t verify;
    crypto_sha256_ctx whole; /* the whole file: a copy of verify's hash from the trailer on */
    uint8_t whole_on;
    uint32_t verified;
    /* The command poll() has to finish, and the STATUS that answers it. */
    uint8_t pending; /* request type, 0 when none */
    uint16_t pending_seq;
    uint16_t last_seq; /* last intact request */
    uint8_t last_type;
    link_status_t status;
    uint8_t cmd_result; /* link_result_t answering last_seq */
    uint8_t reset_armed, reset_now;
    uint32_t commit_gen; /* the STATUS that answered COMMIT with OK */
    uint32_t erase_gen;  /* the STATUS that announced the erase of erase_sector */
    uint32_t bad_gen;    /* the STATUS that reported a garbled frame */
    uint32_t seen_gen;   /* newest STATUS the master has come back after (intact frame) */
    uint32_t detail;
    /* What the next transaction sends: two copies, the interrupt reads tx[tx_front]. */
    uint8_t tx[2][LINK_STATUS_TXN];
    uint32_t txgen[2];
    uint8_t tx_front;
    uint32_t gen;     /* generation of the last STATUS published */
    agent_delta_t dl; /* a patch being applied (BEGIN_DELTA) */
    agent_enc_t enc;  /* an encrypted image being received (BEGIN_ENC) */
} agent_t;

/* What applying a patch adds to the agent (issue 14: at most 8 KiB). */
#define AGENT_DELTA_RAM ((uint32_t)sizeof(agent_delta_t))

/* Opens the metadata, prepares the first STATUS. */
void agent_init(agent_t *a, const agent_config_t *cfg);
/* Interrupt side, at the end of every transaction. got: bytes the master clocked into the buffer
 * this function returned last time (0 for the first call, or an empty transaction). Copies the
 * STATUS for the next transaction into tx and returns the buffer (LINK_FRAME_MAX bytes) to receive
 * it into. Constant time: the only check is whether a short frame is an intact POLL, which needs
 * no answer of its own and is not queued. When every buffer is busy the frame is dropped (the
 * master resends). After COMMIT the agent resets once a transaction has carried its answer and
 * the master has come back with an intact frame. */
uint8_t *agent_rx_swap(agent_t *a, uint32_t got, uint8_t tx[LINK_STATUS_TXN]);
/* Main loop: decodes what arrived, then one step of work; returns 1 while there is more to do. */
int agent_poll(agent_t *a);

const char *agent_state_name(agent_state_t s);

#endif
