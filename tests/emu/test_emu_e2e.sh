#!/usr/bin/env bash
# The whole path on the real firmware (issue 9): fota-server -> fota-bridge -> the ARM bootloader
# and application on fota-emu at 168 MHz.
#  1. v1.0.0 -> v2.0.0, confirmed. Bank B holds an older image, so the bridge polls while the
#     device erases (the erase it announced; the single-bank flash stalls the CPU meanwhile).
#  2. Power cut at KILLS seeded moments of the update (boot, transfer, verify, commit), the flash
#     torn where the cut hit; fota-emu restarted on the same flash; the bridge carries on. Every run
#     must end on v2.0.0 confirmed, and no boot may find no valid image.
#  3. JITTER seeds of interrupt jitter (each interrupt up to 2000 instructions late): fota-link
#     updates v1.0.0 -> v2.0.0; the interrupt and the main loop share only a single-producer,
#     single-consumer ring and a double-buffered STATUS.
set -uo pipefail
# PART: "update" (1 and 2) or "jitter" (3), so that ctest runs them side by side.
HOST=${1:?host build dir}; FW=${2:?firmware build dir}; PART=${3:-update}
FOTA=$HOST/fota; EMU=$HOST/fota-emu; KEY=$FW/keys/dev-key.pem
KILLS=${FOTA_EMU_E2E_KILLS:-30}; JITTER=${FOTA_EMU_E2E_JITTER:-20}
w=$(mktemp -d /tmp/emu-e2e.XXXXXX); srv=; emu=; br=
cleanup() { for p in $br $emu $srv; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
. "$(dirname "$0")/../lib/ports.sh"
port=$(free_port); url=http://127.0.0.1:$port

mkdir -p "$w/rel" "$w/state"
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -s 1 -o "$w/a1.img" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 0.9.0 -s 1 -o "$w/b-old.img" "$FW/app-b.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b a -v 2.0.0 -s 1 -o "$w/rel/slot_a.bin" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -s 1 -o "$w/rel/slot_b.bin" "$FW/app-b.elf" >/dev/null
echo 2.0.0 >"$w/rel/version.txt"
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a1.img" --bank-b "$w/b-old.img" -o "$w/init.bin" >/dev/null

"$HOST/fota-server" --root "$w/rel" --port "$port" --pubkey "$KEY" >"$w/server.log" 2>&1 & srv=$!
for _ in $(seq 100); do curl -s "$url/version" >/dev/null 2>&1 && break; sleep 0.05; done

start_emu() { # options...: fota-emu on $w/dev.bin; returns once it listens or has exited
  rm -f "$w/s.sock"
  "$EMU" --flash "$w/dev.bin" --socket "$w/s.sock" --quiet "$@" >>"$w/emu.log" 2>&1 & emu=$!
  for _ in $(seq 600); do [ -S "$w/s.sock" ] && return 0; kill -0 "$emu" 2>/dev/null || return 0; sleep 0.05; done
}
bridge() { # options...
  "$HOST/fota-bridge" --server "$url" --state-dir "$w/state" --device-id dev-emu --sim-socket "$w/s.sock" \
    --backoff-ms 100 "$@"
}
ends_confirmed() { # the last application start is v2.0.0 from B, confirmed after its trial
  [ "$(grep -o 'app: v[0-9.]* running from bank [AB]' "$w/emu.log" | tail -1)" = "app: v2.0.0 running from bank B" ] &&
    grep -q "app: confirmed (trial over)" "$w/emu.log" && ! grep -qE "no valid image|halted" "$w/emu.log"
}

if [ "$PART" = update ]; then
# 1. The update, through the bridge.
cp "$w/init.bin" "$w/dev.bin"; : >"$w/emu.log"; rm -f "$w/state/version"
start_emu
out=$(bridge 2>&1); rc=$?
"$HOST/fota-link" --socket "$w/s.sock" wait 1500 >/dev/null 2>&1
if [ $rc -eq 0 ] && grep -q "updated: device runs 2.0.0 from bank B" <<<"$out" && ends_confirmed &&
   grep -q "boot: clock 168 MHz" "$w/emu.log" && grep -q "app: clock 168 MHz" "$w/emu.log"; then
  ok "fota-bridge updated the real firmware v1.0.0 -> v2.0.0 at 168 MHz, trial boot confirmed (bank B erased while polled)"
else bad "update through the bridge (exit $rc)"; echo "$out" | tail -8; tail -12 "$w/emu.log"; fi
kill "$emu" 2>/dev/null; wait "$emu" 2>/dev/null; emu=

# 2. Power cuts at seeded moments of an update.
cuts=0; failed=0; where=""
for seed in $(seq 1 "$KILLS"); do
  cp "$w/init.bin" "$w/dev.bin"; : >"$w/emu.log"; rm -f "$w/state/version"
  # Cut times within the first 2.2 s of device time: the update got shorter with issue 10 (p256-m,
  # 1.076 of the floor), and at 3.2 s a third of the cuts came after it had ended.
  start_emu --cut-random 2200000 --tear --seed "$seed"
  pending=1; erc=0
  if [ ! -S "$w/s.sock" ]; then # the cut came during the first boot, before the bridge started
    wait "$emu"; erc=$?; emu=; pending=0
    [ $erc -eq 5 ] && cuts=$((cuts + 1)) && where="$where boot"
    start_emu
  fi
  bridge --attempts 30 >"$w/bridge.log" 2>&1 & br=$!
  while [ $pending -eq 1 ] && kill -0 "$br" 2>/dev/null && kill -0 "$emu" 2>/dev/null; do sleep 0.05; done
  if [ $pending -eq 1 ] && ! kill -0 "$emu" 2>/dev/null; then
    wait "$emu"; erc=$?; emu=
    if [ $erc -eq 5 ]; then
      cuts=$((cuts + 1))
      where="$where $(grep -oE 'power cut at [0-9.]+ s' "$w/emu.log" | tail -1 | grep -oE '[0-9.]+ s')"
    fi
    start_emu # power back on, same flash
  fi
  wait "$br"; brc=$?; br=
  "$HOST/fota-link" --socket "$w/s.sock" wait 1500 >/dev/null 2>&1
  if [ $brc -ne 0 ] || ! ends_confirmed; then
    failed=$((failed + 1))
    echo "    seed $seed: fota-emu exit $erc, bridge exit $brc"; tail -4 "$w/bridge.log" | sed 's/^/    > /'
    grep -vE '^(led|gpio)' "$w/emu.log" | tail -8 | sed 's/^/    | /'
  fi
  kill "$emu" 2>/dev/null; wait "$emu" 2>/dev/null; emu=
done
in_boot=$(tr ' ' '\n' <<<"$where" | grep -c '^boot$'); times=$(tr ' ' '\n' <<<"$where" | grep -E '^[0-9.]+$' | sort -n)
if [ $failed -eq 0 ] && [ $cuts -ge $((KILLS * 2 / 3)) ]; then
  ok "$cuts power cuts at seeded moments ($in_boot in the first boot, the others at $(head -1 <<<"$times")-$(tail -1 <<<"$times") s of device time, through transfer, verify, commit and the trial boot): all end on v2.0.0, confirmed"
else bad "power cuts during the update: $failed of $KILLS runs did not end on v2.0.0 confirmed ($cuts cuts hit)"; fi
fi

if [ "$PART" = jitter ]; then
# 3. Interrupt jitter.
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -s 1 -o "$w/b2.img" "$FW/app-b.elf" >/dev/null
jfail=0
for seed in $(seq 1 "$JITTER"); do
  cp "$w/init.bin" "$w/dev.bin"; : >"$w/emu.log"
  start_emu --jitter 2000 --seed "$seed"
  if ! "$HOST/fota-link" --socket "$w/s.sock" update "$w/b2.img" >"$w/link.log" 2>&1 ||
     ! "$HOST/fota-link" --socket "$w/s.sock" wait 1500 >/dev/null 2>&1 || ! ends_confirmed; then
    jfail=$((jfail + 1)); echo "    jitter seed $seed:"; tail -3 "$w/link.log" | sed 's/^/    > /'
  fi
  kill "$emu" 2>/dev/null; wait "$emu" 2>/dev/null; emu=
done
if [ $jfail -eq 0 ]; then ok "$JITTER seeds of interrupt jitter (up to 2000 instructions): every update confirmed"
else bad "interrupt jitter: $jfail of $JITTER seeds failed"; fi
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
