/* The simulator's wire, a Unix stream socket standing in for the SPI bus and the reset line.
 * Each message: kind u8, length u32 (little endian), bytes. Kinds:
 *   'T' one SPI transaction: the master's bytes; the answer is the slave's bytes, same length
 *   'X' the same, timed by the master: u32 gap in nanoseconds since its previous transaction ended,
 *       u32 SCK in Hz, then the bytes; the answer is a 'T' with the slave's bytes (fota-emu clocks
 *       the transaction with them; fota-sim, whose clock is coarser, takes it as a 'T')
 *   'W' the master waits: u32 microseconds; the answer is the device time, u64 microseconds
 *   'R' a pulse on NRST; the answer comes once the device has rebooted
 *   'S' statistics; the answer is a text line of key=value pairs
 * Host-only (simulator, bridge, tests). */
#ifndef FOTA_SIMSOCK_H
#define FOTA_SIMSOCK_H

#include <stddef.h>
#include <stdint.h>

#define SIMSOCK_MAX 4096 /* largest message body */
#define SIMSOCK_CLIENT_TIMEOUT_S 60 /* a master waits this long (host time) for any answer */

/* Connects to / listens on a socket path; returns a file descriptor or -1 (errno set). */
int simsock_connect(const char *path);
int simsock_listen(const char *path);

/* Sends one message; returns 0, or -1 on error. */
int simsock_send(int fd, uint8_t kind, const void *data, uint32_t len);
/* Receives one message into buf (cap bytes); returns 0, 1 on orderly end, -1 on error. */
int simsock_recv(int fd, uint8_t *kind, void *buf, uint32_t cap, uint32_t *len);

/* The master's side as a link_port_t transact/wait pair over an open socket. */
int simsock_transact(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len);
void simsock_wait_us(void *ctx, uint32_t us);

/* The master's side with its own timing ('X' messages): ctx is a simsock_timed_t. */
typedef struct {
    int fd;
    uint32_t gap_ns; /* pause before each transaction */
    uint32_t sck_hz; /* its clock */
} simsock_timed_t;
#define SIMSOCK_X_HDR 8 /* gap and clock before the bytes of an 'X' message */
int simsock_transact_timed(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len);
void simsock_wait_us_timed(void *ctx, uint32_t us);

#endif
