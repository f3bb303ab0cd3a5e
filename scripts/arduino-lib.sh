#!/usr/bin/env bash
# Assembles the FotaBridge Arduino library into OUT (a folder; OUT.zip too, for
# `arduino-cli lib install --zip-path OUT.zip` or the IDE's "Add .ZIP Library"): the library's own
# files (bridge/arduino/FotaBridge) plus the ESP32 port and the shared core's sources and headers,
# taken from the same files the ESP-IDF component lists (bridge/esp-idf/components/fota_bridge).
set -euo pipefail
OUT=${1:?usage: arduino-lib.sh OUT_DIR}
TOP=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$OUT"; mkdir -p "$OUT"
cp -r "$TOP/bridge/arduino/FotaBridge/." "$OUT/"
list=$TOP/bridge/esp-idf/components/fota_bridge/CMakeLists.txt
grep -oE '\$\{TOP\}/[A-Za-z0-9_/.-]+\.c' "$list" | sed "s|\${TOP}|$TOP|" | sort -u | while read -r f; do
  cp "$f" "$OUT/src/"
  # A module's private headers sit beside its sources (delta/delta_code.h).
  find "$(dirname "$f")" -maxdepth 1 -name '*.h' -exec cp {} "$OUT/src/" \;
done
# Headers keep their "fota/..." paths (src/ is on Arduino's include path).
grep -oE '\$\{TOP\}/[A-Za-z0-9_/.-]+/include' "$list" | sed "s|\${TOP}|$TOP|" | sort -u | while read -r d; do
  cp -r "$d/." "$OUT/src/"
done
if command -v zip >/dev/null; then
  (cd "$(dirname "$OUT")" && rm -f "$(basename "$OUT").zip" && zip -qr "$(basename "$OUT").zip" "$(basename "$OUT")")
fi
echo "arduino-lib: $OUT ($(find "$OUT/src" -name '*.c' -o -name '*.cpp' | wc -l) sources)"
