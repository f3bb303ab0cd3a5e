#!/usr/bin/env bash
# The shared core as the ESP32 bridge compiles it (the sources bridge/esp-idf/components/fota_bridge/CMakeLists.txt
# lists from the repository), with the strictness of an ESP-IDF build: -std=gnu2x, every warning an
# error, and include folders given only on the command line. CTest runs it with arm-none-eabi-gcc,
# whose C library is newlib (as ESP-IDF's) and which never searches /usr/include: a source that
# names a Debian-only path (<cjson/cJSON.h>) or picks up Debian's mbedTLS fails here (issue 11).
set -uo pipefail
MBEDTLS_INC=${1:?mbedTLS include folder}; shift
CJSON_CFLAGS=("$@") # the cJSON include flags, from pkg-config here, from the component on ESP-IDF
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-cc}
list=$TOP/bridge/esp-idf/components/fota_bridge/CMakeLists.txt
# The shared core only: the ESP32 port (bridge/esp32) needs ESP-IDF's headers (scripts/check-esp32.sh).
mapfile -t srcs < <(grep -oE '\$\{TOP\}/[A-Za-z0-9_/.-]+\.c' "$list" | grep -v '/bridge/esp32/' | sed "s|\${TOP}|$TOP|" | sort -u)
incs=()
for d in "$TOP"/*/include; do incs+=(-I "$d"); done
n=0; errors=0
for f in "${srcs[@]}"; do
  n=$((n + 1))
  if ! out=$("$CC" -std=gnu2x -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -fsyntax-only \
      "${incs[@]}" -isystem "$MBEDTLS_INC" "${CJSON_CFLAGS[@]}" "$f" 2>&1); then
    errors=$((errors + 1)); echo "FAIL ${f#$TOP/}"; echo "$out" | sed 's/^/    /'
  else
    echo "ok   ${f#$TOP/}"
  fi
done
echo "core strict check: $n files, $errors errors"
[ "$n" -gt 0 ] && [ "$errors" -eq 0 ]
