/* The ESP32 port of the bridge core, shared by the ESP-IDF project (bridge/esp-idf) and the Arduino
 * library (bridge/arduino): binds bridge/bridge.c to esp_http_client (one keep-alive connection),
 * the SPI master on SPI3_HOST, a GPIO for NRST, NVS, esp_timer and the log, runs it on its own
 * FreeRTOS task, and updates the ESP32's own firmware with esp_https_ota (app rollback). WiFi is
 * the caller's (the IDF project's main.c, or the Arduino sketch). Builds on ESP-IDF v5.5 and v6. */
#ifndef FOTA_ESP32_H
#define FOTA_ESP32_H

#include <stdint.h>

#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The seed's wiring (docs/esp32.md): VSPI's own IO_MUX pins, so SPI3_HOST needs no GPIO matrix. */
#define FOTA_ESP32_PIN_SCK 18
#define FOTA_ESP32_PIN_MOSI 23
#define FOTA_ESP32_PIN_MISO 19
#define FOTA_ESP32_PIN_CS 5
#define FOTA_ESP32_PIN_NRST 21
#define FOTA_ESP32_SPI_HZ 8000000
#define FOTA_ESP32_TASK_STACK 8192 /* bytes; the high-water mark is logged after every pass */

typedef struct {
    const char *server_url;      /* the seed's SERVER_URL: http://host:port or https://host */
    const char *ca_pem;          /* PEM of the server's CA; NULL or "": NVS key "ca_pem", then the bundle */
    const char *device_id;       /* X-Device-Id on every request to the server, and in reports */
    const char *device_token;    /* from `fota-admin device add`; NULL or "": NVS key "token", else a
                                    new random one stored there (a server in pending mode lists it
                                    for approval). Sent as Authorization: Bearer to the server only */
    const char *bridge_ota_url;  /* the bridge's own signed firmware; NULL or "": no self-update */
    uint32_t poll_interval_s;    /* between checks (the seed checked once an hour) */
    uint32_t spi_hz;             /* 0: FOTA_ESP32_SPI_HZ */
    int pin_sck, pin_mosi, pin_miso, pin_cs, pin_nrst; /* all 0: the seed's pins above */
    uint32_t task_stack;         /* bytes; 0: FOTA_ESP32_TASK_STACK */
} fota_esp32_config_t;

/* Opens NVS namespace "fota" (nvs_flash_init must have run), sets up SPI3_HOST and NRST, and
 * starts the bridge task. cfg and the strings it points to must outlive the task. The network
 * must be up (or come up: a pass without it fails and is retried at the next interval). */
esp_err_t fota_esp32_start(const fota_esp32_config_t *cfg);

#ifdef __cplusplus
}
#endif

#endif
