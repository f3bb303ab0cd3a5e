#include "FotaBridge.h"

FotaBridgeClass FotaBridge;

bool FotaBridgeClass::begin(const char *serverUrl, const char *deviceId, const char *caPem, uint32_t pollIntervalS)
{
    if (started_) {
        err_ = ESP_ERR_INVALID_STATE;
        return false;
    }
    cfg_.server_url = serverUrl;
    cfg_.device_id = deviceId;
    cfg_.ca_pem = caPem;
    cfg_.poll_interval_s = pollIntervalS;
    err_ = fota_esp32_start(&cfg_); /* arduino-esp32 has initialised NVS before setup() */
    started_ = err_ == ESP_OK;
    return started_;
}

void FotaBridgeClass::setPins(int sck, int mosi, int miso, int cs, int nrst)
{
    cfg_.pin_sck = sck;
    cfg_.pin_mosi = mosi;
    cfg_.pin_miso = miso;
    cfg_.pin_cs = cs;
    cfg_.pin_nrst = nrst;
}

void FotaBridgeClass::setSpiClock(uint32_t hz)
{
    cfg_.spi_hz = hz;
}

void FotaBridgeClass::setBridgeOtaUrl(const char *url)
{
    cfg_.bridge_ota_url = url;
}

void FotaBridgeClass::setTaskStack(uint32_t bytes)
{
    cfg_.task_stack = bytes;
}

esp_err_t FotaBridgeClass::lastError() const
{
    return err_;
}
