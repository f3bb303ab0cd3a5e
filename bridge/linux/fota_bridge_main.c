/* fota-bridge: the Linux port of the bridge core. HTTP(S) through libcurl (certificates verified),
 * SPI through spidev (/dev/spidevB.C, mode 0: a Raspberry Pi wired as in the seed's table is a
 * bridge) or the simulator's socket, NRST through libgpiod or the simulator, the installed version
 * kept in STATE_DIR/version (written atomically).
 * Exit status: 0 updated or up to date, 1 the device refused the image, 2 usage, 3 setup failed,
 * 4 gave up after retries. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gpiod.h>
#include <linux/spi/spidev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fota/version.h"
#include "fota/hostlib.h"
#include "fota/bridge.h"
#include "fota/simsock.h"

typedef struct {
    const char *sim_path;
    const char *server;
    const char *state_dir;
    const char *cacert;
    CURL *curl;
    int sim_fd;          /* simulator socket, or -1 */
    int spi_fd;          /* spidev, or -1 */
    uint32_t spi_hz;
    struct gpiod_chip *chip;
    struct gpiod_line *nrst;
    int tty;
    char errbuf[CURL_ERROR_SIZE]; /* libcurl's message for the last failure */
    char id_header[120];          /* "X-Device-Id: ID" */
    char auth_header[200];        /* "Authorization: Bearer TOKEN", "" without --device-token-file */
} linux_ctx_t;

/* The device's identity, on every request to our server (never to a redirect's target: the token
 * is for fota-server only). */
static struct curl_slist *identity(const linux_ctx_t *c, const char *path, struct curl_slist *h)
{
    if (bridge_url_is_absolute(path)) {
        return h;
    }
    h = curl_slist_append(h, c->id_header);
    if (h != NULL && c->auth_header[0] != '\0') {
        h = curl_slist_append(h, c->auth_header);
    }
    return h;
}

typedef struct {
    uint8_t *buf;
    size_t cap, got;
} sink_t;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    size_t len = size * n;
    if (len > s->cap - s->got) {
        return 0; /* more than asked for: abort the transfer */
    }
    memcpy(s->buf + s->got, data, len);
    s->got += len;
    return len;
}

static void curl_common(linux_ctx_t *c, const char *path)
{
    char url[BRIDGE_URL_MAX + 512];
    snprintf(url, sizeof(url), "%s%s", bridge_url_is_absolute(path) ? "" : c->server, path);
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 30000L);
    /* A stalled server is told by throughput, not by the whole-request timeout: under
     * BRIDGE_LOW_SPEED_BPS for BRIDGE_LOW_SPEED_S and the request fails, saying so. */
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, (long)BRIDGE_LOW_SPEED_BPS);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, (long)BRIDGE_LOW_SPEED_S);
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    /* Certificates are verified (libcurl's default, stated here so nobody turns it off quietly). */
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->cacert != NULL && !bridge_url_is_absolute(path)) { /* --cacert is the server's; S3 is checked by the system's */
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->cacert);
    }
}

static int l_http_get(void *ctx, const char *path, uint64_t from, const char *if_range, uint8_t *buf, size_t cap,
                      size_t *got, long *status, char *location, size_t location_cap)
{
    linux_ctx_t *c = ctx;
    sink_t s = {buf, cap, 0};
    curl_common(c, path);
    char range[64], ifr[100];
    struct curl_slist *h = identity(c, path, NULL);
    if (bridge_get_is_ranged(path, from)) {
        snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)from, (unsigned long long)(from + cap - 1));
        curl_easy_setopt(c->curl, CURLOPT_RANGE, range);
        if (if_range != NULL) {
            snprintf(ifr, sizeof(ifr), "If-Range: %s", if_range);
            h = curl_slist_append(h, ifr);
        }
    }
    if (h == NULL && !bridge_url_is_absolute(path)) {
        return -1;
    }
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    *got = s.got;
    *status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
    if (location != NULL && location_cap > 0) {
        /* libcurl resolves a relative Location against the request's URL; never followed here. */
        char *to = NULL;
        location[0] = '\0';
        if (rc == CURLE_OK && *status / 100 == 3 && curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &to) == CURLE_OK &&
            to != NULL && strlen(to) < location_cap) {
            memcpy(location, to, strlen(to) + 1);
        }
    }
    /* A presigned URL's query is a credential (for minutes): messages show the URL without it. */
    int shown = bridge_url_is_absolute(path) ? (int)strcspn(path, "?") : (int)strlen(path);
    const char *base = bridge_url_is_absolute(path) ? "" : c->server;
    if (rc == CURLE_OPERATION_TIMEDOUT && strstr(c->errbuf, "too slow") != NULL) {
        fprintf(stderr, "fota-bridge: GET %s%.*s: server stalled: under %u bytes/s for %u s (%s)\n", base, shown, path,
                (unsigned)BRIDGE_LOW_SPEED_BPS, (unsigned)BRIDGE_LOW_SPEED_S, c->errbuf);
    } else if (rc != CURLE_OK) {
        fprintf(stderr, "fota-bridge: GET %s%.*s: %s\n", base, shown, path,
                c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    }
    return rc == CURLE_OK ? 0 : -1;
}

static int l_http_post_json(void *ctx, const char *path, const char *json)
{
    linux_ctx_t *c = ctx;
    uint8_t sinkbuf[512];
    sink_t s = {sinkbuf, sizeof(sinkbuf), 0};
    curl_common(c, path);
    struct curl_slist *h = identity(c, path, curl_slist_append(NULL, "Content-Type: application/json"));
    if (h == NULL) {
        return -1;
    }
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    CURLcode rc = curl_easy_perform(c->curl);
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return rc == CURLE_OK && status / 100 == 2 ? 0 : -1;
}

/* The simulator's socket; after the simulated device died (a power cut) connect again. */
static int sim_link(linux_ctx_t *c)
{
    if (c->sim_fd < 0) {
        c->sim_fd = simsock_connect(c->sim_path);
    }
    return c->sim_fd;
}

static int sim_transact(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len)
{
    linux_ctx_t *c = ctx;
    if (sim_link(c) < 0 || simsock_transact(&c->sim_fd, tx, rx, len) != 0) {
        if (c->sim_fd >= 0) {
            close(c->sim_fd);
            c->sim_fd = -1;
        }
        return -1;
    }
    return 0;
}

static void sim_wait_us(void *ctx, uint32_t us)
{
    linux_ctx_t *c = ctx;
    if (sim_link(c) >= 0) {
        simsock_wait_us(&c->sim_fd, us);
    }
}

static int spidev_transact(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len)
{
    linux_ctx_t *c = ctx;
    struct spi_ioc_transfer t;
    memset(&t, 0, sizeof(t));
    t.tx_buf = (uintptr_t)tx;
    t.rx_buf = (uintptr_t)rx;
    t.len = len;
    t.speed_hz = c->spi_hz;
    t.bits_per_word = 8;
    return ioctl(c->spi_fd, SPI_IOC_MESSAGE(1), &t) == (int)len ? 0 : -1;
}

static void real_wait_us(void *ctx, uint32_t us)
{
    (void)ctx;
    usleep(us);
}

static int l_reset(void *ctx)
{
    linux_ctx_t *c = ctx;
    if (c->sim_path != NULL) {
        uint8_t kind, b[8];
        uint32_t n;
        if (sim_link(c) >= 0 && simsock_send(c->sim_fd, 'R', NULL, 0) == 0 &&
            simsock_recv(c->sim_fd, &kind, b, sizeof(b), &n) == 0) {
            return 0;
        }
        if (c->sim_fd >= 0) {
            close(c->sim_fd);
            c->sim_fd = -1;
        }
        return -1;
    }
    if (gpiod_line_set_value(c->nrst, 0) != 0) {
        return -1;
    }
    usleep(20000);
    int rc = gpiod_line_set_value(c->nrst, 1);
    usleep(50000); /* the bootloader verifies the image before the agent answers */
    return rc;
}

static int l_kv_get(void *ctx, const char *key, char *val, size_t cap)
{
    linux_ctx_t *c = ctx;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", c->state_dir, key);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(val, 1, cap - 1, f);
    fclose(f);
    val[n] = '\0';
    val[strcspn(val, "\r\n")] = '\0';
    return 0;
}

static int l_kv_set(void *ctx, const char *key, const char *val)
{
    linux_ctx_t *c = ctx;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", c->state_dir, key);
    return fota_write_file(path, (const uint8_t *)val, strlen(val), 0644);
}

static uint64_t l_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void l_sleep_ms(void *ctx, uint32_t ms)
{
    (void)ctx;
    usleep(ms * 1000u);
}

static uint32_t l_random(void *ctx)
{
    (void)ctx;
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
        r = (uint32_t)time(NULL);
    }
    return r;
}

static void l_log(void *ctx, const char *line)
{
    linux_ctx_t *c = ctx;
    if (c->tty) {
        fputs("\r\033[K", stderr);
    }
    printf("%s\n", line);
    fflush(stdout);
}

static void l_progress(void *ctx, uint32_t done, uint32_t total)
{
    linux_ctx_t *c = ctx;
    unsigned pct = (unsigned)((uint64_t)done * 100 / total);
    if (c->tty) {
        fprintf(stderr, "\rtransfer: %3u%% (%u of %u bytes)", pct, done, total);
    } else if (bridge_progress_milestone(done, total)) {
        fprintf(stderr, "transfer: %3u%% (%u of %u bytes)\n", pct, done, total);
    }
}

/* The device token from file, or a new random one written there (0600) when the file does not
 * exist. 0, or -1 having said why. */
static int load_token(const char *file, char *tok, size_t cap)
{
    FILE *f = fopen(file, "r");
    if (f != NULL) {
        size_t n = fread(tok, 1, cap - 1, f);
        fclose(f);
        tok[n] = '\0';
        tok[strcspn(tok, "\r\n")] = '\0';
        if (strlen(tok) < 16 || strlen(tok) > 128 || strspn(tok, "0123456789abcdefABCDEF") != strlen(tok)) {
            fprintf(stderr, "fota-bridge: --device-token-file '%s' must hold a hex token of 16 to 128 digits\n", file);
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT) {
        fprintf(stderr, "fota-bridge: --device-token-file '%s': %s\n", file, strerror(errno));
        return -1;
    }
    uint8_t raw[32];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        fprintf(stderr, "fota-bridge: no randomness for a device token\n");
        return -1;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(tok + 2 * i, 3, "%02x", raw[i]);
    }
    char line[80];
    int n = snprintf(line, sizeof(line), "%s\n", tok);
    if (fota_write_file(file, (const uint8_t *)line, (size_t)n, 0600) != 0) {
        return -1;
    }
    fprintf(stderr, "fota-bridge: new device token in %s (a server in pending mode waits for its approval)\n", file);
    return 0;
}

static const char usage[] =
    "Usage: fota-bridge --server URL --state-dir DIR --device-id ID\n"
    "                   (--sim-socket PATH | --spidev /dev/spidevB.C --gpio-chip NAME --gpio-line N)\n"
    "                   [--spi-hz N] [--cacert FILE] [--attempts N] [--backoff-ms N] [--interval S]\n"
    "  --server URL       http://host:port or https://host:port of fota-server\n"
    "  --state-dir DIR    where the installed version is kept (DIR/version)\n"
    "  --device-id ID     the device's name at the server (X-Device-Id on every request)\n"
    "  --device-token-file FILE   its token (Authorization: Bearer), from `fota-admin device add`;\n"
    "                     a file that does not exist is created with a new random token, which a\n"
    "                     server in --devices pending mode lists for an operator to approve\n"
    "  --sim-socket PATH  talk to fota-sim (SPI and NRST) instead of hardware\n"
    "  --spidev DEV       SPI master device, mode 0 (default clock 8000000 Hz, --spi-hz)\n"
    "  --gpio-chip NAME --gpio-line N   the GPIO wired to NRST (libgpiod)\n"
    "  --cacert FILE      CA bundle for an HTTPS server (certificates are always verified)\n"
    "  --attempts N       tries per update before giving up (default 8)\n"
    "  --backoff-ms N     first retry delay, doubled each time plus jitter (default 500)\n"
    "  --interval S       keep checking every S seconds instead of once\n";

int main(int argc, char **argv)
{
    fota_set_program("fota-bridge"); /* the shared helpers' messages name this program */
    static const struct option opts[] = {
        {"server", required_argument, 0, 's'},     {"state-dir", required_argument, 0, 'd'},
        {"device-id", required_argument, 0, 'i'},  {"sim-socket", required_argument, 0, 'S'},
        {"spidev", required_argument, 0, 'P'},     {"spi-hz", required_argument, 0, 'z'},
        {"gpio-chip", required_argument, 0, 'c'},  {"gpio-line", required_argument, 0, 'l'},
        {"cacert", required_argument, 0, 'C'},     {"attempts", required_argument, 0, 'a'},
        {"backoff-ms", required_argument, 0, 'b'}, {"interval", required_argument, 0, 'I'},
        {"device-token-file", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},             {0, 0, 0, 0}};
    static linux_ctx_t c;
    c.sim_fd = c.spi_fd = -1;
    c.spi_hz = 8000000;
    const char *sim = NULL, *spidev = NULL, *chip = NULL, *id = NULL, *token_file = NULL;
    uint32_t line = UINT32_MAX, attempts = 8, backoff = 500, interval = 0;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        uint32_t *num = o == 'z' ? &c.spi_hz : o == 'l' ? &line : o == 'a' ? &attempts : o == 'b' ? &backoff
                                                              : o == 'I'   ? &interval
                                                                           : NULL;
        if (num != NULL) {
            if (fota_parse_u32(optarg, num) != 0) {
                fprintf(stderr, "fota-bridge: '%s' is not a number from 0 to 4294967295\n", optarg);
                return 2;
            }
            continue;
        }
        switch (o) {
        case 's':
            c.server = optarg;
            break;
        case 'd':
            c.state_dir = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'S':
            sim = optarg;
            break;
        case 'P':
            spidev = optarg;
            break;
        case 'c':
            chip = optarg;
            break;
        case 'C':
            c.cacert = optarg;
            break;
        case 'T':
            token_file = optarg;
            break;
        case 'V':
            printf("fota-bridge %s\n", fota_version);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (c.server == NULL || c.state_dir == NULL || id == NULL || optind != argc || (sim == NULL) == (spidev == NULL) ||
        (spidev != NULL && (chip == NULL || line == UINT32_MAX)) || attempts == 0) {
        fprintf(stderr, "fota-bridge: --server, --state-dir, --device-id and one of --sim-socket or "
                        "--spidev with --gpio-chip/--gpio-line are required\n%s",
                usage);
        return 2;
    }
    if (strncmp(c.server, "http://", 7) != 0 && strncmp(c.server, "https://", 8) != 0) {
        fprintf(stderr, "fota-bridge: --server '%s' is not an http:// or https:// URL\n", c.server);
        return 2;
    }
    struct stat st;
    if (stat(c.state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fota-bridge: --state-dir '%s' is not a folder\n", c.state_dir);
        return 3;
    }
    if (strlen(id) > 64 || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(id)) {
        fprintf(stderr, "fota-bridge: --device-id '%s' must be 1-64 of A-Z a-z 0-9 . _ -\n", id);
        return 2;
    }
    snprintf(c.id_header, sizeof(c.id_header), "X-Device-Id: %s", id);
    if (token_file != NULL) {
        char tok[130];
        if (load_token(token_file, tok, sizeof(tok)) != 0) {
            return 3;
        }
        snprintf(c.auth_header, sizeof(c.auth_header), "Authorization: Bearer %s", tok);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (c.curl = curl_easy_init()) == NULL) {
        fprintf(stderr, "fota-bridge: cannot start libcurl\n");
        return 3;
    }
    bridge_port_t port = {.http_get = l_http_get,
                          .http_post_json = l_http_post_json,
                          .reset_pulse = l_reset,
                          .kv_get = l_kv_get,
                          .kv_set = l_kv_set,
                          .now_ms = l_now_ms,
                          .sleep_ms = l_sleep_ms,
                          .random = l_random,
                          .log = l_log,
                          .progress = l_progress,
                          .ctx = &c};
    int rc = 3;
    if (sim != NULL) {
        c.sim_path = sim;
        if (sim_link(&c) < 0) {
            fprintf(stderr, "fota-bridge: cannot connect to the simulator at '%s': %s\n", sim, strerror(errno));
            goto out;
        }
        port.spi = (link_port_t){sim_transact, sim_wait_us, &c};
    } else {
        uint8_t mode = SPI_MODE_0, bits = 8;
        c.spi_fd = open(spidev, O_RDWR | O_CLOEXEC);
        if (c.spi_fd < 0 || ioctl(c.spi_fd, SPI_IOC_WR_MODE, &mode) != 0 ||
            ioctl(c.spi_fd, SPI_IOC_WR_BITS_PER_WORD, &bits) != 0 || ioctl(c.spi_fd, SPI_IOC_WR_MAX_SPEED_HZ, &c.spi_hz) != 0) {
            fprintf(stderr, "fota-bridge: cannot set up '%s' (mode 0, 8 bits, %u Hz): %s\n", spidev,
                    (unsigned)c.spi_hz, strerror(errno));
            goto out;
        }
        c.chip = gpiod_chip_open_by_name(chip);
        c.nrst = c.chip ? gpiod_chip_get_line(c.chip, line) : NULL;
        if (c.nrst == NULL || gpiod_line_request_output(c.nrst, "fota-bridge", 1) != 0) {
            fprintf(stderr, "fota-bridge: cannot drive GPIO %s line %u for NRST: %s\n", chip, (unsigned)line,
                    strerror(errno));
            goto out;
        }
        port.spi = (link_port_t){spidev_transact, real_wait_us, &c};
    }
    c.tty = isatty(STDERR_FILENO);
    bridge_config_t cfg = {.device_id = id, .max_attempts = attempts, .backoff_ms = backoff, .backoff_max_ms = 30000};
    for (;;) {
        char why[256];
        bridge_result_t r = bridge_run_once(&port, &cfg, why, sizeof(why));
        printf("fota-bridge: %s: %s\n", bridge_result_name(r), why);
        fflush(stdout);
        rc = r == BRIDGE_UPDATED || r == BRIDGE_UP_TO_DATE ? 0 : r == BRIDGE_ERR_REFUSED ? 1 : 4;
        if (interval == 0) {
            break;
        }
        sleep(interval);
    }
out:
    if (c.sim_fd >= 0) {
        close(c.sim_fd);
    }
    if (c.spi_fd >= 0) {
        close(c.spi_fd);
    }
    if (c.chip != NULL) {
        gpiod_chip_close(c.chip);
    }
    curl_easy_cleanup(c.curl);
    curl_global_cleanup();
    return rc;
}
