/* ELF32 (ARM, little endian) to flat binary: the bytes a programmer would write to flash,
 * taken from the PT_LOAD segments at their load (physical) addresses. Every offset and size is
 * checked against the file before use. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fota.h"
#include "fota/le.h"

int fota_is_elf(const uint8_t *data, size_t len)
{
    return len >= 4 && memcmp(data, ELFMAG, SELFMAG) == 0;
}

#define MAX_SEGMENTS 16

int fota_elf_to_bin(const uint8_t *elf, size_t len, uint8_t **bin, size_t *bin_len, uint32_t *base, char *err,
                    size_t errlen)
{
    if (len < sizeof(Elf32_Ehdr) || !fota_is_elf(elf, len)) {
        snprintf(err, errlen, "not an ELF file");
        return -1;
    }
    if (elf[EI_CLASS] != ELFCLASS32 || elf[EI_DATA] != ELFDATA2LSB) {
        snprintf(err, errlen, "not a 32-bit little-endian ELF (not built for the Cortex-M4)");
        return -1;
    }
    uint16_t type = le_get16(elf + offsetof(Elf32_Ehdr, e_type));
    uint16_t machine = le_get16(elf + offsetof(Elf32_Ehdr, e_machine));
    uint32_t phoff = le_get32(elf + offsetof(Elf32_Ehdr, e_phoff));
    uint16_t phentsize = le_get16(elf + offsetof(Elf32_Ehdr, e_phentsize));
    uint16_t phnum = le_get16(elf + offsetof(Elf32_Ehdr, e_phnum));
    if (machine != EM_ARM) {
        snprintf(err, errlen, "ELF is for machine %u, not ARM", machine);
        return -1;
    }
    if (type != ET_EXEC) {
        snprintf(err, errlen, "ELF is not an executable (type %u): link it first", type);
        return -1;
    }
    if (phentsize != sizeof(Elf32_Phdr) || phnum == 0 || phoff > len ||
        (uint64_t)phnum * phentsize > len - phoff) {
        snprintf(err, errlen, "ELF program header table is missing or out of bounds");
        return -1;
    }

    struct {
        uint32_t off, addr, size;
    } seg[MAX_SEGMENTS];
    int nseg = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint16_t i = 0; i < phnum; i++) {
        const uint8_t *ph = elf + phoff + (size_t)i * phentsize;
        if (le_get32(ph + offsetof(Elf32_Phdr, p_type)) != PT_LOAD) {
            continue;
        }
        uint32_t off = le_get32(ph + offsetof(Elf32_Phdr, p_offset));
        uint32_t paddr = le_get32(ph + offsetof(Elf32_Phdr, p_paddr));
        uint32_t filesz = le_get32(ph + offsetof(Elf32_Phdr, p_filesz));
        if (filesz == 0) {
            continue; /* .bss and the stack: nothing in flash */
        }
        if (off > len || filesz > len - off) {
            snprintf(err, errlen, "ELF segment %u lies outside the file", i);
            return -1;
        }
        if (nseg == MAX_SEGMENTS) {
            snprintf(err, errlen, "ELF has more than %d loadable segments", MAX_SEGMENTS);
            return -1;
        }
        seg[nseg].off = off;
        seg[nseg].addr = paddr;
        seg[nseg].size = filesz;
        nseg++;
        if (paddr < lo) {
            lo = paddr;
        }
        if ((uint64_t)paddr + filesz > hi) {
            hi = (uint64_t)paddr + filesz;
        }
    }
    if (nseg == 0) {
        snprintf(err, errlen, "ELF has no loadable contents");
        return -1;
    }
    if (hi - lo > LAYOUT_APP_MAX_SIZE) {
        snprintf(err, errlen, "ELF spans %llu bytes from 0x%08llx, more than a bank holds (%u)",
                 (unsigned long long)(hi - lo), (unsigned long long)lo, (unsigned)LAYOUT_APP_MAX_SIZE);
        return -1;
    }
    size_t n = (size_t)(hi - lo);
    uint8_t *out = malloc(n);
    uint8_t *written = calloc(n, 1);
    if (out == NULL || written == NULL) {
        free(out);
        free(written);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(out, LAYOUT_ERASED_BYTE, n);
    for (int i = 0; i < nseg; i++) {
        size_t at = seg[i].addr - (size_t)lo;
        for (uint32_t k = 0; k < seg[i].size; k++) {
            if (written[at + k]) {
                free(out);
                free(written);
                snprintf(err, errlen, "ELF segments overlap at 0x%08x", (unsigned)(seg[i].addr + k));
                return -1;
            }
            written[at + k] = 1;
        }
        memcpy(out + at, elf + seg[i].off, seg[i].size);
    }
    free(written);
    *bin = out;
    *bin_len = n;
    *base = (uint32_t)lo;
    return 0;
}
