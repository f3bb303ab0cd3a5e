#!/usr/bin/env bash
# The verifier as compiled for the Cortex-M4 (mbedTLS from Debian's source, static pool), run under
# qemu-system-arm -M netduinoplus2 on flash images from `fota compose`. The probe exits through
# semihosting with its img_err_t verdict, so each scenario asserts an exact code.
set -euo pipefail
FOTA=${1:?fota tool}; FW=${2:?firmware build dir}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail=0

run() { # name expected-code flash-image
  local code=0
  timeout 60 qemu-system-arm -M netduinoplus2 -nographic -monitor none -serial null \
    -semihosting-config enable=on,target=native \
    -device loader,file="$3",addr=0x08000000 >"$work/out" 2>&1 || code=$?
  if [ "$code" -eq "$2" ]; then echo "ok   $1 (exit $code)"; else echo "FAIL $1: exit $code, expected $2"; cat "$work/out"; fail=1; fi
}

"$FOTA" keygen -o "$work/other.pem" >/dev/null
"$FOTA" sign -k "$FW/keys/dev-key.pem" -b a -v 1.0.0 -o "$work/good.img" "$FW/app-probe-a.elf" >/dev/null
"$FOTA" sign -k "$work/other.pem" -b a -v 1.0.0 -o "$work/other.img" "$FW/app-probe-a.elf" >/dev/null

"$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$work/good.img" -o "$work/good.bin" >/dev/null
run "image signed with the built-in key verifies" 0 "$work/good.bin"

"$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$work/other.img" -o "$work/other.bin" >/dev/null
run "image signed with another key is refused (IMG_ERR_KEY_ID)" 12 "$work/other.bin"

cp "$work/good.bin" "$work/flip.bin"
printf '\x55' | dd of="$work/flip.bin" bs=1 seek=$((0x20000 + 0x200 + 0x100)) conv=notrunc status=none
run "one changed payload byte is refused (IMG_ERR_HASH)" 11 "$work/flip.bin"

# Same payload, so both images have the same layout: copy the trusted key id into the foreign
# image. Only the ECDSA check on the device can refuse it now.
len=$(stat -c %s "$work/good.img")
kid_off=$((len - 144 + 4 + 4))
dd if="$work/good.img" of="$work/other.img" bs=1 skip=$kid_off seek=$kid_off count=32 conv=notrunc status=none
"$FOTA" compose --bootloader "$FW/verifier-probe.elf" --bank-a "$work/other.img" -o "$work/forged.bin" >/dev/null
run "forged key id is refused by the signature check (IMG_ERR_SIGNATURE)" 13 "$work/forged.bin"

"$FOTA" compose --bootloader "$FW/verifier-probe.elf" -o "$work/empty.bin" >/dev/null
run "erased bank is not an image (IMG_ERR_MAGIC)" 1 "$work/empty.bin"

exit $fail
