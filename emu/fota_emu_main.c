/* fota-emu: the real firmware (bootloader, then the application it jumps to) on an emulated
 * STM32F407. The 1 MiB flash is a file (mmap'd: it persists, and a power cut or kill -9 leaves
 * it as the device would). With --socket, the SPI bus and NRST are the Unix socket fota-sim
 * uses (fota/simsock.h), so fota-link and fota-bridge drive the real firmware unchanged; without
 * it, the device runs on its own for --run-ms or until USART1 prints --until.
 * Output: USART1 lines as "usart: ...", LED changes as "led: ...", remarks as "emu: ...".
 * Exit status: 0 done (or SIGTERM), 1 --until text (or --stop-at-app) not seen in time, 2 bad arguments,
 * 3 unusable flash file, 4 socket, 5 power cut (--cut-*), 6 core lockup or emulator error. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fota/version.h"
#include "fota/hostlib.h"
#include "fota/emu.h"
#include "fota/flashfile.h"
#include "fota/layout.h"
#include "fota/le.h"
#include "fota/simsock.h"

#define BOOT_LIMIT_NS 30000000000ull /* a reset: the device boots at most this long before answering */

typedef struct {
    char line[512];
    size_t n;
    const char *until;
    int seen;
    int quiet;
    uint64_t wire_bytes, transactions, spi_ns, wait_ns;
} out_t;

static volatile sig_atomic_t stop;
/* The listening socket, shut down by the signal handler: a signal that comes between the check of
 * stop and accept() would otherwise leave accept() waiting for ever (the test's cleanup hung on
 * it). shutdown() is async-signal-safe. */
static volatile sig_atomic_t listen_fd = -1;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
    if (listen_fd >= 0) {
        shutdown(listen_fd, SHUT_RDWR);
    }
}

static void on_uart(void *ctx, uint8_t c)
{
    out_t *o = ctx;
    if (c == '\r') {
        return;
    }
    if (c == '\n' || o->n == sizeof(o->line) - 1) {
        o->line[o->n] = '\0';
        printf("usart: %s\n", o->line);
        fflush(stdout);
        if (o->until != NULL && strstr(o->line, o->until) != NULL) {
            o->seen = 1;
        }
        o->n = 0;
        if (c == '\n') {
            return;
        }
    }
    o->line[o->n++] = (char)c;
}

static void on_gpio(void *ctx, char port, int pin, int level)
{
    out_t *o = ctx;
    static const char *leds[4] = {"green", "orange", "red", "blue"};
    if (!o->quiet && port == 'D' && pin >= 12 && pin <= 15) {
        printf("led: %s %s\n", leds[pin - 12], level ? "on" : "off");
        fflush(stdout);
    }
}

static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
    fflush(stdout);
}

static int report(emu_t *emu, emu_run_t r)
{
    if (r == EMU_RUN_CUT) {
        printf("emu: power cut at %.6f s (device time): the flash file holds what was done\n", emu_now(emu) / 1e9);
        return 5;
    }
    if (r == EMU_RUN_LOCKUP || r == EMU_RUN_ERROR) {
        printf("emu: stopped: %s at pc=0x%08x\n", emu_run_name(r), (unsigned)emu_pc(emu));
        return 6;
    }
    return 0;
}

/* After a reset: run until the application listens on SPI, or the boot limit. */
static emu_profile_range_t prof_ranges[256];
static char prof_names[EMU_PROFILE_BUCKETS][32];
static uint32_t prof_nnames;

/* --profile FILE: lines "NAME 0xADDR 0xSIZE". */
static int load_profile(const char *path, emu_options_t *eo)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "fota-emu: --profile '%s': %s\n", path, strerror(errno));
        return -1;
    }
    char line[256], name[32];
    unsigned long lo, size;
    unsigned n = 0, ln = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        ln++;
        if (sscanf(line, "%31s %lx %lx", name, &lo, &size) != 3 || size == 0 || lo + size > 0xFFFFFFFFul) {
            fprintf(stderr, "fota-emu: --profile '%s' line %u: expected NAME 0xADDR 0xSIZE\n", path, ln);
            fclose(f);
            return -1;
        }
        uint32_t b = 0;
        while (b < prof_nnames && strcmp(prof_names[b], name) != 0) {
            b++;
        }
        if (b == prof_nnames) {
            if (prof_nnames == EMU_PROFILE_BUCKETS) {
                fprintf(stderr, "fota-emu: --profile '%s': more than %d names\n", path, EMU_PROFILE_BUCKETS);
                fclose(f);
                return -1;
            }
            snprintf(prof_names[prof_nnames++], sizeof(prof_names[0]), "%s", name);
        }
        if (n == sizeof(prof_ranges) / sizeof(prof_ranges[0])) {
            fprintf(stderr, "fota-emu: --profile '%s': more than 256 ranges\n", path);
            fclose(f);
            return -1;
        }
        prof_ranges[n++] = (emu_profile_range_t){(uint32_t)lo, (uint32_t)(lo + size), (uint8_t)b};
    }
    fclose(f);
    eo->profile = prof_ranges;
    eo->nprofile = n;
    return 0;
}

static emu_run_t boot(emu_t *emu)
{
    uint64_t limit = emu_now(emu) + BOOT_LIMIT_NS;
    emu_run_t r = EMU_RUN_TIME;
    while (!emu_spi_ready(emu) && emu_now(emu) < limit && !stop) {
        r = emu_run(emu, emu_now(emu) + 1000000u);
        if (r != EMU_RUN_TIME && r != EMU_RUN_WATCH) {
            return r;
        }
    }
    return EMU_RUN_TIME;
}

/* Device time as the master sees it: its own clock, or the core's when a stall ran past it. */
static uint64_t later(uint64_t master, uint64_t core)
{
    return master > core ? master : core;
}

static int serve(emu_t *emu, out_t *o, int fd, uint32_t spi_hz, uint32_t gap_ns, uint64_t *resets_seen)
{
    static uint8_t buf[SIMSOCK_MAX], miso[SIMSOCK_MAX];
    uint64_t master = emu_now(emu); /* the master's clock (device time) */
    for (;;) {
        uint8_t kind;
        uint32_t len;
        if (simsock_recv(fd, &kind, buf, sizeof(buf), &len) != 0 || stop) {
            return 0;
        }
        emu_stats_t st;
        emu_stats(emu, &st);
        if (st.resets != *resets_seen) {
            emu_run_t r = boot(emu); /* the device reset since the last message: it boots first */
            if (r != EMU_RUN_TIME) {
                return report(emu, r);
            }
            emu_stats(emu, &st);
            *resets_seen = st.resets;
            master = emu_now(emu); /* the master waited for the boot */
        }
        if (kind == 'T' || kind == 'X') {
            uint32_t gap = gap_ns, hz = spi_hz;
            const uint8_t *mosi = buf;
            if (kind == 'X') { /* the master's own timing before its bytes */
                if (len <= SIMSOCK_X_HDR || le_get32(buf + 4) < 1000u || le_get32(buf + 4) > 42000000u) {
                    fprintf(stderr, "fota-emu: 'X' message of %u bytes with SCK %u Hz: refused, closing\n", len,
                            len >= SIMSOCK_X_HDR ? (unsigned)le_get32(buf + 4) : 0u);
                    return 0;
                }
                gap = le_get32(buf);
                hz = le_get32(buf + 4);
                mosi = buf + SIMSOCK_X_HDR;
                len -= SIMSOCK_X_HDR;
            }
            /* The master's clock, not the core's: a core stalled by an erase does not hold the
             * master back (it just finds no answer). */
            uint64_t start = master + gap;
            uint64_t end = emu_spi_transfer_at(emu, start, hz, mosi, miso, len);
            o->spi_ns += end - start;
            master = end;
            o->transactions++;
            o->wire_bytes += len;
            if (simsock_send(fd, 'T', miso, len) != 0) {
                return 0;
            }
        } else if (kind == 'W' && len == 4) {
            uint64_t us = le_get32(buf);
            o->wait_ns += us * 1000u;
            emu_run_t r = EMU_RUN_TIME;
            master += us * 1000u;
            while (master > emu_now(emu) && (r = emu_run(emu, master)) == EMU_RUN_WATCH) {
            }
            if (r != EMU_RUN_TIME) {
                return report(emu, r);
            }
            uint8_t t[8];
            uint64_t now_us = later(master, emu_now(emu)) / 1000u;
            le_put32(t, (uint32_t)now_us);
            le_put32(t + 4, (uint32_t)(now_us >> 32));
            if (simsock_send(fd, 'W', t, 8) != 0) {
                return 0;
            }
        } else if (kind == 'R') {
            printf("emu: NRST pulsed\n");
            emu_pin_reset(emu);
            emu_run_t r = boot(emu);
            if (r != EMU_RUN_TIME) {
                return report(emu, r);
            }
            emu_stats(emu, &st);
            *resets_seen = st.resets;
            master = emu_now(emu); /* the master waited for the boot */
            if (simsock_send(fd, 'R', NULL, 0) != 0) {
                return 0;
            }
        } else if (kind == 'S') {
            emu_stats(emu, &st);
            char s[768];
            int n = snprintf(s, sizeof(s),
                             "device_us=%llu erase_us=%llu program_us=%llu spi_us=%llu wait_us=%llu cpu_us=%llu "
                             "transactions=%llu wire_bytes=%llu flash_ops=%llu faults=0 instructions=%llu "
                             "stall_us=%llu idle_us=%llu exceptions=%llu resets=%llu hclk_hz=%u",
                             (unsigned long long)(later(master, st.now_ns) / 1000u),
                             (unsigned long long)(st.erase_ns / 1000u),
                             (unsigned long long)(st.program_ns / 1000u), (unsigned long long)(o->spi_ns / 1000u),
                             (unsigned long long)(o->wait_ns / 1000u),
                             (unsigned long long)(st.cycles16 / 16u * 1000000ull / (st.hclk_hz ? st.hclk_hz : 1)),
                             (unsigned long long)o->transactions, (unsigned long long)o->wire_bytes,
                             (unsigned long long)st.flash_ops, (unsigned long long)st.instructions,
                             (unsigned long long)(st.stall_ns / 1000u), (unsigned long long)(st.idle_ns / 1000u),
                             (unsigned long long)st.exceptions, (unsigned long long)st.resets, st.hclk_hz);
            if (simsock_send(fd, 'S', s, (uint32_t)n) != 0) {
                return 0;
            }
        } else {
            fprintf(stderr, "fota-emu: unknown message kind 0x%02x (len %u): closing the connection\n", kind, len);
            return 0;
        }
    }
}

static const char usage[] =
    "Usage: fota-emu --flash FILE [--init FLASH.bin] [--socket PATH | --run-ms N [--until TEXT]]\n"
    "                [--spi-hz N] [--gap-us N] [--seed N] [--lsi-hz N] [--hse-fail] [--jitter N]\n"
    "                [--cut-op N | --cut-us T | --cut-random US] [--tear] [--flash-max] [--quiet] [--stats]\n"
    "  --flash FILE     the device's 1 MiB flash, kept in this file (created erased if missing)\n"
    "  --otp FILE       its OTP area, lock bytes and option bytes (544 bytes: RM0090 §3.7, §3.6), kept\n"
    "                   in this file (created as shipped if missing: OTP erased, no nWRP, RDP level 0)\n"
    "  --init FILE      copy this 1 MiB image (from `fota compose`) into the flash first\n"
    "  --socket PATH    SPI bus and NRST on this Unix socket (the fota-sim protocol)\n"
    "  --run-ms N       without a socket: run N ms of device time (default 10000)\n"
    "  --until TEXT     without a socket: stop once USART1 printed a line containing TEXT\n"
    "  --spi-hz N       the master's SCK (default 8000000)\n"
    "  --gap-us N       the master's pause between transactions (default 20)\n"
    "  --seed N         seeds the LSI frequency, interrupt jitter and tearing (default 1)\n"
    "  --lsi-hz N       LSI frequency (default: drawn from the seed in 17000-47000)\n"
    "  --hse-fail       the HSE crystal never starts\n"
    "  --jitter N       delay each interrupt by up to N instructions (seeded)\n"
    "  --cut-op N       cut power when flash operation N starts (erase or program, from 1)\n"
    "  --cut-us T       cut power at device time T microseconds\n"
    "  --cut-random US  cut power at a seeded moment in the first US microseconds\n"
    "  --tear           the operation a cut hits is left half done\n"
    "  --flash-max      DS8626 maximum program and erase times instead of typical\n"
    "  --quiet          no LED lines\n"
    "  --stats          print device time, instructions and flash figures at the end\n"
    "  --stop-at-app    without a socket: stop when the core first runs code in bank A or B\n"
    "  --profile FILE   with --stats: cycles spent in code ranges, one per line: NAME 0xADDR 0xSIZE\n"
    "                   (at most 4 names and 256 ranges; scripts/bench.sh makes it from a link map)\n";

/* The OTP file: 512 bytes of OTP, 16 lock bytes, the 16 option bytes from 0x1FFFC000. */
#define OTP_FILE_BYTES (LAYOUT_OTP_SIZE + LAYOUT_OTP_LOCK_SIZE + 16u)
#define SYS_OTP_OFF (LAYOUT_OTP_BASE - 0x1FFF0000u)
#define SYS_OPT_OFF 0xC000u

static int otp_load(const char *path, uint8_t *sys)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return errno == ENOENT ? 0 : (fprintf(stderr, "fota-emu: cannot open '%s': %s\n", path, strerror(errno)), -1);
    }
    uint8_t buf[OTP_FILE_BYTES + 1];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n != OTP_FILE_BYTES) {
        fprintf(stderr, "fota-emu: '%s' is %zu bytes, not an OTP file (%u bytes)\n", path, n, (unsigned)OTP_FILE_BYTES);
        return -1;
    }
    memcpy(sys + SYS_OTP_OFF, buf, LAYOUT_OTP_SIZE + LAYOUT_OTP_LOCK_SIZE);
    memcpy(sys + SYS_OPT_OFF, buf + LAYOUT_OTP_SIZE + LAYOUT_OTP_LOCK_SIZE, 16);
    return 0;
}

static int otp_save(const char *path, const uint8_t *sys)
{
    uint8_t buf[OTP_FILE_BYTES];
    memcpy(buf, sys + SYS_OTP_OFF, LAYOUT_OTP_SIZE + LAYOUT_OTP_LOCK_SIZE);
    memcpy(buf + LAYOUT_OTP_SIZE + LAYOUT_OTP_LOCK_SIZE, sys + SYS_OPT_OFF, 16);
    if (fota_write_file(path, buf, sizeof(buf), 0644) != 0) {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    fota_set_program("fota-emu"); /* the shared helpers' messages name this program */
    static const struct option opts[] = {{"flash", required_argument, 0, 'f'},
                                         {"otp", required_argument, 0, 'O'},
                                         {"init", required_argument, 0, 'i'},
                                         {"socket", required_argument, 0, 's'},
                                         {"run-ms", required_argument, 0, 'r'},
                                         {"until", required_argument, 0, 'u'},
                                         {"spi-hz", required_argument, 0, 'z'},
                                         {"gap-us", required_argument, 0, 'g'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"lsi-hz", required_argument, 0, 'L'},
                                         {"hse-fail", no_argument, 0, 'H'},
                                         {"jitter", required_argument, 0, 'j'},
                                         {"cut-op", required_argument, 0, 'c'},
                                         {"cut-us", required_argument, 0, 't'},
                                         {"cut-random", required_argument, 0, 'R'},
                                         {"tear", no_argument, 0, 'T'},
                                         {"flash-max", no_argument, 0, 'M'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"stats", no_argument, 0, 'x'},
                                         {"stop-at-app", no_argument, 0, 'A'},
                                         {"profile", required_argument, 0, 'P'},
                                         {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    const char *flash_path = NULL, *init = NULL, *sock = NULL, *otp_path = NULL;
    uint32_t run_ms = 10000, spi_hz = 8000000, gap_us = 20, v = 0, cut_random = 0;
    int stats = 0, stop_at_app = 0;
    static out_t out;
    emu_options_t eo = {0};
    eo.seed = 1;
    int c, which = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &which)) != -1) {
        int bad = 0;
        switch (c) {
        case 'f':
            flash_path = optarg;
            break;
        case 'O':
            otp_path = optarg;
            break;
        case 'i':
            init = optarg;
            break;
        case 's':
            sock = optarg;
            break;
        case 'r':
            bad = fota_parse_u32(optarg, &run_ms) != 0 || run_ms == 0 || run_ms > 3600000u;
            break;
        case 'u':
            out.until = optarg;
            break;
        case 'z':
            bad = fota_parse_u32(optarg, &spi_hz) != 0 || spi_hz < 1000 || spi_hz > 42000000u;
            break;
        case 'g':
            bad = fota_parse_u32(optarg, &gap_us) != 0 || gap_us > 1000000u;
            break;
        case 'S':
            bad = fota_parse_u32(optarg, &eo.seed) != 0 || eo.seed == 0;
            break;
        case 'L':
            bad = fota_parse_u32(optarg, &eo.lsi_hz) != 0 || eo.lsi_hz < 17000 || eo.lsi_hz > 47000;
            break;
        case 'H':
            eo.hse_fails = 1;
            break;
        case 'j':
            bad = fota_parse_u32(optarg, &eo.irq_jitter) != 0 || eo.irq_jitter > 100000u;
            break;
        case 'c':
            bad = fota_parse_u32(optarg, &v) != 0 || v == 0;
            eo.cut_at_op = v;
            break;
        case 't':
            bad = fota_parse_u32(optarg, &v) != 0 || v == 0 || v > 3600000000u;
            eo.cut_at_ns = (uint64_t)v * 1000u;
            break;
        case 'R':
            bad = fota_parse_u32(optarg, &cut_random) != 0 || cut_random == 0 || cut_random > 3600000000u;
            break;
        case 'T':
            eo.tear = 1;
            break;
        case 'M':
            eo.flash_timing = EMU_FLASH_MAXIMUM;
            break;
        case 'q':
            out.quiet = 1;
            break;
        case 'x':
            stats = 1;
            break;
        case 'A':
            stop_at_app = 1;
            break;
        case 'P':
            if (load_profile(optarg, &eo) != 0) {
                return 2;
            }
            break;
        case 'V':
            printf("fota-emu %s\n", fota_version);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "fota-emu: --%s '%s' is out of range or not a number (see --help)\n", opts[which].name,
                    optarg);
            return 2;
        }
    }
    if (flash_path == NULL || optind != argc) {
        fprintf(stderr, "fota-emu: --flash is required\n%s", usage);
        return 2;
    }
    if (sock != NULL && out.until != NULL) {
        fprintf(stderr, "fota-emu: --until is for runs without --socket\n");
        return 2;
    }
    if (cut_random != 0) {
        uint32_t x = eo.seed * 2654435761u + 1u;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        eo.cut_at_ns = (1u + (uint64_t)x % cut_random) * 1000u;
    }
    flashfile_t ff;
    if (flashfile_open(&ff, flash_path, init, "fota-emu") != 0) {
        return 3;
    }
    uint8_t *mem = ff.mem;
    eo.on_uart = on_uart;
    eo.on_gpio = on_gpio;
    eo.on_log = on_log;
    eo.ctx = &out;
    emu_t *emu = emu_new(mem, &eo);
    if (emu == NULL) {
        fprintf(stderr, "fota-emu: cannot create the machine (Unicorn or memory)\n");
        flashfile_close(&ff);
        return 6;
    }
    if (otp_path != NULL && otp_load(otp_path, emu_system_memory(emu)) != 0) {
        emu_free(emu);
        flashfile_close(&ff);
        return 3;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("emu: power on\n");
    fflush(stdout);
    emu_power_on(emu);
    int rc = 0;
    if (sock != NULL) {
        /* The socket appears once the application listens on SPI: a master that connects then
         * finds the device up, as fota-sim's does. */
        emu_run_t r = boot(emu);
        rc = report(emu, r);
        int lfd = simsock_listen(sock);
        listen_fd = lfd;
        if (lfd < 0) {
            fprintf(stderr, "fota-emu: cannot listen on '%s': %s\n", sock, strerror(errno));
            emu_free(emu);
            flashfile_close(&ff);
            return 4;
        }
        emu_stats_t es;
        emu_stats(emu, &es);
        uint64_t resets_seen = es.resets;
        printf("emu: SPI slave on %s, %llu Hz\n", sock, (unsigned long long)spi_hz);
        fflush(stdout);
        while (!stop && rc == 0) {
            int cfd = accept(lfd, NULL, NULL);
            if (cfd < 0) {
                if (errno == EINTR) {
                    continue;
                }
                break;
            }
            rc = serve(emu, &out, cfd, (uint32_t)spi_hz, (uint32_t)gap_us * 1000u, &resets_seen);
            close(cfd);
        }
        close(lfd);
        unlink(sock);
    } else {
        uint64_t end = run_ms * 1000000ull;
        if (stop_at_app) {
            emu_watch_pc(emu, LAYOUT_BANK_A_BASE, LAYOUT_BANK_B_BASE + LAYOUT_BANK_SIZE);
        }
        int entered = 0;
        while (emu_now(emu) < end && !out.seen && !stop && rc == 0 && !entered) {
            emu_run_t r = emu_run(emu, emu_now(emu) + 1000000u);
            if (r == EMU_RUN_WATCH) {
                emu_stats_t es;
                emu_stats(emu, &es);
                uint32_t pc = emu_pc(emu);
                printf("emu: application entered at pc=0x%08x (bank %c) after %llu instructions, %.3f ms at %u Hz\n",
                       (unsigned)pc, pc < LAYOUT_BANK_B_BASE ? 'A' : 'B', (unsigned long long)es.instructions,
                       es.now_ns / 1e6, es.hclk_hz);
                entered = 1;
                break;
            }
            rc = report(emu, r);
        }
        if (rc == 0 && stop_at_app && !entered && !out.seen) {
            printf("emu: no application entered within %llu ms of device time\n", (unsigned long long)run_ms);
            rc = 1;
        }
        if (rc == 0 && out.until != NULL && !out.seen) {
            printf("emu: '%s' not printed within %llu ms of device time\n", out.until, (unsigned long long)run_ms);
            rc = 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (stats) {
        emu_stats_t es;
        emu_stats(emu, &es);
        double host = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("emu: stats device_ms=%.3f instructions=%llu hclk_hz=%u flash_ops=%llu erase_ms=%.3f "
               "program_ms=%.3f stall_ms=%.3f exceptions=%llu resets=%llu host_s=%.3f minstr_per_s=%.1f\n",
               es.now_ns / 1e6, (unsigned long long)es.instructions, es.hclk_hz, (unsigned long long)es.flash_ops,
               es.erase_ns / 1e6, es.program_ns / 1e6, es.stall_ns / 1e6, (unsigned long long)es.exceptions,
               (unsigned long long)es.resets, host, host > 0 ? es.instructions / host / 1e6 : 0.0);
        for (uint32_t b = 0; b < prof_nnames; b++) {
            uint64_t cyc = es.profile16[b] / 16u;
            printf("emu: profile %s cycles=%llu ms=%.3f\n", prof_names[b], (unsigned long long)cyc,
                   es.hclk_hz ? (double)cyc * 1000.0 / es.hclk_hz : 0.0);
        }
    }
    if (otp_path != NULL && otp_save(otp_path, emu_system_memory(emu)) != 0) {
        rc = rc ? rc : 3;
    }
    emu_free(emu);
    flashfile_close(&ff);
    return rc;
}
