#!/usr/bin/env bash
# fota-server as a process on loopback: the seed's endpoints, the JSON API, Range and ETag, device
# reports in SQLite, clear errors for bad requests, path traversal refused, an atomic release
# switch through the `current` symlink, a refused (badly signed) image, and a clean SIGTERM.
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
FOTA=$HOST/fota; KEY=$FW/keys/dev-key.pem
. "$(dirname "$0")/lib.sh"

mkdir -p "$w/r1" "$w/r2" "$w/bad"
"$FOTA" sign -k "$KEY" -b a -v 1.0.0 -o "$w/r1/slot_a.bin" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 1.0.0 -o "$w/r1/slot_b.bin" "$FW/app-b.elf" >/dev/null
echo 1.0.0 >"$w/r1/version.txt"
"$FOTA" sign -k "$KEY" -b a -v 2.0.0 -o "$w/r2/slot_a.bin" "$FW/app-a.elf" >/dev/null
"$FOTA" sign -k "$KEY" -b b -v 2.0.0 -o "$w/r2/slot_b.bin" "$FW/app-b.elf" >/dev/null
echo 2.0.0 >"$w/r2/version.txt"
mkdir -p "$w/root"; ln -s "$w/r1" "$w/root/current"

"$HOST/fota-server" --root "$w/root" --port "$port" --pubkey "$KEY" >"$w/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s "$base/version" >/dev/null && break; sleep 0.05; done

check "GET /version is version.txt" test "$(curl -s "$base/version")" = 1.0.0
check "GET /firmware/slot_b.bin is the file" cmp -s <(curl -s "$base/firmware/slot_b.bin") "$w/r1/slot_b.bin"
check "Range 100-199 gives 206 and those bytes" test "$(code -r 100-199 "$base/firmware/slot_b.bin")" = 206
check "  ... exactly those bytes" cmp -s "$w/body" <(tail -c +101 "$w/r1/slot_b.bin" | head -c 100)
check "open-ended Range resumes to the end" cmp -s <(curl -s -r 1000- "$base/firmware/slot_b.bin") <(tail -c +1001 "$w/r1/slot_b.bin")
check "Range past the end gives 416" test "$(code -r 99999999- "$base/firmware/slot_b.bin")" = 416
check "malformed Range gives 400" test "$(code -H 'Range: bytes=abc' "$base/firmware/slot_b.bin")" = 400
# Issue 12, failure 7: RFC 9110 handling of odd Range headers.
check "an unknown range unit is ignored: 200 and the whole file" test "$(code -H 'Range: pages=1-2' "$base/firmware/slot_b.bin")" = 200
check "  ... the whole file" cmp -s "$w/body" "$w/r1/slot_b.bin"
check "a last position past 2^64 is clamped: 206 to the end" test "$(code -H 'Range: bytes=0-99999999999999999999' "$base/firmware/slot_b.bin")" = 206
check "  ... all of it" cmp -s "$w/body" "$w/r1/slot_b.bin"
etag=$(curl -sI "$base/firmware/slot_b.bin" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
check "ETag is the quoted SHA-256 of the file" test "$etag" = "\"$(sha256sum "$w/r1/slot_b.bin" | cut -d' ' -f1)\""
check "Range with a matching If-Range gives 206" test "$(code -r 0-99 -H "If-Range: $etag" "$base/firmware/slot_b.bin")" = 206
check "Range with another entity's If-Range gives 200 and the whole file" test "$(code -r 0-99 -H 'If-Range: "0000"' "$base/firmware/slot_b.bin")" = 200
check "  ... the whole current file" cmp -s "$w/body" "$w/r1/slot_b.bin"
check "If-None-Match gives 304" test "$(code -H "If-None-Match: $etag" "$base/firmware/slot_b.bin")" = 304
check "release API" test "$(code "$base/api/v1/release?bank=b&current=0.9.0")" = 200
check "  ... names version, size, sha256, url, update" grep -q '"version":"1.0.0".*"size":.*"sha256":"[0-9a-f]\{64\}".*"url":"/firmware/slot_b.bin".*"update":true' "$w/body"
check "release API: up to date" bash -c "curl -s '$base/api/v1/release?bank=b&current=1.0.0' | grep -q '\"update\":false'"
check "release API: bad bank is 400 with a message" test "$(code "$base/api/v1/release?bank=c")" = 400
check "  ... naming the problem" grep -q 'bank must be a or b' "$w/body"
check "release API: bad version is 400" test "$(code "$base/api/v1/release?bank=a&current=1.2")" = 400
check "path traversal refused" test "$(code --path-as-is "$base/firmware/../../etc/passwd")" = 400
check "unknown endpoint is 404" test "$(code "$base/nothing")" = 404
check "report accepted (202)" test "$(code -X POST -d '{"version":"1.0.0","bank":"A","state":"running","error":""}' "$base/api/v1/devices/dev-01/report")" = 202
check "malformed report is 400" test "$(code -X POST -d '{"version":' "$base/api/v1/devices/dev-01/report")" = 400
check "report without state is 400" test "$(code -X POST -d '{"version":"1"}' "$base/api/v1/devices/dev-01/report")" = 400
check "oversized report is 413" test "$(code -X POST --data-binary @<(head -c 5000 /dev/zero | tr '\0' x) "$base/api/v1/devices/dev-01/report")" = 413
# Issue 12, failure 4: reports are queued and written in batches; a burst of 2,000 from 40 devices
# is accepted whole, and every one is listed afterwards (a listing waits for what came before it).
burst "$base" burst- 40 2000 1.0.0 "$w/burst"
check "a burst of 2,000 reports: all accepted (202)" test "$(grep -c '^202$' "$w/burst")" = 2000
check "  ... and all stored: 50 listed for each of the 40 devices" all_listed "$base" burst- 40
check "a report with a field over 63 bytes is 400" test "$(code -X POST -d "{\"version\":\"$(printf '9%.0s' $(seq 70))\",\"state\":\"x\"}" "$base/api/v1/devices/dev-01/report")" = 400
# Prometheus metrics: responses by status, bytes, connections, update results by version and state.
for _ in 1 2 3; do curl -s -o /dev/null "$base/nothing-here"; done
curl -s -o /dev/null -X POST -d '{"version":"9.9.9","state":"updated"}' "$base/api/v1/devices/dev-m/report"
check "GET /metrics is 200 text" test "$(code "$base/metrics")" = 200
cp "$w/body" "$w/metrics"
check "  ... counts the 404s" awk '$1 == "fota_http_responses_total{code=\"404\"}" && $2 >= 3 {f = 1} END {exit !f}' "$w/metrics"
check "  ... counts the 202s" awk '$1 == "fota_http_responses_total{code=\"202\"}" && $2 >= 2000 {f = 1} END {exit !f}' "$w/metrics"
check "  ... the update result by version and state" grep -qx 'fota_update_results_total{version="9.9.9",state="updated"} 1' "$w/metrics"
check "  ... open connections (this one)" awk '$1 == "fota_connections_open" && $2 >= 1 {f = 1} END {exit !f}' "$w/metrics"
check "  ... body bytes" awk '$1 == "fota_http_response_body_bytes_total" && $2 > 100000 {f = 1} END {exit !f}' "$w/metrics"
check "  ... queued reports" grep -q '^fota_reports_queued [0-9]*$' "$w/metrics"
check "  ... and every sample has its TYPE" bash -c "for m in \$(grep -v '^#' '$w/metrics' | sed 's/[{ ].*//' | sort -u); do grep -q \"^# TYPE \$m \" '$w/metrics' || exit 1; done"

check "a report with trailing data after its JSON is 400" test "$(code -X POST -d '{"version":"1.0.0","state":"running"}xyz' "$base/api/v1/devices/dev-01/report")" = 400
check "  ... saying so" grep -q 'data after its JSON object' "$w/body"
check "a report with a field that is not UTF-8 is 400" test "$(code -X POST --data-binary @<(printf '{"version":"1.0.0","state":"run\xffning"}') "$base/api/v1/devices/dev-02/report")" = 400
check "  ... naming the field" grep -q 'field state is not valid UTF-8' "$w/body"
check "  ... and stored nothing: the reports stay valid JSON" bash -c "curl -s '$base/api/v1/devices/dev-02/reports' | grep -q '^\[\]$'"
check "/version%00x is not /version (404)" test "$(code "$base/version%00x")" = 404
check "%2F in a path still decodes (the seed's paths keep working)" test "$(code "$base/firmware%2Fslot_b.bin")" = 200
check "DELETE /version is 405" test "$(code -X DELETE "$base/version")" = 405
check "  ... with Allow: GET, HEAD" bash -c "curl -s -o /dev/null -D - -X DELETE '$base/version' | tr -d '\r' | grep -qx 'Allow: GET, HEAD'"
check "GET of the report endpoint is 405" test "$(code "$base/api/v1/devices/dev-01/report")" = 405
check "PUT of an unknown path is still 404" test "$(code -X PUT -d x "$base/nothing")" = 404
check "bad device id is 400" test "$(code -X POST -d '{}' "$base/api/v1/devices/a%20b/report")" = 400
check "reports listed" bash -c "curl -s '$base/api/v1/devices/dev-01/reports' | grep -q '\"state\":\"running\"'"

# Atomic release switch: a new symlink renamed over `current`.
ln -s "$w/r2" "$w/root/current.new" && mv -T "$w/root/current.new" "$w/root/current"
check "after the switch /version is 2.0.0" test "$(curl -s "$base/version")" = 2.0.0
check "after the switch slot_b is the new one" cmp -s <(curl -s "$base/firmware/slot_b.bin") "$w/r2/slot_b.bin"

# A badly signed image is not served.
"$FOTA" keygen -o "$w/other.pem" >/dev/null
cp "$w/r2/version.txt" "$w/bad/"; "$FOTA" sign -k "$w/other.pem" -b b -v 3.0.0 -o "$w/bad/slot_b.bin" "$FW/app-b.elf" >/dev/null
ln -s "$w/bad" "$w/root/current.new" && mv -T "$w/root/current.new" "$w/root/current"
check "badly signed image is refused (503)" test "$(code "$base/firmware/slot_b.bin")" = 503
check "  ... saying why" grep -q 'signed with another key' "$w/body"
check "one log line per request, with a UTC timestamp and a level" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z info GET /version -> 200' "$w/log"

# Publishing: token-guarded uploads, checked (signature, bank, version) before an atomic switch.
kill -TERM "$pid"; wait "$pid"; pid=
mkdir -p "$w/pub"; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$w/token"
"$HOST/fota-server" --root "$w/pub" --port "$port" --pubkey "$KEY" --publish-token-file "$w/token" >>"$w/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s "$base/version" >/dev/null && break; sleep 0.05; done
auth="Authorization: Bearer $(cat "$w/token")"
check "publish without the token is 401" test "$(code -X PUT --data-binary @"$w/r2/slot_a.bin" "$base/api/v1/releases/2.0.0/slot_a.bin")" = 401
check "publish with a wrong token is 401" test "$(code -X PUT -H 'Authorization: Bearer nope' --data-binary @"$w/r2/slot_a.bin" "$base/api/v1/releases/2.0.0/slot_a.bin")" = 401
check "upload slot_a (201)" test "$(code -X PUT -H "$auth" --data-binary @"$w/r2/slot_a.bin" "$base/api/v1/releases/2.0.0/slot_a.bin")" = 201
check "activate with slot_b missing is 409" test "$(code -X POST -H "$auth" "$base/api/v1/releases/2.0.0/activate")" = 409
check "upload a bank A image as slot_b" test "$(code -X PUT -H "$auth" --data-binary @"$w/r2/slot_a.bin" "$base/api/v1/releases/2.0.0/slot_b.bin")" = 201
check "activate refuses the wrong bank (422)" test "$(code -X POST -H "$auth" "$base/api/v1/releases/2.0.0/activate")" = 422
check "  ... saying so" grep -q 'slot_b.bin is an image for bank A' "$w/body"
check "upload a foreign-key image as slot_b" test "$(code -X PUT -H "$auth" --data-binary @"$w/bad/slot_b.bin" "$base/api/v1/releases/2.0.0/slot_b.bin")" = 201
check "activate refuses the signature (422)" test "$(code -X POST -H "$auth" "$base/api/v1/releases/2.0.0/activate")" = 422
check "nothing was switched meanwhile" test "$(code "$base/version")" = 404
check "upload the right slot_b" test "$(code -X PUT -H "$auth" --data-binary @"$w/r2/slot_b.bin" "$base/api/v1/releases/2.0.0/slot_b.bin")" = 201
check "activate (200)" test "$(code -X POST -H "$auth" "$base/api/v1/releases/2.0.0/activate")" = 200
check "the published release is served" test "$(curl -s "$base/version")" = 2.0.0
check "  ... with its images" cmp -s <(curl -s "$base/firmware/slot_b.bin") "$w/r2/slot_b.bin"
check "GET of an upload path is 405" test "$(code -H "$auth" "$base/api/v1/releases/2.0.0/slot_a.bin")" = 405
check "bad release version is 400" test "$(code -X PUT -H "$auth" --data-binary x "$base/api/v1/releases/2.0/slot_a.bin")" = 400

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
# Reports still queued at SIGTERM are written before the server exits (the writer slowed to 300 ms
# a batch, so 2,000 reports are still waiting when the burst ends).
mkdir -p "$w/rep"
FOTA_REPORTS_TEST_DELAY_MS=300 "$HOST/fota-server" --root "$w/rep" --port "$port" >>"$w/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "$base/version" && break; sleep 0.05; done
burst "$base" term- 40 2000 1.0.0 "$w/burst2"
kill -TERM "$pid"; wait "$pid"; pid=
"$HOST/fota-server" --root "$w/rep" --port "$port" >>"$w/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "$base/version" && break; sleep 0.05; done
check "reports accepted just before SIGTERM are all there after a restart" all_listed "$base" term- 40
kill -TERM "$pid"; wait "$pid"; pid=
printf 'x%.0s' $(seq 600) >"$w/long-token"
check "a publish token over 512 characters is refused, never cut short" bash -c "timeout 5 '$HOST/fota-server' --root '$w/pub' --publish-token-file '$w/long-token' 2>'$w/tok.err'; test \$? = 2"
check "  ... saying so" grep -q 'never cut short' "$w/tok.err"
check "SIGTERM: clean exit" test "$rc" = 0
check "  ... and says so" grep -q 'fota-server: stopped' "$w/log"

tally "server"
