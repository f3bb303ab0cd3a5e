#!/usr/bin/env bash
# The fleet (issue 13): device identity, a forged report, pending devices, staged rollouts over 200
# simulated devices (the real fota-bridge and fota-sim for each update), an automatic halt, the
# CLI and the web view in headless Chromium. Screenshots and the page's DOM are kept in OUT.
# Usage: test_fleet.sh HOST_BUILD FW_BUILD OUT_DIR [CHROMIUM]
set -uo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}; OUT=${3:?output dir}; CHROMIUM=${4:-/usr/bin/chromium}
FOTA=$HOST/fota; KEY=$FW/keys/dev-key.pem; HERE=$(cd "$(dirname "$0")" && pwd)
w=$(mktemp -d); srv=; srv2=
cleanup() { for p in $srv $srv2; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
mkdir -p "$OUT" "$w/root" "$w/root2"
. "$HERE/../lib/ports.sh"
url=
echo "operator-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$w/op.tok"
admin() { "$HOST/fota-admin" --server "$url" --token-file "$w/op.tok" "$@"; }
start_server() { # ROOT MODE LOG: sets srv_pid and srv_port (a free port; another if it is taken meanwhile)
  local tries
  for tries in 1 2 3 4 5; do
    srv_port=$(free_port)
    "$HOST/fota-server" --root "$1" --port "$srv_port" --pubkey "$KEY" --publish-token-file "$w/op.tok" --devices "$2" \
      --log-level warn >"$3" 2>&1 &
    srv_pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$srv_port/metrics" && return 0; kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.05; done
    kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null
  done
  bad "fota-server did not start"; cat "$3"; return 1
}
release() { # VERSION COUNTER
  "$FOTA" sign -k "$KEY" -b a -v "$1" -s "$2" -o "$w/$1-a.bin" "$FW/app-a.elf" >/dev/null
  "$FOTA" sign -k "$KEY" -b b -v "$1" -s "$2" -o "$w/$1-b.bin" "$FW/app-b.elf" >/dev/null
}
release 1.0.0 1; release 2.0.0 2; release 3.0.0 0 # 3.0.0: a counter below the devices' (a build mistake)
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/1.0.0-a.bin" -o "$w/init.bin" >/dev/null

start_server "$w/root" registered "$w/server.log"; srv=$srv_pid; port=$srv_port; url=http://127.0.0.1:$port
admin publish 1.0.0 "$w/1.0.0-a.bin" "$w/1.0.0-b.bin" --activate >/dev/null 2>&1 &&
admin publish 2.0.0 "$w/2.0.0-a.bin" "$w/2.0.0-b.bin" >/dev/null 2>&1 &&
admin publish 3.0.0 "$w/3.0.0-a.bin" "$w/3.0.0-b.bin" >/dev/null 2>&1 &&
[ "$(admin releases --json | tr -d ' \t\n')" = '[{"version":"3.0.0","current":false},{"version":"2.0.0","current":false},{"version":"1.0.0","current":true}]' -o \
  "$(admin releases | sort | tr -s ' ' | tr '\n' ';')" = "1.0.0 current;2.0.0 ;3.0.0 ;" ] &&
  ok "fota-admin publish: 1.0.0 current, 2.0.0 and 3.0.0 published for rollouts" || { bad "publish"; admin releases; }

# 200 devices provisioned, each with its own token (fota-admin device add --token-out).
N=200
for i in $(seq 0 $((N - 1))); do
  d=$w/dev/d$i; mkdir -p "$d"; echo 1.0.0 >"$d/version"
  admin device add "d$i" --group field --token-out "$d/token" >/dev/null || bad "device add d$i"
done
[ "$(admin devices --json | grep -c '"status":')" = "$N" ] && ok "$N devices provisioned in group field" || bad "provisioning"

# Operator API refusals: each names the problem and changes nothing.
op="Authorization: Bearer $(cat "$w/op.tok")"
e1=$(curl -s -o "$w/e1" -w '%{http_code}' "$url/api/v1/devices")
e2=$(curl -s -o "$w/e2" -w '%{http_code}' -H "$op" -d '{"version":"9.9.9","percent":10}' "$url/api/v1/rollouts")
e3=$(curl -s -o "$w/e3" -w '%{http_code}' -H "$op" -d '{"version":"2.0.0","percent":0}' "$url/api/v1/rollouts")
e4=$(curl -s -o "$w/e4" -w '%{http_code}' -H "$op" -d '{"id":"d0"}' "$url/api/v1/devices")
e5=$(curl -s -o "$w/e5" -w '%{http_code}' -H "$op" -d '{"id":"../x"}' "$url/api/v1/devices")
e6=$(curl -s -o "$w/e6" -w '%{http_code}' -H "$op" -d '{"version": "2.0.0", "percent": 10} trailing' "$url/api/v1/rollouts")
e7=$(curl -s -o "$w/e7" -w '%{http_code}' -H "$op" -X POST "$url/api/v1/rollouts/0123456789abcdef/halt")
e8=$(curl -s -o "$w/e8" -w '%{http_code}' -H "$op" -X DELETE "$url/api/v1/rollouts")
if [ "$e1" = 401 ] && [ "$e2" = 409 ] && grep -q "release 9.9.9 is not published" "$w/e2" && [ "$e3" = 400 ] &&
   [ "$e4" = 409 ] && grep -q "already provisioned" "$w/e4" && [ "$e5" = 400 ] && [ "$e6" = 400 ] && [ "$e7" = 404 ] &&
   [ "$e8" = 405 ] && [ "$(admin rollouts --json | tr -d ' \t\n')" = "[]" ]; then
  ok "operator API: no token 401, unpublished release 409, percent 0 400, provisioned twice 409, bad id 400, trailing JSON 400, unknown rollout 404, DELETE 405; no rollout made"
else bad "operator API refusals: $e1 $e2 $e3 $e4 $e5 $e6 $e7 $e8"; fi

# Identity: an unknown device and a device without its token are refused; a forged report (d1's
# URL with d0's token) is refused and d1's reports are unchanged.
t0=$(cat "$w/dev/d0/token"); t1=$(cat "$w/dev/d1/token")
c1=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Device-Id: ghost" -H "Authorization: Bearer $t0" "$url/version")
c2=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Device-Id: d0" "$url/firmware/slot_b.bin")
c3=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Device-Id: d0" -H "Authorization: Bearer $t0" "$url/version")
[ "$c1" = 401 ] && [ "$c2" = 401 ] && [ "$c3" = 200 ] &&
  ok "registered mode: unknown device 401, d0 without its token 401, d0 with it 200" || bad "identity: $c1 $c2 $c3"
f1=$(curl -s -o "$w/forged.json" -w '%{http_code}' -H "Authorization: Bearer $t0" \
  -d '{"version":"9.9.9","state":"updated","bank":"B"}' "$url/api/v1/devices/d1/report")
f2=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t1" -H "X-Device-Id: d0" \
  -d '{"version":"9.9.9","state":"updated"}' "$url/api/v1/devices/d1/report")
sleep 0.3
if [ "$f1" = 401 ] && grep -q "wrong or missing device token" "$w/forged.json" && [ "$f2" = 403 ] &&
   [ "$(curl -s -H "Authorization: Bearer $(cat "$w/op.tok")" "$url/api/v1/devices/d1/reports")" = "[]" ]; then
  ok "forged report for d1 with d0's token refused (401), d1 naming itself d0 refused (403); d1 has no reports"
else bad "forged report: $f1 $f2"; cat "$w/forged.json"; fi

# Pending mode: an unknown bridge presents a token it made itself, is listed as pending and
# refused until approved; then it is served.
start_server "$w/root2" pending "$w/server2.log"; srv2=$srv_pid; port2=$srv_port
mkdir -p "$w/new"
"$HOST/fota-sim" --flash "$w/new/flash.bin" --init "$w/init.bin" --socket "$w/new/sock" --pubkey "$KEY" --quiet \
  >"$w/new/sim.log" 2>&1 & nsim=$!
for _ in $(seq 200); do [ -S "$w/new/sock" ] && break; sleep 0.01; done
"$HOST/fota-bridge" --server "http://127.0.0.1:$port2" --state-dir "$w/new" --device-id newbie \
  --device-token-file "$w/new/token" --sim-socket "$w/new/sock" --attempts 1 >"$w/new.out" 2>&1
kill "$nsim"; wait "$nsim" 2>/dev/null
st=$("$HOST/fota-admin" --server "http://127.0.0.1:$port2" --token-file "$w/op.tok" devices | awk '$1 == "newbie" {print $2}')
code=$(curl -s -o "$w/pend.json" -w '%{http_code}' -H "X-Device-Id: newbie" -H "Authorization: Bearer $(cat "$w/new/token")" \
  "http://127.0.0.1:$port2/version")
"$HOST/fota-admin" --server "http://127.0.0.1:$port2" --token-file "$w/op.tok" device approve newbie >/dev/null
code2=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Device-Id: newbie" -H "Authorization: Bearer $(cat "$w/new/token")" \
  "http://127.0.0.1:$port2/version")
code3=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Device-Id: newbie" -H "Authorization: Bearer 0123456789abcdef0123" \
  "http://127.0.0.1:$port2/version")
if [ "$st" = pending ] && [ "$code" = 403 ] && grep -q "pending" "$w/pend.json" && [ "$code2" = 404 -o "$code2" = 200 ] &&
   [ "$code3" = 401 ]; then
  ok "pending mode: an unknown bridge is listed pending and refused (403); approved, it is served; another token 401"
else bad "pending: status '$st', $code $code2 $code3"; cat "$w/new.out"; fi
kill "$srv2"; wait "$srv2" 2>/dev/null; srv2=

round() { # one pass of every device, 4 at a time; the result lines in $w/round.out
  seq 0 $((N - 1)) | xargs -P 4 -I{} bash "$HERE/device_pass.sh" "$HOST" "$KEY" "$url" "$w/dev/d{}" "d{}" "$w/init.bin" \
    >"$w/round.out" 2>&1
}
rollout_field() { # ID FIELD: a number from the rollout's JSON
  local j; j=$(admin rollouts --json | tr -d ' \t\n')
  grep -o "\"id\":\"$1\"[^}]*" <<<"$j" | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}
rollout_state() { # ID
  local j; j=$(admin rollouts --json | tr -d ' \t\n')
  grep -o "\"id\":\"$1\"[^}]*" <<<"$j" | grep -o '"state":"[a-z]*"' | cut -d'"' -f4
}
running() { grep -l "^$1\$" "$w"/dev/d*/version 2>/dev/null | wc -l; }

# A staged rollout: 2.0.0 to 10 % of the field.
r1=$(admin rollout create 2.0.0 --group field --percent 10 --json | tr -d ' \t\n' | grep -o '"id":"[0-9a-f]*"' | cut -d'"' -f4)
round
members=$(rollout_field "$r1" members); updated=$(rollout_field "$r1" updated)
if [ -n "$r1" ] && [ "$(running 2.0.0)" = "$members" ] && [ "$updated" = "$members" ] && [ "$members" -ge 5 ] &&
   [ "$members" -le 40 ] && [ "$(grep -c ' updated: device runs 2.0.0' "$w/round.out")" = "$members" ]; then
  ok "rollout $r1 of 2.0.0 to 10%: exactly its $members members updated (real bridge and device each), $((N - members)) untouched"
else bad "10% rollout: members '$members', updated '$updated', running 2.0.0 $(running 2.0.0)"; head -5 "$w/round.out"; fi
cp "$w/round.out" "$OUT/round1.txt"

# Widened by hand to everyone.
admin rollout widen "$r1" 100 >/dev/null || bad "widen"
round
if [ "$(running 2.0.0)" = "$N" ] && [ "$(rollout_field "$r1" updated)" = "$N" ] && [ "$(rollout_field "$r1" failed)" = 0 ]; then
  ok "rollout widened to 100%: all $N devices run 2.0.0, $N results, 0 failed"
else bad "widen to 100%: $(running 2.0.0) run 2.0.0, updated $(rollout_field "$r1" updated)"; grep -v "updated:\|idle" "$w/round.out" | head; fi

# Another rollout, of a release the devices refuse (its security counter is below theirs): halted
# by the server once 3 results failed (threshold 20 %), before it reached all its members.
r2=$(admin rollout create 3.0.0 --group field --percent 40 --threshold 20 --min-failures 3 --json | tr -d ' \t\n' |
  grep -o '"id":"[0-9a-f]*"' | cut -d'"' -f4)
m2=$(rollout_field "$r2" members)
for i in $(seq 0 $((N - 1))); do # one device at a time, as devices check in over a day
  line=$(bash "$HERE/device_pass.sh" "$HOST" "$KEY" "$url" "$w/dev/d$i" "d$i" "$w/init.bin")
  echo "$line" >>"$w/round2.out"
  if grep -q "refused 3.0.0" <<<"$line"; then
    for _ in $(seq 40); do [ "$(rollout_state "$r2")" = halted ] && break; sleep 0.05; done
  fi
done
tried=$(grep -c "refused 3.0.0" "$w/round2.out")
audit=$(admin audit)
if [ "$(rollout_state "$r2")" = halted ] && [ "$(rollout_field "$r2" failed)" -ge 3 ] && [ "$tried" -lt "$m2" ] &&
   [ "$(running 2.0.0)" = "$N" ] &&
   grep -q "rollout halted automatically.*$r2 (3.0.0): [0-9]* of [0-9]* results failed, over the 20% threshold" <<<"$audit"; then
  ok "rollout $r2 of a refused 3.0.0: halted automatically after $tried of its $m2 members failed; all $N still run 2.0.0"
else bad "automatic halt: tried $tried of $m2, failed $(rollout_field "$r2" failed)"; admin rollouts; admin audit | head -3; fi
cp "$w/round2.out" "$OUT/round2.txt"

# A rollout widened automatically: 2.1.0 to 5 %, widened by 20 % after 3 successes while no more
# than 20 % of results failed. One round of check-ins is enough for its first step.
release 2.1.0 2
admin publish 2.1.0 "$w/2.1.0-a.bin" "$w/2.1.0-b.bin" >/dev/null 2>&1 || bad "publish 2.1.0"
r3=$(admin rollout create 2.1.0 --group field --percent 5 --step 20 --step-after 3 --json | tr -d ' \t\n' |
  grep -o '"id":"[0-9a-f]*"' | cut -d'"' -f4)
first=$(rollout_field "$r3" members)
round
for _ in $(seq 60); do [ "$(rollout_field "$r3" percent)" -ge 25 ] && break; sleep 0.05; done
# (Devices check in while the server widens: later ones in the same round may already be in.)
audit=$(admin audit); pc=$(rollout_field "$r3" percent)
if [ "$pc" -ge 25 ] && [ "$(running 2.1.0)" -ge "$first" ] && [ "$first" -ge 1 ] && [ "$(rollout_field "$r3" failed)" = 0 ] &&
   grep -q "rollout widened automatically .*$r3 (2.1.0): 5% -> 25% after [0-9]* updated, 0 failed" <<<"$audit"; then
  ok "rollout $r3 of 2.1.0 widened automatically 5% -> 25% after 3 successes (now ${pc}%, $(running 2.1.0) devices run 2.1.0, 0 failed)"
else bad "automatic widening: percent $pc, $first first members, $(running 2.1.0) run 2.1.0"; head -3 <<<"$audit"; fi

# The CLI: the inventory and the audit log, as tables and as JSON.
devs=$(admin devices); audit=$(admin audit); audit_json=$(admin audit --json); ro=$(admin rollouts)
if grep -q "^d7 .*field .*2\.[01]\.0" <<<"$devs" && grep -q "rollout widened .*$r1 (2.0.0): 10% -> 100%" <<<"$audit" &&
   grep -q '"action":[[:space:]]*"rollout halted automatically"' <<<"$audit_json" && grep -q "$r2 .*halted" <<<"$ro"; then
  ok "fota-admin: devices, rollouts and the audit log (provision, create, widen, automatic halt), tables and --json"
else bad "fota-admin listings"; head -3 <<<"$devs"; head -8 <<<"$audit"; fi

# The web view in headless Chromium: a signed link, the rollouts' progress in the DOM, screenshots.
if [ -x "$CHROMIUM" ]; then
  link=$(admin ui-link --minutes 10)
  chrome() { "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$w/chrome" "$@" 2>>"$w/chrome.log"; }
  chrome --dump-dom "$link" >"$OUT/fleet.html"
  chrome --window-size=1400,1800 --screenshot="$OUT/fleet.png" "$link" >/dev/null
  noauth=$(curl -s -o /dev/null -w '%{http_code}' "$url/ui")
  forged=$(curl -s -o /dev/null -w '%{http_code}' "$url/ui/login?exp=$(($(date +%s) + 600))&sig=$(printf '0%.0s' $(seq 64))")
  if grep -q "<tr class=\"rollout\" data-id=\"$r1\" data-state=\"active\" data-updated=\"$N\" data-failed=\"0\" data-members=\"$N\">" "$OUT/fleet.html" &&
     grep -q "<tr class=\"rollout\" data-id=\"$r2\" data-state=\"halted\"" "$OUT/fleet.html" &&
     [ "$(grep -o '<tr class="device">' "$OUT/fleet.html" | wc -l)" = "$N" ] && [ -s "$OUT/fleet.png" ] &&
     [ "$noauth" = 401 ] && [ "$forged" = 403 ]; then
    ok "web view in Chromium: both rollouts with their progress, $N device rows; screenshot $OUT/fleet.png; unsigned 401, forged link 403"
  else bad "web view (unsigned $noauth, forged $forged)"; head -c 1500 "$OUT/fleet.html"; tail -5 "$w/chrome.log"; fi
else bad "web view: no Chromium at $CHROMIUM (scripts/setup.sh installs Debian's chromium)"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
