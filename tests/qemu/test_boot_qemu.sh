#!/usr/bin/env bash
# The real ARM bootloader and example application under qemu-system-arm -M netduinoplus2, on 1 MiB
# flash images from `fota compose`, asserting on USART1 output within a bounded time.
# QEMU's flash is read-only: metadata writes fail there (and are reported), so scenarios that need
# a write to succeed (counting a trial boot) are covered on the simulated flash (test_boot,
# test_powercut) instead.
set -uo pipefail
FOTA=${1:?fota tool}; FW=${2:?firmware build dir}
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
KEY=$FW/keys/dev-key.pem
pass=0; fail=0

# boot NAME FLASH PATTERN... [--absent PATTERN]: runs QEMU until every PATTERN appeared (in order
# of the output) or 30 s passed.
boot() {
  local name=$1 flash=$2; shift 2
  local want=() absent=()
  while [ $# -gt 0 ]; do
    if [ "$1" = --absent ]; then absent+=("$2"); shift 2; else want+=("$1"); shift; fi
  done
  local out=$w/serial.txt ok=1
  bash "$(dirname "$0")/../../scripts/qemu-run.sh" "$flash" "${want[-1]}" 30 >"$out" || ok=0
  for p in "${want[@]}"; do grep -qF -- "$p" "$out" || ok=0; done
  for p in "${absent[@]}"; do grep -qF -- "$p" "$out" && ok=0; done
  if [ $ok -eq 1 ]; then
    pass=$((pass + 1)); echo "ok   $name"
  else
    fail=$((fail + 1)); echo "FAIL $name; wanted: ${want[*]}${absent:+; absent: ${absent[*]}}"; sed 's/^/    | /' "$out"
  fi
}

"$FOTA" keygen -o "$w/other.pem" >/dev/null
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/a.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/b.img" "$FW/app-b.elf" >/dev/null
"$FOTA" sign -k "$w/other.pem" -b a -v 1.0.0 -o "$w/a-other.img" "$FW/app-a.elf" >/dev/null
compose() { "$FOTA" compose --bootloader "$FW/bootloader.elf" "$@" >/dev/null || { echo "compose failed: $*"; exit 1; }; }
flip() { printf '\x5a' | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none; }

compose --bank-a "$w/a.img" --bank-b "$w/b.img" -o "$w/1.bin"
# QEMU maps nothing at the OTP area: the bootloader's probe notes the bus fault and goes on without
# the OTP counter (on an F407, and on fota-emu, the OTP answers: test_emu_boot).
boot "A valid, metadata names A: runs A" "$w/1.bin" \
  "boot: nothing answers at the OTP area" "boot: bank A v1.0.0 (normal)" "app: v1.0.0 running from bank A" \
  "app: confirmed"

compose --bank-a "$w/a.img" --bank-b "$w/b.img" --boot-bank b -o "$w/2.bin"
boot "metadata names B: runs B" "$w/2.bin" \
  "boot: bank B v2.0.0 (normal)" "app: v2.0.0 running from bank B"

cp "$w/2.bin" "$w/3.bin"; flip "$w/3.bin" "0x60000 + 0x200 + 0x400"
boot "B with one flipped byte: falls back to A and says so" "$w/3.bin" \
  "boot: bank B invalid: SHA-256 mismatch: image is corrupted" "boot: falling back to bank A" \
  "boot: bank A v1.0.0 (fallback)" "app: v1.0.0 running from bank A"

compose --bank-a "$w/a-other.img" --bank-b "$w/b.img" -o "$w/4.bin"
boot "image signed with another key: refused" "$w/4.bin" \
  "boot: bank A invalid: image is signed with another key" "boot: falling back to bank B" \
  "app: v2.0.0 running from bank B" --absent "running from bank A"

cp "$w/4.bin" "$w/5.bin"; flip "$w/5.bin" "0x60000 + 0x200 + 0x400"
boot "both banks invalid: error indication" "$w/5.bin" \
  "boot: no valid image (bank A: image is signed with another key; bank B: SHA-256 mismatch: image is corrupted)" \
  "boot: halted: fast red blink" --absent "app:"

compose --bank-a "$w/a.img" --bank-b "$w/b.img" --trial b --attempts 3 -o "$w/6.bin"
boot "trial attempts exhausted: reverts to the previous bank" "$w/6.bin" \
  "boot: bank B not confirmed after 3 boots: reverting to bank A" "boot: bank A v1.0.0 (reverted)" \
  "app: v1.0.0 running from bank A" --absent "running from bank B"

compose --bank-b "$w/b.img" --blank-meta -o "$w/7.bin"
boot "blank metadata: initialises and runs the valid bank" "$w/7.bin" \
  "initialising metadata" "boot: bank B v2.0.0 (initialised)" "app: v2.0.0 running from bank B"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
