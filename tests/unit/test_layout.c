/* The flash layout: the sector map, our regions on sector boundaries, the seed's bank addresses,
 * and agreement between fota/layout.h and the linker scripts the firmware was linked with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fota/hostlib.h"
#include "fota/image.h"
#include "fota/layout.h"
#include "fota/le.h"
#include "fota/meta.h"
#include "test_util.h"

static void test_sectors_tile_the_flash(void **state)
{
    (void)state;
    uint32_t at = LAYOUT_FLASH_BASE;
    for (int i = 0; i < LAYOUT_SECTOR_COUNT; i++) {
        assert_int_equal(layout_sectors[i].base, at);
        assert_int_equal(layout_sectors[i].size, i < 4 ? 16384 : i == 4 ? 65536 : 131072);
        assert_int_equal(layout_sector_of(at), i);
        assert_int_equal(layout_sector_of(at + layout_sectors[i].size - 1), i);
        at += layout_sectors[i].size;
    }
    assert_int_equal(at, LAYOUT_FLASH_BASE + LAYOUT_FLASH_SIZE);
    assert_int_equal(layout_sector_of(LAYOUT_FLASH_BASE - 1), -1);
    assert_int_equal(layout_sector_of(at), -1);
}

static int is_sector_start(uint32_t a)
{
    int s = layout_sector_of(a);
    return s >= 0 && layout_sectors[s].base == a;
}

static void test_regions_are_whole_sectors_and_disjoint(void **state)
{
    (void)state;
    uint32_t covered = 0;
    for (int r = 0; r < LAYOUT_REGION_COUNT; r++) {
        layout_span_t s = layout_region((layout_region_t)r);
        assert_true(s.size > 0);
        assert_true(is_sector_start(s.base));
        assert_true(s.base + s.size == LAYOUT_FLASH_BASE + LAYOUT_FLASH_SIZE || is_sector_start(s.base + s.size));
        for (int q = 0; q < r; q++) {
            layout_span_t o = layout_region((layout_region_t)q);
            assert_true(s.base + s.size <= o.base || o.base + o.size <= s.base);
        }
        covered += s.size;
    }
    assert_int_equal(covered, LAYOUT_FLASH_SIZE);
}

static void test_seed_addresses_are_kept(void **state)
{
    (void)state;
    assert_int_equal(LAYOUT_BANK_A_BASE, 0x08020000);
    assert_int_equal(LAYOUT_BANK_B_BASE, 0x08060000);
    assert_int_equal(layout_sector_of(LAYOUT_BANK_A_BASE), 5);
    assert_int_equal(layout_sector_of(LAYOUT_BANK_B_BASE), 7);
    assert_int_equal(LAYOUT_BOOT_BASE, LAYOUT_FLASH_BASE);
    assert_true(LAYOUT_BOOT_SIZE <= 32768);
    /* The device key's record at the end of the bootloader's sectors, after its code. */
    assert_int_equal(LAYOUT_DEVKEY_BASE + LAYOUT_DEVKEY_SIZE, LAYOUT_BOOT_BASE + LAYOUT_BOOT_SIZE);
    assert_int_equal(LAYOUT_BOOT_CODE_SIZE + LAYOUT_DEVKEY_SIZE, LAYOUT_BOOT_SIZE);
    /* The two metadata halves are separate sectors: erasing one never touches the other. */
    assert_int_not_equal(layout_sector_of(LAYOUT_META0_BASE), layout_sector_of(LAYOUT_META1_BASE));
    assert_int_equal(LAYOUT_META_SECTOR_SIZE % META_RECORD_SIZE, 0);
    assert_int_equal(layout_bank_of(LAYOUT_BANK_A_BASE + LAYOUT_BANK_SIZE - 1), LAYOUT_BANK_A);
    assert_int_equal(layout_bank_of(LAYOUT_BANK_B_BASE), LAYOUT_BANK_B);
    assert_int_equal(layout_bank_of(LAYOUT_BANK_B_BASE + LAYOUT_BANK_SIZE), LAYOUT_BANK_NONE);
    assert_int_equal(layout_other_bank(LAYOUT_BANK_A), LAYOUT_BANK_B);
    assert_int_equal(layout_bank_base(LAYOUT_BANK_NONE), 0);
    /* VTOR needs the vector table aligned to 512 bytes on the F407. */
    assert_int_equal(LAYOUT_APP_A_ORIGIN % 512, 0);
    assert_int_equal(LAYOUT_APP_B_ORIGIN % 512, 0);
}

/* Reads a symbol's value from an ARM ELF with arm-none-eabi-nm. */
static uint32_t nm_symbol(const char *elf, const char *sym)
{
    char cmd[1024], line[256];
    snprintf(cmd, sizeof(cmd), "arm-none-eabi-nm '%s'", elf);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    uint32_t val = 0;
    int found = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        unsigned v;
        char type, name[200];
        if (sscanf(line, "%x %c %199s", &v, &type, name) == 3 && strcmp(name, sym) == 0) {
            val = v;
            found = 1;
        }
    }
    assert_int_equal(pclose(p), 0);
    if (!found) {
        fail_msg("symbol %s not in %s", sym, elf);
    }
    return val;
}

static void check_elf(const char *fw_dir, const char *name, uint32_t origin, uint32_t length)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", fw_dir, name);
    assert_int_equal(nm_symbol(path, "__fota_flash_origin"), origin);
    assert_int_equal(nm_symbol(path, "__fota_flash_length"), length);
    /* The flat image starts with the vector table at the origin and ends inside the region. */
    uint8_t *elf, *bin;
    size_t len, bin_len;
    uint32_t base;
    char err[160];
    assert_int_equal(fota_read_file(path, 16u << 20, &elf, &len), 0);
    int rc = fota_elf_to_bin(elf, len, &bin, &bin_len, &base, err, sizeof(err));
    free(elf);
    if (rc != 0) {
        fail_msg("%s: %s", path, err);
    }
    /* Checked before any assert can return, so a failure leaks nothing. */
    int base_ok = base == origin, len_ok = bin_len <= length;
    uint32_t reset = bin_len >= 8 ? le_get32(bin + 4) : 0, sp = bin_len >= 8 ? le_get32(bin) : 0;
    free(bin);
    if (!base_ok || !len_ok) {
        fail_msg("%s: flat image at 0x%08x, %zu bytes; linked region 0x%08x, %u bytes", path, (unsigned)base,
                 bin_len, (unsigned)origin, (unsigned)length);
    }
    assert_int_equal(nm_symbol(path, "_flash_end"), origin + bin_len);
    assert_true((reset & 1u) == 1 && (reset & ~1u) >= origin && (reset & ~1u) < origin + bin_len);
    assert_int_equal(sp, LAYOUT_SRAM_BASE + LAYOUT_SRAM_SIZE);
}

static void test_linker_scripts_agree_with_layout(void **state)
{
    (void)state;
    const char *fw = getenv("FOTA_FW_BUILD_DIR");
    if (fw == NULL || fw[0] == '\0') {
        fail_msg("FOTA_FW_BUILD_DIR is not set: the firmware must be built before this test (make test does)");
    }
    check_elf(fw, "bootloader.elf", LAYOUT_BOOT_BASE, LAYOUT_BOOT_CODE_SIZE); /* never over the device key */
    check_elf(fw, "app-a.elf", LAYOUT_APP_A_ORIGIN, LAYOUT_APP_MAX_SIZE - FOTA_IMG_TRAILER_MAX);
    check_elf(fw, "app-b.elf", LAYOUT_APP_B_ORIGIN, LAYOUT_APP_MAX_SIZE - FOTA_IMG_TRAILER_MAX);
    check_elf(fw, "verifier-probe.elf", LAYOUT_BOOT_BASE, LAYOUT_BOOT_CODE_SIZE);
    check_elf(fw, "app-probe-a.elf", LAYOUT_APP_A_ORIGIN, LAYOUT_APP_MAX_SIZE - FOTA_IMG_TRAILER_MAX);
    check_elf(fw, "app-probe-b.elf", LAYOUT_APP_B_ORIGIN, LAYOUT_APP_MAX_SIZE - FOTA_IMG_TRAILER_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sectors_tile_the_flash),
        cmocka_unit_test(test_regions_are_whole_sectors_and_disjoint),
        cmocka_unit_test(test_seed_addresses_are_kept),
        cmocka_unit_test(test_linker_scripts_agree_with_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
