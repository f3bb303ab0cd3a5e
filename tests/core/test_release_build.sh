#!/usr/bin/env bash
# The release build `make install` makes (CMAKE_BUILD_TYPE=Release, no sanitizers: -O3) of the
# installed tools must compile: -O3 finds warnings the test build's -O0 does not (a
# format-truncation in fota-server did, and -Werror made `make install` fail). Reuses the host
# build's mbedTLS source (hard links), so nothing is fetched.
set -euo pipefail
SRC=${1:?source dir}; HOSTB=${2:?host build dir}
out=$HOSTB/release-check
mkdir -p "$out/_deps"
if [ -z "$(find "$out/_deps" -maxdepth 1 -type d -name 'mbedtls-3.6*' | head -1)" ]; then
  cp -al "$(find "$HOSTB/_deps" -maxdepth 1 -type d -name 'mbedtls-3.6*' | head -1)" "$out/_deps/"
fi
cmake -S "$SRC" -B "$out" -DCMAKE_BUILD_TYPE=Release -DFOTA_SANITIZE=OFF >"$out/configure.log" 2>&1 ||
  { cat "$out/configure.log"; exit 1; }
if cmake --build "$out" -j 2 --target fota fota-server fota-bridge fota-link fota-admin >"$out/build.log" 2>&1; then
  echo "release build: fota, fota-server, fota-bridge, fota-link, fota-admin compiled at -O3 with -Werror"
else
  grep -E "error|warning" "$out/build.log" | head -20
  echo "FAIL: the release build does not compile"; exit 1
fi
