#!/usr/bin/env bash
# fota-server's plain-HTTP front (server/front.c, docs/server.md): image downloads it sends itself
# (header held for the body, sendfile) answer exactly what libmicrohttpd answers; a request it does
# not take reaches libmicrohttpd whole, also behind pipelined requests and a header split across
# packets or longer than the front looks at; its responses are counted; and the connection limit
# counts the connections of both.
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
FOTA=$HOST/fota; KEY=$FW/keys/dev-key.pem
. "$(dirname "$0")/lib.sh"

mkdir -p "$w/r1" "$w/root"
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/r1/slot_a.bin" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 1.0.0 -o "$w/r1/slot_b.bin" "$FW/app-b.elf" >/dev/null
echo 1.0.0 >"$w/r1/version.txt"
ln -s "$w/r1" "$w/root/current"
start() { start_server --root "$w/root" --pubkey "$KEY" "$@"; } # extra fota-server options
img=$w/r1/slot_a.bin; size=$(stat -c %s "$img")
norm() { LC_ALL=C sed 's/^Date: .*/Date: -/' "$1"; } # responses compared without their Date
# On one connection: PARTS written one after the other (each a printf format), the whole answer
# read into OUT until the server closes it (the last request asks it to).
raw() { # OUT DELAY PART...
  local out=$1 delay=$2; shift 2
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  local p
  for p in "$@"; do printf "$p" >&3; sleep "$delay"; done
  timeout 10 cat <&3 >"$out"
  exec 3<&-
}
sent_by_front() { grep -c "GET $1 -> $2 ($3 bytes, sendfile)" "$w/log"; }

start || { echo "FAIL fota-server did not start"; cat "$w/log"; exit 1; }
# The same request through both: an extra header the front does not know hands it over.
curl -s -D "$w/h1" -o "$w/b1" "$base/firmware/slot_a.bin"
curl -s -D "$w/h2" -o "$w/b2" -H 'X-Trace: 1' "$base/firmware/slot_a.bin"
check "the front sent an image download itself (logged as sendfile)" test "$(sent_by_front /firmware/slot_a.bin 200 "$size")" = 1
check "  ... the file" cmp -s "$w/b1" "$img"
check "  ... with the header libmicrohttpd sends for it (Date aside)" cmp -s <(norm "$w/h1") <(norm "$w/h2")
check "  ... which sent the other one (not logged as sendfile)" grep -q "GET /firmware/slot_a.bin -> 200 ($size bytes)$" "$w/log"
etag=$(tr -d '\r' <"$w/h1" | sed -n 's/^ETag: //p')
curl -s -D "$w/h1" -o "$w/b1" -r 100-199 -H "If-Range: $etag" -H 'X-Device-Id: dev-1' "$base/firmware/slot_a.bin"
curl -s -D "$w/h2" -o "$w/b2" -r 100-199 -H "If-Range: $etag" -H 'X-Device-Id: dev-1' -H 'X-Trace: 1' "$base/firmware/slot_a.bin"
check "a Range with its If-Range: 206 from the front" test "$(sent_by_front /firmware/slot_a.bin 206 100)" = 1
check "  ... those bytes" cmp -s "$w/b1" <(tail -c +101 "$img" | head -c 100)
check "  ... and libmicrohttpd's header" cmp -s <(norm "$w/h1") <(norm "$w/h2")
curl -s -D "$w/h1" -o "$w/b1" -H 'Connection: close' "$base/firmware/slot_b.bin"
curl -s -D "$w/h2" -o "$w/b2" -H 'Connection: close' -H 'X-Trace: 1' "$base/firmware/slot_b.bin"
check "Connection: close: the same header as libmicrohttpd's" cmp -s <(norm "$w/h1") <(norm "$w/h2")
check "  ... and the file" cmp -s "$w/b1" "$w/r1/slot_b.bin"
# What the front does not answer with a body goes to libmicrohttpd, which answers it.
check "If-None-Match of the current image: 304" test "$(code -H "If-None-Match: $etag" "$base/firmware/slot_a.bin")" = 304
check "a Range past the end: 416" test "$(code -r 99999999- "$base/firmware/slot_a.bin")" = 416
check "a bad X-Device-Id: 400 with libmicrohttpd's message" test "$(code -H 'X-Device-Id: no/slash' "$base/firmware/slot_a.bin")" = 400
check "  ... naming the problem" grep -q 'X-Device-Id must be' "$w/body"

# Pipelined on one connection: two downloads the front sends, then a request it hands over with
# the connection; what comes back is exactly the three answers one by one.
curl -s -D "$w/e1" -o /dev/null "$base/firmware/slot_a.bin"
curl -s -D "$w/e2" -o /dev/null -r 0-99 "$base/firmware/slot_a.bin"
curl -s -D "$w/e3" -o /dev/null -H 'Connection: close' "$base/version"
cat "$w/e1" "$img" "$w/e2" <(head -c 100 "$img") "$w/e3" "$w/r1/version.txt" >"$w/expect"
before=$(sent_by_front /firmware/slot_a.bin 200 "$size"); before206=$(sent_by_front /firmware/slot_a.bin 206 100)
raw "$w/got" 0 'GET /firmware/slot_a.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /firmware/slot_a.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-99\r\n\r\nGET /version HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
check "three pipelined requests: the three answers, in order, nothing else" cmp -s <(norm "$w/got") <(norm "$w/expect")
check "  ... both downloads from the front (it read exactly the first request)" \
  test "$(sent_by_front /firmware/slot_a.bin 200 "$size") $(sent_by_front /firmware/slot_a.bin 206 100)" = "$((before + 1)) $((before206 + 1))"
# Handed over first: libmicrohttpd reads both requests from the socket.
cat "$w/e3" "$w/r1/version.txt" >"$w/expect"
raw "$w/got" 0 'GET /version HTTP/1.1\r\nHost: t\r\n\r\nGET /version HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
check "a request handed over with another behind it: both answered" \
  bash -c "[ \$(grep -c '^HTTP/1.1 200 OK' '$w/got') = 2 ] && [ \$(grep -c '^1.0.0$' '$w/got') = 2 ]"
# A request arriving in pieces is read when it is whole.
curl -s -D "$w/e1" -o /dev/null -H 'Connection: close' "$base/firmware/slot_a.bin"
cat "$w/e1" "$img" >"$w/expect"
before=$(sent_by_front /firmware/slot_a.bin 200 "$size")
raw "$w/got" 0.3 'GET /firmware/slot_a.bin HTTP/1.1\r\nHo' 'st: t\r\nConnection: close\r' '\n\r\n'
check "a request in three pieces: answered once it is whole" cmp -s <(norm "$w/got") <(norm "$w/expect")
check "  ... by the front" test "$(sent_by_front /firmware/slot_a.bin 200 "$size")" = $((before + 1))
# A header longer than the front looks at (8 KiB) goes to libmicrohttpd whole.
pad=$(head -c 9000 /dev/zero | tr '\0' a)
check "a 9 KB header: libmicrohttpd answers it, 200 and the file" \
  test "$(code -H "X-Pad: $pad" "$base/firmware/slot_a.bin")" = 200
check "  ... the file" cmp -s "$w/body" "$img"
check "a HEAD (not taken by the front): 200 with no body" test "$(curl -s -I -o /dev/null -w '%{http_code}' "$base/firmware/slot_a.bin")" = 200
# The front's downloads are counted like libmicrohttpd's.
bytes() { curl -s "$base/metrics" | awk '$1 == "fota_http_response_body_bytes_total" {print $2}'; }
b0=$(bytes)
for _ in 1 2 3; do curl -s -o /dev/null "$base/firmware/slot_a.bin"; done
b1=$(bytes)
check "metrics: the front's downloads are in the body bytes" test $((b1 - b0)) -ge $((3 * size))
stop_server

# The connection limit counts the connections libmicrohttpd holds and those the front holds.
start --max-connections 3 --idle-timeout 3 || { echo "FAIL fota-server did not start"; exit 1; }
exec 4<>"/dev/tcp/127.0.0.1/$port" 5<>"/dev/tcp/127.0.0.1/$port" 6<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /version HTTP/1.1\r\nHost: t\r\n\r\n' >&4 # handed over: kept open by libmicrohttpd
printf 'GET /version HTTP/1.1\r\nHost: t\r\n\r\n' >&5
sleep 0.5                                             # 6 stays idle in the front
check "with 3 connections held (2 by libmicrohttpd, 1 by the front), a 4th waits" \
  test "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$base/version")" = 000
check "  ... and is answered once the idle timeout freed them" test "$(curl -s -m 10 "$base/version")" = 1.0.0
exec 4<&- 5<&- 6<&-
stop_server
tally "server front"
