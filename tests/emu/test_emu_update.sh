#!/usr/bin/env bash
# A full over-the-air update of the real application on fota-emu, driven by fota-link over the
# socket fota-sim uses: the agent's SPI1-slave DMA transport, EXTI4, the flash driver erasing and
# programming bank B, COMMIT, SYSRESETREQ, the trial boot under the IWDG and the confirmation, all
# in the ARM binaries a user flashes. Then the same with power cut in the middle of the programming
# (a torn word program) and resumed from a fresh start of the emulator on the same flash file.
# The master leaves 20 us between transactions, as a bridge does (issue 9, finding 1: the
# application used to decode each frame in its NSS interrupt before re-arming and lost every
# transaction that came sooner than about 1 ms; before the fix this update got no answer at all).
# Bank B holds an older image, so the master polls while the device erases (finding 2: every erase
# left OVR set and the slave deaf until reset).
set -uo pipefail
. "$(dirname "$0")/../lib/flip.sh"
FOTA=${1:?fota tool}; EMU=${2:?fota-emu}; LINK=${3:?fota-link}; FW=${4:?firmware build dir}
w=$(mktemp -d /tmp/emu-upd.XXXXXX); emu_pid=
# Every job still running is stopped, not only the last emulator: a `wait` for one left alive hangs.
cleanup() { [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null; kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
KEY=$FW/keys/dev-key.pem
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$w/emu.log" ] && sed 's/^/    | /' "$w/emu.log" | tail -25; }

"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/a.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 0.9.0 -o "$w/b-old.img" "$FW/app-b.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 1.1.0 -o "$w/b.img" "$FW/app-b.elf" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a.img" --bank-b "$w/b-old.img" -o "$w/start.bin" >/dev/null

# start_emu [options]: fota-emu on $w/dev.bin, listening on $w/s.sock once the application is up.
start_emu() {
  rm -f "$w/s.sock" "$w/link.txt" "$w/info.txt" "$w/state.txt"
  "$EMU" --flash "$w/dev.bin" --socket "$w/s.sock" --gap-us 20 --quiet "$@" >"$w/emu.log" 2>&1 &
  emu_pid=$!
  for _ in $(seq 300); do [ -S "$w/s.sock" ] && return 0; kill -0 "$emu_pid" 2>/dev/null || return 1; sleep 0.1; done
  return 1
}

# cut_run START FILE SEED: from the flash image START, power cut at flash operation 3000 (torn)
# while FILE is sent; leaves the emulator's exit status in $cut_rc and the device powered on again.
cut_run() {
  cp "$1" "$w/dev.bin"
  start_emu --cut-op 3000 --tear --seed "$3" || bad "fota-emu did not start (cut run of $2)"
  "$LINK" --socket "$w/s.sock" update "$2" >"$w/link.txt" 2>&1
  wait "$emu_pid"; cut_rc=$?; emu_pid=
  start_emu || bad "fota-emu did not start after the cut"
}
# bank_b_kept FILE: the first 32 KiB of bank B are as they were composed.
bank_b_kept() {
  cmp -s <(dd if="$w/dev.bin" bs=4096 skip=$((0x60000 / 4096)) count=8 status=none) \
         <(dd if="$1" bs=4096 skip=$((0x60000 / 4096)) count=8 status=none)
}

cp "$w/start.bin" "$w/dev.bin"
start_emu || bad "fota-emu did not start"
# This master times its own transactions ('X' messages: gap and SCK sent with the bytes).
if "$LINK" --socket "$w/s.sock" --gap-us 20 --spi-hz 8000000 update "$w/b.img" >"$w/link.txt" 2>&1 &&
   "$LINK" --socket "$w/s.sock" wait 6000 &&
   "$LINK" --socket "$w/s.sock" info >"$w/info.txt" 2>&1 && "$LINK" --socket "$w/s.sock" state >"$w/state.txt" 2>&1 &&
   grep -q "application 1.1.0, running bank B" "$w/info.txt" && grep -q "boot bank B, trial bank ?" "$w/state.txt" &&
   grep -q "app: image staged for trial: resetting" "$w/emu.log" &&
   grep -q "boot: fota bootloader, reset cause: software" "$w/emu.log" &&
   grep -q "boot: bank B v1.1.0 on trial, boot 1 of 3" "$w/emu.log" &&
   grep -q "app: confirmed (trial over)" "$w/emu.log"; then
  ok "the real application updated over SPI: v1.0.0 in A to v1.1.0 in B, trial booted, confirmed"
else
  cat "$w/link.txt" "$w/info.txt" "$w/state.txt" 2>/dev/null | sed 's/^/    > /'
  bad "update of the real application over the socket"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

# Power cut at flash operation 3000 (bank B's programming), torn; then a new power-on. This master
# sends plain 'T' messages: fota-emu's --gap-us times them.
cp "$w/start.bin" "$w/dev.bin"
start_emu --cut-op 3000 --tear --seed 5 || bad "fota-emu did not start (cut run)"
"$LINK" --socket "$w/s.sock" update "$w/b.img" >"$w/link.txt" 2>&1
wait "$emu_pid"; rc=$?; emu_pid=
if [ $rc -eq 5 ] && grep -q "emu: power cut" "$w/emu.log"; then
  ok "power cut during the programming of bank B (fota-emu exit 5, flash file left torn)"
else
  bad "the cut run ended with exit $rc, expected 5 (a power cut)"
fi
start_emu || bad "fota-emu did not start after the cut"
# The resume (issue 9, finding 15) restarts at the last word written (finished if the cut tore it),
# not at the start of its 128 KiB sector, and erases nothing: it used to say "started at offset 0"
# and erase the sector again (1 s).
if grep -q "boot: bank A v1.0.0 (normal)" "$w/emu.log" &&
   "$LINK" --socket "$w/s.sock" update "$w/b.img" --bench >"$w/link.txt" 2>&1 && "$LINK" --socket "$w/s.sock" wait 6000 &&
   "$LINK" --socket "$w/s.sock" info >"$w/info.txt" 2>&1 && grep -q "application 1.1.0, running bank B" "$w/info.txt" &&
   grep -qE "started at offset [1-9][0-9]{3,}" "$w/link.txt" && grep -qE "flash erase +0.000 s" "$w/link.txt"; then
  ok "after the cut the device booted A; the update resumed at $(grep -oE 'offset [0-9]+' "$w/link.txt") with no erase, and completed"
else
  cat "$w/link.txt" "$w/info.txt" 2>/dev/null | sed 's/^/    > /'
  bad "update after a power cut"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

# Delta updates (docs/delta.md) on the real firmware: v1.0.0 in A to the one-line change (app-b-v1,
# which logs "version ... is running") as a patch the agent applies while receiving it; the same cut
# by power in the middle of the programming and resumed (the patch is sent again, what is in flash
# is kept); and a patch for another base refused before anything is erased.
"$FOTA" sign -k "$KEY" -b b -v 1.2.0 -o "$w/b1.img" "$FW/app-b-v1.elf" >/dev/null
"$FOTA" delta -q "$w/a.img" "$w/b1.img" -o "$w/ab1.patch"
cp "$w/start.bin" "$w/dev.bin"
start_emu || bad "fota-emu did not start (patch run)"
if "$LINK" --socket "$w/s.sock" --gap-us 20 --spi-hz 8000000 update "$w/ab1.patch" >"$w/link.txt" 2>&1 &&
   "$LINK" --socket "$w/s.sock" wait 6000 && "$LINK" --socket "$w/s.sock" info >"$w/info.txt" 2>&1 &&
   grep -q "application 1.2.0, running bank B" "$w/info.txt" &&
   grep -q "app: version 1.2.0 is running from bank B" "$w/emu.log" && grep -q "app: confirmed (trial over)" "$w/emu.log" &&
   grep -qE "a patch of [0-9]+ bytes for an image of [0-9]+" "$w/link.txt"; then
  ok "a patch of $(stat -c %s "$w/ab1.patch") bytes applied by the real agent: v1.0.0 in A to the one-line change v1.2.0 in B, trial booted, confirmed"
else
  cat "$w/link.txt" "$w/info.txt" 2>/dev/null | sed 's/^/    > /'
  bad "delta update of the real application"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

cut_run "$w/start.bin" "$w/ab1.patch" 7
if [ $cut_rc -eq 5 ] && grep -q "boot: bank A v1.0.0 (normal)" "$w/emu.log" &&
   "$LINK" --socket "$w/s.sock" update "$w/ab1.patch" --bench >"$w/link.txt" 2>&1 && "$LINK" --socket "$w/s.sock" wait 6000 &&
   "$LINK" --socket "$w/s.sock" info >"$w/info.txt" 2>&1 && grep -q "application 1.2.0, running bank B" "$w/info.txt" &&
   grep -qE "flash erase +0.000 s" "$w/link.txt"; then
  ok "power cut while the patch was applied (exit 5); after it A booted, the patch was sent again, nothing erased, completed"
else
  echo "    cut run exit $cut_rc"; cat "$w/link.txt" "$w/info.txt" 2>/dev/null | sed 's/^/    > /'
  bad "delta update after a power cut"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

"$FOTA" sign -k "$KEY" -b a -v 1.0.1 -o "$w/a-other.img" "$FW/app-a-v3.elf" >/dev/null
"$FOTA" delta -q "$w/a-other.img" "$w/b1.img" -o "$w/other.patch"
cp "$w/start.bin" "$w/dev.bin"
start_emu || bad "fota-emu did not start (wrong base run)"
"$LINK" --socket "$w/s.sock" update "$w/other.patch" >"$w/link.txt" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "patch refused by the device: bad base" "$w/link.txt" &&
   "$LINK" --socket "$w/s.sock" info >"$w/info.txt" 2>&1 && grep -q "running bank A" "$w/info.txt" &&
   bank_b_kept "$w/start.bin"; then
  ok "a patch for another base refused (bad base), bank B not touched"
else
  cat "$w/link.txt" "$w/info.txt" 2>/dev/null | sed 's/^/    > /'
  bad "patch for another base"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

# Encrypted images (docs/encryption.md) on the real firmware: the device's key is composed into the
# end of the bootloader's sectors; the image travels encrypted for it (BEGIN_ENC), the agent unwraps its key
# (ECDH) and decrypts every chunk before programming it; bank B ends up holding the plaintext the
# bootloader verifies and boots. Then: cut by power while decrypting and resumed; another device's
# key refused before anything is erased; a flipped ciphertext byte refused by the hash over the
# plaintext.
"$FOTA" keygen --device-enc -o "$w/dev.pem" >/dev/null
"$FOTA" keygen --device-enc -o "$w/dev2.pem" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 1.3.0 --encrypt-for "$w/dev.pub.pem" -o "$w/b-enc.img" "$FW/app-b.elf" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a.img" --bank-b "$w/b-old.img" \
    --device-key "$w/dev.pem" -o "$w/start-enc.bin" >/dev/null
cp "$w/start-enc.bin" "$w/dev.bin"
start_emu || bad "fota-emu did not start (encrypted run)"
if "$LINK" --socket "$w/s.sock" --gap-us 20 --spi-hz 8000000 update "$w/b-enc.img" --bench >"$w/link.txt" 2>&1 &&
   "$LINK" --socket "$w/s.sock" wait 6000 && "$LINK" --socket "$w/s.sock" info >"$w/info.txt" 2>&1 &&
   grep -q "application 1.3.0, running bank B" "$w/info.txt" && grep -q "encrypted for the device, decrypted by it" "$w/link.txt" &&
   grep -q "boot: bank B v1.3.0 on trial" "$w/emu.log" && grep -q "app: confirmed (trial over)" "$w/emu.log"; then
  ok "an image encrypted for this device decrypted by the real agent while received: v1.3.0 in B, trial booted, confirmed"
  sed -n 's/^/    /p' "$w/link.txt" | grep -E "update time|SPI|flash" | head -4
else
  cat "$w/link.txt" "$w/info.txt" 2>/dev/null | sed 's/^/    > /'
  bad "encrypted update of the real application"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

cut_run "$w/start-enc.bin" "$w/b-enc.img" 11
if [ $cut_rc -eq 5 ] && grep -q "boot: bank A v1.0.0 (normal)" "$w/emu.log" &&
   "$LINK" --socket "$w/s.sock" update "$w/b-enc.img" >"$w/link.txt" 2>&1 && "$LINK" --socket "$w/s.sock" wait 6000 &&
   "$LINK" --socket "$w/s.sock" info >"$w/info.txt" 2>&1 && grep -q "application 1.3.0, running bank B" "$w/info.txt" &&
   grep -qE "started at offset [1-9][0-9]{3,}" "$w/link.txt"; then
  ok "power cut while decrypting (exit 5); resumed at $(grep -oE 'offset [0-9]+' "$w/link.txt") (counter mode from there), completed"
else
  echo "    cut run exit $cut_rc"; cat "$w/link.txt" "$w/info.txt" 2>/dev/null | sed 's/^/    > /'
  bad "encrypted update after a power cut"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

# A patch of an encrypted release (the one-line change, encrypted for the device), made from the
# plaintexts and encrypted for the device in turn: applied by the real agent while decrypting it.
"$FOTA" sign -k "$KEY" -b b -v 1.4.0 --encrypt-for "$w/dev.pub.pem" -o "$w/b1-enc.img" "$FW/app-b-v1.elf" >/dev/null
"$FOTA" delta -q --device-key "$w/dev.pem" "$w/a.img" "$w/b1-enc.img" -o "$w/enc.patch"
cp "$w/start-enc.bin" "$w/dev.bin"
start_emu || bad "fota-emu did not start (encrypted patch run)"
if "$LINK" --socket "$w/s.sock" --gap-us 20 --spi-hz 8000000 update "$w/enc.patch" >"$w/link.txt" 2>&1 &&
   "$LINK" --socket "$w/s.sock" wait 6000 && "$LINK" --socket "$w/s.sock" info >"$w/info.txt" 2>&1 &&
   grep -q "application 1.4.0, running bank B" "$w/info.txt" && grep -q "encrypted for the device, decrypted by it" "$w/link.txt" &&
   grep -q "app: version 1.4.0 is running from bank B" "$w/emu.log" && grep -q "app: confirmed (trial over)" "$w/emu.log"; then
  ok "an encrypted patch of $(stat -c %s "$w/enc.patch") bytes for an encrypted release applied by the real agent: v1.4.0 in B, confirmed"
else
  cat "$w/link.txt" "$w/info.txt" 2>/dev/null | sed 's/^/    > /'
  bad "encrypted patch on the real application"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a.img" --bank-b "$w/b-old.img" \
    --device-key "$w/dev2.pem" -o "$w/start-enc2.bin" >/dev/null
cp "$w/start-enc2.bin" "$w/dev.bin"
start_emu || bad "fota-emu did not start (other key run)"
"$LINK" --socket "$w/s.sock" update "$w/b-enc.img" >"$w/link.txt" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "image refused by the device: bad key (detail 3)" "$w/link.txt" &&
   "$LINK" --socket "$w/s.sock" info >"$w/info.txt" 2>&1 && grep -q "running bank A" "$w/info.txt" &&
   bank_b_kept "$w/start-enc2.bin"; then
  ok "an image encrypted for another device refused at BEGIN (bad key), bank B not touched"
else
  cat "$w/link.txt" "$w/info.txt" 2>/dev/null | sed 's/^/    > /'
  bad "image encrypted for another device"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

cp "$w/b-enc.img" "$w/b-flip.img"
flip_byte "$w/b-flip.img" 20000
cp "$w/start-enc.bin" "$w/dev.bin"
start_emu || bad "fota-emu did not start (flipped ciphertext run)"
"$LINK" --socket "$w/s.sock" update "$w/b-flip.img" >"$w/link.txt" 2>&1; rc=$?
if ! cmp -s "$w/b-enc.img" "$w/b-flip.img" && [ $rc -eq 1 ] &&
   grep -q "image refused by the device: bad image (detail 11)" "$w/link.txt" &&
   "$LINK" --socket "$w/s.sock" state >"$w/state.txt" 2>&1 && grep -q "boot bank A, trial bank ?" "$w/state.txt"; then
  ok "a flipped ciphertext byte refused at VERIFY by the hash over the plaintext, nothing staged"
else
  cat "$w/link.txt" "$w/state.txt" 2>/dev/null | sed 's/^/    > /'
  bad "flipped ciphertext byte"
fi
kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; emu_pid=

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
