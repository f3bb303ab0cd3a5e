#!/usr/bin/env bash
# P-256 signature checks on the device, two ways, through the same crypto port (crypto_psa.c):
# the p256-m driver (the product) and mbedTLS 3.6's own ECP/bignum/ECDSA (a measurement build,
# FOTA_FW_P256=mbedtls, with a heap pool). For each: flash of the crypto library in the
# signature probe, whether the bootloader still fits its 32 KiB, stack and heap of a verify (the
# probe under QEMU, 632 pairs), and instructions per verify on fota-emu (10 pairs; the probe's
# first semihosting call, its report, ends the run: fota-emu does not model semihosting).
# Prints figures, asserts nothing. Called by scripts/bench.sh (make bench).
set -euo pipefail
HOST=$(cd "${1:?host build dir}" && pwd); FW=$(cd "${2:?firmware build dir}" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
ALT=$FW-p256-mbedtls
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT

echo "== P-256 on the device: building the measurement firmware with mbedTLS's own ECP ($ALT)"
cmake -S "$TOP/firmware" -B "$ALT" -DCMAKE_TOOLCHAIN_FILE="$TOP/cmake/arm-none-eabi.cmake" \
  -DFOTA_TOOL="$HOST/fota" -DFOTA_SIGNING_KEY="$FW/keys/dev-key.pem" -DFOTA_FW_P256=mbedtls >"$w/cfg.log" 2>&1 ||
  { cat "$w/cfg.log"; exit 1; }
cmake --build "$ALT" -j "$(nproc)" --target sig-probe.elf >"$w/build.log" 2>&1 || { cat "$w/build.log"; exit 1; }
alt_boot="links"
if ! cmake --build "$ALT" --target bootloader.elf >"$w/boot.log" 2>&1; then
  alt_boot=$(grep -o "region .FLASH. overflowed by [0-9]* bytes" "$w/boot.log" || echo "does not link")
fi

# Sizes from a link map: the crypto library's objects (.text and .rodata) in flash.
crypto_bytes() {
  awk 'function hex(s,  i, v, c) { v = 0; s = tolower(substr(s, 3))
         for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c }
         return v }
       /Linker script and memory map/ {m = 1; next} !m {next}
       /^ \.(text|rodata)/ { if (NF >= 4) { a = $2; z = $3; o = $4 } else { getline; a = $1; z = $2; o = $3 }
         if (a ~ /^0x080/ && o ~ /libfw_mbedcrypto/) n += hex(z) }
       END { print n + 0 }' "$1"
}

"$HOST/tests/sig_sweep" 200 --add "$TOP/tests/crypto/pool-refused.sigt" --out "$w/table.sigt" >/dev/null
"$HOST/tests/sig_sweep" 10 --out "$w/t.sigt" >/dev/null
# The first 10 records only (header: magic, count, 2 reserved words; records of 176 bytes).
{ head -c 4 "$w/t.sigt"; printf '\x0a\x00\x00\x00'
  dd if="$w/t.sigt" bs=8 skip=1 count=$(((8 + 10 * 176) / 8)) status=none; } >"$w/ten.sigt"

for v in p256m mbedtls; do
  dir=$FW; [ "$v" = mbedtls ] && dir=$ALT
  probe=$dir/sig-probe.elf
  text=$(arm-none-eabi-size "$probe" | awk 'NR == 2 {print $1}')
  lib=$(crypto_bytes "$dir/sig-probe.map")
  if [ "$v" = p256m ]; then boot="$(arm-none-eabi-size "$FW/bootloader.elf" | awk 'NR == 2 {print $1}') bytes of 32,704"
  else boot=$alt_boot; fi
  qemu=$(timeout 600 qemu-system-arm -M netduinoplus2 -nographic -monitor none -serial null \
    -semihosting-config enable=on,target=native -device loader,file="$probe" \
    -device loader,file="$w/table.sigt",addr=0x08020000,force-raw=on 2>&1 || true)
  checked=$(echo "$qemu" | sed -n 's/.*: \(.* refused\), .*/\1/p')
  stack=$(echo "$qemu" | sed -n 's/.* \([0-9]*\) bytes of stack below main.*/\1/p')
  heap=$(echo "$qemu" | sed -n 's/.*high-water mark \([0-9]*\) bytes.*/\1/p')
  arm-none-eabi-objcopy -O binary "$probe" "$w/probe.bin"
  cp "$w/probe.bin" "$w/flash.bin"
  truncate -s $((0x20000)) "$w/flash.bin" # zeros past the probe: never read
  cat "$w/ten.sigt" >>"$w/flash.bin"
  truncate -s 1M "$w/flash.bin" # fota-emu takes the whole 1 MiB
  "$HOST/fota-emu" --flash "$w/flash.bin" --run-ms 200000 --quiet --stats >"$w/emu.txt" 2>&1 || true
  instr=$(sed -n 's/.* instructions=\([0-9]*\) .*/\1/p' "$w/emu.txt")
  printf 'p256 %-8s probe %6d B, crypto library %6d B; bootloader: %s; %s (QEMU); stack %s B, heap %s B; %.2f M instructions per verify (fota-emu)\n' \
    "$v" "$text" "$lib" "$boot" "${checked:-probe failed}" "${stack:-?}" "${heap:-0}" \
    "$(awk -v n="${instr:-0}" 'BEGIN {print n / 10 / 1e6}')"
done
