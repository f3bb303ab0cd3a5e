#!/usr/bin/env bash
# Fetches Debian's mbedtls 3.6 source package (trixie) into DEST, once, and prints the path of the
# unpacked tree. The firmware compiles its SHA-256 from it, and both builds compile p256-m
# (3rdparty/p256-m) from it. Never committed: DEST is in the build folder.
set -euo pipefail
dest=${1:?usage: fetch-mbedtls.sh DEST}
mkdir -p "$dest"
want=3rdparty/p256-m/p256-m/p256-m.c
found=$(find "$dest" -maxdepth 1 -type d -name 'mbedtls-3.6*' | head -n 1)
if [ -z "$found" ] || [ ! -f "$found/$want" ] || [ ! -f "$found/library/sha256.c" ]; then
  rm -rf "$dest"/mbedtls-3.6* "$dest"/mbedtls_3.6*
  # -qq and a plain source package: no build dependencies, no signature of ours to check beyond
  # apt's own (the Sources index is signed by the archive key).
  ( cd "$dest" && apt-get source -qq mbedtls/trixie >&2 ) || {
    echo "fetch-mbedtls: 'apt-get source mbedtls/trixie' failed; run scripts/setup.sh (it adds the" \
         "deb-src entry for trixie)" >&2
    exit 1
  }
  found=$(find "$dest" -maxdepth 1 -type d -name 'mbedtls-3.6*' | head -n 1)
  if [ -z "$found" ] || [ ! -f "$found/$want" ]; then
    echo "fetch-mbedtls: Debian's trixie mbedtls source is not 3.6 with p256-m ($want)" >&2
    exit 1
  fi
fi
echo "$found"
