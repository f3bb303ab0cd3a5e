#!/usr/bin/env bash
# Invariant 1 on the real firmware: the real bootloader and application on fota-emu, power cut at
# every flash operation of their metadata writes (a trial boot counted and confirmed, a revert,
# a fallback, a first boot, a log rotation), once cleanly and once tearing the operation. After
# each cut the device is powered again and must enter the bank the sequence allows, holding bit for
# bit the image that was put there: never neither, never a corrupt one, never a trial lost.
# FOTA_EMU_SWEEP=NAME-PREFIX limits the run to the sequences whose name starts so (for trying a
# broken build quickly).
set -uo pipefail
FOTA=${1:?fota tool}; EMU=${2:?fota-emu}; FILL=${3:?meta_fill}; LINK=${4:?fota-link}; FW=${5:?firmware build dir}
w=$(mktemp -d /tmp/emu-cut.XXXXXX); emu_pid=
trap '[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null; rm -rf "$w"' EXIT
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

# after_cut NAME K TEAR WANT: powers the cut device on; it must enter WANT with its image intact.
after_cut() {
  "$EMU" --flash "$w/dev.bin" --run-ms 30000 --stop-at-app --quiet >"$w/after.txt" 2>&1
  local bank
  bank=$(sed -n 's/^emu: application entered at .*(bank \([AB]\)).*/\1/p' "$w/after.txt")
  if [ "$bank" != "$4" ] || grep -q "halted" "$w/after.txt" || ! bank_ok "$w/dev.bin" "$bank"; then
    echo "FAIL $1: after a cut at operation $2 ${3:-clean}, the next boot entered '${bank:-no bank}', expected $4"
    sed 's/^/    | /' "$w/cut.txt" | tail -5; sed 's/^/    | /' "$w/after.txt" | tail -8
    return 1
  fi
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
      after_cut "$name" "$k" "$tear" "$want" || bad=$((bad + 1))
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

# run_update [fota-emu options]: fota-link updates bank B of $w/dev.bin over SPI; the device runs
# on until it resets into the new image (and 3 s more), or dies.
run_update() {
  rm -f "$w/s.sock"
  "$EMU" --flash "$w/dev.bin" --socket "$w/s.sock" --gap-us 2000 --quiet "$@" >"$w/cut.txt" 2>&1 &
  emu_pid=$!
  for _ in $(seq 300); do [ -S "$w/s.sock" ] && break; sleep 0.05; done
  "$LINK" --socket "$w/s.sock" update "$w/b.img" >/dev/null 2>&1 && "$LINK" --socket "$w/s.sock" wait 3000 >/dev/null 2>&1
  kill "$emu_pid" 2>/dev/null
  wait "$emu_pid" 2>/dev/null
  emu_pid=
}

# The agent starting the trial: an update of bank B over SPI (fota-link), power cut at each flash
# operation of the record that stages the new image (the last ones before the reset), clean and
# torn. The staging is all or nothing: the device boots A until the record is whole, B after.
stage_sweep() {
  local name="update: the record that stages the new image for its trial"
  [[ "$name" == "${FOTA_EMU_SWEEP:-}"* ]] || return 0
  cp "$w/update.bin" "$w/dev.bin"
  run_update
  local n
  n=$(sed -n 's/^emu: software reset at .*, after \([0-9]*\) flash operations/\1/p' "$w/cut.txt" | head -1)
  if [ -z "$n" ]; then
    echo "FAIL $name: the uncut update did not reset into the new image"; sed 's/^/    | /' "$w/cut.txt" | tail -8
    failures=$((failures + 1)); return
  fi
  # Operation n+1 is the bootloader's first write after the reset (counting the trial boot): by
  # then the staging record is whole, so the device boots B; that marks the record's last word.
  cut_update "$name" $((n - 7)) $((n + 1)) "$n"
}

# cut_update NAME FIRST LAST N: cuts the update at operations FIRST..LAST, clean and torn; the device
# must boot A up to operation N and B after it.
cut_update() {
  local name=$1 n=$4 bad=0
  for k in $(seq "$2" "$3"); do
    local want=A
    [ "$k" -gt "$n" ] && want=B
    for tear in "" --tear; do
      cp "$w/update.bin" "$w/dev.bin"
      run_update --cut-op "$k" $tear --seed "$k"
      if ! grep -q "emu: power cut" "$w/cut.txt"; then
        echo "FAIL $name: no power cut at operation $k"; bad=$((bad + 1)); continue
      fi
      cuts=$((cuts + 1))
      after_cut "$name" "$k" "$tear" "$want" || bad=$((bad + 1))
    done
  done
  failures=$((failures + bad))
  echo "$([ $bad -eq 0 ] && echo ok || echo FAIL)   $name: operations $2-$3, $((($3 - $2 + 1) * 2)) cuts, $bad failures"
}

"$FOTA" sign -k "$KEY" -b b -v 1.1.0 -o "$w/b.img" "$FW/app-b.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 0.9.0 -o "$w/b-old.img" "$FW/app-b.elf" >/dev/null
compose --bank-a "$w/a.img" --bank-b "$w/b-old.img" -o "$w/update.bin"
stage_sweep
# The start of the same update: the erase of bank B's sector and the record of the transfer the
# agent may resume (operations 1-10): the device keeps booting A.
name="update: the erase of bank B and the transfer record"
[[ "$name" == "${FOTA_EMU_SWEEP:-}"* ]] && cut_update "$name" 1 10 1000000

echo "$cuts cut points on the real firmware, $failures failures"
[ $failures -eq 0 ] && [ $cuts -gt 0 ]
