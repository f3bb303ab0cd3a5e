#!/usr/bin/env bash
# Publishing as a transaction (issue 12, failure 5): an upload still running when its release is
# activated cannot write into the live release; a release whose switch failed can be activated
# again and republished; a relative --root switches what is served; a dangling `current` serves
# nothing rather than the root's own files; refused and abandoned uploads leave no file behind.
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
FOTA=$HOST/fota; KEY=$FW/keys/dev-key.pem
. "$(dirname "$0")/lib.sh"
for v in 3.0.0 4.0.0 5.0.0; do
  "$FOTA" sign -k "$KEY" -b a -v $v -o "$w/a-$v.bin" "$FW/app-a.elf" >/dev/null
  "$FOTA" sign -k "$KEY" -b b -v $v -o "$w/b-$v.bin" "$FW/app-b.elf" >/dev/null
done
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$w/token"
auth="Authorization: Bearer $(cat "$w/token")"
start() { # root (as given: may be relative to $w)
  (cd "$w" && exec "$HOST/fota-server" --root "$1" --port "$port" --pubkey "$KEY" --publish-token-file "$w/token" \
     --idle-timeout 3) >>"$w/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "$base/version" && return 0; sleep 0.05; done
  return 1
}
put() { code -X PUT -H "$auth" --data-binary @"$1" "$base/api/v1/releases/$2/$3"; }
activate() { code -X POST -H "$auth" "$base/api/v1/releases/$1/activate"; }
publish() { put "$w/a-$1.bin" "$1" slot_a.bin >/dev/null; put "$w/b-$1.bin" "$1" slot_b.bin >/dev/null; activate "$1"; }
leftovers() { find "$w/root/releases" -type f \( -path "*/.uploads/*" -o -name ".slot_*" -o -path "*/6.0.0.staging/*" \) | wc -l; }

mkdir -p "$w/root"
start root || { echo "FAIL fota-server did not start"; cat "$w/log"; exit 1; }

echo "== (a) an upload still running when its release is activated"
put "$w/a-3.0.0.bin" 3.0.0 slot_a.bin >/dev/null; put "$w/b-3.0.0.bin" 3.0.0 slot_b.bin >/dev/null
curl -s -o "$w/slow.body" -w '%{http_code}' -X PUT -H "$auth" --limit-rate 8k --data-binary @"$w/b-4.0.0.bin" \
  "$base/api/v1/releases/3.0.0/slot_a.bin" >"$w/slow.code" &
slow=$!
sleep 1
check "activate 3.0.0 while a slow upload to it runs" test "$(activate 3.0.0)" = 200
wait "$slow"
check "  ... the slow upload is refused (409) when it ends" test "$(cat "$w/slow.code")" = 409
check "  ... the live slot_a.bin is still the activated one, and served" cmp -s <(curl -s "$base/firmware/slot_a.bin") "$w/a-3.0.0.bin"
check "  ... with 200" test "$(code "$base/firmware/slot_a.bin")" = 200

echo "== (b) a switch that fails after the release folder moved into place"
put "$w/a-4.0.0.bin" 4.0.0 slot_a.bin >/dev/null; put "$w/b-4.0.0.bin" 4.0.0 slot_b.bin >/dev/null
mkdir -p "$w/root/current.new/blocker"
check "activate 4.0.0 fails while current.new cannot be made (500)" test "$(activate 4.0.0)" = 500
check "  ... 3.0.0 is still served" test "$(curl -s "$base/version")" = 3.0.0
rm -rf "$w/root/current.new"
check "activating 4.0.0 again now works (200)" test "$(activate 4.0.0)" = 200
check "  ... and 4.0.0 is served" test "$(curl -s "$base/version")" = 4.0.0
check "publishing the current version again is refused (409)" test "$(publish 4.0.0)" = 409
check "  ... saying why" grep -q 'is the current one' "$w/body"

echo "== (d) refused and abandoned uploads leave nothing"
head -c 300000 /dev/zero >"$w/huge.bin"
check "an upload larger than a bank is 413" test "$(put "$w/huge.bin" 6.0.0 slot_a.bin)" = 413
check "  ... and leaves no file" test "$(leftovers)" = 0
curl -s -o /dev/null -X PUT -H "$auth" --limit-rate 2k --max-time 1 --data-binary @"$w/a-5.0.0.bin" \
  "$base/api/v1/releases/6.0.0/slot_b.bin"
sleep 1
check "an upload cut off by its client leaves no file" test "$(leftovers)" = 0
stop_server

echo "== (c) a relative --root, and a dangling current"
start root || { echo "FAIL fota-server did not start with a relative root"; exit 1; }
check "publish 5.0.0 with --root given relative" test "$(publish 5.0.0)" = 200
check "  ... and 5.0.0 is what is served" test "$(curl -s "$base/version")" = 5.0.0
stop_server
echo 0.0.1 >"$w/root/version.txt"
rm "$w/root/current"; ln -s "$w/root/releases/nowhere" "$w/root/current"
start root || { echo "FAIL fota-server did not start"; exit 1; }
check "a dangling current serves nothing (404), not the root's own files" test "$(code "$base/version")" = 404
stop_server

tally "server publishing"
