#!/usr/bin/env bash
# S3 -> fota-server -> fota-bridge -> fota-sim, with s3rver (from the npm registry, installed by
# scripts/setup.sh) as the bucket on loopback. The server syncs a release it can verify; a badly
# signed image put in the bucket never replaces it (nor reaches the device); with S3 gone the server
# keeps serving the last good release. Every process started here is stopped here.
set -uo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}; S3RVER=${3:?s3rver executable}
FOTA=$HOST/fota; KEY=$FW/keys/dev-key.pem
w=$(mktemp -d); s3=; srv=; sim=
cleanup() { for p in $sim $srv $s3; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
s3port=$((40000 + $$ % 10000)); port=$((s3port + 10000))
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER  # s3rver's own test credentials
put() { # FILE KEY: a signed PutObject, as any S3 client would
  curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$1" "http://127.0.0.1:$s3port/fw/releases/$2"
}
wait_for() { # FILE TEXT [seconds]
  for _ in $(seq $((${3:-10} * 20))); do grep -qF -- "$2" "$1" && return 0; sleep 0.05; done; return 1
}

mkdir -p "$w/s3data" "$w/root" "$w/state"
# s3rver makes continuation tokens with a cipher Node 20 (OpenSSL 3) offers only from its legacy provider.
NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$w/s3data" -a 127.0.0.1 -p "$s3port" --configure-bucket fw -s >"$w/s3.log" 2>&1 & s3=$!
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$s3port/" && break; sleep 0.05; done

"$FOTA" sign -k "$KEY" -b a -v 2.0.0 -o "$w/a2.bin" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/b2.bin" "$FW/app-b.elf" >/dev/null
echo 2.0.0 >"$w/v2.txt"
# 150 other objects under the prefix first, so the release files are beyond the first pages.
for i in $(seq 150); do echo "$i" >"$w/x"; put "$w/x" "aa-other-$(printf %03d "$i").txt" >/dev/null; done
codes="$(put "$w/a2.bin" slot_a.bin) $(put "$w/b2.bin" slot_b.bin) $(put "$w/v2.txt" version.txt)"
[ "$codes" = "200 200 200" ] && ok "release 2.0.0 uploaded to s3://fw/releases/, after 150 other objects" || bad "upload to s3rver: $codes"

"$HOST/fota-server" --root "$w/root" --port "$port" --pubkey "$KEY" --s3-bucket fw --s3-prefix releases/ \
  --s3-endpoint "http://127.0.0.1:$s3port" --s3-interval 1 >"$w/server.log" 2>&1 & srv=$!
if wait_for "$w/server.log" "s3: release 2.0.0 synced" && [ "$(curl -s "http://127.0.0.1:$port/version")" = 2.0.0 ] &&
   cmp -s <(curl -s "http://127.0.0.1:$port/firmware/slot_b.bin") "$w/b2.bin"; then
  ok "the server synced 2.0.0 from S3 (paging past 150 other keys) and serves it"
else bad "sync from S3"; cat "$w/server.log"; fi

# S3 -> server -> bridge -> device.
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/a1.img" "$FW/app-a.elf" >/dev/null
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-a "$w/a1.img" -o "$w/init.bin" >/dev/null
"$HOST/fota-sim" --flash "$w/flash.bin" --init "$w/init.bin" --socket "$w/sock" --pubkey "$KEY" --quiet >"$w/sim.log" 2>&1 & sim=$!
for _ in $(seq 100); do [ -S "$w/sock" ] && break; sleep 0.02; done
out=$("$HOST/fota-bridge" --server "http://127.0.0.1:$port" --state-dir "$w/state" --device-id s3-dev \
  --sim-socket "$w/sock" --attempts 3 --backoff-ms 200 2>/dev/null); rc=$?
if [ $rc -eq 0 ] && grep -q "updated: device runs 2.0.0 from bank B" <<<"$out" && wait_for "$w/sim.log" "confirmed (trial over)"; then
  ok "S3 -> server -> bridge -> device: the device runs 2.0.0, confirmed"
else bad "S3 to device (exit $rc)"; echo "$out"; fi

# A badly signed image in the bucket: refused by the server, 2.0.0 stays.
"$FOTA" keygen -o "$w/other.pem" >/dev/null
"$FOTA" sign -k "$w/other.pem" -b b -v 3.0.0 -o "$w/b3.bin" "$FW/app-b.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b a -v 3.0.0 -o "$w/a3.bin" "$FW/app-a.elf" >/dev/null
echo 3.0.0 >"$w/v3.txt"
put "$w/a3.bin" slot_a.bin >/dev/null; put "$w/b3.bin" slot_b.bin >/dev/null; put "$w/v3.txt" version.txt >/dev/null
if wait_for "$w/server.log" "slot_b.bin refused: image is signed with another key; keeping the current release" &&
   [ "$(curl -s "http://127.0.0.1:$port/version")" = 2.0.0 ]; then
  ok "badly signed image in the bucket: refused, the server keeps 2.0.0 and says why"
else bad "badly signed image in S3"; tail -5 "$w/server.log"; fi
out=$("$HOST/fota-bridge" --server "http://127.0.0.1:$port" --state-dir "$w/state" --device-id s3-dev \
  --sim-socket "$w/sock" --attempts 3 --backoff-ms 200 2>/dev/null)
grep -q "up-to-date" <<<"$out" && ok "  ... and the device is not offered it" || { bad "bridge after bad image"; echo "$out"; }

# S3 gone: the server keeps serving and says why.
kill "$s3"; wait "$s3" 2>/dev/null; s3=
if wait_for "$w/server.log" "s3: cannot list s3://fw/releases/" && [ "$(curl -s "http://127.0.0.1:$port/version")" = 2.0.0 ]; then
  ok "S3 unreachable: the server keeps serving 2.0.0 and logs why"
else bad "S3 unreachable"; tail -3 "$w/server.log"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
