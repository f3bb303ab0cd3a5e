// The seed's bridge sketch on FotaBridge: join WiFi, then the library's task keeps the STM32
// (wired as in the seed: GPIO18 SCK, GPIO23 MOSI, GPIO19 MISO, GPIO5 CS, GPIO21 NRST) up to date.
#include <WiFi.h>
#include <FotaBridge.h>

const char *WIFI_SSID = "your-ssid";
const char *WIFI_PASS = "your-password";
const char *SERVER_URL = "http://192.0.2.10:5000";

void setup() {
  Serial.begin(115200);
  WiFi.begin(WIFI_SSID, WIFI_PASS);
  while (WiFi.status() != WL_CONNECTED) {
    delay(500);
    Serial.print(".");
  }
  Serial.println("\nWiFi connected");
  if (!FotaBridge.begin(SERVER_URL, "esp32-bridge")) {
    Serial.printf("FotaBridge did not start: %s\n", esp_err_to_name(FotaBridge.lastError()));
  }
}

void loop() {
  delay(1000);  // the bridge runs on its own task; WiFi reconnects by itself
}
