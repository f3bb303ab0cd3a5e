/* fota compose: a whole 1 MiB flash image (bootloader, banks, metadata) for the emulator and the
 * simulator, laid out from fota/layout.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fota.h"
#include "fota/devkey.h"
#include "fota/meta.h"

static const char usage[] =
    "Usage: fota compose --bootloader BOOT [--bank-a A.img] [--bank-b B.img] [--boot-bank a|b]\n"
    "                    [--trial a|b] [--attempts N] [--security-counter N] [--blank-meta]\n"
    "                    [--pubkey KEY.pem] [--device-key DEV.pem] -o FLASH.bin\n"
    "Writes a 1 MiB image of the STM32F407 flash: the bootloader (ELF or raw binary) at 0x08000000,\n"
    "signed images in their banks, and one metadata record naming the bank to boot.\n"
    "  -B, --bootloader FILE       bootloader ELF or binary (at most 32 KiB)\n"
    "  -a, --bank-a FILE           signed image for bank A (0x08020000)\n"
    "  -b, --bank-b FILE           signed image for bank B (0x08060000)\n"
    "      --boot-bank a|b         bank the metadata names (default: A if given, else B)\n"
    "      --trial a|b             also mark this bank's image as on trial\n"
    "      --attempts N            trial boots already used (default 0)\n"
    "      --security-counter N    the device's security counter in the metadata (default 0)\n"
    "      --blank-meta            leave the metadata erased: the bootloader initialises it\n"
    "  -p, --pubkey FILE           also verify both images with this key before composing\n"
    "  -k, --device-key FILE       the device's own key for encrypted images (fota keygen --device-enc),\n"
    "                              stored at the end of the bootloader's sectors (0x08007FC0, write-\n"
    "                              protected with them); an encrypted bank\n"
    "                              image is decrypted with it, as the agent does\n"
    "  -o, --out FILE              flash image to write\n"
    "Images are checked for structure and bank; without --pubkey their signatures are not\n"
    "checked, so corrupt or foreign-key images can be composed for tests on purpose.\n";

/* Reads the bootloader: a raw binary, or an ELF linked at the bootloader base. */
static int load_bootloader(const char *path, uint8_t *flash)
{
    uint8_t *raw, *bin = NULL;
    size_t len, bin_len;
    if (fota_read_file(path, 64u << 20, &raw, &len) != 0) {
        return -1;
    }
    if (fota_is_elf(raw, len)) {
        char err[160];
        uint32_t base;
        if (fota_elf_to_bin(raw, len, &bin, &bin_len, &base, err, sizeof(err)) != 0) {
            fota_err("compose: bootloader '%s': %s", path, err);
            free(raw);
            return -1;
        }
        free(raw);
        if (base != LAYOUT_BOOT_BASE) {
            fota_err("compose: bootloader '%s' is linked at 0x%08x, not 0x%08x", path, (unsigned)base,
                     (unsigned)LAYOUT_BOOT_BASE);
            free(bin);
            return -1;
        }
    } else {
        bin = raw;
        bin_len = len;
    }
    if (bin_len > LAYOUT_BOOT_CODE_SIZE) {
        fota_err("compose: bootloader '%s' is %zu bytes, more than its %u-byte region", path, bin_len,
                 (unsigned)LAYOUT_BOOT_CODE_SIZE);
        free(bin);
        return -1;
    }
    memcpy(flash + (LAYOUT_BOOT_BASE - LAYOUT_FLASH_BASE), bin, bin_len);
    free(bin);
    return 0;
}

static int load_bank(const char *path, layout_bank_t bank, const uint8_t *pub, const uint8_t *dev_priv,
                     uint8_t *flash)
{
    uint8_t *img;
    size_t len;
    if (fota_read_file(path, LAYOUT_BANK_SIZE, &img, &len) != 0) {
        return -1;
    }
    img_header_t hdr;
    img_err_t e = len < IMG_HEADER_FIELDS_SIZE ? IMG_ERR_TRUNCATED : img_header_decode(img, &hdr);
    if (e == IMG_OK && hdr.bank != bank) {
        e = IMG_ERR_WRONG_BANK;
    }
    if (e == IMG_OK && img_total_size(&hdr) != len) {
        e = img_total_size(&hdr) > len ? IMG_ERR_TRUNCATED : IMG_ERR_TRAILING;
    }
    int encrypted = e == IMG_OK && (hdr.flags & IMG_FLAG_ENCRYPTED) != 0;
    if (encrypted && dev_priv == NULL) {
        fota_err("compose: bank %c image '%s' is encrypted: give the device's key (--device-key) to decrypt it",
                 layout_bank_letter(bank), path);
        free(img);
        return -1;
    }
    if (encrypted && fota_image_decrypt(img, len, dev_priv) != 0) {
        fota_err("compose: bank %c image '%s' cannot be decrypted with that device key", layout_bank_letter(bank), path);
        free(img);
        return -1;
    }
    if (e == IMG_OK && pub != NULL) {
        img_policy_t pol = {.pubkey = pub, .min_security_counter = 0, .bank = bank, .decrypts = (uint8_t)encrypted};
        e = img_verify_buffer(img, len, &pol, NULL);
    }
    if (e != IMG_OK) {
        fota_err("compose: bank %c image '%s': %s", layout_bank_letter(bank), path, img_strerror(e));
        free(img);
        return -1;
    }
    memcpy(flash + (layout_bank_base(bank) - LAYOUT_FLASH_BASE), img, len);
    free(img);
    return 0;
}

int cmd_compose(int argc, char **argv)
{
    enum { O_BOOT_BANK = 1000, O_TRIAL, O_ATTEMPTS, O_SEC, O_BLANK };
    static const struct option opts[] = {{"bootloader", required_argument, 0, 'B'},
                                         {"bank-a", required_argument, 0, 'a'},
                                         {"bank-b", required_argument, 0, 'b'},
                                         {"boot-bank", required_argument, 0, O_BOOT_BANK},
                                         {"trial", required_argument, 0, O_TRIAL},
                                         {"attempts", required_argument, 0, O_ATTEMPTS},
                                         {"security-counter", required_argument, 0, O_SEC},
                                         {"blank-meta", no_argument, 0, O_BLANK},
                                         {"pubkey", required_argument, 0, 'p'},
                                         {"device-key", required_argument, 0, 'k'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *boot = NULL, *bank_a = NULL, *bank_b = NULL, *out = NULL, *key = NULL, *dev_key = NULL;
    layout_bank_t boot_bank = LAYOUT_BANK_NONE, trial = LAYOUT_BANK_NONE;
    uint32_t attempts = 0, sec = 0;
    int blank = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":B:a:b:p:k:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'B':
            boot = optarg;
            break;
        case 'a':
            bank_a = optarg;
            break;
        case 'b':
            bank_b = optarg;
            break;
        case 'p':
            key = optarg;
            break;
        case 'k':
            dev_key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case O_BOOT_BANK:
        case O_TRIAL: {
            layout_bank_t b = fota_parse_bank(optarg);
            if (b == LAYOUT_BANK_NONE) {
                fota_err("compose: bank '%s' is not 'a' or 'b'", optarg);
                return EXIT_USAGE;
            }
            *(c == O_TRIAL ? &trial : &boot_bank) = b;
            break;
        }
        case O_ATTEMPTS:
            if (fota_parse_u32(optarg, &attempts) != 0 || attempts > 255) {
                fota_err("compose: attempts '%s' is not a number from 0 to 255", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_SEC:
            if (fota_parse_u32(optarg, &sec) != 0) {
                fota_err("compose: security counter '%s' is not a number from 0 to 4294967295", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_BLANK:
            blank = 1;
            break;
        case 'h':
            fputs(usage, stdout);
            return EXIT_OK;
        default:
            return fota_bad_option("compose", c, optopt, argv, optind);
        }
    }
    if (boot == NULL || out == NULL || optind != argc) {
        fota_err("compose: %s (see 'fota compose --help')",
                 optind != argc ? "unexpected argument" : boot == NULL ? "--bootloader is required" : "--out is required");
        return EXIT_USAGE;
    }
    if (boot_bank == LAYOUT_BANK_NONE) {
        boot_bank = bank_a != NULL || bank_b == NULL ? LAYOUT_BANK_A : LAYOUT_BANK_B;
    }
    if (trial != LAYOUT_BANK_NONE && trial == boot_bank) {
        fota_err("compose: the trial bank must differ from the boot bank (%c)", layout_bank_letter(boot_bank));
        return EXIT_USAGE;
    }
    if (blank && (trial != LAYOUT_BANK_NONE || sec != 0)) {
        fota_err("compose: --blank-meta leaves no record for --trial or --security-counter");
        return EXIT_USAGE;
    }
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE];
    if (key != NULL && fota_load_pubkey(key, pub) != 0) {
        return EXIT_INPUT;
    }
    uint8_t dev_priv[DEVKEY_KEY_SIZE];
    if (dev_key != NULL && fota_load_device_key(dev_key, dev_priv, NULL) != 0) {
        return EXIT_INPUT;
    }
    uint8_t *flash = malloc(LAYOUT_FLASH_SIZE);
    if (flash == NULL) {
        fota_err("compose: out of memory");
        return EXIT_OUTPUT;
    }
    memset(flash, LAYOUT_ERASED_BYTE, LAYOUT_FLASH_SIZE);
    int rc = EXIT_INPUT;
    if (load_bootloader(boot, flash) != 0 ||
        (bank_a != NULL && load_bank(bank_a, LAYOUT_BANK_A, key ? pub : NULL, dev_key ? dev_priv : NULL, flash) != 0) ||
        (bank_b != NULL && load_bank(bank_b, LAYOUT_BANK_B, key ? pub : NULL, dev_key ? dev_priv : NULL, flash) != 0)) {
        goto out;
    }
    if (dev_key != NULL) {
        devkey_encode(dev_priv, flash + (DEVKEY_ADDR - LAYOUT_FLASH_BASE));
    }
    if (!blank) {
        meta_state_t st = {.boot_bank = (uint8_t)boot_bank,
                           .trial_bank = (uint8_t)trial,
                           .trial_attempts = (uint8_t)attempts,
                           .flags = 0,
                           .security_counter = sec};
        meta_record_encode(1, &st, flash + (LAYOUT_META0_BASE - LAYOUT_FLASH_BASE));
    }
    if (fota_write_file(out, flash, LAYOUT_FLASH_SIZE, 0644) != 0) {
        rc = EXIT_OUTPUT;
        goto out;
    }
    printf("composed %s: bootloader %s, bank A %s, bank B %s, metadata %s%s\n", out, boot, bank_a ? bank_a : "(erased)",
           bank_b ? bank_b : "(erased)", blank ? "(erased)" : boot_bank == LAYOUT_BANK_A ? "boot A" : "boot B",
           dev_key ? ", device key at 0x08007FC0" : "");
    rc = EXIT_OK;
out:
    memset(dev_priv, 0, sizeof(dev_priv));
    free(flash);
    return rc;
}
