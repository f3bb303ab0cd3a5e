/* The ESP32 port of the bridge core (fota_esp32.h). Everything that decides anything is in
 * bridge/bridge.c and link/, tested on the host; this file binds them to ESP-IDF. What it adds to
 * the seed's sketch, and why, is in docs/esp32.md. */
#include "fota_esp32.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "driver/gpio.h"
#include "driver/spi_master.h"
#include "esp_app_desc.h"
#include "esp_crt_bundle.h"
#include "esp_http_client.h"
#include "esp_https_ota.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_random.h"
#include "esp_rom_sys.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "fota/bridge.h"
#include "nvs.h"

#define CA_PEM_MAX 4096          /* a CA certificate or two */
#define URL_MAX 256
#define HTTP_TIMEOUT_MS (BRIDGE_LOW_SPEED_S * 1000) /* a read that waits longer is a stalled server */
#define SELF_UPDATE_EVERY 24     /* passes between checks of the bridge's own firmware */
#define TRIAL_DEADLINE_S 600     /* a new bridge firmware that cannot reach the server by then goes back */

static const char *TAG = "fota-bridge";

typedef struct {
    fota_esp32_config_t cfg;
    spi_device_handle_t spi;
    nvs_handle_t nvs;
    esp_http_client_handle_t http; /* one connection, kept alive across Range windows and reports */
    esp_http_client_handle_t copy; /* a redirect's target (S3, a CDN): its own kept connection */
    char ca[CA_PEM_MAX];           /* from NVS when the configuration has none */
    const char *ca_pem;            /* NULL: the certificate bundle */
    char location[BRIDGE_URL_MAX]; /* the last response's Location header, "" when none */
    char bearer[140];              /* "Bearer TOKEN": the device's identity at the server */
} esp_bridge_t;

static esp_bridge_t bridge;

static void url_for(const esp_bridge_t *b, const char *path, char *url, size_t cap)
{
    snprintf(url, cap, "%s%s", b->cfg.server_url, path);
}

static esp_err_t on_http_event(esp_http_client_event_t *e)
{
    esp_bridge_t *b = e->user_data;
    if (e->event_id == HTTP_EVENT_ON_HEADER && strcasecmp(e->header_key, "Location") == 0) {
        size_t n = strlen(e->header_value);
        if (n < sizeof(b->location)) {
            memcpy(b->location, e->header_value, n + 1);
        }
    }
    return ESP_OK;
}

/* copy: the handle for redirect targets, checked against the certificate bundle (public CAs), not
 * the CA configured for our server, with room for a presigned URL in its request line. */
static void http_config(esp_bridge_t *b, esp_http_client_config_t *c, const char *url, int copy)
{
    memset(c, 0, sizeof(*c));
    c->url = url;
    c->timeout_ms = HTTP_TIMEOUT_MS;
    c->keep_alive_enable = true; /* TCP keep-alive on the one connection */
    c->disable_auto_redirect = true; /* the core decides (bridge.c) */
    c->event_handler = on_http_event;
    c->user_data = b;
    if (copy) {
        c->buffer_size_tx = BRIDGE_URL_MAX + 512;
    }
    if (b->ca_pem != NULL && !copy) {
        c->cert_pem = b->ca_pem;
    } else {
        c->crt_bundle_attach = esp_crt_bundle_attach;
    }
}

static esp_http_client_handle_t http_handle(esp_bridge_t *b, const char *url)
{
    int copy = bridge_url_is_absolute(url) && strncmp(url, b->cfg.server_url, strlen(b->cfg.server_url)) != 0;
    esp_http_client_handle_t *h = copy ? &b->copy : &b->http;
    if (*h == NULL) {
        esp_http_client_config_t c;
        http_config(b, &c, url, copy);
        *h = esp_http_client_init(&c);
        /* Who asks, on the server's handle only: a redirect's target never sees the token. */
        if (*h != NULL && !copy) {
            esp_http_client_set_header(*h, "X-Device-Id", b->cfg.device_id);
            esp_http_client_set_header(*h, "Authorization", b->bearer);
        }
    } else if (esp_http_client_set_url(*h, url) != ESP_OK) {
        return NULL;
    }
    return *h;
}

/* Drops the connection (after an error, or a body not read to its end): the next request opens a
 * new one. */
static void http_drop(esp_http_client_handle_t h)
{
    if (h != NULL) {
        esp_http_client_close(h);
    }
}

/* One request on the kept connection: a connection the server closed since the last request fails
 * at open or at the headers, and is opened once more. */
static esp_http_client_handle_t http_exchange(esp_bridge_t *b, const char *url, esp_http_client_method_t method,
                                              const char *range, const char *if_range, const char *body, long *status)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        esp_http_client_handle_t c = http_handle(b, url);
        if (c == NULL) {
            return NULL;
        }
        b->location[0] = '\0';
        esp_http_client_set_method(c, method);
        if (range != NULL) {
            esp_http_client_set_header(c, "Range", range);
        } else {
            esp_http_client_delete_header(c, "Range");
        }
        if (range != NULL && if_range != NULL) {
            esp_http_client_set_header(c, "If-Range", if_range);
        } else {
            esp_http_client_delete_header(c, "If-Range");
        }
        int len = body != NULL ? (int)strlen(body) : 0;
        if (body != NULL) {
            esp_http_client_set_header(c, "Content-Type", "application/json");
        } else {
            esp_http_client_delete_header(c, "Content-Type");
        }
        if (esp_http_client_open(c, len) == ESP_OK &&
            (body == NULL || esp_http_client_write(c, body, len) == len) && esp_http_client_fetch_headers(c) >= 0) {
            *status = esp_http_client_get_status_code(c);
            return c;
        }
        http_drop(c);
    }
    return NULL;
}

static int e_http_get(void *ctx, const char *path, uint64_t from, const char *if_range, uint8_t *buf, size_t cap,
                      size_t *got, long *status, char *location, size_t location_cap)
{
    esp_bridge_t *b = ctx;
    static char url[BRIDGE_URL_MAX]; /* the bridge task's only: not on its stack */
    char range[64];
    const char *r = NULL;
    if (bridge_url_is_absolute(path)) {
        snprintf(url, sizeof(url), "%s", path);
    } else {
        url_for(b, path, url, sizeof(url));
    }
    if (bridge_get_is_ranged(path, from)) {
        snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)from,
                 (unsigned long long)(from + cap - 1));
        r = range;
    }
    *got = 0;
    esp_http_client_handle_t h = http_exchange(b, url, HTTP_METHOD_GET, r, if_range, NULL, status);
    if (h == NULL) {
        return -1;
    }
    if (location != NULL && location_cap > 0) {
        location[0] = '\0';
        if (*status / 100 == 3 && bridge_url_is_absolute(b->location) && strlen(b->location) < location_cap) {
            snprintf(location, location_cap, "%s", b->location);
        } else if (*status / 100 == 3 && b->location[0] == '/') {
            /* Relative to the request's origin: scheme://host[:port] of url. */
            const char *host = strstr(url, "://") + 3;
            int origin = (int)(host - url) + (int)strcspn(host, "/?#");
            if ((size_t)origin + strlen(b->location) < location_cap) {
                snprintf(location, location_cap, "%.*s%s", origin, url, b->location);
            }
        }
    }
    int n = 0;
    while (*got < cap && (n = esp_http_client_read(h, (char *)buf + *got, (int)(cap - *got))) > 0) {
        *got += (size_t)n;
    }
    if (n < 0) {
        http_drop(h);
        return -1;
    }
    if (!esp_http_client_is_complete_data_received(h)) {
        http_drop(h); /* more body than asked for (a server that ignored Range): not reusable */
    }
    return 0;
}

static int e_http_post_json(void *ctx, const char *path, const char *json)
{
    esp_bridge_t *b = ctx;
    char url[URL_MAX];
    long status = 0;
    url_for(b, path, url, sizeof(url));
    esp_http_client_handle_t h = http_exchange(b, url, HTTP_METHOD_POST, NULL, NULL, json, &status);
    if (h == NULL) {
        return -1;
    }
    int left = 0;
    if (esp_http_client_flush_response(h, &left) != ESP_OK) {
        http_drop(h);
    }
    return status / 100 == 2 ? 0 : -1;
}

static int e_transact(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len)
{
    esp_bridge_t *b = ctx;
    spi_transaction_t t = {.length = len * 8, .tx_buffer = tx, .rx_buffer = rx};
    return spi_device_transmit(b->spi, &t) == ESP_OK ? 0 : -1;
}

static void e_wait_us(void *ctx, uint32_t us)
{
    (void)ctx;
    if (us >= 1000) {
        TickType_t t = pdMS_TO_TICKS(us / 1000);
        vTaskDelay(t > 0 ? t : 1);
    } else {
        esp_rom_delay_us(us);
    }
}

static int e_reset(void *ctx)
{
    esp_bridge_t *b = ctx;
    gpio_set_level((gpio_num_t)b->cfg.pin_nrst, 0);
    vTaskDelay(pdMS_TO_TICKS(20));
    gpio_set_level((gpio_num_t)b->cfg.pin_nrst, 1);
    vTaskDelay(pdMS_TO_TICKS(50));
    return 0;
}

static int e_kv_get(void *ctx, const char *key, char *val, size_t cap)
{
    esp_bridge_t *b = ctx;
    size_t n = cap;
    return nvs_get_str(b->nvs, key, val, &n) == ESP_OK ? 0 : -1;
}

/* NVS writes an entry atomically: a power cut leaves the old value or the new one. */
static int e_kv_set(void *ctx, const char *key, const char *val)
{
    esp_bridge_t *b = ctx;
    return nvs_set_str(b->nvs, key, val) == ESP_OK && nvs_commit(b->nvs) == ESP_OK ? 0 : -1;
}

static uint64_t e_now_ms(void *ctx)
{
    (void)ctx;
    return (uint64_t)esp_timer_get_time() / 1000u;
}

static void e_sleep_ms(void *ctx, uint32_t ms)
{
    (void)ctx;
    vTaskDelay(pdMS_TO_TICKS(ms));
}

static uint32_t e_random(void *ctx)
{
    (void)ctx;
    return esp_random();
}

static void e_log(void *ctx, const char *line)
{
    (void)ctx;
    ESP_LOGI(TAG, "%s", line);
}

static void e_progress(void *ctx, uint32_t done, uint32_t total)
{
    (void)ctx;
    if (bridge_progress_milestone(done, total)) {
        ESP_LOGI(TAG, "transfer: %u%% (%u of %u bytes)", (unsigned)((uint64_t)done * 100 / total), (unsigned)done,
                 (unsigned)total);
    }
}

/* The bridge's own firmware: esp_https_ota into the other OTA slot, only when the server's image
 * has another version than the running one. The ESP-IDF bootloader checks its signature
 * (CONFIG_SECURE_SIGNED_APPS_NO_SECURE_BOOT, or Secure Boot) and, with app rollback, boots it
 * once on trial: the task confirms it after its first pass that reached the server. */
static void self_update(esp_bridge_t *b)
{
    if (b->cfg.bridge_ota_url == NULL || b->cfg.bridge_ota_url[0] == '\0') {
        return;
    }
    esp_http_client_config_t hc;
    http_config(b, &hc, b->cfg.bridge_ota_url, 0);
    hc.disable_auto_redirect = false; /* esp_https_ota follows its own redirects */
    hc.event_handler = NULL;
    esp_https_ota_config_t oc = {.http_config = &hc};
    esp_https_ota_handle_t h = NULL;
    if (esp_https_ota_begin(&oc, &h) != ESP_OK) {
        ESP_LOGW(TAG, "self-update: cannot reach %s", b->cfg.bridge_ota_url);
        return;
    }
    esp_app_desc_t next;
    const esp_app_desc_t *running = esp_app_get_description();
    if (esp_https_ota_get_img_desc(h, &next) != ESP_OK || strncmp(next.version, running->version, sizeof(next.version)) == 0) {
        esp_https_ota_abort(h);
        return;
    }
    ESP_LOGI(TAG, "self-update: %s -> %s", running->version, next.version);
    esp_err_t e;
    while ((e = esp_https_ota_perform(h)) == ESP_ERR_HTTPS_OTA_IN_PROGRESS) {
    }
    if (e != ESP_OK || !esp_https_ota_is_complete_data_received(h)) {
        ESP_LOGW(TAG, "self-update: download failed (%s)", esp_err_to_name(e));
        esp_https_ota_abort(h);
        return;
    }
    e = esp_https_ota_finish(h); /* checks the image (and its signature) before switching */
    if (e != ESP_OK) {
        ESP_LOGW(TAG, "self-update: image refused (%s)", esp_err_to_name(e));
        return;
    }
    ESP_LOGI(TAG, "self-update: %s written, restarting into it on trial", next.version);
    esp_restart();
}

static int on_trial(void)
{
    esp_ota_img_states_t st;
    const esp_partition_t *running = esp_ota_get_running_partition();
    return running != NULL && esp_ota_get_state_partition(running, &st) == ESP_OK && st == ESP_OTA_IMG_PENDING_VERIFY;
}

static void bridge_task(void *arg)
{
    esp_bridge_t *b = arg;
    bridge_port_t port = {.http_get = e_http_get,
                          .http_post_json = e_http_post_json,
                          .spi = {e_transact, e_wait_us, b},
                          .reset_pulse = e_reset,
                          .kv_get = e_kv_get,
                          .kv_set = e_kv_set,
                          .now_ms = e_now_ms,
                          .sleep_ms = e_sleep_ms,
                          .random = e_random,
                          .log = e_log,
                          .progress = e_progress,
                          .ctx = b};
    bridge_config_t bc = {
        .device_id = b->cfg.device_id, .max_attempts = 8, .backoff_ms = 1000, .backoff_max_ms = 60000};
    int trial = on_trial();
    for (uint32_t pass = 0;; pass++) {
        char why[256];
        bridge_result_t r = bridge_run_once(&port, &bc, why, sizeof(why));
        ESP_LOGI(TAG, "%s: %s (task stack never below %u bytes free)", bridge_result_name(r), why,
                 (unsigned)uxTaskGetStackHighWaterMark(NULL));
        if (trial && r != BRIDGE_ERR_SERVER) {
            esp_ota_mark_app_valid_cancel_rollback(); /* this firmware reached the server */
            trial = 0;
        } else if (trial && (uint64_t)esp_timer_get_time() > (uint64_t)TRIAL_DEADLINE_S * 1000000u) {
            ESP_LOGE(TAG, "new bridge firmware never reached the server: rolling back");
            esp_ota_mark_app_invalid_rollback_and_reboot();
        }
        if (!trial && pass % SELF_UPDATE_EVERY == 0) {
            self_update(b);
        }
        vTaskDelay(pdMS_TO_TICKS((trial ? 10u : b->cfg.poll_interval_s) * 1000u));
    }
}

esp_err_t fota_esp32_start(const fota_esp32_config_t *cfg)
{
    esp_bridge_t *b = &bridge;
    if (cfg == NULL || cfg->server_url == NULL || cfg->device_id == NULL || b->http != NULL || b->spi != NULL) {
        return ESP_ERR_INVALID_ARG;
    }
    b->cfg = *cfg;
    if (b->cfg.pin_sck == 0 && b->cfg.pin_mosi == 0 && b->cfg.pin_miso == 0 && b->cfg.pin_cs == 0 &&
        b->cfg.pin_nrst == 0) {
        b->cfg.pin_sck = FOTA_ESP32_PIN_SCK;
        b->cfg.pin_mosi = FOTA_ESP32_PIN_MOSI;
        b->cfg.pin_miso = FOTA_ESP32_PIN_MISO;
        b->cfg.pin_cs = FOTA_ESP32_PIN_CS;
        b->cfg.pin_nrst = FOTA_ESP32_PIN_NRST;
    }
    b->cfg.spi_hz = b->cfg.spi_hz != 0 ? b->cfg.spi_hz : FOTA_ESP32_SPI_HZ;
    b->cfg.task_stack = b->cfg.task_stack != 0 ? b->cfg.task_stack : FOTA_ESP32_TASK_STACK;
    b->cfg.poll_interval_s = b->cfg.poll_interval_s != 0 ? b->cfg.poll_interval_s : 3600;

    esp_err_t e = nvs_open("fota", NVS_READWRITE, &b->nvs);
    if (e != ESP_OK) {
        return e;
    }
    /* The device token: configured, provisioned in NVS, or made here and kept there. */
    char tok[130];
    size_t tn = sizeof(tok);
    if (cfg->device_token != NULL && cfg->device_token[0] != '\0') {
        snprintf(tok, sizeof(tok), "%s", cfg->device_token);
    } else if (nvs_get_str(b->nvs, "token", tok, &tn) != ESP_OK) {
        uint8_t raw[32];
        esp_fill_random(raw, sizeof(raw));
        for (size_t i = 0; i < sizeof(raw); i++) {
            snprintf(tok + 2 * i, 3, "%02x", raw[i]);
        }
        if ((e = nvs_set_str(b->nvs, "token", tok)) != ESP_OK || (e = nvs_commit(b->nvs)) != ESP_OK) {
            return e;
        }
        ESP_LOGI(TAG, "new device token stored in NVS (a server in pending mode waits for its approval)");
    }
    snprintf(b->bearer, sizeof(b->bearer), "Bearer %s", tok);
    size_t n = sizeof(b->ca);
    if (cfg->ca_pem != NULL && cfg->ca_pem[0] != '\0') {
        b->ca_pem = cfg->ca_pem;
    } else if (nvs_get_str(b->nvs, "ca_pem", b->ca, &n) == ESP_OK) {
        b->ca_pem = b->ca;
    }

    /* NRST: open drain, released (the STM32 has its own pull-up). */
    gpio_config_t nrst = {.pin_bit_mask = 1ULL << b->cfg.pin_nrst, .mode = GPIO_MODE_OUTPUT_OD};
    if ((e = gpio_config(&nrst)) != ESP_OK) {
        return e;
    }
    gpio_set_level((gpio_num_t)b->cfg.pin_nrst, 1);

    spi_bus_config_t bus = {.sclk_io_num = b->cfg.pin_sck,
                            .mosi_io_num = b->cfg.pin_mosi,
                            .miso_io_num = b->cfg.pin_miso,
                            .quadwp_io_num = -1,
                            .quadhd_io_num = -1,
                            .max_transfer_sz = LINK_FRAME_MAX};
    if ((e = spi_bus_initialize(SPI3_HOST, &bus, SPI_DMA_CH_AUTO)) != ESP_OK) {
        return e;
    }
    /* The STM32F407 as slave at 84 MHz PCLK2 (DS8626, SPI timing): MISO valid at most 25 ns after
     * the SCK edge (tv(SO)), NSS set-up 4 and hold 2 PCLK2 periods (48 and 24 ns). input_delay_ns
     * lets the driver sample MISO late enough; the hold is 2 SCK cycles (250 ns at 8 MHz). Set-up:
     * ESP-IDF applies cs_ena_pretrans only to half-duplex transactions; in full duplex the ESP32
     * asserts CS at least half an SCK period (62.5 ns at 8 MHz) before the first edge, which covers
     * 48 ns (docs/esp32.md). */
    spi_device_interface_config_t dev = {.clock_speed_hz = (int)b->cfg.spi_hz,
                                         .mode = 0,
                                         .spics_io_num = b->cfg.pin_cs,
                                         .queue_size = 1,
                                         .input_delay_ns = 25,
                                         .cs_ena_posttrans = 2};
    if ((e = spi_bus_add_device(SPI3_HOST, &dev, &b->spi)) != ESP_OK) {
        return e;
    }
    if (xTaskCreate(bridge_task, "fota_bridge", b->cfg.task_stack, b, 5, NULL) != pdPASS) {
        return ESP_ERR_NO_MEM;
    }
    return ESP_OK;
}
