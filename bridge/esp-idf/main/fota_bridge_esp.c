/* The ESP-IDF port of the bridge core, for the seed's ESP32 (pins as in the seed's table: GPIO18
 * SCK, GPIO23 MOSI, GPIO19 MISO, GPIO5 CS, GPIO21 to NRST). Everything that decides anything is in
 * bridge/bridge.c and link/, tested on the host; this file only binds them to ESP-IDF: WiFi (seed
 * step 1), esp_http_client (certificates verified against the bundle), the SPI master, a GPIO for
 * NRST, NVS for the installed version (the seed's Preferences), the timer, the log. */
#include <stdio.h>
#include <string.h>

#include "driver/gpio.h"
#include "driver/spi_master.h"
#include "esp_crt_bundle.h"
#include "esp_event.h"
#include "esp_http_client.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_rom_sys.h"
#include "esp_system.h"
#if __has_include("esp_random.h")
#include "esp_random.h" /* esp_random() moved here in ESP-IDF 5 */
#endif
#include "esp_timer.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/task.h"
#include "fota/bridge.h"
#include "nvs.h"
#include "nvs_flash.h"

#define PIN_SCK 18
#define PIN_MOSI 23
#define PIN_MISO 19
#define PIN_CS 5
#define PIN_NRST 21
#define SPI_HZ 8000000

static const char *TAG = "fota-bridge";
static spi_device_handle_t spi;
static nvs_handle_t nvs;
static EventGroupHandle_t wifi_events;

static int e_http_get(void *ctx, const char *path, uint64_t from, uint8_t *buf, size_t cap, size_t *got, long *status)
{
    (void)ctx;
    char url[256], range[64];
    snprintf(url, sizeof(url), "%s%s", CONFIG_FOTA_SERVER_URL, path);
    /* timeout_ms bounds each network read: a server that sends nothing for BRIDGE_LOW_SPEED_S
     * is a stalled one (the Linux bridge asks libcurl for a low-speed limit instead). */
    esp_http_client_config_t cfg = {
        .url = url, .timeout_ms = BRIDGE_LOW_SPEED_S * 1000, .crt_bundle_attach = esp_crt_bundle_attach};
    esp_http_client_handle_t c = esp_http_client_init(&cfg);
    if (c == NULL) {
        return -1;
    }
    if (from != 0 || strncmp(path, "/firmware/", 10) == 0) {
        snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)from,
                 (unsigned long long)(from + cap - 1));
        esp_http_client_set_header(c, "Range", range);
    }
    int rc = -1;
    *got = 0;
    if (esp_http_client_open(c, 0) == ESP_OK && esp_http_client_fetch_headers(c) >= 0) {
        *status = esp_http_client_get_status_code(c);
        int n;
        while (*got < cap && (n = esp_http_client_read(c, (char *)buf + *got, (int)(cap - *got))) > 0) {
            *got += (size_t)n;
        }
        rc = n < 0 ? -1 : 0;
    }
    esp_http_client_close(c);
    esp_http_client_cleanup(c);
    return rc;
}

static int e_http_post_json(void *ctx, const char *path, const char *json)
{
    (void)ctx;
    char url[256];
    snprintf(url, sizeof(url), "%s%s", CONFIG_FOTA_SERVER_URL, path);
    esp_http_client_config_t cfg = {.url = url,
                                    .method = HTTP_METHOD_POST,
                                    .timeout_ms = 10000,
                                    .crt_bundle_attach = esp_crt_bundle_attach};
    esp_http_client_handle_t c = esp_http_client_init(&cfg);
    if (c == NULL) {
        return -1;
    }
    esp_http_client_set_header(c, "Content-Type", "application/json");
    esp_http_client_set_post_field(c, json, (int)strlen(json));
    esp_err_t e = esp_http_client_perform(c);
    int status = esp_http_client_get_status_code(c);
    esp_http_client_cleanup(c);
    return e == ESP_OK && status / 100 == 2 ? 0 : -1;
}

static int e_transact(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len)
{
    (void)ctx;
    spi_transaction_t t = {.length = len * 8, .tx_buffer = tx, .rx_buffer = rx};
    return spi_device_transmit(spi, &t) == ESP_OK ? 0 : -1;
}

static void e_wait_us(void *ctx, uint32_t us)
{
    (void)ctx;
    if (us >= 1000) {
        vTaskDelay(pdMS_TO_TICKS(us / 1000) ? pdMS_TO_TICKS(us / 1000) : 1);
    } else {
        esp_rom_delay_us(us);
    }
}

static int e_reset(void *ctx)
{
    (void)ctx;
    gpio_set_level(PIN_NRST, 0);
    vTaskDelay(pdMS_TO_TICKS(20));
    gpio_set_level(PIN_NRST, 1);
    vTaskDelay(pdMS_TO_TICKS(50));
    return 0;
}

static int e_kv_get(void *ctx, const char *key, char *val, size_t cap)
{
    (void)ctx;
    size_t n = cap;
    return nvs_get_str(nvs, key, val, &n) == ESP_OK ? 0 : -1;
}

/* NVS writes an entry atomically: a power cut leaves the old value or the new one. */
static int e_kv_set(void *ctx, const char *key, const char *val)
{
    (void)ctx;
    return nvs_set_str(nvs, key, val) == ESP_OK && nvs_commit(nvs) == ESP_OK ? 0 : -1;
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
    if (done == total || done % 65536 < LINK_MAX_DATA) {
        ESP_LOGI(TAG, "transfer: %u%% (%u of %u bytes)", (unsigned)((uint64_t)done * 100 / total), (unsigned)done,
                 (unsigned)total);
    }
}

static void on_wifi(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg, (void)data;
    if (base == WIFI_EVENT && (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED)) {
        xEventGroupClearBits(wifi_events, BIT0);
        esp_wifi_connect();
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        xEventGroupSetBits(wifi_events, BIT0);
    }
}

/* Seed step 1: join the WiFi network. */
static void wifi_up(void)
{
    wifi_events = xEventGroupCreate();
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    esp_netif_create_default_wifi_sta();
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_wifi_init(&init));
    ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_wifi, NULL));
    ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_wifi, NULL));
    wifi_config_t wc = {0};
    strncpy((char *)wc.sta.ssid, CONFIG_FOTA_WIFI_SSID, sizeof(wc.sta.ssid) - 1);
    strncpy((char *)wc.sta.password, CONFIG_FOTA_WIFI_PASS, sizeof(wc.sta.password) - 1);
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &wc));
    ESP_ERROR_CHECK(esp_wifi_start());
    xEventGroupWaitBits(wifi_events, BIT0, pdFALSE, pdTRUE, portMAX_DELAY);
}

void app_main(void)
{
    esp_err_t e = nvs_flash_init();
    if (e == ESP_ERR_NVS_NO_FREE_PAGES || e == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_ERROR_CHECK(nvs_flash_erase());
        e = nvs_flash_init();
    }
    ESP_ERROR_CHECK(e);
    ESP_ERROR_CHECK(nvs_open("fota", NVS_READWRITE, &nvs));
    gpio_config_t nrst = {.pin_bit_mask = 1ULL << PIN_NRST, .mode = GPIO_MODE_OUTPUT_OD};
    ESP_ERROR_CHECK(gpio_config(&nrst));
    gpio_set_level(PIN_NRST, 1);
    spi_bus_config_t bus = {.sclk_io_num = PIN_SCK,
                            .mosi_io_num = PIN_MOSI,
                            .miso_io_num = PIN_MISO,
                            .quadwp_io_num = -1,
                            .quadhd_io_num = -1,
                            .max_transfer_sz = LINK_FRAME_MAX};
    ESP_ERROR_CHECK(spi_bus_initialize(SPI2_HOST, &bus, SPI_DMA_CH_AUTO));
    /* NSS set-up and hold: the STM32 slave needs at least 4 and 2 PCLK2 periods (DS8626 tsu(NSS),
     * th(NSS)): 48 and 24 ns at its 84 MHz PCLK2. Hold: 2 SPI cycles after the last edge (250 ns
     * at 8 MHz). Set-up: ESP-IDF accepts at most 1 cycle in full duplex, and the original ESP32
     * ignores it there (spi_master.c says so); its own lead of at least half an SCK period
     * (62.5 ns) covers 48 ns, which is one reason the STM32 runs at 168 MHz (docs/hardware.md). */
    spi_device_interface_config_t dev = {.clock_speed_hz = SPI_HZ,
                                         .mode = 0,
                                         .spics_io_num = PIN_CS,
                                         .queue_size = 1,
                                         .cs_ena_pretrans = 1,
                                         .cs_ena_posttrans = 2};
    ESP_ERROR_CHECK(spi_bus_add_device(SPI2_HOST, &dev, &spi));
    wifi_up();

    bridge_port_t port = {.http_get = e_http_get,
                          .http_post_json = e_http_post_json,
                          .spi = {e_transact, e_wait_us, NULL},
                          .reset_pulse = e_reset,
                          .kv_get = e_kv_get,
                          .kv_set = e_kv_set,
                          .now_ms = e_now_ms,
                          .sleep_ms = e_sleep_ms,
                          .random = e_random,
                          .log = e_log,
                          .progress = e_progress,
                          .ctx = NULL};
    bridge_config_t cfg = {.device_id = CONFIG_FOTA_DEVICE_ID, .max_attempts = 8, .backoff_ms = 1000,
                           .backoff_max_ms = 60000};
    for (;;) {
        char why[256];
        bridge_result_t r = bridge_run_once(&port, &cfg, why, sizeof(why));
        ESP_LOGI(TAG, "%s: %s", bridge_result_name(r), why);
        vTaskDelay(pdMS_TO_TICKS(CONFIG_FOTA_CHECK_INTERVAL_S * 1000));
    }
}
