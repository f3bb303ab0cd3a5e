/* Test helper: appends N copies of the current metadata record to a 1 MiB flash image (from
 * `fota compose`), through the same metadata log code the device runs, so that a test can start a
 * device whose log half is nearly full (the next writes rotate to the other half).
 * Usage: meta_fill FLASH.bin N. Exit 0, or 1 with a message. */
#include <stdio.h>
#include <stdlib.h>

#include "fota/hostlib.h"
#include "fota/flash_sim.h"
#include "fota/meta.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: meta_fill FLASH.bin N\n");
        return 1;
    }
    uint8_t *mem;
    size_t len;
    if (fota_read_file(argv[1], LAYOUT_FLASH_SIZE, &mem, &len) != 0) {
        return 1;
    }
    int n = atoi(argv[2]);
    if (len != LAYOUT_FLASH_SIZE || n < 0) {
        fprintf(stderr, "meta_fill: '%s' is not a %u-byte flash image, or N is negative\n", argv[1],
                (unsigned)LAYOUT_FLASH_SIZE);
        free(mem);
        return 1;
    }
    flash_sim_t sim;
    flash_sim_init(&sim, mem);
    flash_port_t port = flash_sim_port(&sim);
    meta_log_t log;
    meta_err_t e = meta_log_open(&log, &port);
    for (int i = 0; i < n && e == META_OK; i++) {
        e = meta_log_write(&log, &log.state);
    }
    int rc = 0;
    if (e != META_OK) {
        fprintf(stderr, "meta_fill: %s\n", meta_strerror(e));
        rc = 1;
    } else if (fota_write_file(argv[1], mem, len, 0644) != 0) {
        rc = 1;
    } else {
        printf("meta_fill: %d records appended; current half %u, next slot %u of %u\n", n, log.half,
               (unsigned)log.next_slot, (unsigned)META_SLOTS);
    }
    free(mem);
    return rc;
}
