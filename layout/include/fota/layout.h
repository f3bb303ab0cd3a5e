/* The STM32F407 flash layout: the one definition of every address in the system.
 * The linker scripts are preprocessed from this file (LAYOUT_FOR_LINKER), and the bootloader,
 * the agent, the tools and the simulator include it. Numbers are plain hex without suffixes so
 * that GNU ld can read the same macros. Reasoning: docs/flash-layout.md. */
#ifndef FOTA_LAYOUT_H
#define FOTA_LAYOUT_H

/* Memory of the STM32F407VG (RM0090 §2.3, §3.3 table 5). */
#define LAYOUT_FLASH_BASE 0x08000000
#define LAYOUT_FLASH_SIZE 0x00100000 /* 1 MiB, 12 sectors */
#define LAYOUT_SRAM_BASE 0x20000000
#define LAYOUT_SRAM_SIZE 0x00020000 /* SRAM1 112 KiB + SRAM2 16 KiB, contiguous */
#define LAYOUT_SECTOR_COUNT 12
#define LAYOUT_ERASED_BYTE 0xFF

/* Our regions, each a whole number of sectors. */
#define LAYOUT_BOOT_BASE 0x08000000 /* sectors 0-1: bootloader, 32 KiB hard limit */
#define LAYOUT_BOOT_SIZE 0x00008000
/* The last 64 bytes of the bootloader's sectors hold the device's key for encrypted images
 * (fota/devkey.h): write-protected with the bootloader (nWRP0-1), readable by code on the device.
 * The bootloader's code stops before them. */
#define LAYOUT_DEVKEY_SIZE 0x00000040
#define LAYOUT_DEVKEY_BASE (LAYOUT_BOOT_BASE + LAYOUT_BOOT_SIZE - LAYOUT_DEVKEY_SIZE)
#define LAYOUT_BOOT_CODE_SIZE (LAYOUT_BOOT_SIZE - LAYOUT_DEVKEY_SIZE)
#define LAYOUT_META0_BASE 0x08008000 /* sector 2: metadata log, half 0 */
#define LAYOUT_META1_BASE 0x0800C000 /* sector 3: metadata log, half 1 */
#define LAYOUT_META_SECTOR_SIZE 0x00004000
#define LAYOUT_SPARE_BASE 0x08010000 /* sector 4: reserved (recovery, device data) */
#define LAYOUT_SPARE_SIZE 0x00010000
#define LAYOUT_BANK_A_BASE 0x08020000 /* sectors 5-6: bank A (the seed's address) */
#define LAYOUT_BANK_B_BASE 0x08060000 /* sectors 7-8: bank B (the seed's address) */
#define LAYOUT_BANK_SIZE 0x00040000   /* 256 KiB, both banks */
#define LAYOUT_RESERVED_BASE 0x080A0000 /* sectors 9-11: reserved for later waves */
#define LAYOUT_RESERVED_SIZE 0x00060000

/* A signed image starts at its bank base with a header of this size; the application is linked
 * right after it. 512 bytes keeps the vector table aligned as VTOR requires (98 vectors on the
 * F407 round up to a 512-byte boundary, PM0214 §4.4.4). */
#define LAYOUT_IMG_HDR_SIZE 0x200
#define LAYOUT_APP_A_ORIGIN (LAYOUT_BANK_A_BASE + LAYOUT_IMG_HDR_SIZE)
#define LAYOUT_APP_B_ORIGIN (LAYOUT_BANK_B_BASE + LAYOUT_IMG_HDR_SIZE)
#define LAYOUT_APP_MAX_SIZE (LAYOUT_BANK_SIZE - LAYOUT_IMG_HDR_SIZE)

/* One-time-programmable area (RM0090 §3.7): 16 blocks of 32 bytes, then 16 lock bytes (a block
 * whose lock byte is 0x00 can no longer be programmed). Never erasable. Blocks 0-11 hold the
 * anti-rollback counter as a thermometer code, one 32-bit word per step (docs/flash-layout.md);
 * blocks 12-15 stay free for device data. */
#define LAYOUT_OTP_BASE 0x1FFF7800
#define LAYOUT_OTP_SIZE 0x200
#define LAYOUT_OTP_LOCK_BASE 0x1FFF7A00
#define LAYOUT_OTP_LOCK_SIZE 0x10
#define LAYOUT_SECCNT_BASE LAYOUT_OTP_BASE
#define LAYOUT_SECCNT_WORDS 96 /* blocks 0-11: the counter goes from 0 to 96 */

#ifndef LAYOUT_FOR_LINKER
#include <stdint.h>

/* Bank numbers as stored in image headers and metadata. */
typedef enum {
    LAYOUT_BANK_A = 0,
    LAYOUT_BANK_B = 1,
    LAYOUT_BANK_NONE = 0xFF,
} layout_bank_t;

typedef struct {
    uint32_t base; /* absolute address */
    uint32_t size; /* bytes */
} layout_span_t;

typedef enum {
    LAYOUT_REGION_BOOT,
    LAYOUT_REGION_META0,
    LAYOUT_REGION_META1,
    LAYOUT_REGION_SPARE,
    LAYOUT_REGION_BANK_A,
    LAYOUT_REGION_BANK_B,
    LAYOUT_REGION_RESERVED,
    LAYOUT_REGION_COUNT,
} layout_region_t;

/* The F407 sector map: 4 x 16 KiB, 1 x 64 KiB, 7 x 128 KiB (RM0090 table 5). */
extern const layout_span_t layout_sectors[LAYOUT_SECTOR_COUNT];

/* Returns the sector that holds addr, or -1 when addr is outside the flash. */
int layout_sector_of(uint32_t addr);

layout_span_t layout_region(layout_region_t region);
const char *layout_region_name(layout_region_t region);

/* Base address of bank A or B; 0 for any other value. */
uint32_t layout_bank_base(layout_bank_t bank);
layout_bank_t layout_other_bank(layout_bank_t bank);
/* The bank that contains addr, or LAYOUT_BANK_NONE. */
layout_bank_t layout_bank_of(uint32_t addr);
/* 'A', 'B' or '?' */
char layout_bank_letter(layout_bank_t bank);
#endif

#endif
