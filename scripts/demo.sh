#!/usr/bin/env bash
# The main job, at this stage of the project: two signed releases of the example application and
# the real bootloader on an emulated STM32F407 (qemu-system-arm -M netduinoplus2): it boots the
# bank the metadata names, refuses a tampered image and falls back, and reverts an unconfirmed
# trial. Then a simulated device (fota-sim) running v1.0.0 is updated to v1.1.0 over its SPI link.
# (The server and the bridge that fetch the release join it in issue 5.)
set -euo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
FOTA=$HOST/fota
KEY=$FW/keys/dev-key.pem
RUN="bash $(dirname "$0")/qemu-run.sh"
out=$FW/demo
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "Signing the example application: v1.0.0 for bank A, v1.1.0 for bank B (key: $KEY)"
"$FOTA" sign --key "$KEY" --bank a --version 1.0.0+1 --security-counter 1 -o "$out/slot_a.img" "$FW/app-a.elf"
"$FOTA" sign --key "$KEY" --bank b --version 1.1.0+2 --security-counter 1 -o "$out/slot_b.img" "$FW/app-b.elf"

step "fota inspect slot_b.img"
"$FOTA" inspect --pubkey "$KEY" "$out/slot_b.img"

echo
echo "(QEMU's flash is read-only: where the bootloader or the application records metadata, it"
echo " reports the write as failed. The decisions are the same; on the simulated flash they stick.)"

step "Device 1: metadata names bank B. USART1:"
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$out/slot_a.img" --bank-b "$out/slot_b.img" \
  --boot-bank b --security-counter 1 --pubkey "$KEY" -o "$out/flash.bin" >/dev/null
$RUN "$out/flash.bin" "app: confirmed" | sed 's/^/   | /'

step "Device 2: the same, with one byte of bank B changed. USART1:"
cp "$out/flash.bin" "$out/flash-tampered.bin"
printf '\x00' | dd of="$out/flash-tampered.bin" bs=1 seek=$((0x60000 + 0x300)) conv=notrunc status=none
$RUN "$out/flash-tampered.bin" "running from bank" | sed 's/^/   | /'

step "Device 3: bank B on trial, never confirmed in 3 boots. USART1:"
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$out/slot_a.img" --bank-b "$out/slot_b.img" \
  --trial b --attempts 3 --security-counter 1 -o "$out/flash-trial.bin" >/dev/null
$RUN "$out/flash-trial.bin" "running from bank" | sed 's/^/   | /'

step "A simulated device running v1.0.0 (fota-sim), updated to v1.1.0 over SPI by fota-link"
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$out/slot_a.img" -o "$out/sim-init.bin" >/dev/null
sock=$out/sim.sock; rm -f "$sock" "$out/sim-flash.bin"
"$HOST/fota-sim" --flash "$out/sim-flash.bin" --init "$out/sim-init.bin" --socket "$sock" --pubkey "$KEY" \
  --quiet >"$out/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.02; done
"$HOST/fota-link" --socket "$sock" info
"$HOST/fota-link" --socket "$sock" update "$out/slot_b.img"
for _ in $(seq 100); do grep -q "trial over" "$out/sim.log" && break; sleep 0.02; done
"$HOST/fota-link" --socket "$sock" state
kill $sim; wait $sim 2>/dev/null || true
echo "The device's USART1, as the simulator printed it:"
sed -n 's/^usart: /   | /p' "$out/sim.log"

step "Firmware sizes (bootloader limit: 32768 bytes)"
arm-none-eabi-size "$FW/bootloader.elf" "$FW/app-a.elf" "$FW/app-b.elf"
echo
echo "Flash images in $out"
