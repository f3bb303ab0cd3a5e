#!/usr/bin/env bash
# Server -> bridge -> device, as real processes on loopback: fota-server on a release folder,
# fota-sim as the STM32, fota-bridge between them. A normal update; the server restarted in the
# middle of a download (the bridge resumes with Range); the device killed during the transfer
# (resumes); a badly signed image on the server (never reaches the device); a downgrade and a
# rollback (refused); the network down at first (backoff, then success). Every process this test
# starts, it stops.
set -uo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
FOTA=$HOST/fota; KEY=$FW/keys/dev-key.pem
w=$(mktemp -d); srv=; sim=; br=
cleanup() { for p in $br $sim $srv; do kill -9 "$p" 2>/dev/null; done; rm -rf "$w"; }
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
. "$(dirname "$0")/../lib/ports.sh"
. "$(dirname "$0")/../lib/flip.sh"
port=$(free_port); url=http://127.0.0.1:$port

start_server() { # ROOT
  "$HOST/fota-server" --root "$1" --port "$port" --pubkey "$KEY" >>"$w/server.log" 2>&1 & srv=$!
  for _ in $(seq 100); do curl -s "$url/version" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1
}
start_sim() { # [--init FILE]
  rm -f "$w/sock"
  "$HOST/fota-sim" --flash "$w/flash.bin" --socket "$w/sock" --pubkey "$KEY" --quiet "$@" >>"$w/sim.log" 2>&1 & sim=$!
  for _ in $(seq 100); do [ -S "$w/sock" ] && return 0; sleep 0.02; done; return 1
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
bridge() { # extra options...
  "$HOST/fota-bridge" --server "$url" --state-dir "$w/state" --device-id dev-e2e --sim-socket "$w/sock" \
    --backoff-ms 200 "$@" 2>/dev/null
}
release() { # DIR VERSION SECURITY_COUNTER [KEY]
  mkdir -p "$1"
  "$FOTA" sign -k "${4:-$KEY}" -b a -v "$2" -s "$3" -o "$1/slot_a.bin" "$w/app-a.bin" >/dev/null
  "$FOTA" sign -k "${4:-$KEY}" -b b -v "$2" -s "$3" -o "$1/slot_b.bin" "$w/app-b.bin" >/dev/null
  echo "$2" >"$1/version.txt"
}
fresh_device() { rm -f "$w/flash.bin" "$w/state/version"; : >"$w/sim.log"; start_sim --init "$w/init.bin"; }

mkdir -p "$w/state"
# Applications padded to about 200 KiB, so transfers last long enough to be interrupted.
{ cat "$FW/app-a.bin"; yes "a padding" | head -c 200000; } >"$w/app-a.bin"
{ cat "$FW/app-b.bin"; yes "b padding" | head -c 200000; } >"$w/app-b.bin"
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -s 1 -o "$w/v1-a.img" "$w/app-a.bin" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/v1-a.img" -o "$w/init.bin" >/dev/null
release "$w/r2" 2.0.0 1
"$FOTA" keygen -o "$w/other.pem" >/dev/null
release "$w/bad" 3.0.0 1 "$w/other.pem"
release "$w/old" 0.9.0 1
release "$w/rollback" 2.5.0 0

# 1. A normal update.
start_server "$w/r2"; fresh_device
out=$(bridge); rc=$?
if [ $rc -eq 0 ] && grep -q "updated: device runs 2.0.0 from bank B" <<<"$out" && [ "$(cat "$w/state/version")" = 2.0.0 ] &&
   grep -q "app: confirmed (trial over)" "$w/sim.log" && curl -s "$url/api/v1/devices/dev-e2e/reports" | grep -q '"state":"updated"'; then
  ok "S3-less release -> server -> bridge -> device: 2.0.0 running, confirmed, reported, version kept"
else bad "normal update (exit $rc)"; echo "$out"; fi
out=$(bridge); grep -q "up-to-date" <<<"$out" && ok "second run: up to date, device untouched" || bad "second run: $out"
stop "$sim"; stop "$srv"

# 2. The server restarted in the middle of the download.
start_server "$w/r2"; fresh_device
bridge >"$w/b2.log" & br=$!
sleep 0.15; stop "$srv"; sleep 0.6; start_server "$w/r2"
wait "$br"; rc=$?; br=
if [ $rc -eq 0 ] && grep -q "updated" "$w/b2.log" && grep -qE "retrying in|download of .* failed" "$w/b2.log" &&
   grep -q "sent to bank B (from offset [1-9]" "$w/b2.log"; then
  ok "server restarted mid-download: bridge backed off, resumed (Range, $(grep -o 'from offset [0-9]*' "$w/b2.log"))"
elif [ $rc -eq 0 ] && grep -q "updated" "$w/b2.log"; then
  ok "server restarted mid-download: update completed ($(grep -c 'attempt' "$w/b2.log") attempts)"
else bad "server restart (exit $rc)"; cat "$w/b2.log"; fi
stop "$sim"; stop "$srv"

# 2b. The release replaced on the server in the middle of the download (issue 12, failure 6): the
# bridge pins every Range window to the release's ETag (If-Range); the server answers the first
# window of the new release with 200, and the bridge starts again on it instead of sending the
# device an image made of two releases (which the device refused before: "bad image").
release "$w/r2b" 2.0.1 1
mkdir -p "$w/pub"; ln -sfn "$w/r2" "$w/pub/current"
start_server "$w/pub"; fresh_device
seen=$(grep -c 'slot_b.bin -> 206' "$w/server.log")
bridge >"$w/b2b.log" & br=$!
for _ in $(seq 400); do [ "$(grep -c 'slot_b.bin -> 206' "$w/server.log")" -ge $((seen + 2)) ] && break; sleep 0.01; done
ln -sfn "$w/r2b" "$w/pub/current.new" && mv -T "$w/pub/current.new" "$w/pub/current"
wait "$br"; rc=$?; br=
if [ $rc -eq 0 ] && grep -q "changed on the server during the download" "$w/b2b.log" &&
   grep -q "updated: device runs 2.0.1" "$w/b2b.log" && ! grep -q "refused" "$w/b2b.log"; then
  ok "release replaced mid-download: If-Range caught it, the bridge started again, 2.0.1 running"
else bad "release replaced mid-download (exit $rc)"; cat "$w/b2b.log"; fi
stop "$sim"; stop "$srv"

# 3. The device (simulator) killed during the transfer: power back on, the bridge resumes.
start_server "$w/r2"; fresh_device
bridge --attempts 12 >"$w/b3.log" & br=$!
sleep 0.2; kill -9 "$sim"; wait "$sim" 2>/dev/null; sleep 0.3; start_sim
wait "$br"; rc=$?; br=
# Whichever moment the cut hit (transfer, verify or commit), the device must end on 2.0.0 and never
# be without a valid image; the bridge ends "updated" or finds it "already runs 2.0.0".
if [ $rc -eq 0 ] && grep -qE "updated: device runs 2.0.0|device already runs 2.0.0" "$w/b3.log" &&
   [ "$(grep -o 'app: v[0-9.]* running' "$w/sim.log" | tail -1)" = "app: v2.0.0 running" ] &&
   ! grep -qE "halted|no valid image" "$w/sim.log"; then
  ok "device killed mid-update: it rebooted into a valid image and ends on 2.0.0 ($(grep -oE 'from offset [0-9]+|commit failed|already runs' "$w/b3.log" | tail -1))"
else bad "device killed (exit $rc)"; cat "$w/b3.log"; tail -5 "$w/sim.log"; fi
stop "$sim"; stop "$srv"

# 3b. The device resets by itself three times during the transfer (brown-out, watchdog, or NRST
# from elsewhere): the rebooted agent answers BAD_STATE, which says "not where you were", not "no":
# the bridge re-reads INFO and resumes within the same attempt (issue 9, finding 13: it used to
# report "device refused 2.0.0: bad state" and give up).
start_server "$w/r2"; rm -f "$w/flash.bin" "$w/state/version"; : >"$w/sim.log"
start_sim --init "$w/init.bin" --reset-at 60,150,260
out=$(bridge --attempts 1); rc=$?
if [ $rc -eq 0 ] && grep -q "updated: device runs 2.0.0 from bank B" <<<"$out" &&
   [ "$(grep -c 'device reset by itself' "$w/sim.log")" = 3 ] && grep -q "re-reading INFO and resuming" <<<"$out" &&
   ! grep -q "refused" <<<"$out"; then
  ok "device reset 3 times mid-transfer: one attempt, resumed each time ($(grep -c 're-reading INFO' <<<"$out") resumes), 2.0.0 running"
else bad "device resets mid-transfer (exit $rc)"; echo "$out"; tail -5 "$w/sim.log"; fi
stop "$sim"; stop "$srv"

# 3c. The server stalls (SIGSTOP: the kernel accepts connections, nothing is sent): the bridge says
# "server stalled" after BRIDGE_LOW_SPEED_S (5 s) instead of waiting out the 30 s request timeout
# three times per window (issue 9, finding 16), backs off, and completes once the server resumes.
start_server "$w/r2"; fresh_device
kill -STOP "$srv"
"$HOST/fota-bridge" --server "$url" --state-dir "$w/state" --device-id dev-e2e --sim-socket "$w/sock" \
  --backoff-ms 200 >"$w/b3c.log" 2>&1 & br=$!
sleep 7; kill -CONT "$srv"
wait "$br"; rc=$?; br=
if [ $rc -eq 0 ] && grep -q "server stalled: under 1024 bytes/s for 5 s" "$w/b3c.log" &&
   grep -q "updated: device runs 2.0.0" "$w/b3c.log"; then
  ok "server stalled (SIGSTOP): detected by throughput in 5 s, not by the 30 s timeout; then updated"
else bad "stalled server (exit $rc)"; cat "$w/b3c.log"; fi
stop "$sim"; stop "$srv"

# 4. A badly signed image on the server: never reaches the device.
: >"$w/server.log"; start_server "$w/bad"; fresh_device
out=$(bridge --attempts 2); rc=$?
if [ $rc -ne 0 ] && grep -q "release API failed (HTTP 503)" <<<"$out" && ! grep -q "running from bank B" "$w/sim.log" &&
   grep -q "GET /api/v1/release -> 503" "$w/server.log" && ! grep -q "GET /firmware/slot_b.bin -> 20" "$w/server.log"; then
  ok "badly signed image: the server refuses to serve it (503), the device still runs 1.0.0"
else bad "badly signed image (exit $rc)"; echo "$out"; fi
stop "$sim"; stop "$srv"

# 5. A downgrade: the server offers 0.9.0, nothing happens; a rollback (2.5.0 with a lower security
# counter than the device's 1): the device refuses it.
start_server "$w/old"; fresh_device
out=$(bridge); rc=$?
if [ $rc -eq 0 ] && grep -qE "nothing to do|already runs 1.0.0" <<<"$out" && ! grep -q "sent to bank" <<<"$out"; then
  ok "downgrade offered: nothing sent, the device keeps 1.0.0"
else bad "downgrade (exit $rc)"; echo "$out"; fi
stop "$srv"; start_server "$w/rollback"
out=$(bridge); rc=$?
if [ $rc -eq 1 ] && grep -q "device refused 2.5.0: rollback" <<<"$out"; then
  ok "security counter below the device's: refused by the device, not retried"
else bad "rollback (exit $rc)"; echo "$out"; fi
stop "$sim"; stop "$srv"

# 6. The network down at first: backoff, then success.
fresh_device
bridge --attempts 10 >"$w/b6.log" & br=$!
sleep 1.0; start_server "$w/r2"
wait "$br"; rc=$?; br=
if [ $rc -eq 0 ] && grep -q "server unreachable" "$w/b6.log" && grep -q "retrying in" "$w/b6.log" && grep -q "updated" "$w/b6.log"; then
  ok "network down at first: $(grep -c 'retrying in' "$w/b6.log") backoffs, then updated"
else bad "network down (exit $rc)"; cat "$w/b6.log"; fi
stop "$sim"; stop "$srv"

# 7. HTTPS: the bridge verifies the server's certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=fota-test \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$w/tls.key" -out "$w/tls.crt" >/dev/null 2>&1
"$HOST/fota-server" --root "$w/r2" --port "$port" --pubkey "$KEY" --cert "$w/tls.crt" --tls-key "$w/tls.key" \
  >>"$w/server.log" 2>&1 & srv=$!
for _ in $(seq 100); do curl -s --cacert "$w/tls.crt" "https://127.0.0.1:$port/version" >/dev/null 2>&1 && break; sleep 0.05; done
fresh_device
out=$("$HOST/fota-bridge" --server "https://127.0.0.1:$port" --state-dir "$w/state" --device-id dev-e2e \
  --sim-socket "$w/sock" --attempts 1 2>/dev/null); rc=$?
if [ $rc -ne 0 ] && grep -q "server unreachable" <<<"$out" && ! grep -q "sent to bank" <<<"$out"; then
  ok "HTTPS with an untrusted certificate: refused by the bridge"
else bad "HTTPS without the CA (exit $rc)"; echo "$out"; fi
out=$("$HOST/fota-bridge" --server "https://127.0.0.1:$port" --state-dir "$w/state" --device-id dev-e2e \
  --sim-socket "$w/sock" --cacert "$w/tls.crt" 2>/dev/null); rc=$?
if [ $rc -eq 0 ] && grep -q "updated: device runs 2.0.0" <<<"$out"; then
  ok "HTTPS with the server's CA: updated"
else bad "HTTPS with the CA (exit $rc)"; echo "$out"; fi
stop "$sim"; stop "$srv"

# 8. Delta updates through the system (docs/delta.md): releases published through the API; 2.1.0
# (the one-line change) gets patches from 2.0.0 at activation. A device running 2.0.0 in B asks
# with its image's signed SHA-256, downloads the patch instead of the image, and its agent applies
# it. Then the patch corrupted on the server: the device refuses it, the bridge sends the image.
{ cat "$FW/app-a-v1.bin"; yes "a padding" | head -c 200000; } >"$w/app-a1.bin"
{ cat "$FW/app-b-v1.bin"; yes "b padding" | head -c 200000; } >"$w/app-b1.bin"
"$FOTA" sign -k "$KEY" -b a -v 2.1.0 -s 1 -o "$w/a-2.1.0.img" "$w/app-a1.bin" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.1.0 -s 1 -o "$w/b-2.1.0.img" "$w/app-b1.bin" >/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$w/token"
auth="Authorization: Bearer $(cat "$w/token")"
mkdir -p "$w/pub"
"$HOST/fota-server" --root "$w/pub" --port "$port" --pubkey "$KEY" --publish-token-file "$w/token" \
  >>"$w/server.log" 2>&1 & srv=$!
for _ in $(seq 100); do curl -s "$url/version" >/dev/null 2>&1 && break; sleep 0.05; done
put() { curl -s -o /dev/null -w '%{http_code}' -X PUT -H "$auth" --data-binary @"$1" "$url/api/v1/releases/$2/$3"; }
act() { curl -s -o /dev/null -w '%{http_code}' -X POST -H "$auth" "$url/api/v1/releases/$1/activate"; }
codes="$(put "$w/r2/slot_a.bin" 2.0.0 slot_a.bin) $(put "$w/r2/slot_b.bin" 2.0.0 slot_b.bin) $(act 2.0.0)"
codes="$codes $(put "$w/a-2.1.0.img" 2.1.0 slot_a.bin) $(put "$w/b-2.1.0.img" 2.1.0 slot_b.bin) $(act 2.1.0)"
npatch=$(ls "$w/pub/releases/2.1.0/patches/" 2>/dev/null | wc -l)
if [ "$codes" = "201 201 200 201 201 200" ] && [ "$npatch" -eq 2 ]; then
  ok "2.0.0 and 2.1.0 published; activating 2.1.0 made $npatch patches from 2.0.0 ($(stat -c %s "$w"/pub/releases/2.1.0/patches/*.patch | paste -sd' ') bytes)"
else bad "publishing (codes $codes, $npatch patches)"; tail -5 "$w/server.log"; fi
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-b "$w/r2/slot_b.bin" -o "$w/init2.bin" >/dev/null
fresh2() { rm -f "$w/flash.bin" "$w/state/version"; : >"$w/sim.log"; start_sim --init "$w/init2.bin"; }
fresh2
: >"$w/server.log"
out=$(bridge --attempts 2); rc=$?
if [ $rc -eq 0 ] && grep -q "sending a patch of [0-9]* bytes for the [0-9]*-byte image" <<<"$out" &&
   grep -q "patch applied to bank A and verified" <<<"$out" && grep -q "updated: device runs 2.1.0 from bank A" <<<"$out" &&
   grep -q "GET /api/v1/patches/" "$w/server.log" && ! grep -q "GET /firmware/slot_a.bin" "$w/server.log"; then
  ok "a device running 2.0.0 got 2.1.0 as a patch ($(grep -o 'a patch of [0-9]* bytes for the [0-9]*-byte image' <<<"$out")), no image download"
else bad "delta update through the system (exit $rc)"; echo "$out"; fi
stop "$sim"
for f in "$w"/pub/releases/2.1.0/patches/*.patch; do flip_byte "$f" 300; done
fresh2
out=$(bridge --attempts 2); rc=$?
if [ $rc -eq 0 ] && grep -q "the device refused the patch: bad image" <<<"$out" &&
   grep -q "updated: device runs 2.1.0 from bank A" <<<"$out"; then
  ok "a corrupted patch on the server: refused by the device, the bridge sent the whole image, updated"
else bad "fallback from a bad patch (exit $rc)"; echo "$out"; fi
stop "$sim"

# 9. Encrypted images through the system (docs/encryption.md): 2.2.0 encrypted for one device's key
# is published (the server checks what it can without that key: structure, key record, signature
# over the stated hash; it makes no patch of it) and served as ciphertext; the bridge reads the
# trailer, sends BEGIN_ENC, and the device (its key composed in) decrypts while programming. A
# device without the key refuses it at BEGIN (bad key). An encrypted image signed with another key
# is refused at publication.
"$FOTA" keygen --device-enc -o "$w/dev.pem" >/dev/null
"$FOTA" sign -k "$KEY" -b a -v 2.2.0 -s 1 --encrypt-for "$w/dev.pub.pem" -o "$w/a-2.2.0.img" "$w/app-a.bin" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.2.0 -s 1 --encrypt-for "$w/dev.pub.pem" -o "$w/b-2.2.0.img" "$w/app-b.bin" >/dev/null
"$FOTA" sign -k "$w/other.pem" -b a -v 2.3.0 -s 1 --encrypt-for "$w/dev.pub.pem" -o "$w/a-bad-enc.img" "$w/app-a.bin" >/dev/null
codes="$(put "$w/a-2.2.0.img" 2.2.0 slot_a.bin) $(put "$w/b-2.2.0.img" 2.2.0 slot_b.bin) $(act 2.2.0)"
codes="$codes $(put "$w/a-bad-enc.img" 2.3.0 slot_a.bin) $(put "$w/b-2.2.0.img" 2.3.0 slot_b.bin) $(act 2.3.0)"
rel=$(curl -s "$url/api/v1/release?bank=a&current=2.0.0")
why=$(curl -s -X POST -H "$auth" "$url/api/v1/releases/2.3.0/activate")
if [ "$codes" = "201 201 200 201 201 422" ] && grep -q "slot_a.bin refused: image is signed with another key" <<<"$why" && [ ! -e "$w/pub/releases/2.2.0/patches/"*.patch ] &&
   grep -q '"encrypted":true' <<<"$rel" && grep -q '"signature_checked":true' <<<"$rel"; then
  ok "an encrypted release published (signature over the stated hash checked, no patches made), one signed with another key refused"
else bad "publishing an encrypted release (codes $codes)"; echo "$rel $why"; tail -3 "$w/server.log"; fi
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-b "$w/r2/slot_b.bin" --device-key "$w/dev.pem" -o "$w/init3.bin" >/dev/null
rm -f "$w/flash.bin" "$w/state/version"; : >"$w/sim.log"; start_sim --init "$w/init3.bin"
: >"$w/server.log"
out=$(bridge --attempts 2); rc=$?
# The trailer is read first, apart from the streaming window: the download is the image and its
# last 384 bytes once more, not a window fetched twice.
served=$(awk '/GET \/firmware\/slot_a.bin/ && match($0, /\([0-9]+ bytes\)/) {s += substr($0, RSTART + 1, RLENGTH - 8)} END {print s + 0}' "$w/server.log")
if [ $rc -eq 0 ] && grep -q "2.2.0 is encrypted for the device" <<<"$out" &&
   grep -q "updated: device runs 2.2.0 from bank A" <<<"$out" && grep -q "app: confirmed (trial over)" "$w/sim.log" &&
   [ "$served" -le $(( $(stat -c %s "$w/a-2.2.0.img") + 384 )) ]; then
  ok "a device with its key got 2.2.0 encrypted end to end ($served bytes downloaded): decrypted by its agent, booted, confirmed"
else bad "encrypted update through the system (exit $rc, $served bytes downloaded)"; echo "$out"; fi
stop "$sim"
fresh2
out=$(bridge --attempts 2); rc=$?
if [ $rc -ne 0 ] && grep -q "device refused 2.2.0: bad key (detail 1)" <<<"$out"; then
  ok "a device without the key refused the encrypted image at BEGIN (bad key), reported as refused"
else bad "encrypted image to a device without the key (exit $rc)"; echo "$out"; fi
stop "$sim"

# 10. A patch of an encrypted release: the server cannot make it (it holds ciphertext), the publisher
# makes it from the plaintexts (fota delta --device-key) and uploads it with the release; the server
# checks it at activation (whole, named for its base, makes this release's image, encrypted) and
# serves it; the device running 2.2.0 gets 2.4.0 as that encrypted patch and decrypts it.
"$FOTA" sign -k "$KEY" -b a -v 2.4.0 -s 1 --encrypt-for "$w/dev.pub.pem" -o "$w/a-2.4.0.img" "$w/app-a1.bin" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.4.0 -s 1 --encrypt-for "$w/dev.pub.pem" -o "$w/b-2.4.0.img" "$w/app-b1.bin" >/dev/null
"$FOTA" delta -q --device-key "$w/dev.pem" "$w/a-2.2.0.img" "$w/b-2.4.0.img" -o "$w/e24.patch"
base=$(od -An -tx1 -j32 -N32 "$w/e24.patch" | tr -d ' \n')
"$FOTA" sign -k "$KEY" -b a -v 2.3.9 -s 1 --encrypt-for "$w/dev.pub.pem" -o "$w/a-2.3.9.img" "$w/app-a1.bin" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.3.9 -s 1 --encrypt-for "$w/dev.pub.pem" -o "$w/b-2.3.9.img" "$w/app-b1.bin" >/dev/null
codes="$(put "$w/a-2.3.9.img" 2.3.9 slot_a.bin) $(put "$w/b-2.3.9.img" 2.3.9 slot_b.bin) $(put "$w/e24.patch" 2.3.9 "patches/$base.patch")"
why=$(curl -s -X POST -H "$auth" "$url/api/v1/releases/2.3.9/activate")
# 2.4.0 with its patch through fota-admin, which names the patch by its base; a file that is not
# a patch is refused before anything is uploaded.
"$HOST/fota-admin" --server "$url" --token-file "$w/token" publish 2.4.0 "$w/a-2.4.0.img" "$w/b-2.4.0.img" \
  "$w/a-2.4.0.img" >"$w/admin.out" 2>&1; notpatch=$?
"$HOST/fota-admin" --server "$url" --token-file "$w/token" publish 2.4.0 "$w/a-2.4.0.img" "$w/b-2.4.0.img" \
  "$w/e24.patch" --activate >>"$w/admin.out" 2>&1; admin=$?
if [ "$codes" = "201 201 201" ] && grep -q "does not make this release's image" <<<"$why" &&
   [ "$notpatch" = 3 ] && grep -q "a-2.4.0.img is not a whole patch" "$w/admin.out" && [ "$admin" = 0 ] &&
   [ "$(grep -c "uploading $w/a-2.4.0.img as 2.4.0 slot_a.bin" "$w/admin.out")" = 1 ] &&
   grep -q "uploading $w/e24.patch as 2.4.0 patches/$base.patch" "$w/admin.out" &&
   grep -q '"patch":' <<<"$(curl -s "$url/api/v1/release?bank=b&current=2.2.0&base=$base")"; then
  ok "an encrypted patch published with 2.4.0 by fota-admin and served; the same patch uploaded with 2.3.9 refused at activation (it makes another image)"
else bad "uploading an encrypted patch (codes $codes)"; echo "$why"; fi
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a-2.2.0.img" --device-key "$w/dev.pem" -o "$w/init4.bin" >/dev/null
rm -f "$w/flash.bin" "$w/state/version"; : >"$w/sim.log"; start_sim --init "$w/init4.bin"
: >"$w/server.log"
out=$(bridge --attempts 2); rc=$?
if [ $rc -eq 0 ] && grep -q "sending a patch of [0-9]* bytes for the [0-9]*-byte image (encrypted for the device)" <<<"$out" &&
   grep -q "patch applied to bank B and verified" <<<"$out" && grep -q "updated: device runs 2.4.0 from bank B" <<<"$out" &&
   ! grep -q "GET /firmware/slot_b.bin" "$w/server.log"; then
  ok "the device got encrypted 2.4.0 as an encrypted patch of $(stat -c %s "$w/e24.patch") bytes (image $(stat -c %s "$w/b-2.4.0.img")), no image download"
else bad "encrypted patch through the system (exit $rc)"; echo "$out"; fi
stop "$sim"; stop "$srv"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
