#!/usr/bin/env bash
# The agent, the bootloader and the link master as processes: fota-sim (the device, its flash in a
# file) driven by fota-link over the simulator's socket. A v1 -> v2 update boots v2 on trial and is
# confirmed; a bus with corrupted, dropped and duplicated transactions still yields a bit-exact
# image; an image signed with another key is refused and nothing is staged; and kill -9 of the
# simulator at seeded random moments (a power cut), then a restart, always boots a valid image and
# the update resumes and finishes.
set -uo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}; TRIALS=${KILL_TRIALS:-50}
FOTA=$HOST/fota; SIM=$HOST/fota-sim; LINK=$HOST/fota-link; KEY=$FW/keys/dev-key.pem
w=$(mktemp -d); sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill -9 "$sim_pid" 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

start_sim() { # LOG [fota-sim options...]
  local log=$1; shift
  rm -f "$w/sock"
  "$SIM" --flash "$w/flash.bin" --socket "$w/sock" --pubkey "$KEY" --quiet "$@" >"$log" 2>&1 &
  sim_pid=$!
  for _ in $(seq 100); do [ -S "$w/sock" ] && return 0; sleep 0.02; done
  echo "fota-sim did not start:"; cat "$log"; return 1
}
stop_sim() { kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; sim_pid=; }
wait_log() { # LOG TEXT: up to 5 s
  for _ in $(seq 250); do grep -qF -- "$2" "$1" && return 0; sleep 0.02; done; return 1
}
bank_b_is() { cmp -s -n "$(stat -c %s "$1")" "$1" <(tail -c +$((0x60000 + 1)) "$w/flash.bin"); }

# Images: v1 in bank A, an older image in bank B (so its sectors must be erased), and v2: the
# example application padded to about 200 KiB so that a transfer spans both sectors of bank B.
"$FOTA" keygen -o "$w/other.pem" >/dev/null
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/a.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 0.9.0 -o "$w/old-b.img" "$FW/app-b.elf" >/dev/null
{ cat "$FW/app-b.bin"; yes "fota payload padding" | head -c 200000; } >"$w/v2.bin"
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/v2.img" "$w/v2.bin" >/dev/null
"$FOTA" sign -k "$w/other.pem" -b b -v 2.0.0 -o "$w/v2-other.img" "$w/v2.bin" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a.img" --bank-b "$w/old-b.img" -o "$w/init.bin" >/dev/null

# 1. A whole update.
start_sim "$w/1.log" --init "$w/init.bin" || exit 1
out=$("$LINK" --socket "$w/sock" update "$w/v2.img" 2>&1); rc=$?
if [ $rc -eq 0 ] && wait_log "$w/1.log" "app: confirmed (trial over)" && grep -qF "boot: bank B v2.0.0 on trial, boot 1 of 3" "$w/1.log" &&
   "$LINK" --socket "$w/sock" state | grep -qF "boot bank B, trial bank ?" && bank_b_is "$w/v2.img"; then
  ok "v1 -> v2 update: boots v2 on trial, confirms, bank B bit-exact"
else
  bad "v1 -> v2 update (exit $rc)"; echo "$out"; cat "$w/1.log"
fi
# 1b. A file that starts like a patch but is cut inside its header: refused before anything is
# sent (fota-link used to read the 160-byte header past the end of a shorter file).
printf 'FDLT\x01\x00\xa0\x00' >"$w/short.patch"
out=$("$LINK" --socket "$w/sock" update "$w/short.patch" 2>&1); rc=$?
if [ $rc -eq 3 ] && grep -qF "is not a whole patch" <<<"$out"; then
  ok "a patch cut inside its header: refused (exit 3), nothing sent"
else
  bad "a short patch (exit $rc)"; echo "$out"
fi
stop_sim

# 2. A faulty bus: 2% of transactions each corrupted towards the slave, corrupted towards the
# master, dropped, duplicated.
for seed in 11 12 13; do
  start_sim "$w/2.log" --init "$w/init.bin" --faults 20 --seed $seed || exit 1
  out=$("$LINK" --socket "$w/sock" update "$w/v2.img" 2>&1); rc=$?
  faults=$("$LINK" --socket "$w/sock" stats 2>/dev/null | grep -oE 'faults=[0-9]+')
  if [ $rc -eq 0 ] && wait_log "$w/2.log" "app: confirmed (trial over)" && bank_b_is "$w/v2.img" && [ "${faults#faults=}" -gt 0 ]; then
    ok "faulty bus, seed $seed ($faults): update completes bit-exact"
  else
    bad "faulty bus, seed $seed (exit $rc, $faults)"; echo "$out"; tail -5 "$w/2.log"
  fi
  stop_sim
done

# 3. Signed with another key: refused, nothing staged, still running v1.
start_sim "$w/3.log" --init "$w/init.bin" || exit 1
out=$("$LINK" --socket "$w/sock" update "$w/v2-other.img" 2>&1); rc=$?
state=$("$LINK" --socket "$w/sock" state 2>&1)
if [ $rc -eq 1 ] && grep -qF "refused by the device: bad image" <<<"$out" && grep -qF "boot bank A, trial bank ?" <<<"$state"; then
  ok "image signed with another key: refused, nothing staged"
else
  bad "image signed with another key (exit $rc)"; echo "$out"; echo "$state"
fi
stop_sim

# 4. kill -9 at seeded random moments, then power back on: it boots a valid image and the update
# resumes and completes.
RANDOM=4242
resumed=0; landed_early=0
for t in $(seq "$TRIALS"); do
  start_sim "$w/k.log" --init "$w/init.bin" || exit 1
  "$LINK" --socket "$w/sock" update "$w/v2.img" >"$w/k-link.log" 2>&1 &
  link_pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 300)))"
  kill -9 "$sim_pid"; wait "$sim_pid" 2>/dev/null; sim_pid=
  wait "$link_pid" 2>/dev/null
  start_sim "$w/r.log" || exit 1   # the same flash file: whatever was written stays written
  if ! wait_log "$w/r.log" "running from bank" || grep -qE "halted|no valid image|self-test failed" "$w/r.log"; then
    bad "kill trial $t: did not boot a valid image after the cut"; cat "$w/r.log"; stop_sim; continue
  fi
  if grep -qF "running from bank B" "$w/r.log"; then
    landed_early=$((landed_early + 1)) # the cut came after the commit
  else
    out=$("$LINK" --socket "$w/sock" update "$w/v2.img" 2>&1) || { bad "kill trial $t: resumed update failed"; echo "$out"; stop_sim; continue; }
    off=$(grep -oE 'started at offset [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
    [ "${off:-0}" -gt 0 ] && resumed=$((resumed + 1))
    wait_log "$w/r.log" "app: confirmed (trial over)" || { bad "kill trial $t: v2 not confirmed"; stop_sim; continue; }
  fi
  if bank_b_is "$w/v2.img"; then pass=$((pass + 1)); else bad "kill trial $t: bank B is not the image"; fi
  stop_sim
done
echo "ok   $TRIALS kill -9 trials: every restart booted a valid image; $resumed resumed past offset 0, $landed_early cut after the commit"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
