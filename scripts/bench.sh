#!/usr/bin/env bash
# Update-time benchmark: a 256 KiB signed image (a whole bank) sent by fota-link to fota-sim, over
# a bank that holds an older image (so both sectors must be erased), at several SPI clocks.
# Prints simulated device time, its parts, bytes on the wire, transactions, and the ratio to the
# physical floor (erasing and x32-programming that image). Asserts nothing.
set -euo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
FOTA=$HOST/fota; KEY=$FW/keys/dev-key.pem
w=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$w"' EXIT

"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/a.img" "$FW/app-a.elf" >/dev/null
# Both images fill the bank exactly (256 KiB = 512-byte header + payload + 144-byte trailer), so
# the old one leaves both sectors to erase, as a device in the field would.
app_size=$(stat -c %s "$FW/app-b.bin")
fill=$((262144 - 512 - 144 - app_size))
{ cat "$FW/app-b.bin"; yes "old release payload" | head -c $fill || true; } >"$w/v1.bin"
{ cat "$FW/app-b.bin"; yes "benchmark payload" | head -c $fill || true; } >"$w/v2.bin"
"$FOTA" sign -k "$KEY" -b b -v 1.0.0 -o "$w/old-b.img" "$w/v1.bin" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/v2.img" "$w/v2.bin" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a.img" --bank-b "$w/old-b.img" -o "$w/init.bin" >/dev/null

for hz in ${BENCH_SPI_HZ:-8000000 4000000 2000000}; do
  rm -f "$w/sock"
  "$HOST/fota-sim" --flash "$w/flash.bin" --init "$w/init.bin" --socket "$w/sock" --pubkey "$KEY" --quiet \
    --spi-hz "$hz" >"$w/sim.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -S "$w/sock" ] && break; sleep 0.02; done
  echo "== SPI clock $hz Hz"
  "$HOST/fota-link" --socket "$w/sock" update "$w/v2.img" --no-commit --bench 2>/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done

# The real firmware on fota-emu: instructions and device time from reset to the application's
# first instruction (the bootloader's verification of the image), for a 24 KiB and a 256 KiB image
# at the firmware's own clock, and the emulator's speed. Instruction counts are exact and
# repeatable; the speed depends on the machine.
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a.img" -o "$w/boot24.bin" >/dev/null
{ cat "$FW/app-a.bin"; yes "benchmark payload" | head -c $((262144 - 512 - 144 - $(stat -c %s "$FW/app-a.bin"))) || true; } >"$w/big-a.bin"
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/big-a.img" "$w/big-a.bin" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/big-a.img" -o "$w/boot256.bin" >/dev/null
for img in 24 256; do
  echo "== fota-emu: reset to the application's first instruction, $img KiB image"
  cp "$w/boot$img.bin" "$w/dev.bin"
  "$HOST/fota-emu" --flash "$w/dev.bin" --run-ms 30000 --stop-at-app --quiet | grep "application entered"
  cp "$w/boot$img.bin" "$w/dev.bin"
  "$HOST/fota-emu" --flash "$w/dev.bin" --run-ms 30000 --until "app: confirmed" --quiet --stats | grep "stats"
done
