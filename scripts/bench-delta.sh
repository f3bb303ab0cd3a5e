#!/usr/bin/env bash
# Delta-update patch sizes, side by side (issue 14): for each pair of the corpus, our patch
# (fota delta) against Debian's bsdiff, xdelta3 -9, zstd --patch-from --ultra -22, and the whole
# target compressed with xz -9. Every patch of ours is applied back with the device's decoder
# (fota apply) and must rebuild the target byte for byte. Ends with
#   smaller than bsdiff on N of M pairs
# The corpus: the example application (base: v1.0.0 for bank A; target: v1.0.1 for bank B, as an
# update from A lands in B) with one line changed, a new function, a changed constant table, the
# whole firmware at -O2 instead of -Os, and the P-256 library changed (p256-m -> mbedTLS's ECP),
# built here (FOTA_APP_VARIANT in app/app_main.c; three firmware builds in DELTA_DIR).
# With MICROPYTHON_BINS=DIR (scripts/build-micropython.sh), also two releases of real open-source
# firmware for the F407: MicroPython v1.23.0 -> v1.24.0 and v1.24.0 -> v1.24.1 (raw flash contents
# at 0x08020000, fota delta --raw: they do not fit our banks).
# Installs bsdiff, xdelta3, zstd and xz-utils from Debian when missing. Usage:
#   scripts/bench-delta.sh HOST_BUILD_DIR FW_BUILD_DIR DELTA_BUILD_DIR
set -euo pipefail
HOST=$(cd "${1:?host build dir}" && pwd); FW=$(cd "${2:?firmware build dir}" && pwd)
mkdir -p "${3:?delta build dir}"; D=$(cd "$3" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
FOTA=$HOST/fota; KEY=$FW/keys/dev-key.pem
missing=()
for t in bsdiff:bsdiff xdelta3:xdelta3 zstd:zstd xz:xz-utils; do command -v "${t%%:*}" >/dev/null || missing+=("${t##*:}"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT

build() { # name cmake-options... : a firmware build of the corpus, configured once
  local dir=$D/$1; shift
  echo "building the corpus firmware $(basename "$dir") ($*)" >&2
  cmake -S "$TOP/firmware" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$TOP/cmake/arm-none-eabi.cmake" -DFOTA_TOOL="$FOTA" \
    -DFOTA_SIGNING_KEY="$KEY" "$@" >"$w/cfg.log" 2>&1 || { cat "$w/cfg.log"; exit 1; }
}
build corpus -DFOTA_DELTA_CORPUS=ON
cmake --build "$D/corpus" -j "$(nproc)" --target app-a.elf app-a-v3.elf app-b.elf app-b-v1.elf app-b-v2.elf \
  app-b-v3.elf app-b-v4.elf >"$w/build.log" 2>&1 || { cat "$w/build.log"; exit 1; }
build o2 -DFOTA_FW_EXTRA_CFLAGS=-O2
cmake --build "$D/o2" -j "$(nproc)" --target app-b.elf >"$w/build.log" 2>&1 || { cat "$w/build.log"; exit 1; }
build mbedtls -DFOTA_FW_P256=mbedtls
cmake --build "$D/mbedtls" -j "$(nproc)" --target app-b.elf >"$w/build.log" 2>&1 || { cat "$w/build.log"; exit 1; }

sign() { "$FOTA" sign -k "$KEY" -b "$1" -v "$2" -o "$3" "$4" >/dev/null; }
sign a 1.0.0 "$w/base.img" "$D/corpus/app-a.elf"
sign a 1.0.0 "$w/base-table.img" "$D/corpus/app-a-v3.elf"
pairs=(
  "other bank only:base.img:$D/corpus/app-b.elf"
  "one line changed:base.img:$D/corpus/app-b-v1.elf"
  "new function:base.img:$D/corpus/app-b-v2.elf"
  "constant table changed:base-table.img:$D/corpus/app-b-v4.elf"
  "compiler option (-Os -> -O2):base.img:$D/o2/app-b.elf"
  "library changed (p256-m -> mbedTLS ECP):base.img:$D/mbedtls/app-b.elf"
)
echo "| pair | target | ours | bsdiff | xdelta3 -9 | zstd -22 --patch-from | xz -9 (full) | ours / bsdiff |"
echo "|---|---|---|---|---|---|---|---|"
raw=()
if [ -n "${MICROPYTHON_BINS:-}" ]; then
  M=$(cd "$MICROPYTHON_BINS" && pwd)
  cp "$M/v1.23.0.bin" "$w/mp-1.23.0.bin"; cp "$M/v1.24.0.bin" "$w/mp-1.24.0.bin"; cp "$M/v1.24.1.bin" "$w/mp-1.24.1.bin"
  pairs+=("MicroPython v1.23.0 -> v1.24.0 (STM32F4DISC):mp-1.23.0.bin:$w/mp-1.24.0.bin"
          "MicroPython v1.24.0 -> v1.24.1 (STM32F4DISC):mp-1.24.0.bin:$w/mp-1.24.1.bin")
  raw=(--raw 0x08020000)
fi
better=0; total=0; i=0
for p in "${pairs[@]}"; do
  IFS=: read -r name base elf <<<"$p"; i=$((i + 1))
  t=$w/t$i.img
  opt=()
  case $elf in
    *.bin) cp "$elf" "$t"; opt=("${raw[@]}") ;; # raw flash contents
    *) sign b 1.0.1 "$t" "$elf" ;;
  esac
  "$FOTA" delta -q "${opt[@]}" "$w/$base" "$t" -o "$w/p$i"
  "$FOTA" apply "${opt[@]}" "$w/$base" "$w/p$i" -o "$w/r$i.img" >/dev/null
  cmp -s "$w/r$i.img" "$t" || { echo "bench-delta: pair '$name' did not rebuild its target" >&2; exit 1; }
  bsdiff "$w/$base" "$t" "$w/b$i"
  xdelta3 -9 -f -e -s "$w/$base" "$t" "$w/x$i"
  zstd -q -f --patch-from="$w/$base" --ultra -22 "$t" -o "$w/z$i" 2>/dev/null
  xz -9 -c "$t" >"$w/f$i"
  sz() { stat -c %s "$1"; }
  ours=$(sz "$w/p$i"); bs=$(sz "$w/b$i")
  total=$((total + 1)); [ "$ours" -lt "$bs" ] && better=$((better + 1))
  echo "| $name | $(sz "$t") | $ours | $bs | $(sz "$w/x$i") | $(sz "$w/z$i") | $(sz "$w/f$i") | $(awk -v a="$ours" -v b="$bs" 'BEGIN {printf "%.2f", a / b}') |"
done
"$FOTA" apply "$w/base.img" "$w/p2" -o "$w/r.img" | sed 's/.*(decoder state \([0-9]*\) bytes)/decoder state: \1 bytes (this host build)/'
# The same sizes as the Cortex-M4 build lays them out (the firmware's compiler and flags): the
# decoder's state and what applying a patch adds to the agent (AGENT_DELTA_RAM, at most 8 KiB).
TOP=$(cd "$(dirname "$0")/.." && pwd)
printf '#include "fota/agent.h"\nconst unsigned fota_sizes[2] = {sizeof(delta_dec_t), AGENT_DELTA_RAM};\n' >"$w/sizes.c"
incs=(); for d in "$TOP"/*/include; do incs+=(-I "$d"); done
arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -std=c11 "${incs[@]}" -c "$w/sizes.c" -o "$w/sizes.o"
arm-none-eabi-objcopy -O binary -j .rodata "$w/sizes.o" "$w/sizes.bin"
read -r dec ram < <(od -An -tu4 "$w/sizes.bin")
echo "on the Cortex-M4: decoder state $dec bytes; applying adds $ram bytes to the agent (budget 8192); apply time on fota-emu: make bench"
echo "smaller than bsdiff on $better of $total pairs"
