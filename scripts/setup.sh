#!/usr/bin/env bash
# Installs everything the build, the tests and the demo need on a Debian 12 machine.
# Idempotent: a second run with everything present does no network access and returns at once.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates dpkg-dev
  gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi
  qemu-system-arm libunicorn-dev
  libcmocka-dev libdivsufsort-dev bsdiff xdelta3
  libcurl4-openssl-dev libmicrohttpd-dev libsqlite3-dev libcjson-dev libgpiod-dev libexpat1-dev
  libpq-dev postgresql
  openssl
  clang libclang-rt-14-dev
  chromium
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: not root and no sudo; install these packages by hand: ${PKGS[*]}" >&2
  fi
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# `apt-get source mbedtls/trixie` (both builds: mbedTLS 3.6 and its p256-m) needs a deb-src entry
# for trixie. Only source packages come from it; every binary package stays bookworm's.
SRC_FILE=/etc/apt/sources.list.d/fota-deb-src.sources
need_update=0
if ! grep -qs 'trixie' "$SRC_FILE"; then
  echo "setup: adding deb-src entry $SRC_FILE"
  $SUDO tee "$SRC_FILE" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi
# The source index must exist for `apt-get source`.
if ! ls /var/lib/apt/lists/*trixie*_source_Sources* >/dev/null 2>&1; then need_update=1; fi

if [ ${#missing[@]} -gt 0 ] || [ "$need_update" -eq 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  echo "setup: apt-get update"
  $SUDO apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The test-only S3 server, from the npm registry, into the build folder (never committed).
S3RVER_DIR=${FOTA_TOOLS_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build/tools}
if [ ! -x "$S3RVER_DIR/node_modules/.bin/s3rver" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing nodejs and npm"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  echo "setup: installing s3rver 3.7.1 (test-only S3 server) into $S3RVER_DIR"
  mkdir -p "$S3RVER_DIR"
  npm install --prefix "$S3RVER_DIR" --no-audit --no-fund --loglevel=error s3rver@3.7.1 >/dev/null
fi
echo "setup: all build and test dependencies present"
