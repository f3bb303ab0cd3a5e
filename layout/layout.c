/* Tables and lookups over the flash layout defined in fota/layout.h. */
#include "fota/layout.h"

#include <stddef.h>

const layout_span_t layout_sectors[LAYOUT_SECTOR_COUNT] = {
    {0x08000000, 0x4000},  {0x08004000, 0x4000},  {0x08008000, 0x4000},  {0x0800C000, 0x4000},
    {0x08010000, 0x10000}, {0x08020000, 0x20000}, {0x08040000, 0x20000}, {0x08060000, 0x20000},
    {0x08080000, 0x20000}, {0x080A0000, 0x20000}, {0x080C0000, 0x20000}, {0x080E0000, 0x20000},
};

static const struct {
    const char *name;
    layout_span_t span;
} regions[LAYOUT_REGION_COUNT] = {
    [LAYOUT_REGION_BOOT] = {"bootloader", {LAYOUT_BOOT_BASE, LAYOUT_BOOT_SIZE}},
    [LAYOUT_REGION_META0] = {"metadata-0", {LAYOUT_META0_BASE, LAYOUT_META_SECTOR_SIZE}},
    [LAYOUT_REGION_META1] = {"metadata-1", {LAYOUT_META1_BASE, LAYOUT_META_SECTOR_SIZE}},
    [LAYOUT_REGION_SPARE] = {"spare", {LAYOUT_SPARE_BASE, LAYOUT_SPARE_SIZE}},
    [LAYOUT_REGION_BANK_A] = {"bank-a", {LAYOUT_BANK_A_BASE, LAYOUT_BANK_SIZE}},
    [LAYOUT_REGION_BANK_B] = {"bank-b", {LAYOUT_BANK_B_BASE, LAYOUT_BANK_SIZE}},
    [LAYOUT_REGION_RESERVED] = {"reserved", {LAYOUT_RESERVED_BASE, LAYOUT_RESERVED_SIZE}},
};

int layout_sector_of(uint32_t addr)
{
    for (int i = 0; i < LAYOUT_SECTOR_COUNT; i++) {
        if (addr >= layout_sectors[i].base && addr - layout_sectors[i].base < layout_sectors[i].size) {
            return i;
        }
    }
    return -1;
}

layout_span_t layout_region(layout_region_t region)
{
    if ((unsigned)region >= LAYOUT_REGION_COUNT) {
        layout_span_t none = {0, 0};
        return none;
    }
    return regions[region].span;
}

const char *layout_region_name(layout_region_t region)
{
    return (unsigned)region < LAYOUT_REGION_COUNT ? regions[region].name : "?";
}

uint32_t layout_bank_base(layout_bank_t bank)
{
    return bank == LAYOUT_BANK_A ? LAYOUT_BANK_A_BASE : bank == LAYOUT_BANK_B ? LAYOUT_BANK_B_BASE : 0;
}

layout_bank_t layout_other_bank(layout_bank_t bank)
{
    return bank == LAYOUT_BANK_A ? LAYOUT_BANK_B : LAYOUT_BANK_A;
}

layout_bank_t layout_bank_of(uint32_t addr)
{
    if (addr >= LAYOUT_BANK_A_BASE && addr - LAYOUT_BANK_A_BASE < LAYOUT_BANK_SIZE) {
        return LAYOUT_BANK_A;
    }
    if (addr >= LAYOUT_BANK_B_BASE && addr - LAYOUT_BANK_B_BASE < LAYOUT_BANK_SIZE) {
        return LAYOUT_BANK_B;
    }
    return LAYOUT_BANK_NONE;
}

char layout_bank_letter(layout_bank_t bank)
{
    return bank == LAYOUT_BANK_A ? 'A' : bank == LAYOUT_BANK_B ? 'B' : '?';
}
