#!/usr/bin/env bash
# S3 -> fota-server -> fota-bridge -> fota-sim, with s3rver (from the npm registry, installed by
# scripts/setup.sh) as the bucket on loopback. The server syncs a release it can verify; a badly
# signed image put in the bucket never replaces it (nor reaches the device); with S3 gone the server
# keeps serving the last good release. Every process started here is stopped here.
set -uo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}; S3RVER=${3:?s3rver executable}
FOTA=$HOST/fota; KEY=$FW/keys/dev-key.pem
w=$(mktemp -d); s3=; srv=; sim=; rsrv=; cdn=
cleanup() { for p in $sim $srv $rsrv $cdn $s3; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
. "$(dirname "$0")/../lib/ports.sh"
s3port=$(free_port); port=$(free_port)
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
# Up to 30 s to start (Node loading s3rver on a machine busy with the other tests), and on another
# port if this one was taken meanwhile.
for try in 1 2 3; do
  NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$w/s3data" -a 127.0.0.1 -p "$s3port" --configure-bucket fw -s \
    >"$w/s3.log" 2>&1 & s3=$!
  for _ in $(seq 600); do
    curl -s -o /dev/null "http://127.0.0.1:$s3port/" && break 2
    kill -0 "$s3" 2>/dev/null || break
    sleep 0.05
  done
  echo "s3rver did not start on port $s3port (try $try):"; tail -5 "$w/s3.log"
  kill "$s3" 2>/dev/null; wait "$s3" 2>/dev/null; s3port=$(free_port)
done

"$FOTA" sign -k "$KEY" -b a -v 2.0.0 -o "$w/a2.bin" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/b2.bin" "$FW/app-b.elf" >/dev/null
echo 2.0.0 >"$w/v2.txt"
# 150 other objects under the prefix first, so the release files are beyond the first pages.
for i in $(seq 150); do echo "$i" >"$w/x"; put "$w/x" "aa-other-$(printf %03d "$i").txt" >/dev/null; done
codes="$(put "$w/a2.bin" slot_a.bin) $(put "$w/b2.bin" slot_b.bin) $(put "$w/v2.txt" version.txt)"
[ "$codes" = "200 200 200" ] && ok "release 2.0.0 uploaded to s3://fw/releases/, after 150 other objects" || bad "upload to s3rver: $codes"

echo "operator-token-of-the-s3-test" >"$w/op.tok"
"$HOST/fota-server" --root "$w/root" --port "$port" --pubkey "$KEY" --s3-bucket fw --s3-prefix releases/ \
  --publish-token-file "$w/op.tok" \
  --s3-endpoint "http://127.0.0.1:$s3port" --s3-interval 1 >"$w/server.log" 2>&1 & srv=$!
if wait_for "$w/server.log" "s3: release 2.0.0 synced" && [ "$(curl -s "http://127.0.0.1:$port/version")" = 2.0.0 ] &&
   cmp -s <(curl -s "http://127.0.0.1:$port/firmware/slot_b.bin") "$w/b2.bin"; then
  ok "the server synced 2.0.0 from S3 (paging past 150 other keys) and serves it"
else bad "sync from S3"; cat "$w/server.log"; fi

# A prefix with a space and a '+' (S3 keys may hold any character): object URLs percent-encoded
# as S3 expects, so the signed request and the key match.
eput() { # FILE ENCODED-KEY
  curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$1" "http://127.0.0.1:$s3port/fw/$2"
}
codes="$(eput "$w/a2.bin" "odd%20name%2B1/slot_a.bin") $(eput "$w/b2.bin" "odd%20name%2B1/slot_b.bin") $(eput "$w/v2.txt" "odd%20name%2B1/version.txt")"
oport=$(free_port); mkdir -p "$w/oroot"
"$HOST/fota-server" --root "$w/oroot" --port "$oport" --pubkey "$KEY" --s3-bucket fw --s3-prefix "odd name+1/" \
  --s3-endpoint "http://127.0.0.1:$s3port" --s3-interval 1 >"$w/oserver.log" 2>&1 & osrv=$!
if [ "$codes" = "200 200 200" ] && wait_for "$w/oserver.log" "s3: release 2.0.0 synced from s3://fw/odd name+1/" &&
   cmp -s <(curl -s "http://127.0.0.1:$oport/firmware/slot_b.bin") "$w/b2.bin"; then
  ok "a prefix with a space and a '+' (\"odd name+1/\"): synced and served"
else bad "S3 prefix needing escapes (uploads $codes)"; tail -3 "$w/oserver.log"; fi
kill "$osrv"; wait "$osrv" 2>/dev/null

audit=$("$HOST/fota-admin" --server "http://127.0.0.1:$port" --token-file "$w/op.tok" audit)
grep -q "s3-sync .*release activated .*2.0.0 from s3://fw/releases/" <<<"$audit" &&
  ok "the sync's activation is in the audit log (fota-admin audit)" || { bad "audit of the S3 sync"; echo "$audit"; }

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

# --redirect-downloads (issue 12): a second server on the same bucket copies each image it serves
# to fota-objects/<sha256>.bin and answers image requests with a 307 to a presigned URL of the
# copy, here reached through a CDN-like origin (tests/s3/origin.js) that answers If-Range as S3
# does. The copy is named by the image's SHA-256, so a bridge pinned to a release stays pinned.
# The origin takes a port the system gives it (tests run in parallel and pick theirs from their PIDs).
node "$(dirname "$0")/origin.js" 0 "http://127.0.0.1:$s3port" >"$w/cdn.log" 2>&1 & cdn=$!
wait_for "$w/cdn.log" "listening " 20 && cdnport=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$w/cdn.log" | head -1)
[ -n "${cdnport:-}" ] || { bad "the CDN-like origin did not start"; cat "$w/cdn.log"; }
rport=$(free_port)
"$HOST/fota-server" --root "$w/rroot" --port "$rport" --pubkey "$KEY" --s3-bucket fw --s3-prefix releases/ \
  --s3-endpoint "http://127.0.0.1:$s3port" --s3-interval 1 --redirect-downloads \
  --redirect-base "http://127.0.0.1:$cdnport/fw" --redirect-check 1 >"$w/rserver.log" 2>&1 & rsrv=$!
mkdir -p "$w/rroot"
rurl="http://127.0.0.1:$rport/firmware/slot_b.bin"; sha_b=$(sha256sum "$w/b2.bin" | cut -c1-64)
wait_for "$w/rserver.log" "s3: release 2.0.0 synced" || bad "redirecting server: no sync"
first=$(curl -s -o "$w/r0.bin" -w '%{http_code}' "$rurl")
if [ "$first" = 200 ] && cmp -s "$w/r0.bin" "$w/b2.bin" && wait_for "$w/rserver.log" "copied to s3://fw/fota-objects/$sha_b.bin"; then
  ok "redirect: the first request is served by the server, which copies the image to fota-objects/<sha256>.bin"
else bad "redirect: first request $first"; cat "$w/rserver.log"; fi
loc=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$rurl")
if [[ "$loc" == "307 http://127.0.0.1:$cdnport/fw/fota-objects/$sha_b.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&"*"&X-Amz-Signature="* ]] &&
   cmp -s <(curl -sL "$rurl") "$w/b2.bin" &&
   cmp -s <(curl -sL -r 1000-1999 "$rurl") <(tail -c +1001 "$w/b2.bin" | head -c 1000); then
  ok "redirect: then 307 to a presigned URL of the copy; the whole image and a range through it are the image's bytes"
else bad "redirect: $loc"; fi
# The server keeps If-Range: a window pinned to this release is redirected to its copy; one pinned
# to another release gets the whole current image, 200, from the server itself.
pinned=$(curl -s -o /dev/null -w '%{http_code}' -r 0-99 -H "If-Range: \"$sha_b\"" "$rurl")
stale=$(curl -s -o "$w/r1.bin" -w '%{http_code}' -r 0-99 -H "If-Range: \"$(printf '0%.0s' $(seq 64))\"" "$rurl")
if [ "$pinned" = 307 ] && [ "$stale" = 200 ] && cmp -s "$w/r1.bin" "$w/b2.bin"; then
  ok "redirect: If-Range of this release -> 307 to its copy; of another -> 200 with the whole image from the server"
else bad "redirect with If-Range: pinned $pinned, stale $stale"; fi

# A device updated through the redirect: every window from the copy (Range, no If-Range: the copy's
# ETag is S3's MD5, which our SHA-256 would never match), none from the server.
kill "$sim"; wait "$sim" 2>/dev/null; rm -rf "$w/flash.bin" "$w/state"; mkdir -p "$w/state"
"$HOST/fota-sim" --flash "$w/flash.bin" --init "$w/init.bin" --socket "$w/sock" --pubkey "$KEY" --quiet >"$w/sim.log" 2>&1 & sim=$!
for _ in $(seq 100); do [ -S "$w/sock" ] && break; sleep 0.02; done
served_before=$(grep -c 'slot_b.bin -> 20[06]' "$w/rserver.log"); : >"$w/cdn.log"
out=$("$HOST/fota-bridge" --server "http://127.0.0.1:$rport" --state-dir "$w/state" --device-id s3-redir \
  --sim-socket "$w/sock" --attempts 3 --backoff-ms 200 2>&1); rc=$?
windows=$(grep -c "^GET /fw/fota-objects/$sha_b.bin range=bytes=[0-9]*-[0-9]* if-range=- signed=yes -> 206" "$w/cdn.log")
if [ $rc -eq 0 ] && grep -q "updated: device runs 2.0.0 from bank B" <<<"$out" && [ "$windows" -ge 2 ] &&
   [ "$(grep -c 'slot_b.bin -> 20[06]' "$w/rserver.log")" = "$served_before" ] && ! grep -q 'if-range="' "$w/cdn.log"; then
  ok "redirect: a device updated to 2.0.0 with all $windows windows from the copy, no image byte from the server"
else bad "redirect: bridge through the copy (exit $rc, $windows windows)"; echo "$out"; cat "$w/cdn.log"; fi

# The copy removed from the bucket (a lifecycle rule): the periodic check notices, the image is
# served by the server and copied again.
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "http://127.0.0.1:$s3port/fw/fota-objects/$sha_b.bin")
copies=$(grep -c "copied to s3://fw/fota-objects/$sha_b.bin" "$w/rserver.log")
if [ "$code" = 204 ] && wait_for "$w/rserver.log" "the copy s3://fw/fota-objects/$sha_b.bin is not readable" &&
   [ "$(curl -s -o /dev/null -w '%{http_code}' "$rurl")" = 200 ] &&
   for _ in $(seq 100); do [ "$(grep -c "copied to s3://fw/fota-objects/$sha_b.bin" "$w/rserver.log")" -gt "$copies" ] && break; sleep 0.05; done &&
   [ "$(curl -s -o /dev/null -w '%{http_code}' "$rurl")" = 307 ] && cmp -s <(curl -sL "$rurl") "$w/b2.bin"; then
  ok "redirect: the copy deleted from the bucket is noticed, the image served here meanwhile and copied again"
else bad "redirect: copy deleted (DELETE $code)"; tail -5 "$w/rserver.log"; fi
kill "$rsrv"; wait "$rsrv" 2>/dev/null; rsrv=

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

# An encrypted release through S3 with its publisher's patch (the server cannot make patches of
# ciphertext): the sync takes patches/<base>.patch keys with the release, leaves out one left by
# another release (nothing removes old keys from a bucket), and a device running 2.0.0 gets 3.1.0
# as that encrypted patch, no image downloaded.
"$FOTA" keygen --device-enc -o "$w/dev.pem" >/dev/null
"$FOTA" sign -k "$KEY" -b a -v 3.1.0 --encrypt-for "$w/dev.pub.pem" -o "$w/a31.bin" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 3.1.0 --encrypt-for "$w/dev.pub.pem" -o "$w/b31.bin" "$FW/app-b.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 3.0.9 --encrypt-for "$w/dev.pub.pem" -o "$w/b309.bin" "$FW/app-b.elf" >/dev/null
"$FOTA" delta -q --device-key "$w/dev.pem" "$w/b2.bin" "$w/a31.bin" -o "$w/p31.patch"
"$FOTA" delta -q --device-key "$w/dev.pem" "$w/a2.bin" "$w/b309.bin" -o "$w/p309.patch"
pname() { od -An -tx1 -j32 -N32 "$1" | tr -d ' \n'; }
echo 3.1.0 >"$w/v31.txt"
codes="$(put "$w/p31.patch" "patches/$(pname "$w/p31.patch").patch") $(put "$w/p309.patch" "patches/$(pname "$w/p309.patch").patch")"
codes="$codes $(put "$w/a31.bin" slot_a.bin) $(put "$w/b31.bin" slot_b.bin) $(put "$w/v31.txt" version.txt)"
if [ "$codes" = "200 200 200 200 200" ] && wait_for "$w/server.log" "s3: release 3.1.0 synced from s3://fw/releases/ (1 patches of its publisher)" &&
   grep -q "s3: patches/$(pname "$w/p309.patch").patch is for another release than 3.1.0: not synced" "$w/server.log" &&
   grep -q '"patch":' <<<"$(curl -s "http://127.0.0.1:$port/api/v1/release?bank=a&current=2.0.0&base=$(pname "$w/p31.patch")")"; then
  ok "encrypted 3.1.0 synced with its publisher's patch from S3; a patch of another release left out"
else bad "encrypted release with a patch through S3 (codes $codes)"; tail -5 "$w/server.log"; fi
kill "$sim"; wait "$sim" 2>/dev/null; rm -rf "$w/flash.bin" "$w/state"; mkdir -p "$w/state"
"$FOTA" compose --bootloader "$FW/bootloader.elf" --bank-b "$w/b2.bin" --device-key "$w/dev.pem" -o "$w/init31.bin" >/dev/null
"$HOST/fota-sim" --flash "$w/flash.bin" --init "$w/init31.bin" --socket "$w/sock" --pubkey "$KEY" --quiet >"$w/sim.log" 2>&1 & sim=$!
for _ in $(seq 100); do [ -S "$w/sock" ] && break; sleep 0.02; done
: >"$w/server.log"
out=$("$HOST/fota-bridge" --server "http://127.0.0.1:$port" --state-dir "$w/state" --device-id s3-enc \
  --sim-socket "$w/sock" --attempts 3 --backoff-ms 200 2>/dev/null); rc=$?
if [ $rc -eq 0 ] && grep -q "sending a patch of [0-9]* bytes for the [0-9]*-byte image (encrypted for the device)" <<<"$out" &&
   grep -q "updated: device runs 3.1.0 from bank A" <<<"$out" && ! grep -q "GET /firmware/slot_a.bin" "$w/server.log"; then
  ok "S3 -> device: 3.1.0 as the publisher's encrypted patch of $(stat -c %s "$w/p31.patch") bytes, no image download"
else bad "encrypted patch from S3 to the device (exit $rc)"; echo "$out"; fi

# S3 gone: the server keeps serving and says why.
kill "$s3"; wait "$s3" 2>/dev/null; s3=
if wait_for "$w/server.log" "s3: cannot list s3://fw/releases/" && [ "$(curl -s "http://127.0.0.1:$port/version")" = 3.1.0 ]; then
  ok "S3 unreachable: the server keeps serving 3.1.0 and logs why"
else bad "S3 unreachable"; tail -3 "$w/server.log"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
