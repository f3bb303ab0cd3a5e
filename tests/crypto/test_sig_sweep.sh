#!/usr/bin/env bash
# Every validly signed image verifies on the device (issue 10, finding 1).
#  1. Host: 10,000 random key/signature pairs, the edge-case keys and digests, each with its high-S
#     twin, and the pairs that the old heap-based verifier refused on the device (kept in
#     pool-refused.sigt: 24 of 4,208 failed with "crypto memory pool exhausted" under QEMU), through
#     crypto_p256_verify: the device's own code (p256-m), compiled for the host.
#  2. Device: the kept pairs plus fresh random ones through the Cortex-M4 build of the same code
#     (firmware/probes/sig_probe.c) under qemu-system-arm -M netduinoplus2.
set -euo pipefail
SWEEP=${1:?sig_sweep}; FW=${2:?firmware build dir}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail=0

echo "== host: the device's verifier over 10,000 random pairs and the kept worst cases"
if "$SWEEP" 10000 --add "$here/pool-refused.sigt" | tee "$work/host.out"; then
  grep -q '^10000 random key/signature pairs through the device configuration, 0 refused$' "$work/host.out" || fail=1
else
  echo "FAIL: the sweep refused a valid pair or accepted an altered one"; fail=1
fi

echo "== device: the kept worst cases and 200 fresh pairs on the Cortex-M4 build, under QEMU"
"$SWEEP" 200 --add "$here/pool-refused.sigt" --out "$work/table.sigt" >/dev/null
code=0
timeout 300 qemu-system-arm -M netduinoplus2 -nographic -monitor none -serial null \
  -semihosting-config enable=on,target=native \
  -device loader,file="$FW/sig-probe.elf" \
  -device loader,file="$work/table.sigt",addr=0x08020000,force-raw=on >"$work/dev.out" 2>&1 || code=$?
cat "$work/dev.out"
if [ "$code" -ne 0 ] || ! grep -q 'pairs checked on the device, 0 refused' "$work/dev.out"; then
  echo "FAIL: the device refused valid pairs (exit $code)"; fail=1
fi
[ "$fail" -eq 0 ] && echo "ok: every valid pair verified, on the host and on the device"
exit $fail
