#!/usr/bin/env bash
# Builds the open-source half of the delta corpus (docs/delta.md): MicroPython's stm32 port for the
# STM32F4DISC board (an STM32F407) at v1.23.0, v1.24.0 and v1.24.1, and copies each firmware1.bin
# (the code, linked at 0x08020000, about 310 KB: larger than our 256 KiB banks, so measured as raw
# flash contents with fota delta --raw) into OUT_DIR as vX.Y.Z.bin. Then
#   MICROPYTHON_BINS=OUT_DIR make bench-delta
# adds the pairs v1.23.0 -> v1.24.0 (a minor release) and v1.24.0 -> v1.24.1 (a patch release).
# Needs the sources, which CI cannot fetch: git directories of micropython/micropython,
# micropython/stm32lib and micropython/micropython-lib (e.g. the library's `fetch`, which puts them
# under /work/.mirror/OWNER+NAME/repo), given as MP_GIT, STM32LIB_GIT, MPLIB_GIT. The submodules
# are taken at the commits each tag names. Needs gcc, arm-none-eabi-gcc and python3.
set -euo pipefail
OUT=${1:?usage: build-micropython.sh OUT_DIR}
MP_GIT=${MP_GIT:-/work/.mirror/micropython+micropython/repo}
STM32LIB_GIT=${STM32LIB_GIT:-/work/.mirror/micropython+stm32lib/repo}
MPLIB_GIT=${MPLIB_GIT:-/work/.mirror/micropython+micropython-lib/repo}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
for tag in v1.23.0 v1.24.0 v1.24.1; do
  src=$w/$tag; mkdir -p "$src"
  git -C "$MP_GIT" archive "$tag" | tar -x -C "$src"
  for sub in stm32lib:$STM32LIB_GIT micropython-lib:$MPLIB_GIT; do
    name=${sub%%:*}; repo=${sub#*:}
    commit=$(git -C "$MP_GIT" ls-tree "$tag" "lib/$name" | awk '{print $3}')
    git -C "$repo" archive "$commit" | tar -x -C "$src/lib/$name"
  done
  echo "building MicroPython $tag for STM32F4DISC" >&2
  make -C "$src/mpy-cross" -j "$(nproc)" >"$w/$tag-mpy.log" 2>&1 || { tail -20 "$w/$tag-mpy.log"; exit 1; }
  make -C "$src/ports/stm32" BOARD=STM32F4DISC -j "$(nproc)" >"$w/$tag.log" 2>&1 || { tail -20 "$w/$tag.log"; exit 1; }
  cp "$src/ports/stm32/build-STM32F4DISC/firmware1.bin" "$OUT/$tag.bin"
done
ls -l "$OUT"
