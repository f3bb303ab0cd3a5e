/* The OTA agent the application links: the SPI-slave side of the link protocol
 * (docs/link-protocol.md). agent_on_transaction() runs when a transaction ends (NSS high: the SPI
 * port calls it from its interrupt); it decodes, queues and answers at once. agent_poll(), called
 * from the main loop, does the slow work one step at a time: at most one sector erase, one chunk
 * program or one verification step per call. It never writes the running bank. */
#ifndef FOTA_AGENT_H
#define FOTA_AGENT_H

#include <stdint.h>

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
    const uint8_t *pubkey;       /* CRYPTO_P256_PUBKEY_SIZE: the key the bootloader trusts */
    layout_bank_t running;       /* from the program counter */
    img_version_t boot_version;  /* reported by INFO */
    img_version_t app_version;
    void (*reset)(void *ctx);    /* after COMMIT: reset into the bootloader */
    void *ctx;
} agent_config_t;

#define AGENT_SLOTS 2 /* receive buffers: one programs while the next arrives */

typedef struct {
    uint32_t offset;
    uint16_t len;
    uint8_t data[LINK_MAX_DATA];
} agent_chunk_t;

/* Layout public so the application can place it statically; fields are private. */
typedef struct {
    agent_config_t cfg;
    meta_log_t meta;
    agent_state_t state;
    /* Receive queue: chunks accepted and not yet programmed, in order. */
    agent_chunk_t slot[AGENT_SLOTS];
    uint8_t slot_head, slot_count;
    /* Transfer. */
    layout_bank_t bank;
    uint32_t size;                /* image bytes */
    uint8_t sha[CRYPTO_SHA256_SIZE];
    uint8_t header[IMG_HEADER_FIELDS_SIZE];
    uint32_t next_offset;         /* next byte expected from the master */
    uint32_t programmed;          /* bytes programmed */
    int erase_sector;             /* next sector to check/erase, -1 when done */
    uint8_t resuming;
    /* Verification, one chunk per poll. */
    img_verify_ctx_t verify;
    crypto_sha256_ctx whole;
    uint32_t verified;
    /* The command poll() has to finish, and the STATUS that answers it. */
    uint8_t pending;              /* request type, 0 when none */
    uint16_t pending_seq;
    uint16_t last_seq;            /* last intact request */
    uint8_t last_type;
    link_status_t status;
    uint8_t cmd_result;           /* link_result_t answering last_seq */
    uint8_t reset_armed, armed_sent, reset_now;
    uint32_t detail;
    /* What the next transaction sends. */
    uint8_t tx[LINK_STATUS_TXN];
} agent_t;

/* Opens the metadata, prepares the first STATUS. */
void agent_init(agent_t *a, const agent_config_t *cfg);
/* A transaction ended with these bytes from the master. Fast; no flash access. */
void agent_on_transaction(agent_t *a, const uint8_t *rx, uint32_t len);
/* The bytes the slave sends in the transaction that starts now (LINK_STATUS_TXN, padded). The SPI
 * port calls it when NSS falls: after COMMIT the agent resets only once the answer has been sent
 * this way and the master has come back (so it knows the image was staged). */
const uint8_t *agent_tx(agent_t *a);
/* The same bytes without counting as sent (for ports and simulators that snapshot them). */
const uint8_t *agent_tx_peek(const agent_t *a);
/* One step of work; returns 1 while there is more to do. */
int agent_poll(agent_t *a);

const char *agent_state_name(agent_state_t s);

#endif
