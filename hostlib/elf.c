/* ELF32 (ARM, little endian) to flat binary: the bytes a programmer would write to flash,
 * taken from the allocated sections at their load (physical) addresses. Every offset and size is
 * checked against the file before use. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fota/hostlib.h"
#include "fota/le.h"

int fota_is_elf(const uint8_t *data, size_t len)
{
    return len >= 4 && memcmp(data, ELFMAG, SELFMAG) == 0;
}

#define MAX_SECTIONS 64

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

    uint32_t shoff = le_get32(elf + offsetof(Elf32_Ehdr, e_shoff));
    uint16_t shentsize = le_get16(elf + offsetof(Elf32_Ehdr, e_shentsize));
    uint16_t shnum = le_get16(elf + offsetof(Elf32_Ehdr, e_shnum));
    if (shentsize != sizeof(Elf32_Shdr) || shnum == 0 || shoff > len ||
        (uint64_t)shnum * shentsize > len - shoff) {
        snprintf(err, errlen, "ELF section header table is missing or out of bounds (stripped too far?)");
        return -1;
    }

    /* Like objcopy -O binary: the allocated sections with contents, each at its load address
     * (the physical address of the segment that carries it, plus its offset in that segment).
     * Segments alone would also carry the ELF headers that ld may place in front of .text. */
    struct {
        uint32_t off, addr, size;
    } seg[MAX_SECTIONS];
    int nseg = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint16_t i = 0; i < shnum; i++) {
        const uint8_t *sh = elf + shoff + (size_t)i * shentsize;
        uint32_t sh_type = le_get32(sh + offsetof(Elf32_Shdr, sh_type));
        uint32_t flags = le_get32(sh + offsetof(Elf32_Shdr, sh_flags));
        uint32_t off = le_get32(sh + offsetof(Elf32_Shdr, sh_offset));
        uint32_t size = le_get32(sh + offsetof(Elf32_Shdr, sh_size));
        if ((flags & SHF_ALLOC) == 0 || sh_type == SHT_NOBITS || size == 0) {
            continue; /* debug info, .bss, the stack: nothing in flash */
        }
        if (off > len || size > len - off) {
            snprintf(err, errlen, "ELF section %u lies outside the file", i);
            return -1;
        }
        int found = 0;
        uint32_t paddr = 0;
        for (uint16_t k = 0; k < phnum && !found; k++) {
            const uint8_t *ph = elf + phoff + (size_t)k * phentsize;
            uint32_t p_off = le_get32(ph + offsetof(Elf32_Phdr, p_offset));
            uint32_t p_filesz = le_get32(ph + offsetof(Elf32_Phdr, p_filesz));
            if (le_get32(ph + offsetof(Elf32_Phdr, p_type)) == PT_LOAD && off >= p_off &&
                (uint64_t)off + size <= (uint64_t)p_off + p_filesz) {
                paddr = le_get32(ph + offsetof(Elf32_Phdr, p_paddr)) + (off - p_off);
                found = 1;
            }
        }
        if (!found) {
            snprintf(err, errlen, "ELF section %u has contents but no loadable segment", i);
            return -1;
        }
        if (nseg == MAX_SECTIONS) {
            snprintf(err, errlen, "ELF has more than %d sections to load", MAX_SECTIONS);
            return -1;
        }
        seg[nseg].off = off;
        seg[nseg].addr = paddr;
        seg[nseg].size = size;
        nseg++;
        if (paddr < lo) {
            lo = paddr;
        }
        if ((uint64_t)paddr + size > hi) {
            hi = (uint64_t)paddr + size;
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
                snprintf(err, errlen, "ELF sections overlap at 0x%08x", (unsigned)(seg[i].addr + k));
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
