#!/usr/bin/env bash
# The real ARM binaries on fota-emu, asserting on USART1: the core probe (exceptions, FP frame,
# faults, WFI, SysTick, reset flags), the seven boot scenarios of the QEMU test, and what QEMU
# cannot show because its flash is read-only and it has no watchdog: a trial image that never
# confirms is reset by the IWDG on every boot until the bootloader reverts it.
set -uo pipefail
FOTA=${1:?fota tool}; EMU=${2:?fota-emu}; FW=${3:?firmware build dir}
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
KEY=$FW/keys/dev-key.pem
pass=0; fail=0

# run NAME FLASH RUN_MS [fota-emu options --] PATTERN... [--absent PATTERN]: boots FLASH on
# fota-emu until the last PATTERN is printed (or RUN_MS of device time), then checks that every
# PATTERN appeared, in order, and no --absent one did.
run() {
  local name=$1 flash=$2 ms=$3; shift 3
  local opts=() want=() absent=()
  if [[ " $* " == *" -- "* ]]; then
    while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
  fi
  while [ $# -gt 0 ]; do
    if [ "$1" = --absent ]; then absent+=("$2"); shift 2; else want+=("$1"); shift; fi
  done
  local out=$w/out.txt ok=1
  cp "$flash" "$w/dev.bin"
  timeout 300 "$EMU" --flash "$w/dev.bin" --run-ms "$ms" --until "${want[-1]}" --quiet "${opts[@]}" >"$out" 2>&1 || ok=0
  local at=0 line
  for p in "${want[@]}"; do
    line=$(grep -nF -- "$p" "$out" | awk -F: -v a="$at" '$1 > a {print $1; exit}')
    if [ -z "$line" ]; then ok=0; echo "    missing (in order): $p"; else at=$line; fi
  done
  for p in "${absent[@]}"; do grep -qF -- "$p" "$out" && { ok=0; echo "    present: $p"; }; done
  if [ $ok -eq 1 ]; then
    pass=$((pass + 1)); echo "ok   $name"
  else
    fail=$((fail + 1)); echo "FAIL $name"; sed 's/^/    | /' "$out" | tail -40
  fi
}

"$FOTA" keygen -o "$w/other.pem" >/dev/null
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/a.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/b.img" "$FW/app-b.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/b-probe.img" "$FW/app-probe-b.elf" >/dev/null
"$FOTA" sign -k "$w/other.pem" -b a -v 1.0.0 -o "$w/a-other.img" "$FW/app-a.elf" >/dev/null
compose() { "$FOTA" compose "$@" >/dev/null || { echo "compose failed: $*"; exit 1; }; }
flip() { printf '\x5a' | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none; }

# The core probe: every check it makes must pass, then a software reset must be seen as one.
compose --bootloader "$FW/emu-probe.elf" -o "$w/probe.bin"
run "core probe: exceptions, priorities, FP frame, SVC, WFI, DWT, faults, ART data cache, reset flags" "$w/probe.bin" 5000 \
  "probe: power-on reset flags ok" "probe: systick (about 6 ticks in 6 ms) ok" \
  "probe: basepri masks a lower-priority exception ok" "probe: systick preempts pendsv ok" \
  "probe: fp context restored after the exception ok" "probe: svc ok" "probe: wfi wakes on systick ok" \
  "probe: dwt cycle counter ok" "probe: bus fault on a bad read (PRECISERR, BFAR, FORCED) ok" \
  "probe: unaligned ldrd faults (UNALIGNED) ok" \
  "probe: fp instruction with the fpu disabled faults (NOCP) ok" \
  "probe: erase and program through the flash driver ok" "probe: data cache reads stale after an erase until DCRST ok" \
  "probe: program over a word that is not erased: NOT_ERASED, flash unchanged ok" \
  "probe: the application's port refuses the bootloader's sectors ok" \
  "probe: the application's port refuses its running bank ok" \
  "probe: a flash locked by a wrong key: the driver reports protected ok" \
  "probe: all passed, 0 failures" \
  "probe: reset flags cleared by RMVF ok" "probe: done after software reset" --absent "FAIL"

# The same probe with every interrupt delayed by up to 300 instructions (seeded): still all pass.
run "core probe with seeded interrupt jitter" "$w/probe.bin" 5000 --jitter 300 --seed 9 -- \
  "probe: systick preempts pendsv ok" "probe: fp context restored after the exception ok" \
  "probe: all passed, 0 failures" "probe: done after software reset" --absent "FAIL"

B="--bootloader $FW/bootloader.elf"
compose $B --bank-a "$w/a.img" --bank-b "$w/b.img" -o "$w/1.bin"
run "A valid, metadata names A: runs A" "$w/1.bin" 15000 \
  "boot: fota bootloader, reset cause: power-on" "boot: bank A v1.0.0 (normal)" \
  "app: v1.0.0 running from bank A" "app: confirmed"

compose $B --bank-a "$w/a.img" --bank-b "$w/b.img" --boot-bank b -o "$w/2.bin"
run "metadata names B: runs B" "$w/2.bin" 15000 "boot: bank B v2.0.0 (normal)" "app: v2.0.0 running from bank B"

cp "$w/2.bin" "$w/3.bin"; flip "$w/3.bin" "0x60000 + 0x200 + 0x400"
run "B with one flipped byte: falls back to A and says so" "$w/3.bin" 15000 \
  "boot: bank B invalid: SHA-256 mismatch: image is corrupted" "boot: falling back to bank A" \
  "boot: bank A v1.0.0 (fallback)" "app: v1.0.0 running from bank A"

compose $B --bank-a "$w/a-other.img" --bank-b "$w/b.img" -o "$w/4.bin"
run "image signed with another key: refused" "$w/4.bin" 15000 \
  "boot: bank A invalid: image is signed with another key" "boot: falling back to bank B" \
  "app: v2.0.0 running from bank B" --absent "running from bank A"

cp "$w/4.bin" "$w/5.bin"; flip "$w/5.bin" "0x60000 + 0x200 + 0x400"
run "both banks invalid: error indication" "$w/5.bin" 8000 \
  "boot: no valid image (bank A: image is signed with another key; bank B: SHA-256 mismatch: image is corrupted)" \
  "boot: halted: fast red blink" --absent "app:"

compose $B --bank-a "$w/a.img" --bank-b "$w/b.img" --trial b --attempts 3 -o "$w/6.bin"
run "trial attempts exhausted: reverts to the previous bank" "$w/6.bin" 15000 \
  "boot: bank B not confirmed after 3 boots: reverting to bank A" "boot: bank A v1.0.0 (reverted)" \
  "app: v1.0.0 running from bank A" --absent "running from bank B"

compose $B --bank-b "$w/b.img" --blank-meta -o "$w/7.bin"
run "blank metadata: initialises and runs the valid bank" "$w/7.bin" 15000 \
  "initialising metadata" "boot: bank B v2.0.0 (initialised)" "app: v2.0.0 running from bank B"

# Beyond QEMU: the metadata is written, the watchdog runs. A trial image that never confirms
# (the probe application only counts) is reset by the IWDG, boot after boot, until the revert.
compose $B --bank-a "$w/a.img" --bank-b "$w/b-probe.img" --trial b -o "$w/8.bin"
run "trial never confirmed: IWDG resets it 3 times, then the bootloader reverts" "$w/8.bin" 60000 \
  --lsi-hz 47000 -- \
  "boot: bank B v2.0.0 on trial, boot 1 of 3" "iwdg: counter reached 0" "reset cause: watchdog" \
  "boot: bank B v2.0.0 on trial, boot 2 of 3" "reset cause: watchdog" \
  "boot: bank B v2.0.0 on trial, boot 3 of 3" "reset cause: watchdog" \
  "boot: bank B not confirmed after 3 boots: reverting to bank A" "app: v1.0.0 running from bank A" \
  "app: confirmed"

# Issue 10. The first boot write-protects the bootloader's sectors through the option bytes, kept
# in the OTP file beside the flash; the next boot finds them set and leaves them.
rm -f "$w/sys.otp"
run "first boot write-protects sectors 0-1 (nWRP0-1)" "$w/1.bin" 15000 --otp "$w/sys.otp" -- \
  "boot: write-protecting sectors 0-1" "boot: bank A v1.0.0 (normal)" "app: confirmed" \
  --absent "not write-protected" --absent "nothing answers at the OTP area"
nwrp=$(od -An -tx1 -j $((512 + 16 + 8)) -N 2 "$w/sys.otp" | tr -d ' ')
if [ "$nwrp" = "fc0f" ]; then pass=$((pass + 1)); echo "ok   option bytes read nWRP 0x0ffc: sectors 0-1 protected, the rest not"
else fail=$((fail + 1)); echo "FAIL option bytes nWRP: '$nwrp', expected fc0f (sectors 0-1 protected)"; fi
run "second boot: already protected, nothing rewritten" "$w/1.bin" 15000 --otp "$w/sys.otp" -- \
  "boot: bank A v1.0.0 (normal)" "app: confirmed" --absent "write-protecting"

# The anti-rollback counter in OTP (finding 2): bank B (counter 5) confirmed puts 5 in OTP; then
# anyone who can write flash fills the metadata with random bytes and destroys B. Bank A (counter
# 3) must not boot: before the OTP counter, the blank-looking metadata let it (checked at 0).
"$FOTA" sign -k "$KEY" -b a -v 1.3.0 -s 3 -o "$w/a3.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.5.0 -s 5 -o "$w/b5.img" "$FW/app-b.elf" >/dev/null
compose $B --bank-a "$w/a3.img" --bank-b "$w/b5.img" --boot-bank b --security-counter 5 -o "$w/r1.bin"
rm -f "$w/rb.otp"
run "confirmed bank B with counter 5: the OTP counter goes to 5" "$w/r1.bin" 15000 --otp "$w/rb.otp" -- \
  "boot: OTP security counter 0 -> 5" "boot: bank B v2.5.0 (normal)" "app: v2.5.0 running from bank B"
words=$(head -c 512 "$w/rb.otp" | od -An -v -tx4 | tr -s ' ' '\n' | grep -c '^00000000$')
if [ "$words" = 5 ]; then pass=$((pass + 1)); echo "ok   OTP holds 5 programmed words (thermometer code)"
else fail=$((fail + 1)); echo "FAIL OTP words programmed: $words, expected 5"; fi
cp "$w/r1.bin" "$w/r2.bin"
head -c 32768 /dev/urandom | dd of="$w/r2.bin" bs=1 seek=$((0x8000)) conv=notrunc status=none
dd if=/dev/zero bs=4096 count=1 status=none | tr '\0' '\377' | dd of="$w/r2.bin" bs=1 seek=$((0x60000)) conv=notrunc status=none
run "random metadata, bank B destroyed: bank A (counter 3) refused by the OTP counter" "$w/r2.bin" 8000 \
  --otp "$w/rb.otp" -- "boot: bank A invalid: security counter is below the device's (rollback refused)" "boot: no valid image" \
  --absent "app:"

# A power cut at a seeded moment of the boot (the whole boot takes about 0.2 s of device time),
# then a power-on: the device boots as before.
cp "$w/1.bin" "$w/cut.bin"
"$EMU" --flash "$w/cut.bin" --run-ms 10000 --until "app: confirmed" --quiet --cut-random 200000 --seed 4 \
  >"$w/cut.txt" 2>&1
rc=$?
if [ $rc -eq 5 ] && grep -q "emu: power cut at" "$w/cut.txt" && ! grep -q "app: confirmed" "$w/cut.txt"; then
  run "power cut at a seeded moment of the boot, then power on: boots A" "$w/cut.bin" 15000 \
    "boot: bank A v1.0.0 (normal)" "app: confirmed"
else
  fail=$((fail + 1)); echo "FAIL --cut-random: exit $rc, expected 5 before the application confirmed"; sed 's/^/    | /' "$w/cut.txt"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
