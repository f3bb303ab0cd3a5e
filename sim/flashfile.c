/* The flash file of the simulator and the emulator: see fota/flashfile.h. */
#include "fota/flashfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fota/hostlib.h"
#include "fota/layout.h"

int flashfile_open(flashfile_t *f, const char *path, const char *init, const char *prog)
{
    f->mem = NULL;
    f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) != 0) {
        fprintf(stderr, "%s: cannot open flash file '%s': %s\n", prog, path, strerror(errno));
        if (f->fd >= 0) {
            close(f->fd);
        }
        return -1;
    }
    int fresh = st.st_size == 0;
    if ((fresh && ftruncate(f->fd, LAYOUT_FLASH_SIZE) != 0) || (!fresh && st.st_size != LAYOUT_FLASH_SIZE)) {
        fprintf(stderr, "%s: '%s' is %lld bytes, not a %u-byte flash image\n", prog, path, (long long)st.st_size,
                (unsigned)LAYOUT_FLASH_SIZE);
        close(f->fd);
        return -1;
    }
    void *m = mmap(NULL, LAYOUT_FLASH_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "%s: cannot map '%s': %s\n", prog, path, strerror(errno));
        close(f->fd);
        return -1;
    }
    f->mem = m;
    if (fresh) {
        memset(f->mem, 0xFF, LAYOUT_FLASH_SIZE);
    }
    if (init != NULL) {
        uint8_t *img;
        size_t len;
        if (fota_read_file(init, LAYOUT_FLASH_SIZE, &img, &len) != 0) {
            flashfile_close(f);
            return -1;
        }
        if (len != LAYOUT_FLASH_SIZE) {
            fprintf(stderr, "%s: --init '%s' is %zu bytes, not a whole %u-byte flash image\n", prog, init, len,
                    (unsigned)LAYOUT_FLASH_SIZE);
            free(img);
            flashfile_close(f);
            return -1;
        }
        memcpy(f->mem, img, len);
        free(img);
    }
    return 0;
}

void flashfile_close(flashfile_t *f)
{
    if (f->mem != NULL) {
        munmap(f->mem, LAYOUT_FLASH_SIZE);
        f->mem = NULL;
    }
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}
