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

# The model (fota-sim: host code, modelled CPU costs), for comparison with the real firmware below.
for hz in ${BENCH_SPI_HZ:-8000000}; do
  rm -f "$w/sock"
  "$HOST/fota-sim" --flash "$w/flash.bin" --init "$w/init.bin" --socket "$w/sock" --pubkey "$KEY" --quiet \
    --spi-hz "$hz" >"$w/sim.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -S "$w/sock" ] && break; sleep 0.02; done
  echo "== SPI clock $hz Hz"
  "$HOST/fota-link" --socket "$w/sock" update "$w/v2.img" --no-commit --bench 2>/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done

# The real firmware on fota-emu (168 MHz): the same 256 KiB update over SPI at 8 MHz with 20 us
# between transactions, against the same floor; then the time from reset to the application's
# first instruction (the bootloader's verification of the image) for a 24 KiB and a 256 KiB image,
# with the cycles spent in SHA-256, in ECDSA (p256-m and its PSA driver) and in the PSA core
# (mbedTLS's objects, from the bootloader's link map). Instruction counts are exact and repeatable; the emulator's speed
# depends on the machine.
echo "== Real firmware on fota-emu: 256 KiB update, SPI 8 MHz, 20 us between transactions"
rm -f "$w/sock"; cp "$w/init.bin" "$w/emu-flash.bin"
"$HOST/fota-emu" --flash "$w/emu-flash.bin" --socket "$w/sock" --quiet >"$w/emu.log" 2>&1 &
pid=$!
for _ in $(seq 600); do [ -S "$w/sock" ] && break; sleep 0.05; done
"$HOST/fota-link" --socket "$w/sock" --gap-us 20 --spi-hz 8000000 update "$w/v2.img" --no-commit --bench 2>/dev/null |
  tee "$w/emu-bench.txt"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
echo "ratio to lower bound (real firmware): $(awk '/ratio to lower bound/ {print $NF}' "$w/emu-bench.txt")"

# The same 256 KiB image encrypted for the device (docs/encryption.md): its key composed into the
# device-data sector; the agent unwraps the image key at BEGIN and decrypts every chunk before
# programming it. The key record makes the trailer 117 bytes longer: the payload is that much
# shorter, so the image still fills the bank.
"$FOTA" keygen --device-enc -o "$w/dev.pem" >/dev/null
head -c $(($(stat -c %s "$w/v2.bin") - 117)) "$w/v2.bin" >"$w/v2e.bin"
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 --encrypt-for "$w/dev.pub.pem" -o "$w/v2-enc.img" "$w/v2e.bin" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a.img" --bank-b "$w/old-b.img" \
  --device-key "$w/dev.pem" -o "$w/enc-init.bin" >/dev/null
rm -f "$w/sock"; cp "$w/enc-init.bin" "$w/emu-flash.bin"
"$HOST/fota-emu" --flash "$w/emu-flash.bin" --socket "$w/sock" --quiet >"$w/emu.log" 2>&1 &
pid=$!
for _ in $(seq 600); do [ -S "$w/sock" ] && break; sleep 0.05; done
"$HOST/fota-link" --socket "$w/sock" --gap-us 20 --spi-hz 8000000 update "$w/v2-enc.img" --no-commit --bench \
  2>/dev/null >"$w/emu-enc.txt"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
plain_t=$(awk '/simulated device time/ {print $4}' "$w/emu-bench.txt")
enc_t=$(awk '/simulated device time/ {print $4}' "$w/emu-enc.txt")
echo "== Real firmware on fota-emu: the same 256 KiB update encrypted for the device, SPI 8 MHz"
echo "encrypted image: $enc_t s, ratio to floor $(awk '/ratio to lower bound/ {print $NF}' "$w/emu-enc.txt"), CPU $(awk '/CPU busy/ {print $3}' "$w/emu-enc.txt") s (plain: $(awk '/CPU busy/ {print $3}' "$w/emu-bench.txt") s)"
echo "encrypted / plain update time: $(awk -v a="$enc_t" -v b="$plain_t" 'BEGIN {printf "%.3f", a / b}')"

# The same 256 KiB update as a patch (docs/delta.md): the device runs a 256 KiB v1.0.0 in A, the
# target is the one-line change (app-b-v1) with the same filler, for B. Full image and patch, at
# 8 MHz, 1 MHz and 200 kHz, against the same floor: the patch saves the bytes, not the flash work.
fill() { { cat "$1"; yes "$2" | head -c $((262144 - 512 - 144 - $(stat -c %s "$1"))) || true; } >"$3"; }
fill "$FW/app-a.bin" "release payload" "$w/d-a.bin"; fill "$FW/app-b-v1.bin" "release payload" "$w/d-b.bin"
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/d-a.img" "$w/d-a.bin" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/d-b.img" "$w/d-b.bin" >/dev/null
"$FOTA" delta -q "$w/d-a.img" "$w/d-b.img" -o "$w/d.patch"
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/d-a.img" --bank-b "$w/old-b.img" -o "$w/d-init.bin" >/dev/null
for hz in 8000000 1000000 200000; do
  for what in d-b.img d.patch; do
    rm -f "$w/sock"; cp "$w/d-init.bin" "$w/emu-flash.bin"
    "$HOST/fota-emu" --flash "$w/emu-flash.bin" --socket "$w/sock" --quiet >"$w/emu.log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do [ -S "$w/sock" ] && break; sleep 0.05; done
    "$HOST/fota-link" --socket "$w/sock" --gap-us 20 --spi-hz "$hz" update "$w/$what" --no-commit --bench 2>/dev/null \
      >"$w/d-$hz-$what.txt"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  done
  full=$(awk '/simulated device time/ {print $4}' "$w/d-$hz-d-b.img.txt")
  patch=$(awk '/simulated device time/ {print $4}' "$w/d-$hz-d.patch.txt")
  echo "== Real firmware on fota-emu: 256 KiB update at $hz Hz, whole image against a patch of $(stat -c %s "$w/d.patch") bytes"
  echo "whole image: $full s, ratio to floor $(awk '/ratio to lower bound/ {print $NF}' "$w/d-$hz-d-b.img.txt"), $(awk '/bytes on the wire/ {print $5}' "$w/d-$hz-d-b.img.txt") bytes on the wire"
  echo "patch:       $patch s, ratio to floor $(awk '/ratio to lower bound/ {print $NF}' "$w/d-$hz-d.patch.txt"), $(awk '/bytes on the wire/ {print $5}' "$w/d-$hz-d.patch.txt") bytes on the wire, CPU $(awk '/CPU busy/ {print $3}' "$w/d-$hz-d.patch.txt") s"
  echo "patch / whole image: $(awk -v a="$patch" -v b="$full" 'BEGIN {printf "%.2f", a / b}')"
done

awk '/Linker script and memory map/ {m = 1; next} !m {next}
     /^ \.text/ { if (NF >= 4) { a = $2; z = $3; o = $4 } else { getline; a = $1; z = $2; o = $3 }
                  if (a ~ /^0x080/ && z != "0x0") {
                    if (o ~ /[(\/]sha256\.c/) print "sha256", a, z
                    else if (o ~ /[(\/]p256-m/) print "ecdsa", a, z
                    else if (o ~ /[(\/](psa_crypto|psa_util)/) print "psa", a, z } }' \
  "$FW/bootloader.map" >"$w/profile.txt"
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a.img" -o "$w/boot24.bin" >/dev/null
{ cat "$FW/app-a.bin"; yes "benchmark payload" | head -c $((262144 - 512 - 144 - $(stat -c %s "$FW/app-a.bin"))) || true; } >"$w/big-a.bin"
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/big-a.img" "$w/big-a.bin" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/big-a.img" -o "$w/boot256.bin" >/dev/null
# A device's first boot also write-protects the bootloader's sectors (250 ms of option-byte
# programming, once in its life): one boot to do that, then the boots measured are ordinary ones.
cp "$w/boot24.bin" "$w/dev.bin"
"$HOST/fota-emu" --flash "$w/dev.bin" --otp "$w/bench.otp" --run-ms 30000 --stop-at-app --quiet >/dev/null
for img in 24 256; do
  echo "== fota-emu: reset to the application's first instruction, $img KiB image"
  cp "$w/boot$img.bin" "$w/dev.bin"
  "$HOST/fota-emu" --flash "$w/dev.bin" --otp "$w/bench.otp" --run-ms 30000 --stop-at-app --quiet --stats \
    --profile "$w/profile.txt" >"$w/boot$img.txt"
  grep -E "application entered|stats|profile" "$w/boot$img.txt"
  ms=$(sed -n 's/.*instructions, \([0-9.]*\) ms at \([0-9]*\) Hz.*/\1/p' "$w/boot$img.txt")
  hz=$(sed -n 's/.*instructions, \([0-9.]*\) ms at \([0-9]*\) Hz.*/\2/p' "$w/boot$img.txt")
  sha=$(sed -n 's/^emu: profile sha256 .* ms=\([0-9.]*\)/\1/p' "$w/boot$img.txt")
  ecd=$(sed -n 's/^emu: profile ecdsa .* ms=\([0-9.]*\)/\1/p' "$w/boot$img.txt")
  psa=$(sed -n 's/^emu: profile psa .* ms=\([0-9.]*\)/\1/p' "$w/boot$img.txt")
  printf 'boot time: %.0f ms at %d MHz (%d KiB image): SHA-256 %.1f ms, ECDSA %.1f ms, PSA core %.1f ms, rest %.1f ms\n' \
    "$ms" $((hz / 1000000)) "$img" "${sha:-0}" "${ecd:-0}" "${psa:-0}" \
    "$(awk -v a="$ms" -v b="${sha:-0}" -v c="${ecd:-0}" -v d="${psa:-0}" 'BEGIN {print a - b - c - d}')"
done

# Image encryption on the device (docs/encryption.md): enc-probe, built with the decrypting
# configuration, first unwraps a key (ECDH, HKDF, HMAC check) and decrypts 16 KiB with AES-128-CTR;
# fota-emu stops at its first report and profiles the cycles by library object.
awk '/Linker script and memory map/ {m = 1; next} !m {next}
     /^ \.text/ { if (NF >= 4) { a = $2; z = $3; o = $4 } else { getline; a = $1; z = $2; o = $3 }
                  if (a ~ /^0x080/ && z != "0x0") {
                    if (o ~ /[(\/](aes|cipher|cipher_wrap|psa_crypto_cipher)\.c/) print "aes", a, z
                    else if (o ~ /[(\/]p256-m/) print "ecdh", a, z
                    else if (o ~ /[(\/]sha256\.c/) print "sha256", a, z } }' "$FW/enc-probe.map" >"$w/enc-profile.txt"
arm-none-eabi-objcopy -O binary "$FW/enc-probe.elf" "$w/enc.bin"
truncate -s 1M "$w/enc.bin"
"$HOST/fota-emu" --flash "$w/enc.bin" --run-ms 60000 --quiet --stats --profile "$w/enc-profile.txt" >"$w/enc.txt" 2>&1 || true
aes=$(sed -n 's/^emu: profile aes cycles=\([0-9]*\).*/\1/p' "$w/enc.txt")
ecdh=$(sed -n 's/^emu: profile ecdh cycles=\([0-9]*\).*/\1/p' "$w/enc.txt")
all=$(sed -n 's/.* instructions=\([0-9]*\) .*/\1/p' "$w/enc.txt")
awk -v a="${aes:-0}" -v e="${ecdh:-0}" -v t="${all:-0}" 'BEGIN {
  printf "encryption on the device: AES-128-CTR %.0f cycles per KiB (%.1f ms for 256 KiB at 168 MHz); key unwrap %.2f M cycles, ECDH %.2f M of them (%.1f ms at 168 MHz)\n",
    a / 16, a / 16 * 256 / 168e3, (t - a) / 1e6, e / 1e6, (t - a) / 168e3 }'

# P-256 on the device: p256-m (the product) against mbedTLS's own ECP (a measurement build).
bash "$(dirname "$0")/bench-p256.sh" "$HOST" "$FW"
