#!/usr/bin/env bash
# Fetches Debian's mbedtls source package into DEST (the firmware build folder), once.
# Prints the path of the unpacked source tree. Never committed: the build folder is ignored.
set -euo pipefail
dest=${1:?usage: fetch-mbedtls.sh DEST}
mkdir -p "$dest"
found=$(find "$dest" -maxdepth 1 -type d -name 'mbedtls-2.28*' | head -n 1)
if [ -z "$found" ] || [ ! -f "$found/library/ecdsa.c" ]; then
  rm -rf "$dest"/mbedtls-2.28* 
  ( cd "$dest" && apt-get source -qq mbedtls >&2 ) || {
    echo "fetch-mbedtls: 'apt-get source mbedtls' failed; run scripts/setup.sh (it adds the deb-src entry)" >&2
    exit 1
  }
  found=$(find "$dest" -maxdepth 1 -type d -name 'mbedtls-2.28*' | head -n 1)
  if [ -z "$found" ]; then
    echo "fetch-mbedtls: Debian's mbedtls source is not version 2.28" >&2
    exit 1
  fi
fi
echo "$found"
