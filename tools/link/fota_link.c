/* fota-link: a small SPI link master for the simulator (the bridge in issue 5 uses the same
 * link_master core). Talks to fota-sim over its socket.
 * Exit status: 0 ok, 1 refused by the device, 2 usage, 3 bad input file, 4 link failure. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fota/version.h"
#include "fota/delta.h"
#include "fota/hostlib.h"
#include "fota/le.h"
#include "fota/link_master.h"
#include "fota/simsock.h"

static const char usage[] =
    "Usage: fota-link --socket PATH [--gap-us N] [--spi-hz N] COMMAND\n"
    "  --gap-us N, --spi-hz N  time each transaction: N us after the previous one, at this SCK\n"
    "                       (sent with the bytes; fota-emu clocks the device with them)\n"
    "Commands:\n"
    "  info                 device info: versions, running bank, agent state\n"
    "  state                boot metadata: boot bank, trial bank, attempts, security counter\n"
    "  reset                pulse NRST\n"
    "  stats                the simulator's counters\n"
    "  wait MS              let MS milliseconds of device time pass (the device runs meanwhile)\n"
    "  update IMAGE|PATCH [--no-commit] [--bench]\n"
    "                       send a signed image to the inactive bank (resuming where the device\n"
    "                       stands), verify it, stage it and reset; --bench prints the figures.\n"
    "                       A patch (fota delta) is applied by the device to its running image\n"
    "Exit status: 0 ok, 1 refused by the device, 2 usage, 3 bad input, 4 link failure.\n";

static void progress(void *ctx, uint32_t done, uint32_t total)
{
    (void)ctx;
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\rtransfer: %3u%% (%u of %u bytes)", (unsigned)((uint64_t)done * 100 / total), done, total);
    } else if (done == total || done % (64 * 1024) < LINK_MAX_DATA) {
        fprintf(stderr, "transfer: %3u%% (%u of %u bytes)\n", (unsigned)((uint64_t)done * 100 / total), done, total);
    }
}

static int stats(int fd, char *out, size_t cap)
{
    uint8_t kind;
    uint32_t n;
    if (simsock_send(fd, 'S', NULL, 0) != 0 || simsock_recv(fd, &kind, out, (uint32_t)cap - 1, &n) != 0) {
        return -1;
    }
    out[n] = '\0';
    return 0;
}

static unsigned long long stat_get(const char *s, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "%s=", key);
    const char *p = strstr(s, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static int refused(const link_master_t *m, const char *what)
{
    fprintf(stderr, "fota-link: %s refused by the device: %s (detail %u)\n", what,
            link_result_name((link_result_t)m->status.result), (unsigned)m->status.detail);
    return 1;
}

static int do_update(int fd, link_master_t *m, const char *path, int commit, int bench)
{
    uint8_t *img;
    size_t len;
    if (fota_read_file(path, LAYOUT_BANK_SIZE, &img, &len) != 0) {
        return 3;
    }
    /* A patch (docs/delta.md) or a whole image: both give the image that lands, its bank and size. */
    int patch = len >= 4 && le_get32(img) == DELTA_MAGIC;
    lm_begin_t begin;
    img_header_t h;
    size_t image_len = len;
    if (patch) {
        delta_info_t info;
        if (lm_begin_delta_encode(&begin, img, (uint32_t)len, &info) != 0 ||
            img_header_decode(info.target_header, &h) != IMG_OK) {
            fprintf(stderr, "fota-link: '%s' is not a whole patch (header or size wrong; see fota apply)\n", path);
            free(img);
            return 3;
        }
        image_len = info.target_size;
    } else if (len < IMG_HEADER_FIELDS_SIZE || img_header_decode(img, &h) != IMG_OK || img_total_size(&h) != len) {
        fprintf(stderr, "fota-link: '%s' is not a whole signed image (see fota inspect)\n", path);
        free(img);
        return 3;
    }
    char before[512], after[512];
    if (bench && stats(fd, before, sizeof(before)) != 0) {
        free(img);
        return 4;
    }
    uint8_t sha[CRYPTO_SHA256_SIZE];
    if (!patch) {
        if (crypto_sha256(img, len, sha) != CRYPTO_OK) {
            fprintf(stderr, "fota-link: SHA-256 of '%s' failed (crypto library)\n", path);
            free(img);
            return 4;
        }
        if (lm_begin_image(&begin, (uint32_t)len, sha, h.bank, lm_read_memory, img) != 0) {
            fprintf(stderr, "fota-link: '%s' is encrypted but its trailer has no well-formed key record\n", path);
            free(img);
            return 3;
        }
    }
    uint32_t from = 0;
    lm_err_t e = LM_ERR_STATE;
    for (int again = 0; e == LM_ERR_STATE && again < 6; again++) {
        if (again > 0) {
            /* Not final: the device reset or a flash operation failed. BEGIN again resumes. */
            fprintf(stderr, "\nfota-link: %s (%s); resuming\n", lm_strerror(e),
                    link_result_name((link_result_t)m->status.result));
        }
        e = lm_send(m, &begin, (uint32_t)len, lm_read_memory, img, progress, NULL, &from);
    }
    if (isatty(STDERR_FILENO)) {
        fputc('\n', stderr);
    }
    int rc = 0;
    if (e == LM_ERR_REFUSED || e == LM_ERR_STATE) {
        rc = refused(m, patch ? "patch" : "image");
    } else if (e != LM_OK) {
        fprintf(stderr, "fota-link: transfer failed: %s\n", lm_strerror(e));
        rc = 4;
    }
    if (rc == 0) {
        if (patch) {
            printf("sent %s to bank %c: a patch of %zu bytes for an image of %zu (%.1f %%)%s, applied and verified "
                   "by the device\n",
                   path, layout_bank_letter((layout_bank_t)h.bank), len, image_len,
                   100.0 * (double)len / (double)image_len,
                   begin.type == LINK_BEGIN_DELTA_ENC ? ", encrypted for the device, decrypted by it" : "");
        } else {
            printf("sent %s to bank %c: %zu bytes%s, started at offset %u, verified by the device\n", path,
                   layout_bank_letter((layout_bank_t)h.bank), len,
                   begin.type == LINK_BEGIN_ENC ? " encrypted for the device, decrypted by it" : "",
                   (unsigned)from);
        }
    }
    if (rc == 0 && bench) {
        if (stats(fd, after, sizeof(after)) != 0) {
            free(img);
            return 4;
        }
        double dev = (double)(stat_get(after, "device_us") - stat_get(before, "device_us")) / 1e6;
        double er = (double)(stat_get(after, "erase_us") - stat_get(before, "erase_us")) / 1e6;
        double pr = (double)(stat_get(after, "program_us") - stat_get(before, "program_us")) / 1e6;
        double spi = (double)(stat_get(after, "spi_us") - stat_get(before, "spi_us")) / 1e6;
        double wt = (double)(stat_get(after, "wait_us") - stat_get(before, "wait_us")) / 1e6;
        double cpu = (double)(stat_get(after, "cpu_us") - stat_get(before, "cpu_us")) / 1e6;
        unsigned long long txn = stat_get(after, "transactions") - stat_get(before, "transactions");
        unsigned long long wire = stat_get(after, "wire_bytes") - stat_get(before, "wire_bytes");
        /* The floor: erase the sectors the image spans and program it, x32. */
        uint32_t base = layout_bank_base((layout_bank_t)h.bank);
        double bound_erase = 0;
        for (int s = layout_sector_of(base); s <= layout_sector_of(base + (uint32_t)image_len - 1); s++) {
            bound_erase += layout_sectors[s].size == 0x20000 ? 1.0 : layout_sectors[s].size == 0x10000 ? 0.55 : 0.25;
        }
        double bound = bound_erase + (double)((image_len + 3) / 4) * 16e-6;
        printf("benchmark: image %zu bytes (%.1f KiB)", image_len, image_len / 1024.0);
        if (patch) {
            printf(", sent as a patch of %zu bytes (%.2f %%)", len, 100.0 * (double)len / (double)image_len);
        }
        printf("\n");
        printf("  simulated device time  %8.3f s\n", dev);
        printf("    flash erase          %8.3f s\n", er);
        printf("    flash program        %8.3f s\n", pr);
        printf("    SPI transfer         %8.3f s (on the wire; overlaps flash work)\n", spi);
        printf("    master waiting       %8.3f s (polls while the device works)\n", wt);
        if (strstr(after, "instructions=") != NULL) { /* fota-emu: the real firmware ran */
            printf("    CPU busy             %8.3f s (instructions executed, at %llu Hz)\n", cpu,
                   (unsigned long long)stat_get(after, "hclk_hz"));
        } else {
            printf("    CPU (hash, ECDSA)    %8.3f s (modelled)\n", cpu);
        }
        printf("  bytes on the wire      %8llu (%.3f per image byte)\n", wire, (double)wire / (double)image_len);
        printf("  transactions           %8llu\n", txn);
        printf("  lower bound            %8.3f s (erase %.3f + program %.3f)\n", bound, bound_erase,
               bound - bound_erase);
        printf("  ratio to lower bound   %8.3f\n", dev / bound);
        if (er + 1e-9 < bound_erase) {
            printf("  note: part of the bank was already blank, so less was erased than the floor assumes;\n"
                   "        benchmark over a bank that holds an older image (make bench does)\n");
        }
    }
    if (rc == 0 && commit) {
        e = lm_commit(m, h.bank);
        if (e == LM_ERR_REFUSED || e == LM_ERR_STATE) {
            rc = refused(m, "commit");
        } else if (e != LM_OK) {
            fprintf(stderr, "fota-link: commit failed: %s\n", lm_strerror(e));
            rc = 4;
        } else {
            printf("staged for trial; the device resets into it\n");
        }
    }
    free(img);
    return rc;
}

int main(int argc, char **argv)
{
    fota_set_program("fota-link"); /* the shared helpers' messages name this program */
    static const struct option opts[] = {{"socket", required_argument, 0, 's'}, {"no-commit", no_argument, 0, 'n'},
                                         {"bench", no_argument, 0, 'b'},        {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},      {"gap-us", required_argument, 0, 'g'},
                                         {"spi-hz", required_argument, 0, 'z'}, {0, 0, 0, 0}};
    const char *sock = NULL;
    int commit = 1, bench = 0, timed = 0, c;
    uint32_t gap_us = 20, spi_hz = 8000000;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock = optarg;
            break;
        case 'n':
            commit = 0;
            break;
        case 'b':
            bench = 1;
            break;
        case 'g':
            if (fota_parse_u32(optarg, &gap_us) != 0 || gap_us > 1000000u) {
                fprintf(stderr, "fota-link: --gap-us '%s' is not a pause from 0 to 1000000 us\n", optarg);
                return 2;
            }
            timed = 1;
            break;
        case 'z':
            if (fota_parse_u32(optarg, &spi_hz) != 0 || spi_hz < 1000 || spi_hz > 42000000u) {
                fprintf(stderr, "fota-link: --spi-hz '%s' is not a clock from 1000 to 42000000 Hz\n", optarg);
                return 2;
            }
            timed = 1;
            break;
        case 'V':
            printf("fota-link %s\n", fota_version);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (sock == NULL || optind >= argc) {
        fprintf(stderr, "fota-link: --socket and a command are required\n%s", usage);
        return 2;
    }
    const char *cmd = argv[optind];
    int fd = simsock_connect(sock);
    if (fd < 0) {
        perror("fota-link: cannot connect to the simulator");
        return 4;
    }
    link_port_t port = {simsock_transact, simsock_wait_us, &fd};
    simsock_timed_t tp = {fd, gap_us * 1000u, spi_hz};
    if (timed) { /* the master times its transactions itself ('X' messages) */
        port = (link_port_t){simsock_transact_timed, simsock_wait_us_timed, &tp};
    }
    link_master_t m;
    lm_init(&m, &port);
    if (timed) {
        m.spi_hz = spi_hz;
        m.gap_us = gap_us;
    }
    int rc = 0;
    if (strcmp(cmd, "update") == 0 && optind + 1 < argc) {
        rc = do_update(fd, &m, argv[optind + 1], commit, bench);
    } else if (strcmp(cmd, "info") == 0 || strcmp(cmd, "state") == 0) {
        int info = cmd[0] == 'i';
        lm_err_t e = lm_request(&m, info ? LINK_INFO : LINK_STATE, NULL, 0);
        const uint8_t *x = m.status.extra;
        if (e != LM_OK) {
            fprintf(stderr, "fota-link: %s failed: %s\n", cmd, lm_strerror(e));
            rc = 4;
        } else if (info) {
            printf("bootloader %u.%u.%u, application %u.%u.%u, running bank %c, chunk %u bytes, agent %s\n", x[0], x[1],
                   x[2], x[3], x[4], x[5], layout_bank_letter((layout_bank_t)x[6]), le_get16(x + 7),
                   x[9] == 0   ? "idle"
                   : x[9] == 2 ? "receiving"
                   : x[9] == 4 ? "verified"
                   : x[9] == 5 ? "error"
                               : "busy");
        } else {
            printf("boot bank %c, trial bank %c, trial boots %u, security counter %u\n",
                   layout_bank_letter((layout_bank_t)x[0]), layout_bank_letter((layout_bank_t)x[1]), x[2],
                   (unsigned)le_get32(x + 4));
        }
    } else if (strcmp(cmd, "reset") == 0) {
        uint8_t kind;
        uint32_t n;
        uint8_t b[8];
        rc = simsock_send(fd, 'R', NULL, 0) == 0 && simsock_recv(fd, &kind, b, sizeof(b), &n) == 0 ? 0 : 4;
    } else if (strcmp(cmd, "wait") == 0 && optind + 1 < argc) {
        uint32_t ms;
        if (fota_parse_u32(argv[optind + 1], &ms) != 0 || ms == 0 || ms > 3600000u) {
            fprintf(stderr, "fota-link: wait '%s' is not a number of milliseconds from 1 to 3600000\n",
                    argv[optind + 1]);
            rc = 2;
        } else {
            for (uint32_t done = 0; done < ms; done += 1000) {
                simsock_wait_us(&fd, (ms - done < 1000 ? ms - done : 1000) * 1000u);
            }
        }
    } else if (strcmp(cmd, "stats") == 0) {
        char s[512];
        rc = stats(fd, s, sizeof(s)) == 0 ? (puts(s), 0) : 4;
    } else {
        fprintf(stderr, "fota-link: unknown command '%s' (or missing IMAGE)\n%s", cmd, usage);
        rc = 2;
    }
    close(fd);
    return rc;
}
