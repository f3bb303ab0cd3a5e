/* A device's 1 MiB flash kept in a file and mapped into memory, shared by fota-sim and fota-emu:
 * a process that ends (or is killed: a power cut) leaves the file as the device would have it.
 * Host-only. */
#ifndef FOTA_FLASHFILE_H
#define FOTA_FLASHFILE_H

#include <stdint.h>

typedef struct {
    uint8_t *mem; /* LAYOUT_FLASH_SIZE bytes, MAP_SHARED */
    int fd;
} flashfile_t;

/* Opens path (created erased when missing or empty; any other size is refused), maps it, and when
 * init is given copies that whole 1 MiB image in. Messages go to stderr prefixed with prog.
 * 0 on success, -1 after saying why. */
int flashfile_open(flashfile_t *f, const char *path, const char *init, const char *prog);
void flashfile_close(flashfile_t *f);

#endif
