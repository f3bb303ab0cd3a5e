/* fota provision: writes a whole flash image (from `fota compose`) to a board through OpenOCD and,
 * with --rdp 1, raises its read protection to level 1 (docs/hardware.md, "Read protection").
 * Level 2 is permanent (no debug port, option bytes frozen, forever): this tool never sets it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fota.h"

static const char usage[] =
    "Usage: fota provision --flash FLASH.bin [--rdp 0|1] [--pubkey KEY.pem] [--openocd PATH]\n"
    "                      [--interface CFG] [--dry-run]\n"
    "Writes FLASH.bin (a 1 MiB image from 'fota compose': bootloader, banks, metadata) to an\n"
    "STM32F407 through OpenOCD and an SWD probe, verifies it, and optionally sets read protection.\n"
    "The bootloader write-protects its own sectors (nWRP) on its first boot.\n"
    "  -f, --flash FILE       the flash image to write\n"
    "      --rdp 0|1          read protection to leave the part at (default 0: unchanged).\n"
    "                         Level 1: the debug port can no longer read the flash; going back\n"
    "                         to 0 mass-erases the part. Level 2 is permanent and never set here.\n"
    "  -p, --pubkey FILE      also require every image in the banks to verify with this key\n"
    "      --openocd PATH     the OpenOCD program (default: openocd on the PATH)\n"
    "      --interface CFG    OpenOCD interface script (default interface/stlink.cfg)\n"
    "  -n, --dry-run          print the OpenOCD command, run nothing\n";

/* The bootloader's first two vectors: a stack in SRAM, a Thumb reset handler in its region. */
static int check_bootloader(const uint8_t *flash)
{
    uint32_t sp, reset;
    memcpy(&sp, flash, 4);
    memcpy(&reset, flash + 4, 4);
    if (sp <= LAYOUT_SRAM_BASE || sp > LAYOUT_SRAM_BASE + LAYOUT_SRAM_SIZE || (reset & 1u) == 0 ||
        reset < LAYOUT_BOOT_BASE || reset >= LAYOUT_BOOT_BASE + LAYOUT_BOOT_SIZE) {
        fota_err("provision: no bootloader at 0x%08x (initial SP 0x%08x, reset 0x%08x): "
                 "write images made by 'fota compose'",
                 (unsigned)LAYOUT_BOOT_BASE, (unsigned)sp, (unsigned)reset);
        return -1;
    }
    return 0;
}

static int read_mem(void *rctx, uint32_t offset, uint8_t *buf, uint32_t len)
{
    memcpy(buf, (const uint8_t *)rctx + offset, len);
    return 0;
}

/* Each bank: empty, or an image that verifies with the key (when one is given). */
static int check_banks(const uint8_t *flash, const uint8_t *pub)
{
    int images = 0;
    for (int b = LAYOUT_BANK_A; b <= LAYOUT_BANK_B; b++) {
        const uint8_t *bank = flash + (layout_bank_base((layout_bank_t)b) - LAYOUT_FLASH_BASE);
        uint32_t magic;
        memcpy(&magic, bank, 4);
        if (magic == 0xFFFFFFFFu) {
            printf("bank %c: empty\n", layout_bank_letter((layout_bank_t)b));
            continue;
        }
        img_policy_t pol = {.pubkey = pub, .min_security_counter = 0, .bank = (layout_bank_t)b};
        img_header_t hdr;
        img_err_t e = img_verify_read(read_mem, (void *)bank, LAYOUT_BANK_SIZE, &pol, &hdr);
        if (e != IMG_OK && (pub != NULL || e != IMG_ERR_NO_KEY)) {
            fota_err("provision: bank %c: %s", layout_bank_letter((layout_bank_t)b), img_strerror(e));
            return -1;
        }
        printf("bank %c: v%u.%u.%u, security counter %u%s\n", layout_bank_letter((layout_bank_t)b), hdr.version.major,
               hdr.version.minor, hdr.version.patch, (unsigned)hdr.security_counter,
               pub != NULL ? ", signature verified" : ", signature not checked (no --pubkey)");
        images++;
    }
    if (images == 0) {
        fota_err("provision: both banks are empty: the bootloader would have nothing to boot");
        return -1;
    }
    return 0;
}

int cmd_provision(int argc, char **argv)
{
    enum { O_RDP = 256, O_OPENOCD, O_IFACE };
    static const struct option opts[] = {{"flash", required_argument, 0, 'f'},
                                         {"rdp", required_argument, 0, O_RDP},
                                         {"pubkey", required_argument, 0, 'p'},
                                         {"openocd", required_argument, 0, O_OPENOCD},
                                         {"interface", required_argument, 0, O_IFACE},
                                         {"dry-run", no_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *flash_path = NULL, *key = NULL, *openocd = "openocd", *iface = "interface/stlink.cfg";
    uint32_t rdp = 0;
    int dry = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:p:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            flash_path = optarg;
            break;
        case 'p':
            key = optarg;
            break;
        case O_RDP:
            if (fota_parse_u32(optarg, &rdp) != 0 || rdp > 2) {
                fota_err("provision: read protection level '%s' is not 0 or 1", optarg);
                return EXIT_USAGE;
            }
            if (rdp == 2) {
                fota_err("provision: RDP level 2 is permanent: no debug port, no option-byte change, no way "
                         "back, ever. fota never sets it; docs/hardware.md says how, for those who must");
                return EXIT_USAGE;
            }
            break;
        case O_OPENOCD:
            openocd = optarg;
            break;
        case O_IFACE:
            iface = optarg;
            break;
        case 'n':
            dry = 1;
            break;
        case 'h':
            fputs(usage, stdout);
            return EXIT_OK;
        default:
            return fota_bad_option("provision", c, optopt, argv, optind);
        }
    }
    if (flash_path == NULL || optind != argc) {
        fota_err("provision: %s (see 'fota provision --help')",
                 optind != argc ? "unexpected argument" : "--flash is required");
        return EXIT_USAGE;
    }
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE];
    if (key != NULL && fota_load_pubkey(key, pub) != 0) {
        return EXIT_INPUT;
    }
    uint8_t *flash;
    size_t len;
    if (fota_read_file(flash_path, LAYOUT_FLASH_SIZE + 1u, &flash, &len) != 0) {
        return EXIT_INPUT;
    }
    if (len != LAYOUT_FLASH_SIZE) {
        fota_err("provision: '%s' is %zu bytes, not a whole flash image (%u bytes, from 'fota compose')", flash_path,
                 len, (unsigned)LAYOUT_FLASH_SIZE);
        free(flash);
        return EXIT_INPUT;
    }
    int bad = check_bootloader(flash) != 0 || check_banks(flash, key != NULL ? pub : NULL) != 0;
    free(flash);
    if (bad) {
        return EXIT_INPUT;
    }

    /* OpenOCD's stm32f2x driver covers the F4: 'lock' programs RDP level 1 into the option
     * bytes, after the image is written and verified (the debug port cannot read it back later). */
    char program[4200];
    /* OpenOCD's 'program' (src/flash/startup.tcl): init, reset init, erase and write, verify; a
     * raw binary needs its address. Without 'exit' it leaves the target halted for what follows. */
    snprintf(program, sizeof(program), "program {%s} verify 0x%08x", flash_path, (unsigned)LAYOUT_FLASH_BASE);
    const char *args[16];
    int n = 0;
    args[n++] = openocd;
    args[n++] = "-f";
    args[n++] = iface;
    args[n++] = "-f";
    args[n++] = "target/stm32f4x.cfg";
    args[n++] = "-c";
    args[n++] = program;
    if (rdp == 1) {
        args[n++] = "-c";
        args[n++] = "stm32f2x lock 0";
    }
    args[n++] = "-c";
    args[n++] = "reset run; shutdown";
    args[n] = NULL;
    printf("%s", dry ? "would run:" : "running:");
    for (int i = 0; i < n; i++) {
        printf(strchr(args[i], ' ') != NULL ? " '%s'" : " %s", args[i]);
    }
    printf("\n");
    fflush(stdout);
    if (dry) {
        return EXIT_OK;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fota_err("provision: cannot start OpenOCD: %s", strerror(errno));
        return EXIT_OUTPUT;
    }
    if (pid == 0) {
        execvp(openocd, (char *const *)args);
        fprintf(stderr, "fota: provision: cannot run '%s': %s (install Debian's openocd package)\n", openocd,
                strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fota_err("provision: lost OpenOCD: %s", strerror(errno));
            return EXIT_OUTPUT;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fota_err("provision: OpenOCD failed (%s %d): the board is not provisioned%s",
                 WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                 rdp == 1 ? " (its read protection may or may not be set: check with 'stm32f2x options_read 0')"
                          : "");
        return EXIT_OUTPUT;
    }
    printf("provisioned: flash written and verified%s\n", rdp == 1 ? ", read protection level 1" : "");
    return EXIT_OK;
}
