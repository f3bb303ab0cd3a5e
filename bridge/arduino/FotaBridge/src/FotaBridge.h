/* FotaBridge: the Arduino face of the ESP32 bridge (bridge/esp32/fota_esp32.h), for arduino-esp32
 * 3.x. The sketch joins WiFi; begin() starts the bridge task, which checks the server every
 * pollIntervalS seconds and updates the STM32 when it is behind. The installed version is kept in
 * NVS namespace "fota" (what the seed's Preferences used is NVS too). No Arduino header is needed
 * here: the library is the ESP-IDF port, which arduino-esp32 3.x is built on. */
#ifndef FOTA_BRIDGE_ARDUINO_H
#define FOTA_BRIDGE_ARDUINO_H

#include <stdint.h>

#include "fota_esp32.h"

class FotaBridgeClass {
public:
    /* The seed's settings. caPem: the server's CA (nullptr: NVS fota/ca_pem, then the certificate
     * bundle). Strings must stay valid (literals, or globals). Returns false when the bridge could
     * not start (lastError() says why) or was started already. */
    bool begin(const char *serverUrl, const char *deviceId = "esp32-bridge", const char *caPem = nullptr,
               uint32_t pollIntervalS = 3600);
    /* Before begin(): other pins than the seed's, another SPI clock, the URL of the bridge's own
     * signed firmware (self-update with rollback), the task's stack. */
    void setPins(int sck, int mosi, int miso, int cs, int nrst);
    void setSpiClock(uint32_t hz);
    void setBridgeOtaUrl(const char *url);
    void setTaskStack(uint32_t bytes);
    esp_err_t lastError() const;

private:
    fota_esp32_config_t cfg_ = {};
    esp_err_t err_ = ESP_OK;
    bool started_ = false;
};

extern FotaBridgeClass FotaBridge;

#endif
