#!/usr/bin/env bash
# Invariant 1 on the real firmware: the real bootloader and application on fota-emu, power cut at
# every flash operation of their metadata writes (a trial boot counted and confirmed, a revert,
# a fallback, a first boot, a log rotation), once cleanly and once tearing the operation. After
# each cut the device is powered again and must enter the bank the sequence allows, holding bit for
# bit the image that was put there: never neither, never a corrupt one, never a trial lost.
# FOTA_EMU_SWEEP=NAME-PREFIX limits the run to the sequences whose name starts so (for trying a
# broken build quickly).
set -uo pipefail
FOTA=${1:?fota tool}; EMU=${2:?fota-emu}; FILL=${3:?meta_fill}; FW=${4:?firmware build dir}
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
KEY=$FW/keys/dev-key.pem
cuts=0; failures=0

"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/a.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/b.img" "$FW/app-b.elf" >/dev/null
compose() { "$FOTA" compose --bootloader "$FW/bootloader.elf" "$@" >/dev/null || { echo "compose failed: $*"; exit 1; }; }

# bank_ok FLASH BANK: the bank holds exactly the image composed into it.
bank_ok() {
  local img=$w/a.img off=$((0x20000))
  [ "$2" = B ] && { img=$w/b.img; off=$((0x60000)); }
  cmp -s -n "$(stat -c %s "$img")" "$img" <(tail -c +$((off + 1)) "$1")
}

# sweep NAME FLASH FINAL BANK: counts the flash operations of an uncut run from power-on until
# USART1 prints FINAL, then cuts at each of them. After every cut the device must enter BANK: the
# one the state before the cut or the state after it boots (a trial not yet confirmed continues
# its trial; a revert, a fallback or a first boot keeps to A).
sweep() {
  local name=$1 flash=$2 final=$3 want=$4
  [[ "$name" == "${FOTA_EMU_SWEEP:-}"* ]] || return 0
  cp "$flash" "$w/dev.bin"
  if ! "$EMU" --flash "$w/dev.bin" --run-ms 30000 --until "$final" --quiet --stats >"$w/uncut.txt" 2>&1; then
    echo "FAIL $name: the uncut run did not reach '$final'"; sed 's/^/    | /' "$w/uncut.txt"; failures=$((failures + 1)); return
  fi
  local ops
  ops=$(sed -n 's/.*flash_ops=\([0-9]*\).*/\1/p' "$w/uncut.txt")
  local bad=0
  for k in $(seq 1 "$ops"); do
    for tear in "" --tear; do
      cp "$flash" "$w/dev.bin"
      "$EMU" --flash "$w/dev.bin" --run-ms 30000 --until "$final" --quiet --cut-op "$k" $tear --seed "$k" >"$w/cut.txt" 2>&1
      local rc=$?
      if [ $rc -ne 5 ]; then
        echo "FAIL $name: cut at operation $k ${tear:-clean}: fota-emu exit $rc, expected a power cut"
        bad=$((bad + 1)); continue
      fi
      cuts=$((cuts + 1))
      "$EMU" --flash "$w/dev.bin" --run-ms 30000 --stop-at-app --quiet >"$w/after.txt" 2>&1
      local bank
      bank=$(sed -n 's/^emu: application entered at .*(bank \([AB]\)).*/\1/p' "$w/after.txt")
      if [ "$bank" != "$want" ] || grep -q "halted" "$w/after.txt" || ! bank_ok "$w/dev.bin" "$bank"; then
        echo "FAIL $name: after a cut at operation $k ${tear:-clean}, the next boot entered '${bank:-no bank}', expected $want"
        sed 's/^/    | /' "$w/cut.txt" | tail -5; sed 's/^/    | /' "$w/after.txt" | tail -8
        bad=$((bad + 1))
      fi
    done
  done
  failures=$((failures + bad))
  echo "$([ $bad -eq 0 ] && echo ok || echo FAIL)   $name: $ops flash operations, $((ops * 2)) cuts, $bad failures"
}

compose --bank-a "$w/a.img" --bank-b "$w/b.img" --trial b -o "$w/trial.bin"
sweep "trial boot counted, then confirmed by the new image" "$w/trial.bin" "app: confirmed (trial over)" B

compose --bank-a "$w/a.img" --bank-b "$w/b.img" --trial b --attempts 3 -o "$w/revert.bin"
sweep "trial never confirmed: revert" "$w/revert.bin" "app: confirmed" A

compose --bank-a "$w/a.img" --bank-b "$w/b.img" --boot-bank b -o "$w/fallback.bin"
printf '\x5a' | dd of="$w/fallback.bin" bs=1 seek=$((0x60000 + 0x200 + 0x400)) conv=notrunc status=none
sweep "boot bank corrupted: fallback recorded" "$w/fallback.bin" "app: confirmed" A

compose --bank-a "$w/a.img" --bank-b "$w/b.img" --blank-meta -o "$w/first.bin"
sweep "first boot: metadata initialised" "$w/first.bin" "app: confirmed" A

# A log half with one free slot: the trial boot's record fills it, the confirmation rotates
# (erases the other half, writes there).
compose --bank-a "$w/a.img" --bank-b "$w/b.img" --trial b -o "$w/rotate.bin"
"$FILL" "$w/rotate.bin" 510 >/dev/null || { echo "meta_fill failed"; exit 1; }
sweep "log rotation during a trial and its confirmation" "$w/rotate.bin" "app: confirmed (trial over)" B

echo "$cuts cut points on the real firmware, $failures failures"
[ $failures -eq 0 ] && [ $cuts -gt 0 ]
