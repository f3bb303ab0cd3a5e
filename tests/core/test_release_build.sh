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
# What `make install PREFIX=...` puts there: the binaries under PREFIX/bin, and systemd units whose
# ExecStart names them (the units said /usr/local/bin whatever the prefix).
pfx=$(mktemp -d); trap 'rm -rf "$pfx"' EXIT
cmake --install "$out" --prefix "$pfx/p" >"$out/install.log" 2>&1 || { cat "$out/install.log"; echo "FAIL: cmake --install"; exit 1; }
for u in fota-server fota-bridge; do
  [ -x "$pfx/p/bin/$u" ] || { echo "FAIL: $u not installed under the prefix"; exit 1; }
  grep -q "^ExecStart=$pfx/p/bin/$u " "$pfx/p/lib/systemd/system/$u.service" ||
    { grep ExecStart "$pfx/p/lib/systemd/system/$u.service"; echo "FAIL: $u.service does not start $pfx/p/bin/$u"; exit 1; }
done
echo "install under a prefix: the tools in PREFIX/bin, the systemd units starting them from there"
