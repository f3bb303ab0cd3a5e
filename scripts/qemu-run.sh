#!/usr/bin/env bash
# Boots a 1 MiB flash image on qemu-system-arm -M netduinoplus2 and prints what USART1 says, until a
# line containing UNTIL appears (then half a second more) or SECONDS pass. Exit 0 if UNTIL appeared.
# Usage: qemu-run.sh FLASH.bin UNTIL [SECONDS]
set -uo pipefail
flash=${1:?flash image}; until=${2:?text to wait for}; secs=${3:-30}
out=$(mktemp); trap 'rm -f "$out"' EXIT
qemu-system-arm -M netduinoplus2 -nographic -monitor none -serial "file:$out" \
  -device loader,file="$flash",addr=0x08000000 >/dev/null 2>&1 &
pid=$!
found=1
for _ in $(seq $((secs * 10))); do
  if grep -qF -- "$until" "$out"; then found=0; sleep 0.5; break; fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
tr -d '\r' <"$out"
exit $found
