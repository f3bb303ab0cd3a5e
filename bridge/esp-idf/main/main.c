/* The ESP-IDF application: NVS, WiFi from menuconfig (seed step 1), then the bridge task
 * (components/fota_bridge, bridge/esp32). */
#include <string.h>

#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_wifi.h"
#include "fota_esp32.h"
#include "nvs_flash.h"

static const char *TAG = "fota-main";

static void on_wifi(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    (void)data;
    if (base == WIFI_EVENT && (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED)) {
        esp_wifi_connect(); /* and again after every loss: the bridge task retries meanwhile */
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        ESP_LOGI(TAG, "WiFi up");
    }
}

static void wifi_up(void)
{
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    esp_netif_create_default_wifi_sta();
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_wifi_init(&init));
    ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_wifi, NULL));
    ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_wifi, NULL));
    wifi_config_t wc;
    memset(&wc, 0, sizeof(wc));
    strncpy((char *)wc.sta.ssid, CONFIG_FOTA_WIFI_SSID, sizeof(wc.sta.ssid) - 1);
    strncpy((char *)wc.sta.password, CONFIG_FOTA_WIFI_PASS, sizeof(wc.sta.password) - 1);
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &wc));
    ESP_ERROR_CHECK(esp_wifi_start());
}

void app_main(void); /* called by ESP-IDF's startup task */

void app_main(void)
{
    esp_err_t e = nvs_flash_init();
    if (e == ESP_ERR_NVS_NO_FREE_PAGES || e == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_ERROR_CHECK(nvs_flash_erase());
        e = nvs_flash_init();
    }
    ESP_ERROR_CHECK(e);
    wifi_up();
    static const fota_esp32_config_t cfg = {.server_url = CONFIG_FOTA_SERVER_URL,
                                            .ca_pem = CONFIG_FOTA_CA_PEM,
                                            .device_id = CONFIG_FOTA_DEVICE_ID,
                                            .device_token = CONFIG_FOTA_DEVICE_TOKEN,
                                            .bridge_ota_url = CONFIG_FOTA_BRIDGE_OTA_URL,
                                            .poll_interval_s = CONFIG_FOTA_CHECK_INTERVAL_S,
                                            .spi_hz = CONFIG_FOTA_SPI_HZ,
                                            .task_stack = CONFIG_FOTA_TASK_STACK};
    ESP_ERROR_CHECK(fota_esp32_start(&cfg));
}
