/* A table of P-256 public key / digest / signature triples: written by the host sweep
 * (tests/crypto/sig_sweep.c), read in place from flash by the on-device probe
 * (firmware/probes/sig_probe.c). Little-endian header, fixed-size records. */
#ifndef FOTA_SIG_TABLE_H
#define FOTA_SIG_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define SIG_TABLE_MAGIC 0x54474953u /* "SIGT" */

typedef struct {
    uint32_t magic;
    uint32_t count;
    uint32_t reserved[2];
} sig_table_header_t;

typedef struct {
    uint8_t pubkey[65]; /* 0x04 || X || Y */
    uint8_t hash[32];
    uint8_t sig[64]; /* r || s */
    uint8_t pad[15];
} sig_record_t;

_Static_assert(sizeof(sig_table_header_t) == 16, "table header is 16 bytes");
_Static_assert(sizeof(sig_record_t) == 176, "records are 176 bytes");

#ifndef SIG_TABLE_DEVICE
typedef struct {
    sig_record_t *rec;
    size_t count, cap;
} sig_table_t;

int sig_table_add(sig_table_t *t, const sig_record_t *rec);
/* Both print their error; 0 on success. */
int sig_table_write(const char *path, const sig_table_t *t);
int sig_table_read(const char *path, sig_table_t *t);
void sig_table_free(sig_table_t *t);
#endif

#endif
