/* fota-sim: the host twin of the STM32F407. The real bootloader core and OTA agent run over a
 * simulated F407 flash kept in a file (mmap'd, so kill -9 is a real power cut); the SPI slave and
 * the reset line are a Unix socket (fota/simsock.h). Device time is kept with the datasheet's
 * flash timings and a configurable SPI clock; what the device would print on USART1 goes to
 * standard output, prefixed "usart: ", and LED changes as "led: ".
 *
 * Usage: fota-sim --flash FILE --socket PATH --pubkey KEY.pem [--init FLASH.bin] [--spi-hz N]
 *                 [--faults PERMILLE --seed N] [--no-confirm] [--quiet]
 * Exit status: 0 after SIGTERM/SIGINT, 2 bad arguments, 3 unusable flash file or key, 4 socket. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fota/version.h"
#include "fota/hostlib.h"
#include "fota/agent.h"
#include "fota/boot.h"
#include "fota/flash_sim.h"
#include "fota/flashfile.h"
#include "fota/le.h"
#include "fota/simsock.h"

/* CPU time the model charges for work that is not flash: hashing (SHA-256 on a Cortex-M4 at
 * 168 MHz, about 30 cycles per byte, twice over: image hash and whole-file hash) and the ECDSA
 * check at the end of a verification (p256-m, 101 ms measured on fota-emu at 168 MHz). Estimates,
 * stated in docs/PERFORMANCE.md. */
#define CPU_NS_PER_HASHED_BYTE 360u
#define CPU_ECDSA_US 101000u
#define CS_GAP_US 2u /* NSS high to NSS low between transactions */

typedef struct {
    flash_sim_t sim;
    flash_port_t flash;
    uint8_t otp[FLASH_SIM_OTP_BYTES]; /* the OTP area: in memory, erased at each start */
    flash_port_t otp_port;
    boot_port_t boot;
    agent_t agent;
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE];
    int running;         /* the application (and its agent) is running */
    int reset_request;
    int confirm;         /* the application confirms itself after its self-test */
    int quiet;
    uint32_t spi_hz;
    /* Time, microseconds. */
    uint64_t now, cpu_free_at;
    uint64_t spi_us, wait_us, cpu_us, idle_us;
    uint64_t transactions, wire_bytes;
    /* What the master sees while the main loop is inside a step: the STATUS from before it.
     * A step's results become visible only when its flash operation would have finished. */
    uint32_t resets_at[8], nresets_at, next_reset_at; /* --reset-at */
    uint8_t txload[LINK_STATUS_TXN]; /* what the SPI interrupt loaded for the next transaction */
    uint8_t *rxbuf;                  /* where it receives it */
    /* Bus faults, per thousand transactions each: a flipped bit towards the slave, a flipped bit
     * towards the master, a transaction the slave never sees, one it sees twice. Seeded. */
    uint32_t fault_permille, fault_rng;
    uint64_t faults;
} device_t;

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

static void say(device_t *d, const char *prefix, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(device_t *d, const char *prefix, const char *fmt, ...)
{
    (void)d;
    va_list ap;
    va_start(ap, fmt);
    printf("%s", prefix);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static void p_log(void *ctx, const char *line)
{
    say(ctx, "usart: ", "%s", line);
}

static void p_led(void *ctx, boot_led_t led, int on)
{
    device_t *d = ctx;
    static const char *names[] = {"red", "green", "orange", "blue"};
    if (!d->quiet) {
        say(d, "led: ", "%s %s", names[led], on ? "on" : "off");
    }
}

static void p_watchdog(void *ctx)
{
    say(ctx, "sim: ", "independent watchdog started");
}

static boot_reset_t p_reset_cause(void *ctx)
{
    (void)ctx;
    return BOOT_RESET_PIN;
}

static void p_jump(void *ctx, uint32_t vt)
{
    device_t *d = ctx;
    (void)vt;
    d->running = 1;
}

static void p_halt(void *ctx)
{
    device_t *d = ctx;
    d->running = 0;
    say(d, "usart: ", "boot: halted: fast red blink");
}

static void agent_reset(void *ctx)
{
    ((device_t *)ctx)->reset_request = 1;
}

static int read_bank(void *rctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    device_t *d = rctx;
    return flash_read(&d->flash, layout_bank_base(d->agent.cfg.running) + off, buf, len) == FLASH_OK ? 0 : -1;
}

/* Reset: the bootloader decides; the application it jumps to checks itself, confirms itself,
 * and starts the agent, as app/app_main.c does on the board. */
static void reboot(device_t *d)
{
    d->running = 0;
    d->reset_request = 0;
    boot_decision_t dec;
    boot_run(&d->boot, d->pub, &dec);
    if (!d->running) {
        return;
    }
    layout_bank_t bank = dec.bank;
    agent_config_t cfg = {.flash = &d->flash,
                          .pubkey = d->pub,
                          .running = bank,
                          .boot_version = {1, 0, 0, 0},
                          .app_version = dec.hdr.version,
                          .reset = agent_reset,
                          .ctx = d};
    d->agent.cfg.running = bank;
    /* The application's self-test: flash holds plaintext even when the image came encrypted. */
    img_policy_t pol = {.pubkey = d->pub, .min_security_counter = 0, .bank = bank, .decrypts = 1};
    img_header_t hdr;
    img_err_t e = img_verify_read(read_bank, d, LAYOUT_BANK_SIZE, &pol, &hdr);
    if (e != IMG_OK) {
        say(d, "usart: ", "app: self-test failed: %s", img_strerror(e));
        d->running = 0;
        return;
    }
    say(d, "usart: ", "app: v%u.%u.%u running from bank %c", hdr.version.major, hdr.version.minor, hdr.version.patch,
        layout_bank_letter(bank));
    if (d->confirm) {
        meta_log_t log;
        meta_err_t me = meta_log_open(&log, &d->flash);
        int was_trial = me == META_OK && log.state.trial_bank == bank;
        if (me == META_OK) {
            me = meta_confirm(&log, bank, hdr.security_counter);
        }
        if (me == META_OK) {
            say(d, "usart: ", "%s", was_trial ? "app: confirmed (trial over)" : "app: confirmed");
        } else {
            say(d, "usart: ", "app: could not confirm: %s", meta_strerror(me));
        }
    }
    agent_init(&d->agent, &cfg);
    d->rxbuf = agent_rx_swap(&d->agent, 0, d->txload); /* spi_slave_init's first arm */
    if (!d->quiet) {
        say(d, "led: ", "%s blinking", bank == LAYOUT_BANK_A ? "green" : "orange");
    }
}

/* Runs the application's main loop until device time t: each agent step starts when the CPU is
 * free and lasts as long as its flash operation (plus the modelled CPU work). */
static void run_until(device_t *d, uint64_t t)
{
    while (d->running && !d->reset_request && d->cpu_free_at <= t) {
        uint64_t start = d->cpu_free_at > d->now ? d->cpu_free_at : d->now;
        uint64_t flash_before = d->sim.time_us;
        uint32_t verified_before = d->agent.verified;
        int more = agent_poll(&d->agent);
        uint64_t cost = d->sim.time_us - flash_before;
        if (d->agent.verified > verified_before) {
            uint64_t cpu = (uint64_t)(d->agent.verified - verified_before) * CPU_NS_PER_HASHED_BYTE / 1000u;
            if (d->agent.verified == d->agent.size && d->agent.state != AGENT_VERIFYING) {
                cpu += CPU_ECDSA_US;
            }
            cost += cpu;
            d->cpu_us += cpu;
        }
        if (cost == 0 && more) {
            cost = 1; /* work left: time must move on */
        }
        d->cpu_free_at = start + cost; /* an idle poll costs nothing: the next message finds the CPU free */
        if (!more) {
            break;
        }
    }
    if (d->cpu_free_at < t && !(d->running && d->agent.pending)) {
        d->idle_us += t - (d->cpu_free_at > d->now ? d->cpu_free_at : d->now);
    }
    d->now = t;
    if (d->reset_request) {
        say(d, "sim: ", "reset requested by the application");
        reboot(d);
        d->cpu_free_at = d->now;
    }
}

static int fault(device_t *d)
{
    if (d->fault_permille == 0) {
        return 0;
    }
    uint32_t x = d->fault_rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    d->fault_rng = x;
    return x % 1000u < d->fault_permille;
}

static void flip_bit(device_t *d, uint8_t *p, uint32_t len)
{
    fault(d);
    uint32_t r = d->fault_rng;
    p[(r >> 3) % len] ^= (uint8_t)(1u << (r & 7u));
    d->faults++;
}

static void handle(device_t *d, int fd)
{
    static uint8_t buf[SIMSOCK_MAX], out[SIMSOCK_MAX];
    for (;;) {
        uint8_t kind;
        uint32_t len;
        int r = simsock_recv(fd, &kind, buf, sizeof(buf), &len);
        if (r != 0 || stop) {
            return;
        }
        if (kind == 'X' && len > SIMSOCK_X_HDR) {
            /* The master's own gap and clock: this model keeps its coarser clock (--spi-hz). */
            memmove(buf, buf + SIMSOCK_X_HDR, len - SIMSOCK_X_HDR);
            len -= SIMSOCK_X_HDR;
            kind = 'T';
        }
        if (kind == 'T') {
            /* The slave's bytes were loaded when the last transaction ended; this one's frame is
             * queued by the interrupt when NSS rises and decoded by the main loop. */
            memset(out, 0, len);
            if (d->running) {
                memcpy(out, d->txload, len < LINK_STATUS_TXN ? len : LINK_STATUS_TXN);
            }
            uint64_t wire = ((uint64_t)len * 8u * 1000000u + d->spi_hz - 1) / d->spi_hz + CS_GAP_US;
            d->spi_us += wire;
            d->transactions++;
            d->wire_bytes += len;
            run_until(d, d->now + wire);
            if (fault(d)) {
                flip_bit(d, out, len < LINK_STATUS_TXN ? len : LINK_STATUS_TXN);
            }
            if (fault(d)) {
                d->faults++; /* dropped: the slave never saw it */
            } else if (d->running) {
                if (fault(d)) {
                    flip_bit(d, buf, len);
                }
                uint32_t got = len < LINK_FRAME_MAX ? len : LINK_FRAME_MAX;
                memcpy(d->rxbuf, buf, got);
                d->rxbuf = agent_rx_swap(&d->agent, got, d->txload);
                if (fault(d)) {
                    d->faults++; /* seen twice */
                    memcpy(d->rxbuf, buf, got);
                    d->rxbuf = agent_rx_swap(&d->agent, got, d->txload);
                }
            }
            run_until(d, d->now); /* a COMMIT may have asked for a reset */
            if (d->next_reset_at < d->nresets_at && d->transactions >= d->resets_at[d->next_reset_at]) {
                d->next_reset_at++;
                say(d, "sim: ", "device reset by itself after %llu transactions (--reset-at)",
                    (unsigned long long)d->transactions);
                d->cpu_free_at = d->now;
                reboot(d);
            }
            if (simsock_send(fd, 'T', out, len) != 0) {
                return;
            }
        } else if (kind == 'W' && len == 4) {
            uint32_t us = le_get32(buf);
            d->wait_us += us;
            run_until(d, d->now + us);
            uint8_t t[8];
            le_put32(t, (uint32_t)d->now);
            le_put32(t + 4, (uint32_t)(d->now >> 32));
            if (simsock_send(fd, 'W', t, 8) != 0) {
                return;
            }
        } else if (kind == 'R') {
            say(d, "sim: ", "NRST pulsed");
            d->cpu_free_at = d->now;
            reboot(d);
            if (simsock_send(fd, 'R', NULL, 0) != 0) {
                return;
            }
        } else if (kind == 'S') {
            int n = snprintf((char *)out, sizeof(out),
                             "device_us=%llu erase_us=%llu program_us=%llu spi_us=%llu wait_us=%llu cpu_us=%llu "
                             "transactions=%llu wire_bytes=%llu flash_ops=%llu faults=%llu",
                             (unsigned long long)(d->cpu_free_at > d->now ? d->cpu_free_at : d->now),
                             (unsigned long long)d->sim.erase_us,
                             (unsigned long long)d->sim.program_us, (unsigned long long)d->spi_us,
                             (unsigned long long)d->wait_us, (unsigned long long)d->cpu_us,
                             (unsigned long long)d->transactions, (unsigned long long)d->wire_bytes,
                             (unsigned long long)d->sim.ops, (unsigned long long)d->faults);
            if (simsock_send(fd, 'S', out, (uint32_t)n) != 0) {
                return;
            }
        } else {
            fprintf(stderr, "fota-sim: unknown message kind 0x%02x (len %u): closing the connection\n", kind, len);
            return;
        }
    }
}

static const char usage[] =
    "Usage: fota-sim --flash FILE --socket PATH --pubkey KEY.pem [--init FLASH.bin] [--spi-hz N]\n"
    "                [--faults PERMILLE --seed N] [--no-confirm] [--quiet]\n"
    "  --flash FILE     the device's 1 MiB flash, kept in this file (created erased if missing)\n"
    "  --init FILE      copy this 1 MiB image (from `fota compose`) into the flash first\n"
    "  --socket PATH    Unix socket for the SPI bus and the reset line\n"
    "  --pubkey FILE    the key the bootloader trusts\n"
    "  --spi-hz N       SPI clock for device time (default 8000000)\n"
    "  --faults N       per thousand transactions, each: corrupt towards the slave, corrupt\n"
    "                   towards the master, drop, duplicate (default 0)\n"
    "  --seed N         seed of the fault injector (default 1)\n"
    "  --reset-at N,... the device resets by itself (brown-out, watchdog) when it has seen N\n"
    "                   transactions; up to 8 counts, ascending\n"
    "  --no-confirm     the application never confirms itself (trial images get reverted)\n"
    "  --quiet          no LED lines\n";

int main(int argc, char **argv)
{
    fota_set_program("fota-sim"); /* the shared helpers' messages name this program */
    static const struct option opts[] = {{"flash", required_argument, 0, 'f'},   {"init", required_argument, 0, 'i'},
                                         {"socket", required_argument, 0, 's'},  {"pubkey", required_argument, 0, 'p'},
                                         {"spi-hz", required_argument, 0, 'z'},  {"no-confirm", no_argument, 0, 'n'},
                                         {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
                                         {"faults", required_argument, 0, 'F'},  {"seed", required_argument, 0, 'S'},
                                         {"reset-at", required_argument, 0, 'R'}, {0, 0, 0, 0}};
    const char *flash_path = NULL, *init = NULL, *sock = NULL, *key = NULL;
    static device_t d;
    d.spi_hz = 8000000;
    d.confirm = 1;
    d.fault_rng = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            flash_path = optarg;
            break;
        case 'i':
            init = optarg;
            break;
        case 's':
            sock = optarg;
            break;
        case 'p':
            key = optarg;
            break;
        case 'z':
            if (fota_parse_u32(optarg, &d.spi_hz) != 0 || d.spi_hz < 1000 || d.spi_hz > 50000000) {
                fprintf(stderr, "fota-sim: --spi-hz '%s' is not a clock from 1000 to 50000000 Hz\n", optarg);
                return 2;
            }
            break;
        case 'n':
            d.confirm = 0;
            break;
        case 'F':
            if (fota_parse_u32(optarg, &d.fault_permille) != 0 || d.fault_permille > 500) {
                fprintf(stderr, "fota-sim: --faults '%s' is not a rate from 0 to 500 per thousand\n", optarg);
                return 2;
            }
            break;
        case 'S':
            if (fota_parse_u32(optarg, &d.fault_rng) != 0 || d.fault_rng == 0) {
                fprintf(stderr, "fota-sim: --seed '%s' is not a number from 1 to 4294967295\n", optarg);
                return 2;
            }
            break;
        case 'R': {
            char *list = optarg, *tok, *save = NULL;
            d.nresets_at = 0;
            for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
                uint32_t v;
                if (d.nresets_at == 8 || fota_parse_u32(tok, &v) != 0 || v == 0 ||
                    (d.nresets_at > 0 && v <= d.resets_at[d.nresets_at - 1])) {
                    fprintf(stderr, "fota-sim: --reset-at: '%s' is not up to 8 ascending transaction counts\n", tok);
                    return 2;
                }
                d.resets_at[d.nresets_at++] = v;
            }
            break;
        }
        case 'q':
            d.quiet = 1;
            break;
        case 'V':
            printf("fota-sim %s\n", fota_version);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (flash_path == NULL || sock == NULL || key == NULL || optind != argc) {
        fprintf(stderr, "fota-sim: --flash, --socket and --pubkey are required\n%s", usage);
        return 2;
    }
    if (fota_load_pubkey(key, d.pub) != 0) {
        return 3;
    }
    flashfile_t ff;
    if (flashfile_open(&ff, flash_path, init, "fota-sim") != 0) {
        return 3;
    }
    uint8_t *mem = ff.mem;
    flash_sim_init(&d.sim, mem);
    d.flash = flash_sim_port(&d.sim);
    memset(d.otp, 0xFF, sizeof(d.otp));
    d.sim.otp = d.otp;
    d.otp_port = flash_sim_otp_port(&d.sim);
    d.boot = (boot_port_t){d.flash, p_log, p_led, p_watchdog, p_reset_cause, p_jump, p_halt, &d, &d.otp_port};
    d.agent.cfg.running = LAYOUT_BANK_NONE;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = simsock_listen(sock);
    listen_fd = lfd;
    if (lfd < 0) {
        fprintf(stderr, "fota-sim: cannot listen on '%s': %s\n", sock, strerror(errno));
        return 4;
    }
    say(&d, "sim: ", "power on; SPI slave on %s, %u Hz", sock, (unsigned)d.spi_hz);
    reboot(&d);
    while (!stop) {
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        handle(&d, cfd);
        close(cfd);
    }
    close(lfd);
    unlink(sock);
    flashfile_close(&ff);
    say(&d, "sim: ", "stopped");
    return 0;
}
