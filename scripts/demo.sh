#!/usr/bin/env bash
# The main job, at this stage of the project: sign two releases of the application with the key the
# firmware trusts, show them, compose a device flash image, and let the Cortex-M4 build of the
# verifier judge each bank under QEMU. (The end-to-end update demo replaces this in issue 5.)
set -euo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
FOTA=$HOST/fota
KEY=$FW/keys/dev-key.pem
out=$FW/demo
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "Signing v1.0.0 for bank A and v1.1.0 for bank B with the firmware's key ($KEY)"
"$FOTA" sign --key "$KEY" --bank a --version 1.0.0+1 --security-counter 1 -o "$out/slot_a.img" "$FW/app-probe-a.elf"
"$FOTA" sign --key "$KEY" --bank b --version 1.1.0+2 --security-counter 1 -o "$out/slot_b.img" "$FW/app-probe-b.elf"

step "fota inspect slot_b.img"
"$FOTA" inspect --pubkey "$KEY" "$out/slot_b.img"

step "fota verify, as the device would (bank B, device security counter 1)"
"$FOTA" verify --pubkey "$KEY" --bank b --min-security-counter 1 "$out/slot_b.img"

step "Composing a 1 MiB flash image: verifier at 0x08000000, both banks, metadata naming bank A"
"$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$out/slot_a.img" --bank-b "$out/slot_b.img" \
  --pubkey "$KEY" -o "$out/flash.bin"

step "The Cortex-M4 verifier, under qemu-system-arm -M netduinoplus2, checks bank A"
code=0
timeout 60 qemu-system-arm -M netduinoplus2 -nographic -monitor none -serial null \
  -semihosting-config enable=on,target=native -device loader,file="$out/flash.bin",addr=0x08000000 || code=$?
echo "device verdict on bank A: $code ($([ $code -eq 0 ] && echo valid || echo rejected))"

step "A tampered copy: one payload byte changed"
cp "$out/flash.bin" "$out/flash-tampered.bin"
printf '\x00' | dd of="$out/flash-tampered.bin" bs=1 seek=$((0x20000 + 0x300)) conv=notrunc status=none
code2=0
timeout 60 qemu-system-arm -M netduinoplus2 -nographic -monitor none -serial null \
  -semihosting-config enable=on,target=native -device loader,file="$out/flash-tampered.bin",addr=0x08000000 || code2=$?
echo "device verdict on tampered bank A: $code2 ($([ $code2 -eq 11 ] && echo 'rejected: SHA-256 mismatch' || echo unexpected))"

step "Firmware sizes"
arm-none-eabi-size "$FW/verifier-probe.elf" "$FW/app-probe-a.elf" "$FW/app-probe-b.elf"
echo
echo "Outputs in $out"
[ $code -eq 0 ] && [ $code2 -eq 11 ]
