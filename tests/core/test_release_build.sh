#!/usr/bin/env bash
# The release build `make install` and `make bench-server` make (CMAKE_BUILD_TYPE=Release, no
# sanitizers: -O3) must compile, all of it: -O3 finds warnings the test build does not (a
# format-truncation in fota-server did, and -Werror made `make install` fail; -Wclobbered in the
# power-cut tests). Reuses the host build's mbedTLS source (hard links), so nothing is fetched.
set -euo pipefail
SRC=${1:?source dir}; HOSTB=${2:?host build dir}
out=$HOSTB/release-check
mkdir -p "$out/_deps"
if [ -z "$(find "$out/_deps" -maxdepth 1 -type d -name 'mbedtls-3.6*' | head -1)" ]; then
  cp -al "$(find "$HOSTB/_deps" -maxdepth 1 -type d -name 'mbedtls-3.6*' | head -1)" "$out/_deps/"
fi
cmake -S "$SRC" -B "$out" -DCMAKE_BUILD_TYPE=Release -DFOTA_SANITIZE=OFF >"$out/configure.log" 2>&1 ||
  { cat "$out/configure.log"; exit 1; }
if cmake --build "$out" -j 2 >"$out/build.log" 2>&1; then
  echo "release build: the host tree (the installed tools, their tests, bench instruments) compiled at -O3 with -Werror"
else
  grep -E "error|warning" "$out/build.log" | head -20
  echo "FAIL: the release build does not compile"; exit 1
fi
